"""A progressive campaign for real: 3 agents on real SIP phones, 30 customers of mixed behaviours
through the carrier trunk. Every contact is accounted for, nothing is abandoned, and every
answered call is bridged to exactly one agent and dispositioned."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.db import repository as repo
from dialer.db.campaigns import set_campaign_status
from dialer.db.models import AttemptEvent, CallAttempt
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import scripted_agent
from tests.integration.dialer_env import dialer_env, password

pytestmark = pytest.mark.pbx

MIX = ([(Behaviour.ANSWER, 1, 2)] * 12 + [(Behaviour.BUSY, 0, 0)] * 3
       + [(Behaviour.REJECT, 1, 0)] * 3 + [(Behaviour.INVALID, 0, 0)] * 3
       + [(Behaviour.CONGESTION, 0, 0)] * 2 + [(Behaviour.MACHINE, 1, 2)] * 2
       + [(Behaviour.HANGUP_ANSWERED, 1, 1)] * 2 + [(Behaviour.HANGUP_RINGING, 1, 0)] * 2
       + [(Behaviour.NO_ANSWER, 0, 0)])


async def test_progressive_campaign_accounts_for_every_contact(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(b, r, t, tag=i % 10, area_code=("212", "305", "415")[i // 10])
               for i, (b, r, t) in enumerate(MIX)]
    assert len(set(numbers)) == 30
    seats = [1001, 1002, 1003]
    events: list[tuple[str, dict[str, object]]] = []
    async with dialer_env(settings, tmp_path, seats, numbers) as env:
        bots = [asyncio.create_task(scripted_agent(env.url, f"agent{s}", password(s), "SALE",
                                                   lambda who, m: events.append((who, m))))
                for s in seats]
        for _ in range(100):   # all three on their voice channel and ready
            if sum(1 for a in env.engine.floor.seats.values()
                   if a.leg.value == "up" and a.machine.state.value == "ready") == 3:
                break
            await asyncio.sleep(0.1)
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        summary = None
        for _ in range(900):
            await asyncio.sleep(0.2)
            for bot in bots:
                if bot.done():
                    bot.result()   # a bot that failed fails the test with its reason
            summary = repo.campaign_summary(env.db, env.campaign_id)
            if (summary.attempts == 30 and summary.open_attempts == 0
                    and sum(summary.dispositions.values()) == summary.connected
                    and not env.engine.floor.calls):
                break
        for bot in bots:
            bot.cancel()
        await asyncio.gather(*bots, return_exceptions=True)
    assert summary is not None
    by_result = {r.value: n for r, n in summary.attempts_by_result.items()}
    assert summary.attempts == 30, by_result
    assert summary.open_attempts == 0
    assert summary.abandoned == 0
    # answered: 12 talkers + 2 machines + 2 who answer and hang up, each bridged to an agent
    assert summary.connected == 16, by_result
    assert by_result.get("busy") == 3 and by_result.get("rejected") == 3
    assert by_result.get("invalid_number") == 3 and by_result.get("congestion") == 2
    assert by_result.get("no_answer", 0) + by_result.get("hung_up_ringing", 0) == 3
    assert summary.dispositions == {"SALE": 16}
    with env.db.session() as session:
        attempts = session.scalars(select(CallAttempt)).all()
        assert Counter(a.contact_id for a in attempts).most_common(1)[0][1] == 1
        bridged = session.scalars(select(AttemptEvent).where(
            AttemptEvent.phase == "bridged")).all()
    per_attempt = Counter(e.attempt_id for e in bridged)
    assert len(per_attempt) == 16 and set(per_attempt.values()) == {1}
    connected_msgs = [m for _, m in events if m["type"] == "call_connected"]
    assert len(connected_msgs) == 16
    assert len({m["attempt"] for m in connected_msgs}) == 16
    assert {who for who, _ in events} == {"agent1001", "agent1002", "agent1003"}
    assert max(env.engine.floor.connect_latencies) < 2.0
