"""Campaign TOML: the demo loads, and each bad field gives an error naming that field."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from dialer.config.campaign import CampaignConfigError, load_campaign, loads_campaign
from dialer.core.campaign import DialMode
from dialer.core.results import CallResult

DEMO = Path(__file__).resolve().parents[2] / "config" / "campaigns" / "demo.toml"

GOOD = """
[campaign]
name = "spring"
mode = "progressive"
caller_id = "+12125550100"
trunk = "carrier"

[dialing]
ring_timeout = 20

[schedule]
days = ["mon", "fri"]
start = "09:30"
end = 20:00:00

[retry.no_answer]
interval = "2h"
increment = "30m"
max_attempts = 3

[[disposition]]
code = "SALE"
final = true

[[disposition]]
code = "CALLBACK"
final = false
retry_after = "1d"
"""


def test_demo_campaign() -> None:
    cfg = load_campaign(DEMO)
    assert cfg.mode is DialMode.PROGRESSIVE
    assert cfg.ring_timeout >= timedelta(seconds=15)
    assert cfg.max_logout_delay == timedelta(seconds=30)
    codes = {d.code: d.final for d in cfg.dispositions}
    assert codes["SALE"] and codes["NOT_INTERESTED"]
    assert not codes["CALLBACK"] and not codes["NO_ANSWER"]
    assert cfg.rules().dispositions["CALLBACK"].retry_delay == timedelta(minutes=2)


def test_a_good_definition_with_defaults() -> None:
    cfg = loads_campaign(GOOD)
    assert (cfg.ratio, cfg.abandon_cap, cfg.max_attempts) == (1.0, 0.03, 5)
    assert cfg.ring_timeout == timedelta(seconds=20)
    assert cfg.calling_hours is not None
    assert cfg.calling_hours.days == frozenset({0, 4})
    assert (cfg.calling_hours.start, cfg.calling_hours.end) == (time(9, 30), time(20))
    rule = cfg.retry[CallResult.NO_ANSWER]
    assert rule.delay(2) == timedelta(hours=2, minutes=30)
    assert cfg.dispositions[0].label == "SALE"


def with_line(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (with_line('name = "spring"\n', ""), "campaign.name is required"),
        (with_line('name = "spring"', 'name = "  "'), "campaign.name must be a non-empty string"),
        (with_line('"progressive"', '"robocall"'), "campaign.mode must be one of"),
        (with_line('"+12125550100"', '"555-0100"'), "campaign.caller_id must be an E.164"),
        (with_line('trunk = "carrier"', "trunk = 5"), "campaign.trunk must be a non-empty"),
        (with_line('trunk = "carrier"', "trunk = []"), "campaign.trunk must be a non-empty"),
        (with_line('trunk = "carrier"', 'trunk = ["a", "a"]'), "campaign.trunk names a trunk"),
        (with_line('trunk = "carrier"', 'trunk = ["a", "b c"]'), "campaign.trunk trunk names are"),
        (
            with_line('trunk = "carrier"', 'trunk = "c"\ncolour = "red"'),
            "unknown key campaign.colour",
        ),
        (with_line("[dialing]", '[dialing]\ntime_zone = "x"'), "unknown key dialing.time_zone"),
        (
            with_line('trunk = "carrier"', 'trunk = "c"\ntime_zone = "Mars/Olympus"'),
            "campaign.time_zone must be an IANA time zone",
        ),
        (
            with_line('trunk = "carrier"', 'trunk = "c"\ndefault_region = "ZZ"'),
            "campaign.default_region must be a two-letter region",
        ),
        (
            with_line('trunk = "carrier"', 'trunk = "c"\nagents = "bob"'),
            "campaign.agents must be an array of strings",
        ),
        (
            with_line("ring_timeout = 20", "ring_timeout = 10"),
            "dialing.ring_timeout must be at least 15s",
        ),
        (
            with_line("ring_timeout = 20", 'ring_timeout = "soon"'),
            "dialing.ring_timeout must be seconds",
        ),
        (with_line("ring_timeout = 20", "ratio = 0.5"), "dialing.ratio is not supported"),
        (with_line("ring_timeout = 20", "ratio = 2"), 'use mode = "predictive"'),
        (
            with_line("ring_timeout = 20", "abandon_cap = 3"),
            "dialing.abandon_cap must be a fraction",
        ),
        (
            with_line("ring_timeout = 20", "max_attempts = 0"),
            "dialing.max_attempts must be an integer >= 1",
        ),
        (
            with_line("ring_timeout = 20", "max_logout_delay = 0"),
            "dialing.max_logout_delay must be at least 1s",
        ),
        (with_line('"mon", "fri"', '"mon", "someday"'), "schedule.days must list days"),
        (with_line("end = 20:00:00", 'end = "08:00"'), "schedule.end must be after schedule.start"),
        (
            with_line('start = "09:30"', 'start = "half past nine"'),
            "schedule.start must be a time of day",
        ),
        (with_line("[retry.no_answer]", "[retry.nobody_home]"), "retry keys must be call results"),
        (with_line('interval = "2h"\n', ""), "retry.no_answer.interval is required"),
        (
            with_line("max_attempts = 3", "max_attempts = 3\ntries = 2"),
            "unknown key retry.no_answer.tries",
        ),
        (
            with_line('code = "SALE"\nfinal = true\n', 'code = "SALE"\n'),
            "disposition[0].final is required",
        ),
        (with_line("final = true", 'final = "yes"'), "disposition[0].final must be true or false"),
        (with_line('code = "CALLBACK"', 'code = "SALE"'), "disposition[1].code must be unique"),
        (
            with_line("final = true", 'final = true\nretry_after = "1h"'),
            "disposition[0].retry_after is only allowed when final = false",
        ),
        (GOOD.split("[[disposition]]")[0], "disposition must be a non-empty array"),
        (with_line("[campaign]", "[campaign]\n[extra]"), "unknown key extra"),
        (
            "dialing = 3\n" + with_line("[dialing]\nring_timeout = 20\n", ""),
            "dialing must be a table",
        ),
        ("[campaign\n", "not valid TOML"),
    ],
)
def test_each_bad_field_is_named(text: str, field: str) -> None:
    with pytest.raises(CampaignConfigError) as info:
        loads_campaign(text, source="spring.toml")
    message = str(info.value)
    assert message.startswith("spring.toml: ")
    assert field in message


def test_the_bad_value_is_shown() -> None:
    with pytest.raises(CampaignConfigError, match='got "robocall"'):
        loads_campaign(with_line('"progressive"', '"robocall"'))


def test_trunks_are_a_name_or_a_list_preferred_first_and_caller_id_may_come_from_them() -> None:
    cfg = loads_campaign(with_line('trunk = "carrier"', 'trunk = ["carrier-reg", "carrier"]'))
    assert cfg.trunk == "carrier-reg,carrier"
    assert loads_campaign(GOOD).trunk == "carrier"
    no_cid = loads_campaign(with_line('caller_id = "+12125550100"\n', ""))
    assert no_cid.caller_id == ""


def test_answering_machine_detection_is_off_unless_asked_for() -> None:
    assert loads_campaign(GOOD).amd is False
    assert loads_campaign(with_line("ring_timeout = 20", "ring_timeout = 20\namd = true")).amd
    with pytest.raises(CampaignConfigError, match="dialing.amd must be true or false"):
        loads_campaign(with_line("ring_timeout = 20", 'ring_timeout = 20\namd = "yes"'))
