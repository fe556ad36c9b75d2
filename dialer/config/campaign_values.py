"""Typed values of a campaign file: `Validator` reads each field and raises `CampaignConfigError`
naming the file, the dotted field and the bad value (durations, ratios, times, zones, trunk
names)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

_TRUNK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class CampaignConfigError(ValueError):
    """A campaign definition with a bad or missing field."""


class Validator:
    """Typed getters that raise ``CampaignConfigError`` naming ``source`` and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str, got: Any) -> NoReturn:
        raise CampaignConfigError(f"{self.source}: {where} {problem}, got {show(got)}")

    def missing(self, where: str) -> NoReturn:
        raise CampaignConfigError(f"{self.source}: {where} is required")

    def known(self, table: Mapping[str, Any], keys: set[str], prefix: str) -> None:
        for key in table:
            if key not in keys:
                allowed = ", ".join(sorted(keys))
                raise CampaignConfigError(
                    f"{self.source}: unknown key {prefix}{key} (expected one of: {allowed})"
                )

    def _get(self, table: Mapping[str, Any], where: str) -> Any:
        return table.get(where.rsplit(".", 1)[-1])

    def table(self, data: Mapping[str, Any], key: str, required: bool = False) -> Mapping[str, Any]:
        value = data.get(key)
        if value is None:
            return self.missing(f"[{key}]") if required else {}
        if not isinstance(value, Mapping):
            self.fail(key, "must be a table", value)
        return value

    def string(
        self, t: Mapping[str, Any], where: str, required: bool = False, default: str = ""
    ) -> str:
        value = self._get(t, where)
        if value is None:
            return self.missing(where) if required else default
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "must be a non-empty string", value)
        return value.strip()

    def strings(self, t: Mapping[str, Any], where: str) -> list[str]:
        value = self._get(t, where)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            self.fail(where, "must be an array of strings", value)
        return list(value)

    def trunks(self, t: Mapping[str, Any], where: str) -> list[str]:
        """A trunk name, or an array of them (preferred first; the next takes over on failure)."""
        value = self._get(t, where)
        if value is None:
            return self.missing(where)
        names = [value] if isinstance(value, str) else value
        if (not isinstance(names, list) or not names
                or not all(isinstance(x, str) and x.strip() for x in names)):
            self.fail(where, "must be a non-empty trunk name or array of trunk names", value)
        names = [x.strip() for x in names]
        for name in names:
            if not _TRUNK_NAME.match(name):
                self.fail(where, "trunk names are letters, digits, '-', '_' and '.'", name)
        if len(set(names)) != len(names):
            self.fail(where, "names a trunk twice", value)
        if len(",".join(names)) > 100:
            self.fail(where, "is too long (at most 100 characters in all)", value)
        return names

    def boolean(self, t: Mapping[str, Any], where: str) -> bool:
        value = self._get(t, where)
        if value is None:
            return self.missing(where)
        if not isinstance(value, bool):
            self.fail(where, "must be true or false", value)
        return value

    def number(self, t: Mapping[str, Any], where: str, default: float, minimum: float) -> float:
        value = self._get(t, where)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(where, f"must be a number >= {minimum:g}", value)
        return float(value)

    def integer(self, t: Mapping[str, Any], where: str, default: int, minimum: int) -> int:
        value = self._get(t, where)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(where, f"must be an integer >= {minimum}", value)
        return value

    def fraction(self, t: Mapping[str, Any], where: str, default: float) -> float:
        value = self._get(t, where)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.fail(where, "must be a fraction between 0 and 1 (0.03 = 3%)", value)
        return float(value)

    def duration(
        self,
        t: Mapping[str, Any],
        where: str,
        default: timedelta,
        required: bool = False,
        minimum: timedelta = timedelta(0),
    ) -> timedelta:
        value = self._get(t, where)
        if value is None:
            return self.missing(where) if required else default
        match = _DURATION.match(value) if isinstance(value, str) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            result = timedelta(seconds=value)
        elif match is not None:
            result = timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
        else:
            problem = 'must be seconds >= 0 or a string like "90s", "5m", "2h", "1d"'
            return self.fail(where, problem, value)
        if result < minimum:
            self.fail(where, f"must be at least {minimum.total_seconds():g}s", value)
        return result

    def clock(self, t: Mapping[str, Any], where: str, default: time) -> time:
        value = self._get(t, where)
        if value is None:
            return default
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(value)
        except (TypeError, ValueError):
            return self.fail(where, 'must be a time of day like "09:00"', value)

    def e164(self, t: Mapping[str, Any], where: str) -> str:
        value = self.string(t, where, required=True).replace(" ", "")
        if not _E164.match(value):
            self.fail(where, "must be an E.164 number like +12125550100", value)
        return value

    def region(self, t: Mapping[str, Any], where: str, default: str) -> str:
        value = self.string(t, where, default=default).upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            self.fail(where, "must be a two-letter region code like US or FR", value)
        return value

    def zone(self, t: Mapping[str, Any], where: str, default: str) -> str:
        name = self.string(t, where, default=default)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(where, "must be an IANA time zone like America/New_York", name)
        return name


def show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
