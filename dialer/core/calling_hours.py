"""Calling hours in each contact's own time zone(s): may we call now, and if not, when next.

Pure: time comes in as ``now`` (timezone-aware); nothing reads a clock.

Where a contact is
    ``resolve_zones`` picks the zones to respect from what the list says, in this order:
    an explicit zone (a ``time_zone`` column) is taken alone, as the list owner's statement;
    otherwise the zones of the contact's state/province or postal code AND the zones of its
    numbers' area codes are all kept: where these sources disagree, the contact may only be
    called when it is inside calling hours in every one of them (the most restrictive window
    wins). With no evidence at all, the campaign's own zone is used (``effective_zones``).

When
    ``CallingHours`` is the campaign's window: weekdays, a start and end time of day (local to
    the contact, end exclusive) and holiday dates. A holiday blocks the whole day when it is
    that date either where the contact is or in the campaign's own zone (the call centre's).
    ``check_hours(hours, zones, now)`` says whether every zone allows a call at ``now``, which
    zone blocks and why, when the current window closes, and when the next one opens
    (``next_at``: the earliest instant at which every zone allows a call; None if there is
    none within ``HORIZON``, e.g. zones too far apart for the window to overlap).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.core.timeutil import require_aware

HORIZON: Final = timedelta(days=400)
_FIRST_LOOK: Final = 8  # days searched before the whole horizon
ZONE_SEPARATOR: Final = "|"


class HoursBlock(enum.Enum):
    """Why calling hours refuse a call in one zone."""

    NOT_A_CALLING_DAY = "not a calling day"
    HOLIDAY = "holiday"
    BEFORE_HOURS = "before calling hours"
    AFTER_HOURS = "after calling hours"


@dataclass(frozen=True)
class CallingHours:
    """When contacts may be called, in their local time (weekday 0 = Monday)."""

    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))
    time_zone: str = "UTC"
    holidays: frozenset[date] = frozenset()

    def allows(self, now: datetime, contact_zone: str | None = None) -> bool:
        """Whether a contact in ``contact_zone`` (None: the campaign's) may be called at ``now``."""
        return self.allows_zones(now, effective_zones((), contact_zone, self.time_zone))

    def allows_zones(self, now: datetime, zones: Iterable[str]) -> bool:
        """Whether every one of ``zones`` is inside calling hours at ``now``."""
        require_aware(now)
        if self._campaign_holiday(now):
            return False
        return all(self._block(now, zone_info(z)) is None for z in zones)

    def _campaign_holiday(self, now: datetime) -> bool:
        return bool(self.holidays) and now.astimezone(zone_info(self.time_zone)).date() in (
            self.holidays
        )

    def _block(self, now: datetime, zone: ZoneInfo) -> HoursBlock | None:
        local = now.astimezone(zone)
        if local.date() in self.holidays:
            return HoursBlock.HOLIDAY
        if local.weekday() not in self.days:
            return HoursBlock.NOT_A_CALLING_DAY
        if local.time() < self.start:
            return HoursBlock.BEFORE_HOURS
        if local.time() >= self.end:
            return HoursBlock.AFTER_HOURS
        return None


@dataclass(frozen=True)
class HoursVerdict:
    """The answer of ``check_hours``: allowed now, or blocked by ``zone`` for ``block``."""

    allowed: bool
    next_at: datetime | None
    until: datetime | None = None
    zone: str | None = None
    block: HoursBlock | None = None

    def describe(self) -> str:
        """Plain words, e.g. "after calling hours in America/Chicago until 2026-03-03 15:00Z"."""
        if self.allowed:
            return "inside calling hours"
        where = f" in {self.zone}" if self.zone else ""
        what = self.block.value if self.block else "outside calling hours"
        if self.next_at is None:
            return f"{what}{where}; no common calling window in the next {HORIZON.days} days"
        return f"{what}{where} until {self.next_at.astimezone(UTC):%Y-%m-%d %H:%M}Z"


def check_hours(hours: CallingHours | None, zones: Sequence[str], now: datetime) -> HoursVerdict:
    """May a contact respecting ``zones`` be called at ``now``, and when next (module doc)."""
    require_aware(now)
    if hours is None:
        return HoursVerdict(True, now)
    block = next(
        ((z, b) for z in zones if (b := hours._block(now, zone_info(z))) is not None), None
    )
    if block is None and hours._campaign_holiday(now):
        block = (hours.time_zone, HoursBlock.HOLIDAY)
    if block is None:
        return HoursVerdict(True, now, until=_window_end(hours, zones, now))
    return HoursVerdict(False, next_window(hours, zones, now), zone=block[0], block=block[1])


def next_window(hours: CallingHours, zones: Sequence[str], now: datetime) -> datetime | None:
    """The earliest instant >= ``now`` at which ``hours`` allow every zone; None if none soon.

    An overlap of the zones' windows starts when one of them opens (or at a campaign-zone
    midnight ending a holiday), so only those instants need testing.
    """
    require_aware(now)
    if hours.allows_zones(now, zones):
        return now
    for days in (_FIRST_LOOK, HORIZON.days):
        for instant in _openings(hours, zones, now, days):
            if hours.allows_zones(instant, zones):
                return instant.astimezone(UTC)
    return None


def _openings(
    hours: CallingHours, zones: Sequence[str], now: datetime, days: int
) -> list[datetime]:
    instants: set[datetime] = set()
    for name in {*zones, hours.time_zone}:
        zone = zone_info(name)
        first = now.astimezone(zone).date() - timedelta(days=1)
        for n in range(days + 2):
            day = first + timedelta(days=n)
            for clock in (hours.start, time(0)):
                instant = datetime.combine(day, clock, zone)
                if instant >= now:
                    instants.add(instant)
    return sorted(instants)


def _window_end(hours: CallingHours, zones: Sequence[str], now: datetime) -> datetime:
    ends = []
    for name in zones:
        zone = zone_info(name)
        ends.append(datetime.combine(now.astimezone(zone).date(), hours.end, zone))
    return min(ends).astimezone(UTC) if ends else now


# -- which zones ------------------------------------------------------------------------------


def resolve_zones(
    explicit: str | None, regional: Iterable[str] = (), numbers: Iterable[str] = ()
) -> tuple[str, ...]:
    """The zones to respect for one contact (module doc): explicit alone, else all others."""
    if explicit:
        return (explicit,)
    out: list[str] = []
    for zone in (*regional, *numbers):
        if zone and zone not in out:
            out.append(zone)
    return tuple(sorted(out))


def effective_zones(zones: Sequence[str], time_zone: str | None, fallback: str) -> tuple[str, ...]:
    """``zones`` if any, else the contact's single zone, else ``fallback`` (the campaign's);
    unknown zone names are replaced by ``fallback``."""
    chosen = tuple(zones) or ((time_zone,) if time_zone else (fallback,))
    valid = tuple(z for z in chosen if is_zone(z))
    return valid if len(valid) == len(chosen) else (*valid, fallback)


def zones_key(zones: Sequence[str]) -> str:
    """How a contact's zones are stored in one column ("" when unknown)."""
    return ZONE_SEPARATOR.join(zones)


def zones_from_key(key: str | None) -> tuple[str, ...]:
    return tuple(z for z in (key or "").split(ZONE_SEPARATOR) if z)


@functools.lru_cache(maxsize=1024)
def zone_info(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name (UTC for an unknown name)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@functools.lru_cache(maxsize=1024)
def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
