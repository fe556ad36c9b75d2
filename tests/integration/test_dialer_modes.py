"""Preview, push preview and negotiated logout, for real: agents on real SIP phones (baresip)
logged in over the agent link, customers behind the carrier trunk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dialer.config.settings import Settings
from dialer.core.audio import read_wav, rms_dbfs
from dialer.core.campaign import CampaignStatus
from dialer.core.selection import ContactState
from dialer.db import repository as repo
from dialer.db.campaigns import set_campaign_status
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import AgentClient
from tests.integration.dialer_env import DialerEnv, dialer_env, password

pytestmark = pytest.mark.pbx


async def _login_ready(env: DialerEnv, seat: int) -> AgentClient:
    c = AgentClient(env.url)
    await c.__aenter__()
    reply = await c.login(f"agent{seat}", password(seat))
    assert reply["type"] == "login_ok", reply
    await c.expect("channel", timeout=15, where=lambda m: m["state"] == "connected")
    assert (await c.request("ready"))["type"] == "ok"
    return c


async def _talk_and_dispose(c: AgentClient, code: str = "SALE") -> dict[str, object]:
    connected = await c.expect("call_connected", timeout=30)
    ended = await c.expect("call_ended", timeout=30)
    assert ended["attempt"] == connected["attempt"] and ended["disposition_required"]
    saved = await c.request("disposition", attempt=connected["attempt"], code=code,
                            note="from the test")
    assert saved["type"] == "disposition_saved", saved
    return connected


async def test_preview_skip_then_dial(pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 1, 2, tag=1), number_for(Behaviour.ANSWER, 1, 2,
                                                                     tag=2)]
    async with dialer_env(settings, tmp_path, [1004], numbers, mode="preview") as env:
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        await env.refreshed()
        c = await _login_ready(env, 1004)
        try:
            first = await c.request("preview_request")
            assert first["type"] == "preview_record", first
            assert first["contact"]["fields"]["name"] == "Customer 0"
            # nothing is dialed while the agent looks at the record
            await asyncio.sleep(1)
            assert repo.campaign_summary(env.db, env.campaign_id).attempts == 0
            assert (await c.request("preview_skip", contact=first["offer"]))["type"] == "ok"
            second = await c.request("preview_request")
            assert second["type"] == "preview_record"
            assert second["offer"] != first["offer"]
            assert (await c.request("preview_dial", contact=second["offer"]))["type"] == "ok"
            connected = await _talk_and_dispose(c)
            assert connected["contact"]["id"] == second["offer"]
            # a record that is not the one offered is refused, and changes nothing
            bad = await c.request("preview_dial", contact=first["offer"])
            assert bad["type"] == "error" and "not the one offered" in bad["message"]
        finally:
            await c.close()
        s = repo.campaign_summary(env.db, env.campaign_id)
        assert (s.attempts, s.connected, s.dispositions) == (1, 1, {"SALE": 1})
        skipped = repo.get_contact(env.db, first["offer"])
        assert skipped.attempts == 0 and skipped.state is ContactState.NEW


async def test_push_preview_reject_then_accept(pbx: Backend, settings: Settings,
                                               tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 1, 2, tag=t) for t in (3, 4)]
    async with dialer_env(settings, tmp_path, [1005], numbers, mode="push_preview") as env:
        c = await _login_ready(env, 1005)
        try:
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            offer = await c.expect("push_offer", timeout=5)
            assert (await c.request("push_reject", offer=offer["offer"]))["type"] == "ok"
            offer2 = await c.expect("push_offer", timeout=5)
            assert offer2["offer"] != offer["offer"]
            assert (await c.request("push_accept", offer=offer2["offer"]))["type"] == "ok"
            connected = await _talk_and_dispose(c, "CALLBACK")
            assert connected["contact"]["id"] == offer2["offer"]
        finally:
            await c.close()
        s = repo.campaign_summary(env.db, env.campaign_id)
        assert (s.attempts, s.connected, s.dispositions) == (1, 1, {"CALLBACK": 1})


async def test_logout_with_nothing_pending_is_immediate(pbx: Backend, settings: Settings,
                                                        tmp_path: Path) -> None:
    async with dialer_env(settings, tmp_path, [1006], [number_for(Behaviour.ANSWER, 1, 2)],
                          mode="preview") as env:
        c = await _login_ready(env, 1006)
        try:
            assert (await c.request("logout"))["type"] == "ok"
            await c.expect("logout_authorized", timeout=2)
            assert not any(m["type"] == "logout_pending" for m in c.seen)
            refused = await c.request("ready")
            assert refused["type"] == "error" and refused["code"] == "not_logged_in"
        finally:
            await c.close()


async def test_logout_waits_for_a_call_that_connects_then_its_disposition(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 3, 2), number_for(Behaviour.ANSWER, 1, 2, tag=5)]
    async with dialer_env(settings, tmp_path, [1007], numbers, logout_delay="20s") as env:
        c = await _login_ready(env, 1007)
        try:
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            await c.expect("state", timeout=5, where=lambda m: m["state"] == "reserved")
            await c.request("logout")
            pending = await c.expect("logout_pending", timeout=2)
            assert 0 < pending["remaining_s"] <= 20
            connected = await c.expect("call_connected", timeout=10)
            await c.expect("call_ended", timeout=10)
            # not authorized before the disposition
            assert not any(m["type"] == "logout_authorized" for m in c.seen)
            await c.request("disposition", attempt=connected["attempt"], code="SALE")
            await c.expect("logout_authorized", timeout=2)
        finally:
            await c.close()
        s = repo.campaign_summary(env.db, env.campaign_id)
        # out of the pool at once: the second contact was never dialed for this agent
        assert (s.attempts, s.connected, s.abandoned) == (1, 1, 0)


async def test_logout_deadline_passes_call_goes_to_another_agent(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 6, 2)]
    async with dialer_env(settings, tmp_path, [1008, 1009], numbers, logout_delay="2s") as env:
        a = await _login_ready(env, 1008)
        b = AgentClient(env.url)
        await b.__aenter__()
        try:
            await b.login("agent1009", password(1009))
            await b.expect("channel", timeout=15, where=lambda m: m["state"] == "connected")
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            await a.expect("state", timeout=5, where=lambda m: m["state"] == "reserved")
            await b.request("ready")      # b is ready only once the call is a's
            await a.request("logout")
            await a.expect("logout_pending", timeout=2)
            await a.expect("logout_authorized", timeout=5)
            connected = await _talk_and_dispose(b)
            assert not any(m["type"] == "call_connected" for m in a.seen)
            assert connected["contact"]["number"] == numbers[0]
        finally:
            await a.close()
            await b.close()
        s = repo.campaign_summary(env.db, env.campaign_id)
        assert (s.attempts, s.connected, s.abandoned) == (1, 1, 0)


async def test_logout_deadline_passes_with_nobody_free_abandons_with_the_message(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    number = number_for(Behaviour.ANSWER, 5, 0, tag=7)
    async with dialer_env(settings, tmp_path, [1010], [number], logout_delay="2s") as env:
        c = await _login_ready(env, 1010)
        try:
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            await c.expect("state", timeout=5, where=lambda m: m["state"] == "reserved")
            await c.request("logout")
            await c.expect("logout_pending", timeout=2)
            await c.expect("logout_authorized", timeout=5)
        finally:
            await c.close()
        s = await env.settled()
        assert (s.attempts, s.connected, s.abandoned) == (1, 0, 1)
    heard = sorted((settings.runtime_dir / "state/carrier/spool/calls").glob(
        f"{number}-*-heard.wav"), key=lambda p: p.stat().st_mtime)[-1]
    rate, samples = read_wav(heard)
    assert rms_dbfs(samples) > -40      # the customer heard the identification message
