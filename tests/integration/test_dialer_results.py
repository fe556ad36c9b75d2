"""Results the engine produces from what the carrier really does (config/carrier/numbering.md):
a fax (detected by its answer tone while bridged, hung up, never an agent's work), a customer
who gives up while it rings, an invalid number, a busy line, a person, through the real PBX and a
campaign with an agent on a real phone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.db.campaigns import set_campaign_status
from dialer.db.models import CallAttempt
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import scripted_agent
from tests.integration.dialer_env import dialer_env, password

pytestmark = pytest.mark.pbx

SEAT = 1018


async def test_fax_hung_up_ringing_invalid_busy_and_a_person(pbx: Backend, settings: Settings,
                                                             tmp_path: Path) -> None:
    expected = {
        number_for(Behaviour.FAX, ring_s=1, talk_s=20, area_code="213"): "fax",
        number_for(Behaviour.HANGUP_RINGING, ring_s=3, area_code="214"): "hung_up_ringing",
        number_for(Behaviour.INVALID, area_code="215"): "invalid_number",
        number_for(Behaviour.BUSY, ring_s=1, area_code="216"): "busy",
        number_for(Behaviour.ANSWER, ring_s=1, talk_s=2, area_code="217"): "answered_human",
    }
    events: list[dict[str, object]] = []
    async with dialer_env(settings, tmp_path, [SEAT], list(expected)) as env:
        bot = asyncio.create_task(scripted_agent(env.url, f"agent{SEAT}", password(SEAT), "SALE",
                                                 lambda _who, msg: events.append(msg)))
        for _ in range(150):
            if any(a.leg.value == "up" and a.machine.state.value == "ready"
                   for a in env.engine.floor.seats.values()):
                break
            await asyncio.sleep(0.1)
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        for _ in range(600):        # one agent: the five calls one after another
            summary = await env.settled(tries=1)
            if summary.attempts == len(expected) and not summary.open_attempts:
                break
            await asyncio.sleep(0.1)
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)
        assert summary.open_attempts == 0
        with env.db.session() as session:
            got = {a.number: a.result.value for a in session.scalars(select(CallAttempt))
                   if a.result is not None}
    assert got == expected
    ended = {m["attempt"]: m for m in events if m["type"] == "call_ended"}
    with env.db.session() as session:
        fax = session.scalars(select(CallAttempt).where(CallAttempt.result == "fax")).one()
    # the agent may have been bridged to the fax for a moment, but owes it no disposition
    assert fax.id not in ended or ended[fax.id]["disposition_required"] is False
