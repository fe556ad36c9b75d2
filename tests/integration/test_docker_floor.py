"""The call floor on the Docker back end (the session's PBX and carrier as containers): the
registration trunk to the carrier container carries a call with audio both ways, a short
progressive campaign dials through the carrier container and bridges every answer to an agent,
and when Asterisk dies inside the PBX container and Docker restarts the container by itself
(restart policy; nobody runs `dialer pbx up`), the dialer resyncs on ARI reconnect: the logged-in
agents get their voice channel back without logging in again and new answers are bridged to them.

Runs in the Docker tier (`bash scripts/docker-tier`, with OPENDIALER_PBX_BACKEND=docker)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.cli.trunk import RegStatus, reload_trunks, trunk_test_call, wait_registrations
from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.db import repository as repo
from dialer.db.campaigns import set_campaign_status
from dialer.db.models import AttemptEvent, CallAttempt
from dialer.pbx import Backend
from dialer.pbx.base import ari_info
from dialer.pbx.docker import DockerBackend
from dialer.qa.carrier_plan import Behaviour, number_for
from tests.integration.dialer_env import DialerEnv, dialer_env, password
from tests.integration.floor_watch import FloorAgent, Watch, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.pbx]


@pytest.fixture
def docker_pbx(pbx: Backend) -> DockerBackend:
    assert isinstance(pbx, DockerBackend), (
        f"the session PBX runs on the {pbx.name} back end: the Docker tier runs with "
        "OPENDIALER_PBX_BACKEND=docker (bash scripts/docker-tier)")
    return pbx


async def floor_up(env: DialerEnv, seats: list[int]) -> list[FloorAgent]:
    agents = [FloorAgent(env.url, f"agent{s}", password(s)).start() for s in seats]
    up = await wait_until(lambda: all(a.voice and a.state == "ready" for a in agents), 25,
                          agents=agents)
    assert up, {a.login: a.types() for a in agents}
    return agents


async def settle(env: DialerEnv, agents: list[FloorAgent]) -> repo.CampaignSummary:
    """Stop the campaign, let the calls still up end and be dispositioned."""
    set_campaign_status(env.db, env.campaign_id, CampaignStatus.STOPPED)
    summary = await env.settled(tries=150)
    for _ in range(50):
        if sum(summary.dispositions.values()) >= summary.connected:
            break
        await asyncio.sleep(0.2)
        summary = repo.campaign_summary(env.db, env.campaign_id)
    for a in agents:
        await a.stop()
    return summary


async def test_the_registration_trunk_to_the_carrier_container_carries_audio_both_ways(
        docker_pbx: DockerBackend, settings: Settings) -> None:
    report = await asyncio.to_thread(reload_trunks, settings, docker_pbx)
    assert report.ok, report.missing
    regs = await asyncio.to_thread(wait_registrations, docker_pbx, ["carrier-reg"], 10.0)
    assert regs["carrier-reg"].status is RegStatus.REGISTERED
    trunk = next(t for t in report.trunks if t.name == "carrier-reg")
    rep = await trunk_test_call(settings, docker_pbx, trunk,
                                number_for(Behaviour.ANSWER, 0, 0), talk=1.0, ring_timeout=10)
    text = rep.describe()
    assert rep.passed, text
    assert "registration: registered" in text and "SIP answer: 200 OK" in text
    assert "audio from the far end: yes" in text and "audio to the far end: yes" in text


MIX = ([(Behaviour.ANSWER, 1, 2)] * 4 + [(Behaviour.BUSY, 0, 0), (Behaviour.REJECT, 1, 0),
                                         (Behaviour.INVALID, 0, 0), (Behaviour.CONGESTION, 0, 0)])


async def test_a_short_progressive_campaign_through_the_carrier_container(
        docker_pbx: DockerBackend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(b, r, t, tag=i) for i, (b, r, t) in enumerate(MIX)]
    seats = [1001, 1002]
    async with dialer_env(settings, tmp_path, seats, numbers) as env:
        agents = await floor_up(env, seats)
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        done = await wait_until(
            lambda: (repo.campaign_summary(env.db, env.campaign_id).attempts == len(MIX)
                     and not repo.campaign_summary(env.db, env.campaign_id).open_attempts),
            60, agents=agents)
        summary = await settle(env, agents)
    assert done, summary
    by_result = {r.value: n for r, n in summary.attempts_by_result.items()}
    assert summary.attempts == len(MIX) and summary.open_attempts == 0, by_result
    assert summary.abandoned == 0 and summary.connected == 4, by_result
    assert by_result.get("busy") == 1 and by_result.get("rejected") == 1, by_result
    assert by_result.get("invalid_number") == 1 and by_result.get("congestion") == 1, by_result
    assert summary.dispositions == {"SALE": 4}
    with env.db.session() as session:
        answered = [a.id for a in session.scalars(select(CallAttempt))
                    if a.answered_at is not None]
        bridged = Counter(e.attempt_id for e in session.scalars(
            select(AttemptEvent).where(AttemptEvent.phase == "bridged")))
    assert len(answered) == 4 and all(bridged[a] == 1 for a in answered), (answered, bridged)
    assert sum(len(a.messages("call_connected")) for a in agents) == 4


def kill_asterisk_in(be: DockerBackend, service: str) -> int:
    """SIGKILL the service's Asterisk from the host, as a crash would (not `docker kill`, which
    counts as stopping it on purpose); returns the restart count before."""
    c = be.containers()[service]
    assert c.running and c.pid > 0, c
    os.kill(c.pid, signal.SIGKILL)
    return c.restarts


async def test_the_dialer_survives_docker_restarting_the_pbx_container(
        docker_pbx: DockerBackend, settings: Settings, tmp_path: Path) -> None:
    seats = [1003, 1004]
    numbers = [number_for(Behaviour.ANSWER, 1, 3, tag=i % 10, area_code=("212", "305")[i // 10])
               for i in range(20)]
    async with dialer_env(settings, tmp_path, seats, numbers) as env:
        with Watch(settings) as watch:
            agents = await floor_up(env, seats)
            try:
                set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
                assert await wait_until(lambda: len(watch.bridged()) >= 1, 30, agents=agents), \
                    "no customer bridged to an agent before the fault"
                t_kill = time.monotonic()
                restarts = kill_asterisk_in(docker_pbx, "pbx")

                def restarted() -> bool:
                    c = docker_pbx.containers().get("pbx")
                    return bool(c and c.running and c.restarts == restarts + 1
                                and ari_info(settings, timeout=1.0) is not None)

                assert await wait_until(restarted, 45, period=0.5), \
                    f"Docker did not restart the PBX container: {docker_pbx.containers()}"
                t_back = time.monotonic()

                def recovered() -> bool:
                    return (all(a.voice_back(t_kill) for a in agents)
                            and any(a.first("call_connected", t_back) for a in agents)
                            and len(watch.bridged(t_back)) >= 1)

                ok = await wait_until(recovered, 45, agents=agents)
                assert ok, {"bridged after": watch.bridged(t_back),
                            **{a.login: a.types(t_kill) for a in agents}}
                for a in agents:
                    assert a.logins == 1 and not a.first("logout_authorized"), a.types()
                status = docker_pbx.status()
                assert status.running and f"restarts {restarts + 1}" in next(
                    i.detail for i in status.instances if i.name == "pbx")
                summary = await settle(env, agents)
                assert summary.open_attempts == 0, summary
            finally:
                for a in agents:
                    await a.stop()
