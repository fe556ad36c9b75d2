"""The sections of a campaign file after [campaign] and [dialing]: [schedule] (with holidays),
[retry], [disposition] (with do-not-call scopes), [callbacks], [safe_harbor], [compliance]
(the jurisdiction profile) and [destinations], each read by its own function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from datetime import datetime as datetime_type
from pathlib import Path
from typing import Any

import phonenumbers

from dialer.config.campaign_values import CampaignConfigError, Validator
from dialer.core.callbacks import CallbackFallback, CallbackPolicy
from dialer.core.campaign import DialMode
from dialer.core.destinations import DEFAULT_TYPES, TYPES, Destinations, unknown_types
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
from dialer.core.selection import CallingHours, RetryRule
from dialer.safe_harbor import AudioFileError, SafeHarborMessage, default_message, read_message

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DispositionCode:
    """A disposition code offered to agents after a call."""

    code: str
    label: str
    final: bool
    retry_delay: timedelta | None = None
    dnc: DncScope | None = None  # picking it puts the dialed number on that Do-Not-Call list


def destinations(v: Validator, data: Mapping[str, Any]) -> Destinations:
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


def profile(
    v: Validator, data: Mapping[str, Any], dial: Mapping[str, Any], amd: bool
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


def safe_harbor(
    v: Validator, data: Mapping[str, Any], mode: DialMode, base: Path
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


def schedule(v: Validator, data: Mapping[str, Any], zone: str) -> CallingHours | None:
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
    return CallingHours(start, end, days_set, zone, holidays(v, sched))


def holidays(v: Validator, sched: Mapping[str, Any]) -> frozenset[date]:
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


def callback_policy(v: Validator, data: Mapping[str, Any]) -> CallbackPolicy:
    table = v.table(data, "callbacks")
    v.known(table, {"personal_fallback", "fallback_after"}, "callbacks.")
    names = [f.value for f in CallbackFallback]
    text = v.string(table, "callbacks.personal_fallback", default=CallbackFallback.CAMPAIGN.value)
    if text not in names:
        v.fail("callbacks.personal_fallback", f"must be one of {', '.join(names)}", text)
    grace = v.duration(table, "callbacks.fallback_after", timedelta(0))
    return CallbackPolicy(CallbackFallback(text), grace)


def retry_rules(v: Validator, data: Mapping[str, Any]) -> dict[CallResult, RetryRule]:
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


def dispositions(v: Validator, data: Mapping[str, Any]) -> tuple[DispositionCode, ...]:
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
        codes.append(DispositionCode(code, label, final, retry, dnc_scope(v, raw, where)))
    return tuple(codes)


def dnc_scope(v: Validator, raw: Mapping[str, Any], where: str) -> DncScope | None:
    value = raw.get("dnc", False)
    if value is False:
        return None
    if value is True or value == "campaign":
        return DncScope.CAMPAIGN
    if value == "system":
        return DncScope.SYSTEM
    return v.fail(where + ".dnc", 'must be true, false, "campaign" or "system"', value)
