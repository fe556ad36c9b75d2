"""Jurisdiction profiles: each rule's window and definition on a hand-made attempt history, the
campaign TOML's [compliance] table (bad values name their field), and the hold, the live view
and the report on a real SQLite file following the campaign's own rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dialer.cli import report
from dialer.config.campaign import CampaignConfigError, loads_campaign
from dialer.core.campaign import CampaignStatus
from dialer.core.jurisdiction import (
    CA_CRTC,
    UK_OFCOM,
    US_TSR,
    Jurisdiction,
    ProfileError,
    WindowKind,
    from_json,
    profile_named,
    to_json,
)
from dialer.core.ledger import AttemptFacts, Rate, build_ledger, judge, window_rate
from dialer.core.results import CallResult
from dialer.db import open_database
from dialer.db.agents import add_agent
from dialer.db.campaigns import create_campaign, get_campaign, import_contacts, set_campaign_status
from dialer.db.database import Database
from dialer.db.diagnosis import diagnose
from dialer.db.ledger import campaign_ledger, compliance_hold, rolling_abandon_rate
from dialer.db.live import live_view
from dialer.lists import parse_list
from tests.unit.test_compliance_db import store_attempts

R = CallResult
S = timedelta(seconds=1)
H = timedelta(hours=1)
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def live(n: int, start: datetime, abandoned: bool = False) -> AttemptFacts:
    ans = start + 10 * S
    return AttemptFacts(
        attempt_id=n, started_at=start, ended_at=ans + 60 * S, number=f"+4420794600{n:02d}",
        result=R.ABANDONED if abandoned else R.ANSWERED_HUMAN, originated_at=start,
        answered_at=ans, bridged_at=None if abandoned else ans + 0.5 * S,
        safe_harbor_at=ans + 1.2 * S if abandoned else None,
    )  # fmt: skip


def machine(n: int, start: datetime) -> AttemptFacts:
    ans = start + 8 * S
    return AttemptFacts(
        attempt_id=n, started_at=start, ended_at=ans + 4 * S, number=f"+4420794600{n:02d}",
        result=R.MACHINE, originated_at=start, answered_at=ans, amd_done_at=ans + 3 * S,
    )  # fmt: skip


def history() -> list[AttemptFacts]:
    """Hand-made, by age at NOW (2026-03-10 12:00Z):

    - 40 days ago (Jan 29): 10 live, 5 abandoned (outside every window at NOW);
    - Feb 20 (18 days ago): 20 live, 2 abandoned (inside 30 days, not this month);
    - Mar 3 (7 days ago): 10 live, 1 abandoned (inside 30 days and this month);
    - 30 h ago (Mar 9 06:00): 4 live, 2 abandoned (inside 30 days and the month, not 24 h);
    - 3 h ago: 10 live, 0 abandoned, 10 machine verdicts (inside every window).
    """
    out: list[AttemptFacts] = []
    n = 0

    def add(at: datetime, lives: int, abandons: int, machines: int = 0) -> None:
        nonlocal n
        for i in range(lives):
            n += 1
            out.append(live(n, at + i * 120 * S, abandoned=i < abandons))
        for i in range(machines):
            n += 1
            out.append(machine(n, at + (lives + i) * 120 * S))

    add(NOW - timedelta(days=40), 10, 5)
    add(datetime(2026, 2, 20, 10, tzinfo=UTC), 20, 2)
    add(datetime(2026, 3, 3, 10, tzinfo=UTC), 10, 1)
    add(NOW - 30 * H, 4, 2)
    add(NOW - 3 * H, 10, 0, machines=10)
    return out


def test_the_three_windows_on_one_history() -> None:
    attempts = history()
    # 30 days rolling (US TSR): Feb 20 + Mar 3 + 30 h ago + 3 h ago
    us = build_ledger(attempts, NOW, profile=US_TSR)
    assert us.current == Rate(44, 5)
    assert window_rate(attempts, NOW, US_TSR) == Rate(44, 5)
    # 24 h rolling (Ofcom): the last 3 hours only, machines counted at the estimated share
    uk = replace(UK_OFCOM, amd_false_positive_rate=0.1)
    assert build_ledger(attempts, NOW, profile=uk).current == Rate(10, 0, 10, 0.1)
    assert build_ledger(attempts, NOW, profile=uk).current.rate == pytest.approx(1 / 11)
    # the 30 h-old abandons are out of the 24 h window, but in the one ending 7 h earlier
    assert build_ledger(attempts, NOW - 7 * H, profile=UK_OFCOM).current == Rate(4, 2, 0, 0.0)
    # calendar month (CRTC): March so far, not February
    ca = build_ledger(attempts, NOW, profile=CA_CRTC)
    assert ca.current == Rate(24, 3)
    # the month turns over: on April 1st 00:30 the window holds nothing of March
    assert build_ledger(attempts, datetime(2026, 4, 1, 0, 30, tzinfo=UTC), profile=CA_CRTC
                        ).current == Rate(0, 0)
    # and in the campaign's zone: 2026-03-01 02:00Z is still February in New York
    feb_end = [live(900, datetime(2026, 3, 1, 2, tzinfo=UTC), abandoned=True)]
    in_march = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert build_ledger(feb_end, in_march, "America/New_York", profile=CA_CRTC
                        ).current == Rate(0, 0)
    assert build_ledger(feb_end, in_march, "UTC", profile=CA_CRTC).current == Rate(1, 1)


def test_each_rules_periods_and_day_windows() -> None:
    attempts = history()
    us = build_ledger(attempts, NOW, profile=US_TSR)
    assert [(p.start, p.end) for p in us.periods] == [
        (date(2026, 1, 29), date(2026, 2, 27)), (date(2026, 2, 28), date(2026, 3, 29))]
    assert [p.rate for p in us.periods] == [Rate(30, 7), Rate(24, 3)]
    ca = build_ledger(attempts, NOW, profile=CA_CRTC)
    assert [(p.start, p.end, p.rate) for p in ca.periods] == [
        (date(2026, 1, 1), date(2026, 1, 31), Rate(10, 5)),
        (date(2026, 2, 1), date(2026, 2, 28), Rate(20, 2)),
        (date(2026, 3, 1), date(2026, 3, 31), Rate(24, 3)),
    ]
    uk = build_ledger(attempts, NOW, profile=UK_OFCOM)
    assert len(uk.periods) == len(uk.days)  # one period a day
    by_day = {d.day: d for d in uk.days}
    # the 24 h window ending with Mar 9 holds Mar 9 only; CRTC's holds March 1-9
    assert by_day[date(2026, 3, 9)].window == Rate(4, 2)
    ca_days = {d.day: d for d in ca.days}
    assert ca_days[date(2026, 3, 9)].window == Rate(14, 3)
    assert ca_days[date(2026, 2, 27)].window == Rate(20, 2)
    us_days = {d.day: d for d in us.days}
    assert us_days[date(2026, 2, 27)].window == Rate(30, 7)  # Jan 29 is 29 days before
    assert us_days[date(2026, 2, 28)].window == Rate(20, 2)


def test_definition_follows_the_profile() -> None:
    late = live(1, NOW)
    late = replace(late, bridged_at=late.answered_at + 3 * S)  # 3 s: late under 2 s rules
    assert judge(late, profile=US_TSR).abandoned
    lenient = profile_named("custom", abandon_after=timedelta(seconds=5))
    assert not judge(late, profile=lenient).abandoned
    short = AttemptFacts(2, NOW, R.NO_ANSWER, ended_at=NOW + 18 * S, ringing_at=NOW)
    assert not judge(short, profile=US_TSR).flags
    assert judge(short, profile=profile_named("custom", min_ring=timedelta(seconds=20))).flags


def test_profile_values_and_storage() -> None:
    assert (US_TSR.window_label, UK_OFCOM.window_label, CA_CRTC.window_label) == (
        "30 days rolling", "24 h rolling", "calendar month")
    assert (UK_OFCOM.short_label, CA_CRTC.cap, CA_CRTC.retention.days) == (
        "24-hour", 0.05, 3 * 365)
    for p in (US_TSR, UK_OFCOM, CA_CRTC, profile_named("custom", cap=0.02)):
        assert from_json(to_json(p)) == p
    assert from_json(None, 0.02) == replace(US_TSR, cap=0.02)  # stored before profiles
    with pytest.raises(ProfileError, match="window_length must be whole hours"):
        Jurisdiction("x", "x", window_length=timedelta(minutes=90))
    with pytest.raises(ProfileError, match="profile must be one of us_tsr, uk_ofcom, ca_crtc"):
        profile_named("eu")
    with pytest.raises(ProfileError, match="cap can only be set with profile"):
        profile_named("uk_ofcom", cap=0.05)


BASE = f"""
[campaign]
name = "{{name}}"
mode = "predictive"
trunk = "carrier"
time_zone = "Europe/London"
agents = ["a1"]

[dialing]
{{dialing}}

[compliance]
{{compliance}}

[[disposition]]
code = "SALE"
final = true

[safe_harbor]
message = "{ROOT / 'config' / 'sounds' / 'demo-safe-harbor.wav'}"
"""


def toml(compliance: str, dialing: str = "", name: str = "uk") -> str:
    return BASE.format(name=name, compliance=compliance, dialing=dialing)


def test_campaign_toml_names_its_profile() -> None:
    assert loads_campaign(toml('profile = "uk_ofcom"')).profile == UK_OFCOM
    cfg = loads_campaign(toml('profile = "ca_crtc"', "abandon_cap = 0.04"))
    assert (cfg.profile.name, cfg.profile.cap, cfg.abandon_cap) == ("ca_crtc", 0.04, 0.04)
    custom = loads_campaign(toml(
        'profile = "custom"\ncap = 0.04\nwindow = "rolling"\nwindow_length = "7d"\n'
        'abandon_after = "2s"\nmessage_deadline = "2s"\nmin_ring = "15s"\n'
        'retention = "730d"\namd_false_positives = true\namd_false_positive_rate = 0.05'
    )).profile
    assert (custom.cap, custom.window, custom.window_length, custom.retention.days) == (
        0.04, WindowKind.ROLLING, timedelta(days=7), 730)
    assert custom.window_label == "7 days rolling"
    no_table = BASE.replace("[compliance]\n{compliance}\n", "").format(name="x", dialing="")
    assert loads_campaign(no_table).profile == US_TSR


@pytest.mark.parametrize(("compliance", "dialing", "message"), [
    ('profile = "eu"', "", "compliance.profile: profile must be one of"),
    ('profile = "uk_ofcom"\ncap = 0.05', "", 'compliance.cap can only be set with profile = '
     '"custom"'),
    ('profile = "custom"\nwindow = "weekly"', "", "compliance.window must be one of rolling, "
     'calendar_month, got "weekly"'),
    ('profile = "custom"\nwindow_length = "90m"', "", "compliance.window_length: window_length "
     "must be whole hours"),
    ('profile = "custom"\ncap = 1.5', "", "compliance.cap must be a fraction"),
    ('profile = "custom"\nretention = "soon"', "", "compliance.retention must be seconds"),
    ('profile = "custom"\nwindows = "rolling"', "", "unknown key compliance.windows"),
    ('profile = "uk_ofcom"', "amd = true", "compliance.amd_false_positive_rate (the profile "
     "counts AMD false positives"),
    ('profile = "us_tsr"', "abandon_cap = 0.05", "dialing.abandon_cap may only lower the "
     "us_tsr cap (0.03)"),
    ('profile = "custom"\nmin_ring = "20s"', 'ring_timeout = "18s"', "dialing.ring_timeout "
     "must be at least 20s"),
])  # fmt: skip
def test_bad_profile_values_name_the_field(compliance: str, dialing: str, message: str) -> None:
    with pytest.raises(CampaignConfigError) as err:
        loads_campaign(toml(compliance, dialing), source="uk.toml")
    assert str(err.value).startswith("uk.toml: ")
    assert message in str(err.value)


# -- on a real database -------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "dialer.sqlite3")
    add_agent(database, "a1", "pw-a1")
    yield database
    database.close()


def stored(db: Database, compliance: str, name: str) -> int:
    cid = create_campaign(db, loads_campaign(toml(compliance, name=name)), now=NOW)
    import_contacts(db, cid, parse_list(b"name,phone\nx,+442079460000\n"), now=NOW)
    set_campaign_status(db, cid, CampaignStatus.STARTED)
    store_attempts(db, cid, [replace(a, attempt_id=a.attempt_id + 1000 * cid)
                             for a in history()])
    return cid


def test_hold_live_view_why_and_report_use_the_campaigns_rule(db: Database) -> None:
    us = stored(db, 'profile = "us_tsr"', "us")
    uk = stored(db, 'profile = "uk_ofcom"\namd_false_positive_rate = 0.1', "uk")
    ca = stored(db, 'profile = "ca_crtc"', "ca")
    assert get_campaign(db, uk).profile.window_label == "24 h rolling"
    assert rolling_abandon_rate(db, us, NOW) == Rate(44, 5)
    assert rolling_abandon_rate(db, uk, NOW) == Rate(10, 0, 10, 0.1)
    assert rolling_abandon_rate(db, ca, NOW) == Rate(24, 3)
    # 44 live, 5 abandoned: 11.4% > 3%; UK: 1/11 = 9.1% > 3%; CA: 12.5% > 5%
    assert (compliance_hold(db, us, NOW) or "").startswith("30-day abandon rate 11.4% (5 of 44")
    uk_hold = compliance_hold(db, uk, NOW) or ""
    assert uk_hold.startswith("24-hour abandon rate 9.1% (0 of 10 live answers, late connects "
                              "included, 1.0 estimated AMD false positives)")
    assert (compliance_hold(db, ca, NOW) or "").startswith("calendar-month abandon rate 12.5%")
    # a day later the UK window is empty, the US one still holds
    tomorrow = NOW + 24 * H
    assert compliance_hold(db, uk, tomorrow) is None
    assert compliance_hold(db, us, tomorrow) is not None

    view = {r.name: r for r in live_view(db, NOW).campaigns}
    assert (view["uk"].window_label, view["uk"].abandon_window) == (
        "24 h rolling", Rate(10, 0, 10, 0.1))
    assert (view["ca"].window_label, view["ca"].abandon_window, view["ca"].cap) == (
        "calendar month", Rate(24, 3), 0.05)
    assert "Abandon rate, calendar month: 12.5% (3 of 24 live answers; cap 5.0%)" in (
        diagnose(db, ca, NOW).text())

    ledger = campaign_ledger(db, uk, NOW)
    assert ledger.profile.name == "uk_ofcom" and ledger.current == Rate(10, 0, 10, 0.1)
    page = report.html_page(ledger, "uk")
    assert "The abandon rate over the rule's window (24 h rolling) is" in page
    assert "Rule: UK Ofcom (persistent misuse policy): cap 3% of live answers, 24 h" in page
    assert "AMD false positives count as abandons" in page
    daily = report.daily_csv(ledger).splitlines()
    assert daily[0].endswith("window,live_answers_window,abandoned_window,abandon_rate_window,"
                             "over_cap_window")
    assert daily[-1].endswith("24 h rolling,10,0,0.0909,yes")
    assert report.rate_text(ledger.current) == (
        "9.1% (0 of 10 live answers + 1.0 estimated AMD false positives)")


def test_the_floors_pacer_guards_the_profiles_short_window() -> None:
    from dialer.core.floor import Floor
    from dialer.core.jurisdiction import pacer_guard
    from tests.unit.floor_harness import campaign as floor_campaign
    from tests.unit.floor_harness import trunks

    assert pacer_guard(US_TSR) == {} and pacer_guard(CA_CRTC) == {}
    assert pacer_guard(UK_OFCOM) == {"hour_s": 86400.0, "hour_cap": 0.03}
    floor = Floor(trunks(), "r1")
    uk = floor.make_pacer(replace(floor_campaign(), profile=UK_OFCOM))
    us = floor.make_pacer(replace(floor_campaign(), profile=US_TSR))
    assert (uk.hour_s, uk.hour_cap, uk.cap) == (86400.0, 0.03, 0.03)  # type: ignore[attr-defined]
    assert us.hour_s == 3600.0  # type: ignore[attr-defined]
