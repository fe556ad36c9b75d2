"""Campaign definitions in TOML: load, validate, and turn into ``CampaignConfig``.

Every error names the file and the dotted field, and shows the bad value, e.g.
``campaign.toml: dialing.max_attempts must be an integer >= 1, got "abc"``. Unknown keys are
errors too, so a typo never silently falls back to a default. Durations are seconds (a number)
or a string with one unit: ``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``. See
``config/campaigns/demo.toml``.

Compliance settings::

    [schedule]                     # calling hours, in each contact's own time zone(s)
    days = ["mon", "tue", "wed", "thu", "fri"]
    start = "09:00"
    end = "20:00"
    holidays = ["2026-12-25", 2027-01-01]   # no calls on these dates (contact's or ours)

    [dialing]
    abandon_no_repeat = "72h"      # no redial sooner after an abandoned call (then retried)
    amd = true                     # answering-machine detection: machines never reach an agent

    [callbacks]                    # a personal callback whose agent is away when it is due
    personal_fallback = "campaign" # ... goes to any agent ("wait": waits for its agent)
    fallback_after = "15m"         # ... that long after it fell due

    [[disposition]]
    code = "DO_NOT_CALL"
    final = true
    dnc = true                     # or "system": put the dialed number on that DNC list

    [safe_harbor]                  # what a customer hears when answered and no agent is free
    message = "../sounds/demo-safe-harbor.wav"  # relative to this file; WAV 16-bit mono 8 kHz
    seller = "Example Energy"      # for the record: whom the message names
    callback_number = "+1 212 555 0100"   # for the record: the number it gives

    [compliance]                   # the abandon rule the campaign runs under
    profile = "uk_ofcom"           # us_tsr (default), uk_ofcom, ca_crtc or custom
    amd_false_positive_rate = 0.05 # uk_ofcom with amd = true: Ofcom's "reasoned estimate"
    # profile = "custom" takes: cap, window ("rolling" | "calendar_month"), window_length,
    # abandon_after, amd_false_positives, amd_false_positive_rate, message_deadline,
    # min_ring, retention (durations as above)

``dialing.abandon_cap`` may only lower the profile's cap (an internal target of the house).

``[safe_harbor]`` is required for predictive campaigns (they abandon calls by design); the others
play the shipped default message (``dialer/safe_harbor.py``), which names no seller.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from datetime import datetime as datetime_type
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dialer.core.callbacks import CallbackFallback, CallbackPolicy
from dialer.core.campaign import DialMode
from dialer.core.destinations import (
    DEFAULT_TYPES,
    TYPES,
    Destinations,
    unknown_types,
)
from dialer.core.dnc import DncScope
from dialer.core.jurisdiction import (
    CUSTOM_KEYS,
    DEFAULT,
    Jurisdiction,
    ProfileError,
    WindowKind,
    profile_named,
)
from dialer.core.results import CallResult
from dialer.core.selection import CallingHours, CampaignRules, DispositionRule, RetryRule
from dialer.safe_harbor import AudioFileError, SafeHarborMessage, default_message, read_message

_SECTIONS = {"campaign", "dialing", "schedule", "retry", "disposition", "callbacks", "safe_harbor",
             "compliance", "destinations"}
_CAMPAIGN_KEYS = {"name", "mode", "caller_id", "trunk", "default_region", "time_zone", "agents"}
_DIALING_KEYS = {
    "ratio",
    "ring_timeout",
    "abandon_cap",
    "max_logout_delay",
    "max_attempts",
    "retry_delay",
    "abandon_no_repeat",
    "amd",
}
_TRUNK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Let a number ring at least 15 s (about four rings) before giving up, as US rules require.
MIN_RING_TIMEOUT = timedelta(seconds=15)


def _ratio(v: Any, dial: Mapping[str, Any]) -> float:
    """`dialing.ratio` is kept for old files, at 1 only: progressive dials one call per ready
    agent, reserved for them; more calls per agent is what predictive mode does, under the
    abandon cap (a fixed ratio was parsed and ignored before)."""
    if "ratio" in dial and dial["ratio"] != 1:
        v.fail("dialing.ratio", "is not supported (progressive dials one call per ready agent); "
               'for more calls per agent use mode = "predictive", which keeps abandons under '
               "the cap; remove the line", dial["ratio"])
    return 1.0


class CampaignConfigError(ValueError):
    """A campaign definition with a bad or missing field."""


@dataclass(frozen=True)
class DispositionCode:
    """A disposition code offered to agents after a call."""

    code: str
    label: str
    final: bool
    retry_delay: timedelta | None = None
    dnc: DncScope | None = None  # picking it puts the dialed number on that Do-Not-Call list


@dataclass(frozen=True)
class CampaignConfig:
    """A validated campaign definition."""

    name: str
    mode: DialMode
    caller_id: str          # "" when the campaign sets none (each trunk's own caller ID is used)
    trunk: str              # the campaign's trunks, preferred first, comma-separated
    ratio: float = 1.0
    ring_timeout: timedelta = timedelta(seconds=25)
    abandon_cap: float = 0.03
    max_logout_delay: timedelta = timedelta(seconds=10)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(hours=1)
    default_region: str = "US"
    time_zone: str = "UTC"
    calling_hours: CallingHours | None = None
    retry: Mapping[CallResult, RetryRule] = field(default_factory=dict)
    dispositions: tuple[DispositionCode, ...] = ()
    agents: tuple[str, ...] = ()
    abandon_no_repeat: timedelta | None = None
    callback_policy: CallbackPolicy = CallbackPolicy()
    amd: bool = False       # answering-machine detection before a call goes to an agent
    safe_harbor: SafeHarborMessage | None = None   # None: the shipped default message
    profile: Jurisdiction = DEFAULT  # the abandon rule ([compliance]); its cap = abandon_cap
    destinations: Destinations = Destinations()   # countries and number types it calls

    def rules(self) -> CampaignRules:
        """The selection/retry rules this definition implies."""
        return CampaignRules(
            max_attempts=self.max_attempts,
            retry=dict(self.retry),
            dispositions={
                d.code: DispositionRule(d.code, d.final, d.retry_delay) for d in self.dispositions
            },
            default_retry_delay=self.retry_delay,
            calling_hours=self.calling_hours,
            abandon_no_repeat=self.abandon_no_repeat,
            callbacks=self.callback_policy,
        )


def load_campaign(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign TOML file (files it names are relative to it)."""
    path = Path(path)
    return loads_campaign(path.read_text(encoding="utf-8"), source=path.name, base=path.parent)


def loads_campaign(
    text: str, source: str = "campaign.toml", base: Path | None = None
) -> CampaignConfig:
    """Validate campaign TOML text; ``source`` prefixes error messages, relative file names are
    read from ``base`` (default: the current directory)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse_campaign(data, source, base)


def parse_campaign(
    data: Mapping[str, Any], source: str = "campaign", base: Path | None = None
) -> CampaignConfig:
    """Validate an already-parsed definition (same shape as the TOML file)."""
    v = _Validator(source)
    v.known(data, _SECTIONS, "")
    camp = v.table(data, "campaign", required=True)
    dial = v.table(data, "dialing")
    v.known(camp, _CAMPAIGN_KEYS, "campaign.")
    v.known(dial, _DIALING_KEYS, "dialing.")
    mode_text = v.string(camp, "campaign.mode", required=True)
    modes = [m.value for m in DialMode]
    if mode_text not in modes:
        v.fail("campaign.mode", f"must be one of {', '.join(modes)}", mode_text)
    time_zone = v.zone(camp, "campaign.time_zone", "UTC")
    amd = v.boolean(dial, "dialing.amd") if "amd" in dial else False
    profile = _profile(v, data, dial, amd)
    return CampaignConfig(
        name=v.string(camp, "campaign.name", required=True),
        mode=DialMode(mode_text),
        caller_id=v.e164(camp, "campaign.caller_id") if "caller_id" in camp else "",
        trunk=",".join(v.trunks(camp, "campaign.trunk")),
        ratio=_ratio(v, dial),
        ring_timeout=v.duration(
            dial, "dialing.ring_timeout", timedelta(seconds=25),
            minimum=max(MIN_RING_TIMEOUT, profile.min_ring)
        ),
        abandon_cap=profile.cap,
        max_logout_delay=v.duration(
            dial, "dialing.max_logout_delay", timedelta(seconds=10), minimum=timedelta(seconds=1)
        ),
        max_attempts=v.integer(dial, "dialing.max_attempts", 5, minimum=1),
        retry_delay=v.duration(dial, "dialing.retry_delay", timedelta(hours=1)),
        default_region=v.region(camp, "campaign.default_region", "US"),
        time_zone=time_zone,
        calling_hours=_schedule(v, data, time_zone),
        retry=_retry_rules(v, data),
        dispositions=_dispositions(v, data),
        agents=tuple(v.strings(camp, "campaign.agents")),
        abandon_no_repeat=(
            v.duration(dial, "dialing.abandon_no_repeat", timedelta(0))
            if "abandon_no_repeat" in dial
            else None
        ),
        callback_policy=_callback_policy(v, data),
        amd=amd,
        safe_harbor=_safe_harbor(v, data, DialMode(mode_text), base or Path.cwd()),
        profile=profile,
        destinations=_destinations(v, data),
    )


def _destinations(v: _Validator, data: Mapping[str, Any]) -> Destinations:
    """``[destinations]``: the countries and number types the campaign calls."""
    table = v.table(data, "destinations")
    v.known(table, {"countries", "types"}, "destinations.")
    countries = None
    if "countries" in table:
        countries = frozenset(c.strip().upper() for c in v.strings(table, "destinations.countries"))
        bad = sorted(c for c in countries if c not in phonenumbers.SUPPORTED_REGIONS)
        if bad or not countries:
            v.fail("destinations.countries", "must list two-letter region codes like US or GB",
                   table["countries"])
    types = DEFAULT_TYPES
    if "types" in table:
        types = frozenset(v.strings(table, "destinations.types"))
        bad = unknown_types(types)
        if bad or not types:
            v.fail("destinations.types", f"must list number types of {', '.join(TYPES)}",
                   table["types"])
    return Destinations(countries, types)


def _profile(
    v: _Validator, data: Mapping[str, Any], dial: Mapping[str, Any], amd: bool
) -> Jurisdiction:
    """The ``[compliance]`` profile, its cap lowered by ``dialing.abandon_cap`` if given."""
    table = v.table(data, "compliance")
    v.known(table, {"profile"} | CUSTOM_KEYS, "compliance.")
    name = v.string(table, "compliance.profile", default=DEFAULT.name)
    changes: dict[str, Any] = {}
    for key in sorted(set(table) & CUSTOM_KEYS):
        where = f"compliance.{key}"
        if key in ("cap", "amd_false_positive_rate"):
            changes[key] = v.fraction(table, where, 0.0)
        elif key == "amd_false_positives":
            changes[key] = v.boolean(table, where)
        elif key == "window":
            kinds = [k.value for k in WindowKind]
            text = v.string(table, where)
            if text not in kinds:
                v.fail(where, f"must be one of {', '.join(kinds)}", text)
            changes[key] = WindowKind(text)
        else:
            changes[key] = v.duration(table, where, timedelta(0))
    if name != "custom" and set(changes) - {"amd_false_positive_rate"}:
        extra = sorted(set(changes) - {"amd_false_positive_rate"})
        v.fail(f"compliance.{extra[0]}", f'can only be set with profile = "custom" ({name} '
               "fixes it)", table[extra[0]])
    try:
        profile = profile_named(name, **changes)
    except ProfileError as exc:
        field_name = str(exc).split(" ", 1)[0]
        where = "compliance.profile" if field_name == "profile" else f"compliance.{field_name}"
        raise CampaignConfigError(f"{v.source}: {where}: {exc}") from None
    if profile.amd_false_positives and amd and "amd_false_positive_rate" not in table:
        v.missing("compliance.amd_false_positive_rate (the profile counts AMD false positives "
                  "as abandons and dialing.amd is on: give a reasoned estimate of the share of "
                  "machine verdicts that were people, e.g. 0.05)")
    if "abandon_cap" in dial:
        cap = v.fraction(dial, "dialing.abandon_cap", profile.cap)
        if cap > profile.cap or cap <= 0:
            v.fail("dialing.abandon_cap", f"may only lower the {profile.name} cap "
                   f"({profile.cap:g}); must be in (0, {profile.cap:g}]", dial["abandon_cap"])
        profile = replace(profile, cap=cap)
    return profile


def _safe_harbor(
    v: _Validator, data: Mapping[str, Any], mode: DialMode, base: Path
) -> SafeHarborMessage:
    table = v.table(data, "safe_harbor")
    if not table:
        if mode is DialMode.PREDICTIVE:
            raise CampaignConfigError(
                f"{v.source}: [safe_harbor] message is required for a predictive campaign (it "
                "abandons calls by design): a WAV file naming the seller and a number to call back"
            )
        return default_message()
    v.known(table, {"message", "seller", "callback_number"}, "safe_harbor.")
    name = v.string(table, "safe_harbor.message", required=True)
    try:
        return read_message(base / name, source=name,
                            seller=v.string(table, "safe_harbor.seller"),
                            callback_number=v.string(table, "safe_harbor.callback_number"))
    except AudioFileError as exc:
        raise CampaignConfigError(f"{v.source}: safe_harbor.message: {exc}") from None


def _schedule(v: _Validator, data: Mapping[str, Any], zone: str) -> CallingHours | None:
    sched = v.table(data, "schedule")
    if not sched:
        return None
    v.known(sched, {"days", "start", "end", "holidays"}, "schedule.")
    days = v.strings(sched, "schedule.days") or list(_DAYS)
    for day in days:
        if day.lower() not in _DAYS:
            v.fail("schedule.days", f"must list days among {', '.join(_DAYS)}", day)
    start = v.clock(sched, "schedule.start", time(9, 0))
    end = v.clock(sched, "schedule.end", time(21, 0))
    if end <= start:
        v.fail("schedule.end", f"must be after schedule.start ({start:%H:%M})", f"{end:%H:%M}")
    days_set = frozenset(_DAYS.index(d.lower()) for d in days)
    return CallingHours(start, end, days_set, zone, _holidays(v, sched))


def _holidays(v: _Validator, sched: Mapping[str, Any]) -> frozenset[date]:
    raw = sched.get("holidays", [])
    if not isinstance(raw, list):
        v.fail("schedule.holidays", 'must be an array of dates like "2026-12-25"', raw)
    out: set[date] = set()
    for item in raw:
        if isinstance(item, date) and not isinstance(item, datetime_type):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            v.fail("schedule.holidays", 'must be an array of dates like "2026-12-25"', item)
    return frozenset(out)


def _callback_policy(v: _Validator, data: Mapping[str, Any]) -> CallbackPolicy:
    table = v.table(data, "callbacks")
    v.known(table, {"personal_fallback", "fallback_after"}, "callbacks.")
    names = [f.value for f in CallbackFallback]
    text = v.string(table, "callbacks.personal_fallback", default=CallbackFallback.CAMPAIGN.value)
    if text not in names:
        v.fail("callbacks.personal_fallback", f"must be one of {', '.join(names)}", text)
    grace = v.duration(table, "callbacks.fallback_after", timedelta(0))
    return CallbackPolicy(CallbackFallback(text), grace)


def _retry_rules(v: _Validator, data: Mapping[str, Any]) -> dict[CallResult, RetryRule]:
    rules: dict[CallResult, RetryRule] = {}
    names = [r.value for r in CallResult]
    for name, raw in v.table(data, "retry").items():
        where = f"retry.{name}"
        if name not in names:
            v.fail("retry", f"keys must be call results ({', '.join(names)})", name)
        if not isinstance(raw, Mapping):
            v.fail(where, "must be a table", raw)
        v.known(raw, {"interval", "increment", "max_attempts"}, where + ".")
        rules[CallResult(name)] = RetryRule(
            interval=v.duration(raw, where + ".interval", timedelta(0), required=True),
            increment=v.duration(raw, where + ".increment", timedelta(0)),
            max_attempts=v.integer(raw, where + ".max_attempts", 3, minimum=1),
        )
    return rules


def _dispositions(v: _Validator, data: Mapping[str, Any]) -> tuple[DispositionCode, ...]:
    raw_list = data.get("disposition", [])
    if not isinstance(raw_list, list) or not raw_list:
        v.fail("disposition", "must be a non-empty array of tables ([[disposition]])", raw_list)
    codes: list[DispositionCode] = []
    for i, raw in enumerate(raw_list):
        where = f"disposition[{i}]"
        if not isinstance(raw, Mapping):
            v.fail(where, "must be a table", raw)
        v.known(raw, {"code", "label", "final", "retry_after", "dnc"}, where + ".")
        code = v.string(raw, where + ".code", required=True)
        if any(c.code == code for c in codes):
            v.fail(where + ".code", "must be unique", code)
        final = v.boolean(raw, where + ".final")
        retry = (
            v.duration(raw, where + ".retry_after", timedelta(0)) if "retry_after" in raw else None
        )
        if final and retry is not None:
            v.fail(where + ".retry_after", "is only allowed when final = false", raw["retry_after"])
        label = v.string(raw, where + ".label", default=code)
        codes.append(DispositionCode(code, label, final, retry, _dnc_scope(v, raw, where)))
    return tuple(codes)


def _dnc_scope(v: _Validator, raw: Mapping[str, Any], where: str) -> DncScope | None:
    value = raw.get("dnc", False)
    if value is False:
        return None
    if value is True or value == "campaign":
        return DncScope.CAMPAIGN
    if value == "system":
        return DncScope.SYSTEM
    return v.fail(where + ".dnc", 'must be true, false, "campaign" or "system"', value)


class _Validator:
    """Typed getters that raise ``CampaignConfigError`` naming ``source`` and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str, got: Any) -> NoReturn:
        raise CampaignConfigError(f"{self.source}: {where} {problem}, got {_show(got)}")

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


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
