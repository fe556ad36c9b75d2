"""Answering-machine detection for real: a progressive campaign with `amd = true`, one agent on a
real SIP phone, customers who are people (a short "hello", a pause, then talk) and answering
machines (a long greeting) at the simulated carrier. Asterisk's AMD() runs on each answered call
before the dialer hears of the answer: people reach the agent, machines are hung up on and
recorded as such, and the agent never hears a machine."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.core.results import AttemptPhase
from dialer.db import repository as repo
from dialer.db.campaigns import set_campaign_status
from dialer.db.models import AttemptEvent, CallAttempt
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import scripted_agent
from tests.integration.dialer_env import dialer_env, password

pytestmark = pytest.mark.pbx

SEAT = 1011


async def test_machines_are_detected_and_never_reach_the_agent(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    people = [number_for(Behaviour.ANSWER, 1, 4, tag, area_code="713") for tag in (1, 2)]
    machines = [number_for(Behaviour.MACHINE, 1, 6, tag, area_code="713") for tag in (3, 4)]
    numbers = [people[0], machines[0], machines[1], people[1]]
    events: list[dict[str, object]] = []
    async with dialer_env(settings, tmp_path, [SEAT], numbers, dialing="amd = true\n") as env:
        bot = asyncio.create_task(scripted_agent(env.url, f"agent{SEAT}", password(SEAT), "SALE",
                                                 lambda _who, m: events.append(m)))
        while not any(a.leg.value == "up" and a.machine.state.value == "ready"
                      for a in env.engine.floor.seats.values()):
            await asyncio.sleep(0.1)
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        s = repo.campaign_summary(env.db, env.campaign_id)
        for _ in range(600):
            await asyncio.sleep(0.1)
            if bot.done():
                bot.result()
            s = repo.campaign_summary(env.db, env.campaign_id)
            if (s.attempts == 4 and s.open_attempts == 0
                    and sum(s.dispositions.values()) == s.connected):
                break
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)
        with env.db.session() as session:
            attempts = {a.id: a for a in session.scalars(select(CallAttempt)).all()}
            amd = [(attempts[e.attempt_id].number, (e.detail or {}).get("status"))
                   for e in session.scalars(select(AttemptEvent).where(
                       AttemptEvent.phase == AttemptPhase.AMD_DONE)).all()]
            bridged = {attempts[e.attempt_id].number for e in session.scalars(
                select(AttemptEvent).where(AttemptEvent.phase == AttemptPhase.BRIDGED)).all()}
    by_result = {r.value: n for r, n in s.attempts_by_result.items()}
    assert (s.attempts, s.connected, s.abandoned) == (4, 2, 0), by_result
    assert by_result == {"answered_human": 2, "machine": 2}
    assert sorted(amd) == sorted([(n, "HUMAN") for n in people]
                                 + [(n, "MACHINE") for n in machines])
    assert bridged == set(people)
    connected = [m["contact"]["number"] for m in events  # type: ignore[index]
                 if m["type"] == "call_connected"]
    assert Counter(connected) == Counter(people)
    assert s.dispositions == {"SALE": 2}
