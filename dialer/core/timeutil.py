"""The one time convention of the pure core: timezone-aware ``datetime`` values.

Pure modules never read a clock; callers pass ``now``. Naive datetimes are refused, because a
naive value silently mixes local time and UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def require_aware(value: datetime, name: str = "now") -> datetime:
    """Return ``value`` if it carries a time zone; raise ``ValueError`` otherwise."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")
    return value


def to_utc(value: datetime, name: str = "now") -> datetime:
    """Return an aware datetime converted to UTC."""
    return require_aware(value, name).astimezone(UTC)
