"""Compliance in the pacing loop, on real SQLite files: a predictive pacer warmed from the
campaign's recent attempts, and the 30-day hold that makes a campaign over its cap dial
progressively (the same answer ``dialer why`` gives)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer import pacing as pc
from dialer.config.campaign import loads_campaign
from dialer.core.campaign import CampaignStatus
from dialer.core.ledger import AttemptFacts, build_ledger
from dialer.core.results import AttemptPhase, CallFacts, CallResult
from dialer.db import open_database
from dialer.db.agents import add_agent
from dialer.db.campaigns import create_campaign, get_campaign, import_contacts, set_campaign_status
from dialer.db.database import Database
from dialer.db.diagnosis import diagnose
from dialer.db.ledger import compliance_hold, rolling_abandon_rate
from dialer.db.pacing_history import recent_attempts, warm_pacer
from dialer.db.repository import (
    claim_next_contact,
    create_attempt,
    finish_attempt,
    record_attempt_event,
    save_disposition,
)
from dialer.lists import parse_list
from tests.unit.test_compliance_db import store_attempts

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
S = timedelta(seconds=1)
CAMPAIGN = f"""
[campaign]
name = "{{name}}"
mode = "{{mode}}"
caller_id = "+12125550100"
trunk = "carrier"
agents = ["a1", "a2", "a3", "a4", "a5"]

[dialing]
max_attempts = 3
abandon_cap = 0.03

[[disposition]]
code = "SALE"
final = true

[safe_harbor]
message = "{ROOT / 'config' / 'sounds' / 'demo-safe-harbor.wav'}"
"""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "dialer.sqlite3")
    yield database
    database.close()


def campaign(db: Database, contacts: int, name: str = "spring", mode: str = "predictive") -> int:
    if name == "spring":
        for i in range(1, 6):
            add_agent(db, f"a{i}", f"pw-a{i}")
    cid = create_campaign(db, loads_campaign(CAMPAIGN.format(name=name, mode=mode)), now=T0)
    rows = "".join(f"c{i},+1212200{i:04d}\n" for i in range(contacts))
    import_contacts(db, cid, parse_list(f"name,phone\n{rows}".encode()), now=T0)
    set_campaign_status(db, cid, CampaignStatus.STARTED)
    return cid


def dial_history(db: Database, cid: int, calls: int, live_every: int, start: datetime) -> None:
    """A call every 6 s through the repository: one in ``live_every`` answered after 12 s,
    bridged to an agent, talked 90 s, dispositioned 15 s later; the others ring 25 s."""
    for i in range(calls):
        t = start + 6 * i * S
        claim = claim_next_contact(db, cid, t)
        assert claim is not None
        attempt = create_attempt(db, claim, t)
        record_attempt_event(db, attempt, AttemptPhase.RINGING, t + S)
        if i % live_every:
            finish_attempt(db, attempt, CallResult.NO_ANSWER, t + 25 * S, facts=CallFacts())
            continue
        agent = 1 + i % 5
        record_attempt_event(db, attempt, AttemptPhase.ANSWERED, t + 12 * S)
        record_attempt_event(db, attempt, AttemptPhase.BRIDGED, t + 12.3 * S, agent_id=agent)
        finish_attempt(db, attempt, CallResult.ANSWERED_HUMAN, t + 102.3 * S,
                       facts=CallFacts(answered=True, agent_bridged=True))
        save_disposition(db, attempt, "SALE", t + 117.3 * S, agent_id=agent)


def ready(n: int, now: float) -> pc.Snapshot:
    return pc.Snapshot([pc.AgentView(i, pc.AgentState.READY, now - 5) for i in range(n)], [])


def test_a_pacer_warmed_from_a_low_answer_rate_launches_more_than_a_cold_one(
    db: Database,
) -> None:
    cid = campaign(db, 200)
    dial_history(db, cid, 192, live_every=6, start=T0)  # 32 live answers of 192 calls
    now = T0 + 2 * 3600 * S
    info = get_campaign(db, cid)
    past = recent_attempts(db, cid, now - 4 * 3600 * S)
    assert len(past) == 192 and past[0].started_at == T0
    assert past[0].dispositioned_at == T0 + 117.3 * S and past[0].agent_id == 1
    clock = 50_000.0  # the service's own float clock at `now`
    cold = pc.create_pacer("predictive", cap=info.abandon_cap, connect_limit=2.0)
    warm = warm_pacer(db, info, now, clock)
    assert warm.lives == 32 and warm.abandons == 0
    first_cold = cold.decide(ready(5, clock), clock)
    first_warm = warm.decide(ready(5, clock), clock)
    assert first_cold.mode is pc.PacingMode.WARM_UP and first_cold.launch == 5
    assert first_warm.mode is pc.PacingMode.PREDICTIVE
    assert first_warm.inputs["p_live"] < 0.25
    assert first_warm.launch > 2 * first_cold.launch, first_warm.as_log()
    # only the last `history` counts: two hours back there is nothing to learn from
    stale = warm_pacer(db, info, now + 6 * 3600 * S, clock)
    assert stale.lives == 0
    assert stale.decide(ready(5, clock), clock).mode is pc.PacingMode.WARM_UP


def live(n: int, t: datetime, *, to_agent: float | None = 0.4,
         result: CallResult = CallResult.ANSWERED_HUMAN) -> AttemptFacts:
    start = t + n * S
    ans = start + 10 * S
    return AttemptFacts(
        attempt_id=n, started_at=start, result=result, ended_at=ans + 60 * S,
        number=f"+1212200{n:04d}", originated_at=start, answered_at=ans,
        bridged_at=None if to_agent is None else ans + to_agent * S,
        safe_harbor_at=ans + 1.5 * S if result is CallResult.ABANDONED else None,
    )


def test_the_hold_follows_the_ledgers_30_day_rate_late_connects_included(db: Database) -> None:
    cid = campaign(db, 1)
    day = T0 - 10 * 86400 * S
    history = [live(n, day) for n in range(1, 40)]
    history.append(live(40, day, to_agent=None, result=CallResult.ABANDONED))
    store_attempts(db, cid, history)
    now = T0
    assert rolling_abandon_rate(db, cid, now).rate == 1 / 40
    assert compliance_hold(db, cid, now) is None
    why = diagnose(db, cid, now).text()
    assert "Pacing held back" not in why and "2.5%" in why

    # one late connect (the agent 3 s after the greeting) takes it to 2 of 41: over the cap
    store_attempts(db, cid, [live(41, T0 - 3600 * S, to_agent=3.0)])
    later = now + 60 * S
    assert rolling_abandon_rate(db, cid, later) == build_ledger(
        [*history, live(41, T0 - 3600 * S, to_agent=3.0)], later).current
    hold = compliance_hold(db, cid, later)
    assert hold == ("30-day abandon rate 4.9% (2 of 41 live answers, late connects included) "
                    "is at or over the cap 3.0%: dialing progressively until it is back under")
    diagnosis = diagnose(db, cid, later, ready_agents=2, ready_source="as given")
    assert f"Pacing held back: {hold}" in diagnosis.text()
    assert diagnosis.dialing  # it still dials: one call per free agent

    # 31 days on, the window has moved past them all
    assert compliance_hold(db, cid, T0 + 31 * 86400 * S) is None
    # asked again for an earlier instant, it starts over rather than trust what it kept
    assert compliance_hold(db, cid, later) == hold


def test_at_the_cap_it_holds_and_only_predictive_campaigns_hold(db: Database) -> None:
    cid = campaign(db, 1)
    other = campaign(db, 1, name="summer", mode="progressive")
    history = [live(n, T0 - 86400 * S) for n in range(1, 98)]
    history += [live(n, T0 - 86400 * S, to_agent=None, result=CallResult.ABANDONED)
                for n in range(98, 101)]
    store_attempts(db, cid, history)
    store_attempts(db, other, [live(n + 1000, T0 - 86400 * S, to_agent=None,
                                    result=CallResult.ABANDONED) for n in range(5)])
    hold = compliance_hold(db, cid, T0)
    assert hold is not None and hold.startswith("30-day abandon rate 3.0% (3 of 100 live")
    assert rolling_abandon_rate(db, other, T0).rate == 1.0
    assert compliance_hold(db, other, T0) is None
    assert "Pacing held back" not in diagnose(db, other, T0).text()
