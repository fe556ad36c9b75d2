"""Compliance on real SQLite files: DNC at selection and dial time, calling hours by zone,
callbacks and their fallback, no-repeat, "why isn't it dialing", ledger, reports, exports."""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from alembic import command
from sqlalchemy import select

from dialer.cli import compliance as compliance_cli
from dialer.config.campaign import CampaignConfigError, loads_campaign
from dialer.config.settings import Settings
from dialer.core.agent_state import AgentState
from dialer.core.callbacks import CallbackFallback
from dialer.core.campaign import CampaignStatus
from dialer.core.dnc import DncScope, DncSource
from dialer.core.ledger import AttemptFacts, Rate, build_ledger
from dialer.core.live import CallState
from dialer.core.results import AttemptPhase, CallResult
from dialer.core.selection import ContactState
from dialer.db import open_database
from dialer.db.campaigns import create_campaign, import_contacts, set_campaign_status
from dialer.db.database import Database, alembic_config
from dialer.db.diagnosis import diagnose
from dialer.db.dnc import add_number, dnc_hits, dnc_rows, import_dnc, remove_number
from dialer.db.exports import COLUMNS, export_all
from dialer.db.gate import Block, check_before_dial, check_claim, claim_for_dialing, refuse_claim
from dialer.db.ledger import campaign_ledger, rolling_abandon_rate
from dialer.db.live import live_view
from dialer.db.models import AgentStateLog, AttemptEvent, CallAttempt, Callback, Contact
from dialer.db.repository import (
    claim_next_contact,
    create_attempt,
    finish_attempt,
    hand_over_personal_callbacks,
    record_attempt_event,
    save_disposition,
)
from dialer.dnc_lists import parse_dnc
from dialer.lists import ListRejected, parse_list
from tests.unit.test_ledger import NOW, hand_made

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York, 07:00 in LA
SEC = timedelta(seconds=1)
NY, LA = "America/New_York", "America/Los_Angeles"

CAMPAIGN = """
[campaign]
name = "{name}"
mode = "progressive"
caller_id = "+12125550100"
trunk = "carrier"
time_zone = "America/New_York"
{agents}

[dialing]
max_attempts = 3
retry_delay = "10m"
abandon_no_repeat = "72h"
{schedule}
{callbacks}

[retry.busy]
interval = "20s"
max_attempts = 2

[[disposition]]
code = "SALE"
final = true

[[disposition]]
code = "CALLBACK"
final = false

[[disposition]]
code = "DO_NOT_CALL"
final = true
dnc = true

[[disposition]]
code = "LEGAL_THREAT"
final = true
dnc = "system"
"""

HOURS = """
[schedule]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "20:00"
holidays = ["2026-03-04"]
"""


def make(
    db: Database,
    contacts: str,
    *,
    name: str = "spring",
    agents: str = "",
    schedule: str = "",
    callbacks: str = "",
    start: bool = True,
) -> int:
    text = CAMPAIGN.format(name=name, agents=agents, schedule=schedule, callbacks=callbacks)
    cid = create_campaign(db, loads_campaign(text), now=T0)
    parsed = parse_list(contacts.encode())
    assert parsed.ok, parsed.errors
    import_contacts(db, cid, parsed, now=T0)
    if start:
        set_campaign_status(db, cid, CampaignStatus.STARTED)
    return cid


def numbers(count: int, area: str = "212") -> str:
    return "name,phone\n" + "".join(f"c{i},+1{area}200{i:04d}\n" for i in range(count))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "dialer.sqlite3")
    yield database
    database.close()


def log_state(db: Database, agent_id: int, state: AgentState, at: datetime) -> None:
    with db.session() as s:
        s.add(
            AgentStateLog(
                agent_id=agent_id, old_state=AgentState.LOGGED_OUT, new_state=state,
                event="Test", at=at, detail=None,
            )
        )  # fmt: skip
        s.commit()


def agent(db: Database, login: str) -> int:
    from dialer.db.agents import add_agent

    return add_agent(db, login, f"pw-{login}")


# -- schema ---------------------------------------------------------------------------------


def test_migration_0002_keeps_rows_both_ways(db: Database) -> None:
    cid = make(db, "name,phone,tz\na,+12122000001,America/Chicago\nb,+18005550199,\n")
    cfg = alembic_config(db.url)
    command.downgrade(cfg, "0001")
    command.upgrade(cfg, "head")
    with db.session() as s:
        rows = list(
            s.scalars(select(Contact).where(Contact.campaign_id == cid).order_by(Contact.id))
        )
        assert [(c.time_zone, c.zones) for c in rows] == [("America/Chicago", "America/Chicago"),
                                                          (None, "")]  # fmt: skip
        assert all(len(c.numbers) == 1 for c in rows)


# -- Do-Not-Call ----------------------------------------------------------------------------


def test_dnc_at_selection_skips_listed_numbers_and_contacts(db: Database) -> None:
    # 60 contacts whose only number is listed come first: selection must look past them.
    listed = [f"+1212300{i:04d}" for i in range(60)]
    rows = "".join(f"x{i},{n},\n" for i, n in enumerate(listed))
    contacts = f"name,phone,mobile\n{rows}two,+12122000001,+13102000001\nok,+12122000002,\n"
    cid = make(db, contacts)
    other = make(db, numbers(1, "415"), name="other")
    for n in listed[:30]:
        assert add_number(db, n, None, now=T0)  # the system list
    for n in listed[30:]:
        assert add_number(db, n, cid, now=T0)  # this campaign's list
    assert not add_number(db, listed[0], None, now=T0)  # already listed
    assert add_number(db, "+12122000001", None, reason="asked", now=T0)
    first = claim_next_contact(db, cid, T0)
    assert first is not None and first.number == "+13102000001"  # its first number is listed
    second = claim_next_contact(db, cid, T0)
    assert second is not None and second.number == "+12122000002"
    assert claim_next_contact(db, cid, T0) is None
    # A campaign's list does not reach other campaigns; the system list does.
    assert add_number(db, "+14152000000", cid, now=T0)
    assert claim_next_contact(db, other, T0) is not None
    hits = dnc_hits(db, cid, "+12122000001")
    assert [(h.scope, h.reason) for h in hits] == [(DncScope.SYSTEM, "asked")]
    assert remove_number(db, listed[0], None) and not remove_number(db, listed[0], None)


def test_dnc_at_dial_time(db: Database) -> None:
    cid = make(db, numbers(3))
    claim = claim_next_contact(db, cid, T0)
    assert claim is not None and check_claim(db, claim, T0).allowed
    add_number(db, claim.number, cid, source=DncSource.MANUAL, now=T0 + SEC)  # meanwhile
    verdict = check_claim(db, claim, T0 + 2 * SEC)
    assert (verdict.allowed, verdict.block) == (False, Block.DNC)
    assert "on the campaign's Do-Not-Call list" in verdict.reason
    refuse_claim(db, claim, T0 + 2 * SEC, verdict)
    with db.session() as s:
        back = s.get_one(Contact, claim.contact_id)
        assert (back.state, back.attempts) == (ContactState.NEW, 0)
    got = claim_for_dialing(db, cid, T0 + 3 * SEC)
    assert got is not None and got[0].contact_id != claim.contact_id
    # A number added between the claim and the dial is caught by claim_for_dialing too.
    nxt = claim_next_contact(db, cid, T0 + 4 * SEC)
    assert nxt is not None
    add_number(db, nxt.number, None, now=T0 + 4 * SEC)
    refuse_claim(db, nxt, T0 + 4 * SEC, check_claim(db, nxt, T0 + 4 * SEC))
    assert claim_for_dialing(db, cid, T0 + 5 * SEC) is None
    set_campaign_status(db, cid, CampaignStatus.PAUSED)
    paused = check_before_dial(db, cid, "+12122009999", T0)
    assert paused.block is Block.CAMPAIGN and "paused" in paused.reason


def test_agent_dispositions_mark_numbers(db: Database) -> None:
    alice = agent(db, "alice")
    cid = make(db, numbers(2), agents='agents = ["alice"]')
    for code, scope in (("DO_NOT_CALL", cid), ("LEGAL_THREAT", None)):
        claim = claim_next_contact(db, cid, T0, alice)
        assert claim is not None
        attempt = create_attempt(db, claim, T0)
        record_attempt_event(db, attempt, AttemptPhase.BRIDGED, T0 + SEC)
        finish_attempt(db, attempt, CallResult.ANSWERED_HUMAN, T0 + 30 * SEC)
        save_disposition(db, attempt, code, T0 + 40 * SEC, agent_id=alice)
        rows = dnc_rows(db, scope)
        assert [(r["e164"], r["source"], r["agent"], r["attempt_id"]) for r in rows] == [
            (claim.number, "agent", "alice", attempt)
        ]
        assert rows[0]["reason"] == f"disposition {code}"
    assert check_before_dial(db, cid, "+12122000001", T0).block is Block.DNC


def test_dnc_csv_import_is_all_or_nothing_and_round_trips(db: Database) -> None:
    cid = make(db, numbers(2))
    bad = parse_dnc(
        b"phone,reason\n(212) 200-0001,asked\n12,typo\n,no number\n+1 310 200 0001,x,y\n"
    )
    assert [(e.line, e.reason) for e in bad.errors] == [
        (3, "phone: '12' is not a valid phone number in region US"),
        (4, "no phone number"),
        (5, "has 3 fields, the header has 2"),
    ]
    with pytest.raises(ListRejected):
        import_dnc(db, bad, cid)
    assert dnc_rows(db, cid) == []
    good = parse_dnc(b"number;note\n2122000001;asked\n212-200-0001;again\n3102000001;\n")
    assert (len(good.rows), good.repeated) == (2, 1)
    first = import_dnc(db, good, cid, now=T0)
    assert (first.added, first.already_listed) == (2, 0)
    assert import_dnc(db, good, cid, now=T0).already_listed == 2
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(compliance_cli.DNC_COLUMNS))
    writer.writeheader()
    writer.writerows(dnc_rows(db, cid))
    back = parse_dnc(out.getvalue().encode())
    assert [(r.e164, r.reason) for r in back.rows] == [
        ("+12122000001", "asked"),
        ("+13102000001", None),
    ]
    assert import_dnc(db, back, None).added == 2  # into the system list
    only = claim_next_contact(db, cid, T0)
    assert only is not None and only.number == "+12122000000"
    assert claim_next_contact(db, cid, T0) is None


# -- calling hours --------------------------------------------------------------------------


def test_calling_hours_by_zone_at_selection_and_at_dial_time(db: Database) -> None:
    contacts = (
        "name,phone,state,tz\n"
        "la,+13102000001,,\n"  # Los Angeles number
        "tx,+12122000002,TX,\n"  # New York number, Texas address: Chicago, Denver, New York
        "ny,+12122000003,,\n"
        "paris,+12122000004,,Europe/Paris\n"  # the explicit zone wins over the number
    )
    cid = make(db, contacts, schedule=HOURS)

    def claimed(at: datetime) -> list[str]:
        out = []
        while (claim := claim_next_contact(db, cid, at)) is not None:
            out.append(claim.number)
        return out

    # 10:00 New York, 09:00 Chicago, 08:00 Denver, 07:00 Los Angeles, 16:00 Paris
    assert claimed(T0) == ["+12122000003", "+12122000004"]
    assert claimed(T0 + timedelta(hours=1)) == ["+12122000002"]  # 09:00 in Denver
    assert claimed(T0 + timedelta(hours=2)) == ["+13102000001"]  # 09:00 in Los Angeles
    # Tuesday 13:00Z: 08:00 in New York (closed), 14:00 in Paris (open).
    both = make(db, "name,phone,tz\nny,+12122000005,\nparis,+12122000006,Europe/Paris\n",
                name="paris", schedule=HOURS)  # fmt: skip
    tuesday = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert [c.number for c in iter(lambda: claim_next_contact(db, both, tuesday), None)] == [
        "+12122000006"
    ]
    # Wednesday 4 March is a holiday; Thursday is not.
    holiday = make(db, numbers(1, "415"), name="holiday", schedule=HOURS)
    assert claim_next_contact(db, holiday, datetime(2026, 3, 4, 18, 0, tzinfo=UTC)) is None
    assert claim_next_contact(db, holiday, datetime(2026, 3, 5, 18, 0, tzinfo=UTC)) is not None
    # The dial-time check: a claim made at 19:59 New York time is refused at 20:00, and goes
    # back to wait for the next window (DST: Tuesday 10 March 09:00 EDT is 13:00Z).
    cid2 = make(db, numbers(1), name="evening", schedule=HOURS)
    late = claim_next_contact(db, cid2, datetime(2026, 3, 9, 23, 59, tzinfo=UTC))
    assert late is not None
    verdict = check_claim(db, late, datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    assert (verdict.block, verdict.retry_at) == (
        Block.HOURS,
        datetime(2026, 3, 10, 13, 0, tzinfo=UTC),
    )
    refuse_claim(db, late, datetime(2026, 3, 10, 0, 0, tzinfo=UTC), verdict)
    with db.session() as s:
        assert s.get_one(Contact, late.contact_id).next_eligible_at == verdict.retry_at


# -- retries and callbacks ------------------------------------------------------------------


def test_no_repeat_after_an_abandoned_call(db: Database) -> None:
    cid = make(db, numbers(1))
    got = claim_for_dialing(db, cid, T0)
    assert got is not None
    record_attempt_event(db, got[1], AttemptPhase.ANSWERED, T0 + 5 * SEC)
    record_attempt_event(db, got[1], AttemptPhase.SAFE_HARBOR, T0 + 6 * SEC)
    outcome = finish_attempt(db, got[1], CallResult.ABANDONED, T0 + 10 * SEC)
    assert outcome.contact is not None
    assert outcome.contact.state is ContactState.RETRY
    assert outcome.contact.next_eligible_at == T0 + 10 * SEC + timedelta(hours=72)
    assert claim_next_contact(db, cid, T0 + timedelta(hours=71)) is None
    assert claim_next_contact(db, cid, T0 + timedelta(hours=73)) is not None


def _personal_callback(db: Database, cid: int, agent_id: int, due: datetime) -> int:
    claim = claim_next_contact(db, cid, T0, agent_id)
    assert claim is not None
    attempt = create_attempt(db, claim, T0)
    record_attempt_event(db, attempt, AttemptPhase.BRIDGED, T0 + SEC)
    finish_attempt(db, attempt, CallResult.ANSWERED_HUMAN, T0 + 30 * SEC)
    out = save_disposition(
        db, attempt, "CALLBACK", T0 + 40 * SEC, agent_id=agent_id, callback_at=due,
        personal_callback=True,
    )  # fmt: skip
    assert out.callback_id is not None
    return out.callback_id


def test_personal_callback_falls_back_to_the_campaign(db: Database) -> None:
    alice, bob = agent(db, "alice"), agent(db, "bob")
    policy = '[callbacks]\npersonal_fallback = "campaign"\nfallback_after = "10m"'
    cid = make(db, numbers(1), agents='agents = ["alice", "bob"]', callbacks=policy)
    due = T0 + timedelta(hours=1)
    cb = _personal_callback(db, cid, alice, due)
    assert claim_next_contact(db, cid, due, bob) is None  # personal: not for Bob
    assert hand_over_personal_callbacks(db, cid, due + timedelta(minutes=30), {alice}) == []
    assert hand_over_personal_callbacks(db, cid, due + timedelta(minutes=5), {bob}) == []
    why = diagnose(db, cid, due + timedelta(minutes=5), logged_in={bob}).text()
    assert "personal callback due, waiting for its agent; the first goes to any agent" in why
    assert hand_over_personal_callbacks(db, cid, due + timedelta(minutes=10), {bob}) == [cb]
    got = claim_next_contact(db, cid, due + timedelta(minutes=10), bob)
    assert got is not None and got.callback_id == cb
    with db.session() as s:
        row = s.get_one(Callback, cb)
        assert (row.agent_id, row.handed_over_from) == (None, alice)
        assert row.handed_over_at == due + timedelta(minutes=10)


def test_personal_callback_can_wait_for_its_agent(db: Database) -> None:
    alice = agent(db, "alice")
    policy = '[callbacks]\npersonal_fallback = "wait"'
    cid = make(db, numbers(1), agents='agents = ["alice"]', callbacks=policy)
    due = T0 + timedelta(hours=1)
    _personal_callback(db, cid, alice, due)
    assert hand_over_personal_callbacks(db, cid, due + timedelta(days=3), set()) == []
    assert claim_next_contact(db, cid, due + timedelta(days=3)) is None
    got = claim_next_contact(db, cid, due + timedelta(days=3), alice)
    assert got is not None and got.callback_id is not None


def test_callback_policy_is_validated() -> None:
    text = CAMPAIGN.format(name="x", agents="", schedule="", callbacks="")
    cfg = loads_campaign(text + '\n[callbacks]\npersonal_fallback = "wait"\n')
    assert cfg.callback_policy.fallback is CallbackFallback.WAIT
    assert cfg.dispositions[2].dnc is DncScope.CAMPAIGN
    assert cfg.dispositions[3].dnc is DncScope.SYSTEM
    with pytest.raises(CampaignConfigError, match="callbacks.personal_fallback must be one of"):
        loads_campaign(text + '\n[callbacks]\npersonal_fallback = "boss"\n')
    with pytest.raises(CampaignConfigError, match="schedule.holidays must be an array of dates"):
        loads_campaign(text + '\n[schedule]\nholidays = ["tomorrow"]\n')
    with pytest.raises(CampaignConfigError, match=r"disposition\[0\].dnc must be"):
        loads_campaign(text.replace('code = "SALE"', 'code = "SALE"\ndnc = "maybe"'))


# -- why isn't it dialing? ------------------------------------------------------------------


def test_why_isnt_it_dialing(db: Database) -> None:
    alice = agent(db, "alice")
    contacts = (
        "name,phone\n"
        + "".join(f"ny{i},+1212200{i:04d}\n" for i in range(3))
        + "".join(f"la{i},+1310200{i:04d}\n" for i in range(4))
        + "dnc,+12123000000\nbusy,+12124000000\n"
    )
    cid = make(db, contacts, agents='agents = ["alice"]', schedule=HOURS, start=False)
    stopped = diagnose(db, cid, T0)
    assert not stopped.dialing
    assert stopped.headline == 'Campaign "spring" is not dialing now:'
    assert "the campaign is stopped (start it: dialer campaign start spring)" in stopped.blockers
    assert "no agent is ready (the dialer places calls only for ready agents)" in stopped.blockers
    set_campaign_status(db, cid, CampaignStatus.STARTED)
    add_number(db, "+12123000000", cid, now=T0)
    busy = claim_for_dialing(db, cid, T0)  # ny0
    assert busy is not None
    finish_attempt(db, busy[1], CallResult.BUSY, T0 + 5 * SEC)
    log_state(db, alice, AgentState.READY, T0)
    why = diagnose(db, cid, T0 + 10 * SEC)
    text = why.text()
    assert why.dialing, text
    assert why.headline.startswith('Campaign "spring" can dial: 3 contact(s) can be dialed now')
    assert "        4  outside calling hours (before calling hours in America/Los_Angeles: 4)" in (
        text
    )
    assert "the first window opens 2026-03-02 12:00 EST (in 1 h 59 min)" in text
    assert "        1  every number is on a Do-Not-Call list" in text
    assert "        1  waiting for the retry delay; the first until 2026-03-02 10:00 EST" in text
    assert "Agents: 1 ready of 1 assigned (from the agent audit log)" in text
    # Overrides: a count given on the command line, or none eligible at all.
    night = diagnose(db, cid, T0 + timedelta(hours=14), ready_agents=0, ready_source="as given")
    assert not night.dialing
    assert "none of its 9 contacts can be dialed now" in night.blockers, night.text()
    assert "Agents: 0 ready of 1 assigned (as given)" in night.text()


# -- ledger, report, exports, live view -----------------------------------------------------


def store_attempts(db: Database, cid: int, facts: list[AttemptFacts]) -> None:
    """Hand-made attempts with their event logs, straight into the tables."""
    with db.session() as s:
        contact_id = s.scalars(select(Contact.id).where(Contact.campaign_id == cid)).first()
        for f in facts:
            a = CallAttempt(
                id=f.attempt_id, campaign_id=cid, contact_id=contact_id, number=f.number,
                number_index=0, started_at=f.started_at, answered_at=f.answered_at,
                bridged_at=f.bridged_at, ended_at=f.ended_at, result=f.result,
                hung_up_by=f.hung_up_by,
            )  # fmt: skip
            s.add(a)
            for phase, when in (
                (AttemptPhase.ORIGINATED, f.originated_at),
                (AttemptPhase.RINGING, f.ringing_at),
                (AttemptPhase.ANSWERED, f.answered_at),
                (AttemptPhase.AMD_DONE, f.amd_done_at),
                (AttemptPhase.BRIDGED, f.bridged_at),
                (AttemptPhase.SAFE_HARBOR, f.safe_harbor_at),
            ):
                if when is not None:
                    s.add(AttemptEvent(attempt_id=f.attempt_id, phase=phase, at=when))
        s.commit()


def test_ledger_from_the_database_and_report_files(db: Database, tmp_path: Path) -> None:
    cid = make(db, numbers(1))
    store_attempts(db, cid, hand_made())
    ledger = campaign_ledger(db, cid, NOW)
    expected = build_ledger(hand_made(), NOW, NY, 0.03)
    assert ledger.current == expected.current == Rate(6, 1)
    assert ledger.total == Rate(12, 4)
    assert [p.rate for p in ledger.periods] == [Rate(10, 3), Rate(2, 1)]
    assert rolling_abandon_rate(db, cid, NOW) == Rate(6, 1)
    args = argparse.Namespace(
        campaign="spring", csv=tmp_path / "daily.csv", attempts_csv=tmp_path / "attempts.csv",
        html=tmp_path / "report.html", at="2026-02-10T00:00:00+00:00",
    )  # fmt: skip
    assert compliance_cli.cmd_report(db, args) == 0
    daily = list(csv.DictReader(args.csv.open()))
    assert daily[0]["day"] == "2026-01-01" and daily[0]["live_answers"] == "6"
    attempts = list(csv.DictReader(args.attempts_csv.open()))
    assert len(attempts) == len(hand_made())
    html = args.html.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "</html>" in html


def test_export_all(db: Database, tmp_path: Path) -> None:
    alice = agent(db, "alice")
    cid = make(db, numbers(2), agents='agents = ["alice"]')
    log_state(db, alice, AgentState.READY, T0 - 60 * SEC)
    claim = claim_next_contact(db, cid, T0, alice)
    assert claim is not None
    attempt = create_attempt(db, claim, T0)
    record_attempt_event(db, attempt, AttemptPhase.ANSWERED, T0 + 5 * SEC)
    record_attempt_event(db, attempt, AttemptPhase.BRIDGED, T0 + 5.5 * SEC)
    log_state(db, alice, AgentState.ON_CALL, T0 + 5.5 * SEC)
    finish_attempt(db, attempt, CallResult.ANSWERED_HUMAN, T0 + 65.5 * SEC)
    log_state(db, alice, AgentState.WRAP_UP, T0 + 65.5 * SEC)
    save_disposition(
        db, attempt, "CALLBACK", T0 + 75.5 * SEC, agent_id=alice,
        callback_at=T0 + timedelta(days=1), note="after lunch",
    )  # fmt: skip
    log_state(db, alice, AgentState.READY, T0 + 75.5 * SEC)
    counts = export_all(db, cid, tmp_path / "out", T0 + 100 * SEC)
    assert counts == {"attempts.csv": 1, "dispositions.csv": 1, "callbacks.csv": 1,
                      "agents.csv": 1}  # fmt: skip
    for name, columns in COLUMNS.items():
        with (tmp_path / "out" / name).open() as f:
            assert tuple(next(csv.reader(f))) == columns
    [d] = csv.DictReader((tmp_path / "out" / "dispositions.csv").open())
    assert (d["code"], d["agent"], d["wrap_up_s"], d["note"]) == ("CALLBACK", "alice", "10.0",
                                                                  "after lunch")  # fmt: skip
    [cb] = csv.DictReader((tmp_path / "out" / "callbacks.csv").open())
    assert (cb["kind"], cb["done"], cb["created_by"]) == ("campaign", "no", "alice")
    [a] = csv.DictReader((tmp_path / "out" / "agents.csv").open())
    assert (a["calls"], a["connected"], a["talk_s"], a["avg_wrap_up_s"]) == ("1", "1", "60.0",
                                                                            "10.0")  # fmt: skip
    # Over the campaign's span (T0 .. T0+65.5 s): ready 5.5 s, on call 60 s.
    assert (a["ready_s"], a["on_call_s"], a["logged_in_s"]) == ("5.5", "60.0", "65.5")
    assert a["occupancy"] == str(round(60 / 65.5, 4))
    empty = export_all(db, make(db, numbers(1, "415"), name="empty"), tmp_path / "e", T0)
    assert empty["dispositions.csv"] == 0
    assert (tmp_path / "e" / "dispositions.csv").read_text().startswith("disposition_id,")


def test_live_view_numbers(db: Database) -> None:
    alice, bob = agent(db, "alice"), agent(db, "bob")
    cid = make(db, numbers(4), agents='agents = ["alice", "bob"]')
    log_state(db, alice, AgentState.ON_CALL, T0)
    log_state(db, bob, AgentState.READY, T0 - 30 * SEC)
    ringing = claim_for_dialing(db, cid, T0)
    connected = claim_for_dialing(db, cid, T0, alice)
    done = claim_for_dialing(db, cid, T0)
    assert ringing and connected and done
    record_attempt_event(db, ringing[1], AttemptPhase.RINGING, T0 + SEC)
    record_attempt_event(db, connected[1], AttemptPhase.ANSWERED, T0 + 2 * SEC)
    record_attempt_event(db, connected[1], AttemptPhase.BRIDGED, T0 + 2.5 * SEC)
    record_attempt_event(db, done[1], AttemptPhase.ANSWERED, T0 + 2 * SEC)
    record_attempt_event(db, done[1], AttemptPhase.SAFE_HARBOR, T0 + 3 * SEC)
    finish_attempt(db, done[1], CallResult.ABANDONED, T0 + 8 * SEC)
    view = live_view(db, T0 + 10 * SEC)
    assert [(a.login, a.state, a.seconds) for a in view.agents] == [
        ("alice", AgentState.ON_CALL, 10.0),
        ("bob", AgentState.READY, 40.0),
    ]
    assert view.calls_by_state == {CallState.RINGING: 1, CallState.CONNECTED: 1}
    [rates] = view.campaigns
    assert (rates.attempts_today, rates.live_today, rates.abandoned_today) == (3, 1, 1)
    assert rates.abandon_window == Rate(1, 1) and rates.window_label == "30 days rolling"
    data = view.as_dict()
    assert data["agents_by_state"] == {"on_call": 1, "ready": 1}
    assert cast(list[dict[str, Any]], data["calls"])[1]["state"] == "connected"


def test_cli_commands(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dialer.cli import build_parser

    cid = make(db, numbers(1))
    parser = build_parser()  # the real command tree
    settings = cast(Settings, SimpleNamespace(service=SimpleNamespace(database=db.url)))

    def run(*argv: str) -> int | None:
        return compliance_cli.run(settings, parser.parse_args(list(argv)))

    listing = tmp_path / "list.csv"
    listing.write_text("Cust Name,Tel,Fax\nAda,(415) 200-0001,x\nBob,415 200 0002,y\n")
    args = ("spring", str(listing), "--map", "Cust Name=name", "--map", "Fax=", "--phone", "Tel")
    assert run("list", "import", *args, "--dry-run") == 0
    assert "2 contacts would be imported (dry run)" in capsys.readouterr().out
    assert run("list", "import", *args) == 0
    assert "imported 2 contacts into spring" in capsys.readouterr().out
    with db.session() as s:
        row = s.scalars(select(Contact).where(Contact.id == cid + 1)).one()
        assert row.fields == {"name": "Ada"}
    # the old spelling still runs, after a deprecation line, and refuses the repeated numbers
    assert run("import-list", *args, "--dry-run") == 2
    err = capsys.readouterr().err
    assert err.startswith("dialer: `dialer import-list` is deprecated; use `dialer list import`")
    assert "+14152000001 is already in the campaign" in err  # a dry run checks that too
    assert run("dnc", "add", "(415) 200-0001", "--reason", "asked") == 0
    assert run("dnc", "check", "+14152000001") == 1
    assert "on the system Do-Not-Call list" in capsys.readouterr().out
    assert run("dnc", "export", "-o", str(tmp_path / "dnc.csv")) == 0
    assert run("dnc", "export", "-o", "-") == 0
    out = capsys.readouterr().out
    assert out.startswith("e164,list,") and "'+14152000001,system" in out
    assert not (Path.cwd() / "-").exists()
    assert run("dnc", "import", str(tmp_path / "dnc.csv"), "--campaign", "spring",
               "--dry-run") == 0  # fmt: skip
    assert "1 number(s) would be added to campaign spring's list (dry run)" in (
        capsys.readouterr().out)
    assert run("dnc", "import", str(tmp_path / "dnc.csv"), "--campaign", "spring") == 0
    assert "1 number(s) added to campaign spring's list" in capsys.readouterr().out
    status = tmp_path / "status.json"
    status.write_text('{"ready_agents": 0}')
    assert run("why", "spring", "--status-file", str(status)) == 3
    assert "Agents: 0 ready of 0 assigned" in capsys.readouterr().out
    assert run("why", "spring", "--contact", "+14152000002") == 0
    assert "number +14152000002: America/Los_Angeles (its area code)" in capsys.readouterr().out
    assert run("why", "spring", "--contact", "99999") == 2
    assert "no contact '99999' in this campaign" in capsys.readouterr().err
    # exports: one family, `-o -` is standard output, `all` a folder
    assert run("campaign", "export", "spring", "-o", "-") == 0
    assert capsys.readouterr().out.startswith("attempt_id,contact_id,number")
    assert run("campaign", "export", "spring", "agents", "-o", str(tmp_path / "a.csv")) == 0
    assert (tmp_path / "a.csv").read_text().startswith("agent,name,calls")
    assert run("campaign", "export", "spring", "all", "-o", str(tmp_path / "x")) == 0
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "agents.csv", "attempts.csv", "callbacks.csv", "dispositions.csv"]
    assert run("campaign", "export", "spring", "all", "-o", "-") == 2
    assert "give their folder with -o DIR" in capsys.readouterr().err
    assert run("export-all", "spring", str(tmp_path / "y")) == 0
    assert "`dialer export-all` is deprecated" in capsys.readouterr().err
    assert run("export", "spring", "-o", "-") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("attempt_id,") and "`dialer export` is deprecated" in (
        captured.err)
    assert run("report", "spring", "--html", "-", "--csv", str(tmp_path / "d.csv")) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("<!doctype html>") and "wrote " in captured.err
    assert run("report", "spring", "--html", "-", "--csv", "-") == 2
    assert "only one of --csv, --attempts-csv and --html can be -" in capsys.readouterr().err
    assert run("why", "nope") == 2
    assert "no campaign named 'nope'" in capsys.readouterr().err
    assert compliance_cli.run(settings, argparse.Namespace(command="agent")) is None
    assert compliance_cli.run(settings, parser.parse_args(["list", "random", "3", "-o", "-"])
                              ) is None  # admin's  # fmt: skip


def test_an_import_failing_midway_stores_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dialer.db import campaigns

    cid = make(db, numbers(1))
    rows = "".join(f"c{i},+1415{200 + i // 10_000}{i % 10_000:04d}\n" for i in range(12_000))
    parsed = parse_list(f"name,phone\n{rows}".encode())
    assert parsed.ok
    real = campaigns._insert_chunk
    calls: list[int] = []

    def failing(*args: Any) -> list[int]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(campaigns, "_insert_chunk", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        import_contacts(db, cid, parsed, now=T0)
    assert len(calls) == 2
    monkeypatch.undo()
    with db.session() as s:
        assert [c.id for c in s.scalars(select(Contact))] == [1]
    assert len(import_contacts(db, cid, parsed, now=T0)) == 12_000
