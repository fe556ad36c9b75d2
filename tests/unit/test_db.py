"""The data layer on real SQLite files: migrations, commits, claims, recovery, imports, agents."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from dialer.config.campaign import loads_campaign
from dialer.core.agent_state import (
    AgentMachine,
    CallReserved,
    LoginSucceeded,
    LogoutRequested,
    ReadyRequested,
)
from dialer.core.results import AttemptPhase, CallFacts, CallResult, HangupSide
from dialer.core.selection import ContactState
from dialer.db import open_database
from dialer.db.agents import (
    AgentExistsError,
    add_agent,
    agent_history,
    log_agent_transition,
    set_password,
    verify_password,
)
from dialer.db.campaigns import (
    CampaignExistsError,
    count_contacts,
    create_campaign,
    get_campaign,
    import_contacts,
)
from dialer.db.database import Database, alembic_config
from dialer.db.models import AttemptEvent, Base, CallAttempt, Contact, Disposition
from dialer.db.repository import (
    INTERRUPTED_NOTE,
    AttemptClosedError,
    ClaimLostError,
    DispositionError,
    attempt_rows,
    campaign_summary,
    claim_and_create_attempt,
    claim_next_contact,
    create_attempt,
    finish_attempt,
    get_contact,
    record_attempt_event,
    recover_after_crash,
    release_contact,
    save_disposition,
)
from dialer.lists import ListRejected, parse_list, read_list

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
SEC = timedelta(seconds=1)

CAMPAIGN = """
[campaign]
name = "test"
mode = "progressive"
caller_id = "+12125550100"
trunk = "carrier"
time_zone = "America/New_York"
{agents}

[dialing]
ring_timeout = "20s"
max_attempts = 3
retry_delay = "10m"
{schedule}

[retry.busy]
interval = "20s"
max_attempts = 2

[[disposition]]
code = "SALE"
final = true

[[disposition]]
code = "CALLBACK"
final = false
retry_after = "2m"
"""


def numbers(count: int, start: int = 0) -> bytes:
    rows = "".join(f"c{i},+1212200{i:04d}\n" for i in range(start, start + count))
    return ("name,phone\n" + rows).encode()


def make_campaign(db: Database, contacts: bytes, agents: str = "", schedule: str = "") -> int:
    cfg = loads_campaign(CAMPAIGN.format(agents=agents, schedule=schedule))
    cid = create_campaign(db, cfg, now=T0)
    import_contacts(db, cid, parse_list(contacts), now=T0)
    return cid


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "dialer.sqlite3"


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    database = open_database(path)
    yield database
    database.close()


def raw(path: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    """Read through a plain second connection (not SQLAlchemy's)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(query, args))
    finally:
        conn.close()


# -- schema -------------------------------------------------------------------------------


def test_migration_from_empty_matches_the_models(db: Database, path: Path) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    assert raw(path, "SELECT version_num FROM alembic_version") == [("0003",)]
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
        assert diff == []
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    open_database(path).close()  # upgrading an up-to-date database changes nothing
    cfg = alembic_config(db.url)
    command.downgrade(cfg, "base")
    assert raw(path, "SELECT count(*) FROM sqlite_master WHERE name = 'contacts'") == [(0,)]
    command.upgrade(cfg, "head")
    assert "contacts" in inspect(db.engine).get_table_names()


# -- committed before returning ------------------------------------------------------------


def test_every_step_is_committed_before_returning(db: Database, path: Path) -> None:
    cid = make_campaign(db, numbers(2))
    assert raw(path, "SELECT count(*) FROM contacts") == [(2,)]
    claim = claim_next_contact(db, cid, T0)
    assert claim is not None and claim.number == "+12122000000"
    state = "SELECT state FROM contacts WHERE id = ?"
    assert raw(path, state, claim.contact_id) == [("reserved",)]
    attempt = create_attempt(db, claim, T0)
    assert raw(path, "SELECT number, result FROM call_attempts") == [("+12122000000", None)]
    record_attempt_event(db, attempt, AttemptPhase.ORIGINATED, T0, channel_id="chan-1")
    record_attempt_event(db, attempt, AttemptPhase.ANSWERED, T0 + 3 * SEC)
    record_attempt_event(db, attempt, AttemptPhase.BRIDGED, T0 + 3.01 * SEC)
    phases = "SELECT phase FROM attempt_events WHERE attempt_id = ? ORDER BY id"
    assert [p for (p,) in raw(path, phases, attempt)] == [
        "created",
        "originated",
        "answered",
        "bridged",
    ]
    facts = CallFacts(hangup_cause=16, answered=True, agent_bridged=True)
    outcome = finish_attempt(db, attempt, CallResult.ANSWERED_HUMAN, T0 + 30 * SEC, facts=facts)
    assert outcome.contact is None  # the agent talked to the customer: disposition awaited
    row = "SELECT result, hangup_cause, channel_id FROM call_attempts WHERE id = ?"
    assert raw(path, row, attempt) == [("answered_human", 16, "chan-1")]
    assert raw(path, state, claim.contact_id) == [("reserved",)]
    saved = save_disposition(db, attempt, "SALE", T0 + 40 * SEC, note="two boxes")
    assert raw(path, "SELECT note FROM dispositions WHERE id = ?", saved.disposition_id) == [
        ("two boxes",)
    ]
    assert raw(path, state, claim.contact_id) == [("done",)]


# -- claims -------------------------------------------------------------------------------


def test_claims_are_atomic_across_connections(db: Database, path: Path) -> None:
    cid = make_campaign(db, numbers(40))
    start = threading.Barrier(8)
    claimed: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        own = open_database(path, migrate=False)
        try:
            start.wait()
            while (got := claim_and_create_attempt(own, cid, T0)) is not None:
                with lock:
                    claimed.append(got[0].contact_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(claimed) == 40 and len(set(claimed)) == 40
    assert raw(path, "SELECT count(*), count(DISTINCT contact_id) FROM call_attempts") == [(40, 40)]
    assert claim_next_contact(db, cid, T0) is None


def test_one_claim_gives_at_most_one_attempt(db: Database) -> None:
    cid = make_campaign(db, numbers(2))
    claim = claim_next_contact(db, cid, T0)
    assert claim is not None
    create_attempt(db, claim, T0)
    with pytest.raises(ClaimLostError):
        create_attempt(db, claim, T0)
    with pytest.raises(ClaimLostError):
        release_contact(db, claim.contact_id, T0)
    other = claim_next_contact(db, cid, T0)
    assert other is not None and other.contact_id != claim.contact_id
    release_contact(db, other.contact_id, T0, delay=timedelta(minutes=5))  # preview skip
    with pytest.raises(ClaimLostError):
        create_attempt(db, other, T0)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 1
        skipped = s.get_one(Contact, other.contact_id)
        assert (skipped.state, skipped.attempts) == (ContactState.NEW, 0)
    assert claim_next_contact(db, cid, T0 + 4 * 60 * SEC) is None
    again = claim_next_contact(db, cid, T0 + 5 * 60 * SEC)
    assert again is not None and again.contact_id == other.contact_id


def test_calling_hours_in_the_contact_time_zone(db: Database) -> None:
    schedule = '[schedule]\nstart = "09:00"\nend = "20:00"'
    # 212 is New York (10:00 at T0), 213 Los Angeles (07:00 at T0)
    contacts = b"name,phone\nla,+12132000001\nny,+12122000002\n"
    cid = make_campaign(db, contacts, schedule=schedule)
    first = claim_next_contact(db, cid, T0)
    assert first is not None and first.number == "+12122000002"
    assert first.time_zone == "America/New_York"
    assert claim_next_contact(db, cid, T0) is None
    later = claim_next_contact(db, cid, T0 + timedelta(hours=3))
    assert later is not None and later.number == "+12132000001"


# -- results, retries, dispositions, callbacks ---------------------------------------------


def test_results_retries_and_summary(db: Database) -> None:
    cid = make_campaign(db, numbers(4))
    results = [
        CallResult.ANSWERED_HUMAN,
        CallResult.BUSY,
        CallResult.NO_ANSWER,
        CallResult.ABANDONED,
    ]
    attempts = []
    for result in results:
        got = claim_and_create_attempt(db, cid, T0)
        assert got is not None
        claim, attempt = got
        attempts.append(attempt)
        if result is CallResult.ANSWERED_HUMAN:
            record_attempt_event(db, attempt, AttemptPhase.ANSWERED, T0 + 2 * SEC)
            record_attempt_event(db, attempt, AttemptPhase.BRIDGED, T0 + 2.004 * SEC)
        finish_attempt(db, attempt, result, T0 + 10 * SEC)
    save_disposition(db, attempts[0], "SALE", T0 + 20 * SEC)

    summary = campaign_summary(db, cid)
    assert summary.attempts == 4 and summary.open_attempts == 0
    assert summary.attempts_by_result == {r: 1 for r in results}
    assert (summary.connected, summary.abandoned) == (1, 1)
    assert summary.abandon_rate == 0.5
    assert summary.dispositions == {"SALE": 1}
    assert summary.contacts_by_state == {ContactState.DONE: 3, ContactState.RETRY: 1}

    busy = get_contact(db, 2)
    assert (busy.state, busy.attempts, busy.last_result) == (
        ContactState.RETRY,
        1,
        CallResult.BUSY,
    )
    assert claim_next_contact(db, cid, T0 + 29 * SEC) is None  # busy: retry after 20 s
    retry = claim_and_create_attempt(db, cid, T0 + 30 * SEC)
    assert retry is not None and retry[0].contact_id == 2
    outcome = finish_attempt(db, retry[1], CallResult.BUSY, T0 + 40 * SEC)
    assert outcome.contact is not None and outcome.contact.state is ContactState.EXHAUSTED
    with pytest.raises(AttemptClosedError):
        finish_attempt(db, retry[1], CallResult.BUSY, T0 + 41 * SEC)

    rows = attempt_rows(db, cid)
    assert [r["result"] for r in rows] == [r.value for r in results] + ["busy"]
    assert rows[0]["disposition"] == "SALE" and rows[0]["bridged_at"]


def test_disposition_rules_and_refusals(db: Database) -> None:
    alice = add_agent(db, "alice", "pw-alice")
    cid = make_campaign(db, numbers(2))
    got = claim_and_create_attempt(db, cid, T0, agent_id=alice)
    assert got is not None
    claim, attempt = got
    with pytest.raises(DispositionError, match="in progress"):
        save_disposition(db, attempt, "SALE", T0)
    record_attempt_event(db, attempt, AttemptPhase.BRIDGED, T0 + SEC)
    finish_attempt(db, attempt, CallResult.ANSWERED_HUMAN, T0 + 10 * SEC)
    with pytest.raises(DispositionError, match="unknown disposition code 'BOGUS'"):
        save_disposition(db, attempt, "BOGUS", T0 + 11 * SEC)
    with pytest.raises(DispositionError, match="in the past"):
        save_disposition(db, attempt, "CALLBACK", T0 + 11 * SEC, callback_at=T0)
    with db.session() as s:  # the refusals stored nothing
        assert s.scalar(select(func.count()).select_from(Disposition)) == 0
        assert s.get_one(Contact, claim.contact_id).state is ContactState.RESERVED
    out = save_disposition(
        db,
        attempt,
        "CALLBACK",
        T0 + 12 * SEC,
        fields={"note": "call after lunch"},
        note="wants a quote",
    )
    assert out.contact is not None
    assert (out.contact.state, out.contact.next_eligible_at) == (
        ContactState.RETRY,
        T0 + 12 * SEC + timedelta(minutes=2),
    )
    assert get_contact(db, claim.contact_id).fields["note"] == "call after lunch"
    with pytest.raises(DispositionError, match="already has a disposition"):
        save_disposition(db, attempt, "SALE", T0 + 13 * SEC)


def test_personal_callbacks_go_only_to_their_agent(db: Database) -> None:
    alice = add_agent(db, "alice", "pw-alice")
    bob = add_agent(db, "bob", "pw-bob")
    cid = make_campaign(db, numbers(3))
    due = T0 + timedelta(hours=1)
    for personal in (True, False):
        got = claim_and_create_attempt(db, cid, T0, agent_id=alice)
        assert got is not None
        record_attempt_event(db, got[1], AttemptPhase.BRIDGED, T0)
        finish_attempt(db, got[1], CallResult.ANSWERED_HUMAN, T0 + SEC)
        out = save_disposition(
            db, got[1], "CALLBACK", T0 + SEC, callback_at=due, personal_callback=personal
        )
        assert out.callback_id is not None and out.contact is not None
        assert out.contact.state is ContactState.CALLBACK
    personal_contact, campaign_contact = 1, 2
    # before it is due, bob gets the remaining new contact
    early = claim_next_contact(db, cid, T0 + 2 * SEC, agent_id=bob)
    assert early is not None and early.contact_id == 3
    release_contact(db, 3, T0 + 2 * SEC, delay=timedelta(days=1))
    after = due + SEC
    for_bob = claim_next_contact(db, cid, after, agent_id=bob)
    assert for_bob is not None and for_bob.contact_id == campaign_contact
    assert claim_next_contact(db, cid, after, agent_id=bob) is None
    assert claim_next_contact(db, cid, after) is None  # no agent known: no personal callback
    for_alice = claim_next_contact(db, cid, after, agent_id=alice)
    assert for_alice is not None and for_alice.contact_id == personal_contact
    assert for_alice.callback_id is not None


def test_all_or_nothing_import(db: Database) -> None:
    cfg = loads_campaign(CAMPAIGN.format(agents="", schedule=""))
    cid = create_campaign(db, cfg, now=T0)
    with pytest.raises(CampaignExistsError):
        create_campaign(db, cfg, now=T0)
    bad = parse_list(b"name,phone\na,+12122000001\nb,not-a-number\nc,+12122000003\n")
    with pytest.raises(ListRejected) as info:
        import_contacts(db, cid, bad)
    assert [e.line for e in info.value.errors] == [3]
    assert count_contacts(db, cid) == 0
    demo = read_list(ROOT / "config" / "lists" / "demo.csv")
    assert len(import_contacts(db, cid, demo, now=T0)) == 30
    overlap = parse_list(b"name,phone\nnew,+12125550199\nold,(212) 200-0212\n")
    with pytest.raises(ListRejected, match="line 3: \\+12122000212 is already in the campaign"):
        import_contacts(db, cid, overlap)
    assert count_contacts(db, cid) == 30


# -- crash recovery -----------------------------------------------------------------------

CRASHING_DIALER = """
import sys, time
from datetime import datetime, timedelta, UTC
from dialer.core.results import AttemptPhase, CallResult
from dialer.db import open_database
from dialer.db.repository import claim_and_create_attempt, claim_next_contact, \
    finish_attempt, record_attempt_event
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
db = open_database(sys.argv[1], migrate=False)
cid = int(sys.argv[2])
_, in_call = claim_and_create_attempt(db, cid, T0)              # contact 1: call in progress
record_attempt_event(db, in_call, AttemptPhase.RINGING, T0 + timedelta(seconds=1))
_, talked = claim_and_create_attempt(db, cid, T0)               # contact 2: in wrap-up
record_attempt_event(db, talked, AttemptPhase.BRIDGED, T0 + timedelta(seconds=2))
finish_attempt(db, talked, CallResult.ANSWERED_HUMAN, T0 + timedelta(seconds=9))
claim_next_contact(db, cid, T0)                                 # contact 3: claimed, not dialed
print("READY", flush=True)
time.sleep(60)
"""


def test_recovery_after_sigkill(db: Database, path: Path) -> None:
    cid = make_campaign(db, numbers(4))
    agent = add_agent(db, "alice", "pw-alice")
    machine = AgentMachine("alice")
    for event in (LoginSucceeded(), ReadyRequested(), CallReserved("x")):
        log_agent_transition(db, agent, machine.handle(event, T0).audit)
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_DIALER, str(path), str(cid)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"READY"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    restarted = open_database(path)
    now = T0 + timedelta(minutes=5)
    report = recover_after_crash(restarted, now)
    assert report.interrupted_attempts == (1,)
    assert report.undispositioned_attempts == (2,)
    assert sorted(report.released_contacts) == [1, 2, 3]
    assert report.agents_logged_out == (agent,)

    with restarted.session() as s:
        first = s.get_one(CallAttempt, 1)
        assert (first.result, first.note) == (CallResult.INTERRUPTED, INTERRUPTED_NOTE)
        assert s.get_one(CallAttempt, 2).result is CallResult.ANSWERED_HUMAN
        events = s.scalars(select(AttemptEvent.phase).where(AttemptEvent.attempt_id == 1))
        assert list(events) == [
            AttemptPhase.CREATED,
            AttemptPhase.RINGING,
            AttemptPhase.INTERRUPTED,
        ]
        states = {c.id: (c.state, c.attempts) for c in s.scalars(select(Contact))}
    assert states == {
        1: (ContactState.RETRY, 1),  # interrupted counts; retried after the default delay
        2: (ContactState.DONE, 1),  # answered, no disposition came
        3: (ContactState.NEW, 0),  # never dialed
        4: (ContactState.NEW, 0),
    }
    assert agent_history(restarted, agent)[-1].event == "DialerRestarted"
    assert not recover_after_crash(restarted, now).changed  # nothing left to repair

    # the restarted dialer continues: no contact is dialed again for the same attempt
    dialed = []
    while (got := claim_and_create_attempt(restarted, cid, now)) is not None:
        dialed.append(got[0].contact_id)
    assert dialed == [3, 4]
    retry = claim_next_contact(restarted, cid, now + timedelta(minutes=10))
    assert retry is not None and retry.contact_id == 1 and retry.attempts == 1
    restarted.close()


def test_an_interrupted_callback_stays_due(db: Database, path: Path) -> None:
    cid = make_campaign(db, numbers(1))
    got = claim_and_create_attempt(db, cid, T0)
    assert got is not None
    record_attempt_event(db, got[1], AttemptPhase.BRIDGED, T0)
    finish_attempt(db, got[1], CallResult.ANSWERED_HUMAN, T0 + SEC)
    due = T0 + timedelta(hours=2)
    save_disposition(db, got[1], "CALLBACK", T0 + SEC, callback_at=due)
    dialing = claim_and_create_attempt(db, cid, due)
    assert dialing is not None and dialing[0].callback_id is not None
    # the dialer dies here; another process recovers
    other = open_database(path, migrate=False)
    recover_after_crash(other, due + SEC)
    contact = get_contact(other, 1)
    assert (contact.state, contact.attempts) == (ContactState.CALLBACK, 2)
    again = claim_next_contact(other, cid, due + 2 * SEC)
    assert again is not None and again.callback_id == dialing[0].callback_id
    attempt = create_attempt(other, again, due + 2 * SEC)
    finish_attempt(
        other,
        attempt,
        CallResult.NO_ANSWER,
        due + 30 * SEC,
        facts=CallFacts(hangup_cause=19, hung_up_by=HangupSide.DIALER),
    )
    final = get_contact(other, 1)
    assert (final.state, final.attempts) == (ContactState.EXHAUSTED, 3)  # campaign maximum
    assert claim_next_contact(other, cid, due + timedelta(days=1)) is None
    other.close()


# -- agents -------------------------------------------------------------------------------


def test_agent_passwords(db: Database, path: Path) -> None:
    alice = add_agent(db, "alice", "correct horse", display_name="Alice", sip_endpoint="agent1001")
    info = verify_password(db, "alice", "correct horse")
    assert info is not None and (info.id, info.sip_endpoint) == (alice, "agent1001")
    assert verify_password(db, "alice", "wrong horse") is None
    assert verify_password(db, "alice", "") is None
    assert verify_password(db, "mallory", "correct horse") is None
    with pytest.raises(AgentExistsError):
        add_agent(db, "alice", "another")
    add_agent(db, "bob", "correct horse")
    hashes = [str(h) for (h,) in raw(path, "SELECT password_hash FROM agents ORDER BY id")]
    assert all(h.startswith("scrypt$") and "correct horse" not in h for h in hashes)
    assert hashes[0] != hashes[1]  # salted
    set_password(db, alice, "battery staple")
    assert verify_password(db, "alice", "correct horse") is None
    assert verify_password(db, "alice", "battery staple") is not None


def test_audit_log_of_negotiated_logout(db: Database) -> None:
    agent = add_agent(db, "alice", "pw")
    machine = AgentMachine("alice")
    for event in (
        LoginSucceeded(),
        ReadyRequested(),
        CallReserved("call-7", timedelta(seconds=30)),
        LogoutRequested(),
    ):
        log_agent_transition(db, agent, machine.handle(event, T0).audit)
    assert machine.handle_timer(T0 + timedelta(seconds=30)) is not None
    history = agent_history(db, agent)
    assert [(h.old_state.value, h.new_state.value, h.event) for h in history] == [
        ("logged_out", "not_ready", "LoginSucceeded"),
        ("not_ready", "ready", "ReadyRequested"),
        ("ready", "reserved", "CallReserved"),
        ("reserved", "logout_pending", "LogoutRequested"),
    ]
    assert history[2].detail == {"call_id": "call-7", "max_logout_delay": 30.0}
    assert history[3].detail == {"deadline": (T0 + timedelta(seconds=30)).isoformat()}


def test_campaign_from_config_with_agents(db: Database) -> None:
    with pytest.raises(ValueError, match="unknown agents: alice"):
        make_campaign(db, numbers(1), agents='agents = ["alice"]')
    add_agent(db, "alice", "pw")
    cid = make_campaign(db, numbers(1), agents='agents = ["alice"]')
    info = get_campaign(db, cid)
    assert info.agents == ("alice",)
    assert info.ring_timeout == timedelta(seconds=20)
    assert [code for code, _, _ in info.dispositions] == ["SALE", "CALLBACK"]
