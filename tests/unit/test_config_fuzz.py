"""Property tests of the admin's inputs (issue 14): whatever a calling list, a campaign file or a
trunks file holds, its checker gives a valid result or its own typed error naming the problem,
never another exception, and in bounded time. `HYPOTHESIS_PROFILE=long` runs many more examples
(docs/security.md)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.config.campaign import (
    CampaignConfig,
    CampaignConfigError,
    loads_campaign,
    parse_campaign,
)
from dialer.config.trunks import TrunkError, parse_trunks
from dialer.lists import ListError, ListRejected, ParsedList, parse_list

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
FEW, MANY = (2_000, 5_000) if LONG else (150, 300)
CHECKS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

# values as TOML can hold them (no null), nested a little
SCALAR = (st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False,
          allow_infinity=False) | st.text(max_size=24)
          | st.sampled_from(["1s", "25s", "1h", "-3s", "0.03", "+12125550100", "US", "XX",
                             "America/New_York", "Mars/Base", "09:00", "25:61", "carrier",
                             "anonymous", "progressive", "predictive", "preview", "ip",
                             "registration", "127.0.0.1", "a;b", "a\nb", "ulaw", "from-carrier"]))
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _timed(fn: Any, *args: Any) -> Any:
    t0 = time.monotonic()
    try:
        return fn(*args)
    finally:
        assert time.monotonic() - t0 < 2.0


# ------------------------------------------------------------------------- calling lists
CELL = st.text(max_size=16) | st.sampled_from(
    ["+12125550100", "(212) 555-0100", "=HYPERLINK(\"x\")", "'+1", "", "\"", "a,b", "\r", "1e9"])
HEADER = st.lists(st.sampled_from(["phone", "number", "name", "zip", "state", "tz", "mobile",
                                   "", "phone", "x"]) | st.text(max_size=6), min_size=1,
                  max_size=5)


def _check_list(data: bytes) -> None:
    try:
        parsed = _timed(parse_list, data)
    except (ListError, ListRejected) as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, ParsedList)
        for err in parsed.errors:
            assert err.line >= 1 and err.reason


@settings(max_examples=MANY, **CHECKS)
@given(st.binary(max_size=400))
def test_any_bytes_are_a_list_or_a_list_error(data: bytes) -> None:
    _check_list(data)


@settings(max_examples=MANY, **CHECKS)
@given(HEADER, st.lists(st.lists(CELL, max_size=6), max_size=8),
       st.sampled_from([",", ";", "\t", "|"]), st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_csv_shaped_input_is_a_list_or_a_list_error(header: list[str], rows: list[list[str]],
                                                    sep: str, encoding: str) -> None:
    text = "\n".join(sep.join(row) for row in [header, *rows])
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    _check_list(data)


# ------------------------------------------------------------------------- campaign files
CAMPAIGN_KEYS = ["name", "mode", "caller_id", "trunk", "default_region", "time_zone", "agents"]
DIALING_KEYS = ["ratio", "ring_timeout", "abandon_cap", "max_logout_delay", "max_attempts",
                "retry_delay", "amd"]
CAMPAIGN = st.fixed_dictionaries(
    {"campaign": st.fixed_dictionaries(
        {"name": st.text(max_size=10) | VALUE, "mode": st.sampled_from(
            ["preview", "push_preview", "progressive", "predictive", "x"]) | VALUE},
        optional={k: VALUE for k in CAMPAIGN_KEYS[2:]})},
    optional={"dialing": st.dictionaries(st.sampled_from(DIALING_KEYS), VALUE, max_size=4),
              "schedule": st.dictionaries(st.text(max_size=8), VALUE, max_size=3),
              "retry": st.dictionaries(st.text(max_size=8), VALUE, max_size=3),
              "disposition": st.lists(st.dictionaries(
                  st.sampled_from(["code", "label", "final", "retry_after"]), VALUE,
                  max_size=4), max_size=3) | VALUE,
              "callbacks": VALUE, "safe_harbor": VALUE})


@settings(max_examples=FEW, **CHECKS)
@given(CAMPAIGN)
def test_campaign_definitions_are_a_campaign_or_a_campaign_error(data: dict[str, Any]) -> None:
    try:
        got = _timed(parse_campaign, data)
    except CampaignConfigError as exc:
        assert str(exc).startswith("campaign")
    else:
        assert isinstance(got, CampaignConfig) and got.name


@settings(max_examples=FEW, **CHECKS)
@given(st.text(max_size=300))
def test_any_campaign_text_is_a_campaign_or_a_campaign_error(text: str) -> None:
    try:
        _timed(loads_campaign, text)
    except CampaignConfigError as exc:
        assert str(exc).startswith("campaign.toml")


# ------------------------------------------------------------------------- trunks files
TRUNK_KEYS = ["name", "kind", "caller_id", "codecs", "max_channels", "context", "qualify_s",
              "server", "username", "password", "password_env", "expiration", "host", "match"]


def _toml(value: Any) -> str:
    """A TOML value (JSON's strings, numbers, arrays and inline tables are TOML's too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=FEW, **CHECKS)
@given(st.lists(st.dictionaries(st.sampled_from(TRUNK_KEYS), VALUE, max_size=6), max_size=3))
def test_trunk_files_are_trunks_or_a_trunk_error(tables: list[dict[str, Any]]) -> None:
    text = "".join("[[trunk]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in t.items())
                   for t in tables)
    try:
        trunks = _timed(parse_trunks, text, "trunks.toml", {}, {})
    except TrunkError as exc:
        assert str(exc).startswith("trunks.toml")
    else:
        assert len(trunks) == len(tables)


@settings(max_examples=FEW, **CHECKS)
@given(st.text(max_size=300))
def test_any_trunks_text_is_trunks_or_a_trunk_error(text: str) -> None:
    try:
        _timed(parse_trunks, text, "trunks.toml", {}, {})
    except TrunkError as exc:
        assert str(exc).startswith("trunks.toml")
