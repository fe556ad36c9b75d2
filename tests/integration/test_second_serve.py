"""A second `dialer serve` on the database of a running dialer is refused before it touches
anything: the agent's voice channel and the customer talking to them stay up in Asterisk, the
attempt is not marked interrupted, and the running dialer goes on dialing and bridging. A
`dialer serve --standby` waits, touching nothing, and starts when the holder dies.

(Before the lease, the second service recovered "after a crash", marking the live attempt
interrupted, hung up every agent-*/cust-* channel and took the Stasis application, and only then
failed on the taken port.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dialer.ari import AriClient
from dialer.config.settings import REPO_ROOT, Settings
from dialer.core.campaign import CampaignStatus
from dialer.core.results import CallResult
from dialer.db.campaigns import set_campaign_status
from dialer.db.models import CallAttempt
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import AgentClient
from tests.integration.dialer_env import LINK_PORT, dialer_env, password

pytestmark = pytest.mark.pbx

SEAT = 1016
LONG_TALKER = number_for(Behaviour.ANSWER, 1, 0, tag=6)   # talks until hung up (at most 1 h)
SHORT_TALKER = number_for(Behaviour.ANSWER, 1, 3, tag=7)  # the next call: 3 s of talk


async def _ours(settings: Settings) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Asterisk's agent-*/cust-* channels (id -> state) and its bridges (id -> channel ids)."""
    async with AriClient.from_settings(settings.pbx, app="second-serve-test") as ari:
        channels = {c["id"]: c["state"] for c in await ari.get("channels")
                    if c["id"].startswith(("agent-", "cust-"))}
        bridges = {b["id"]: set(b["channels"]) for b in await ari.get("bridges")}
    return channels, bridges


def _attempt(db: Any, attempt_id: int) -> CallAttempt:
    with db.session() as s:
        got = s.scalar(select(CallAttempt).where(CallAttempt.id == attempt_id))
    assert got is not None
    return got


async def test_a_second_serve_is_refused_and_the_live_call_stays(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    db_path = tmp_path / "dialer.sqlite3"
    async with dialer_env(settings, tmp_path, [SEAT], [LONG_TALKER, SHORT_TALKER]) as env:
        async with AgentClient(env.url) as agent:
            assert (await agent.login(f"agent{SEAT}", password(SEAT)))["type"] == "login_ok"
            await agent.expect("channel", timeout=20, where=lambda m: m["state"] == "connected")
            await agent.request("ready")
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            first = await agent.expect("call_connected", timeout=30)
            attempt = first["attempt"]

            channels, bridges = await _ours(settings)
            legs = [c for c in channels if c.startswith("agent-")]
            customers = [c for c in channels if c.startswith("cust-")]
            assert len(legs) == 1 and len(customers) == 1, channels
            assert set(channels.values()) == {"Up"}, channels
            talking = {legs[0], customers[0]}
            assert any(talking <= members for members in bridges.values()), bridges

            # the mistyped command: a second service on the same database and ports
            env_vars = dict(os.environ, OPENDIALER_DATABASE=str(db_path),
                            OPENDIALER_LINK_PORT=str(LINK_PORT))
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                str(REPO_ROOT / ".venv" / "bin" / "dialer"), "serve", cwd=REPO_ROOT,
                env=env_vars, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise AssertionError("the second `dialer serve` was not refused: it ran on "
                                     "for 15 s") from None
            took = time.monotonic() - started
            stderr = err.decode()
            assert proc.returncode not in (0, None), (proc.returncode, stderr)
            assert took < 10, f"refused only after {took:.1f} s"
            assert "another dialer service holds the database" in stderr, stderr
            assert str(db_path) in stderr and f"pid {os.getpid()}" in stderr, stderr
            assert "resync" not in stderr + out.decode()    # it never reached Asterisk

            await asyncio.sleep(1.0)   # time for anything the refused one might have set off
            after, bridges_after = await _ours(settings)
            for channel in talking:
                assert after.get(channel) == "Up", (channel, after)
            assert any(talking <= members for members in bridges_after.values()), bridges_after
            assert _attempt(env.db, attempt).result is None       # still open: not interrupted
            assert attempt in {c.attempt_id for c in env.engine.floor.calls.values()}

            # the running dialer still serves: the agent ends the call, dispositions it, and
            # the next customer is dialed and bridged to them
            assert (await agent.request("hangup"))["type"] != "error"
            ended = await agent.expect("call_ended", timeout=10,
                                       where=lambda m: m["attempt"] == attempt)
            assert ended.get("disposition_required")
            assert (await agent.request("disposition", attempt=attempt, code="SALE"))[
                "type"] != "error"
            second = await agent.expect("call_connected", timeout=30)
            assert second["attempt"] != attempt
            await agent.expect("call_ended", timeout=20,
                               where=lambda m: m["attempt"] == second["attempt"])
            assert (await agent.request("disposition", attempt=second["attempt"],
                                        code="SALE"))["type"] != "error"
            summary = await env.settled()
    assert summary.attempts == 2 and summary.open_attempts == 0, summary
    assert summary.connected == 2 and summary.dispositions == {"SALE": 2}, summary
    assert _attempt(env.db, attempt).result is not CallResult.INTERRUPTED
    print(f"second serve refused in {took:.2f} s: {stderr.strip().splitlines()[-1]}",
          file=sys.stderr)


HOLD = """
import sys, time
from dialer.service.lease import acquire_lease
lease = acquire_lease(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


async def _log_line(log: Path, text: str, seconds: float) -> str:
    for _ in range(int(seconds * 10)):
        for line in log.read_text().splitlines():
            if text in line:
                return line
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {text!r} in {seconds} s; the log:\n{log.read_text()}")


async def test_a_standby_waits_touching_nothing_and_takes_over_when_the_holder_dies(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    db_path = tmp_path / "standby.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db_path)], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    log = tmp_path / "standby.log"
    env_vars = dict(os.environ, OPENDIALER_DATABASE=str(db_path),
                    OPENDIALER_LINK_PORT=str(LINK_PORT))
    with log.open("wb") as out:
        standby = subprocess.Popen([str(REPO_ROOT / ".venv" / "bin" / "dialer"), "serve",
                                    "--standby"], cwd=REPO_ROOT, env=env_vars, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        waiting = await _log_line(log, "standby: waiting for the dialer service lease", 15)
        assert f"held by pid {holder.pid} on " in waiting, waiting
        await asyncio.sleep(2.5)                  # a few polls: still waiting, said once
        assert standby.poll() is None, log.read_text()
        assert log.read_text().count("standby: waiting") == 1, log.read_text()
        assert not db_path.exists(), "the standby touched the database while waiting"

        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        killed = time.monotonic()
        await _log_line(log, "standby: took over", 5)
        took_over = time.monotonic() - killed
        await _log_line(log, "dialer: serving agents", 30)
        assert db_path.exists()
        refused = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "dialer"), "serve"],
                                 cwd=REPO_ROOT, env=env_vars, capture_output=True, text=True,
                                 timeout=30)
        assert refused.returncode == 2 and f"pid {standby.pid} on " in refused.stderr, refused
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(20) == 0, log.read_text()
        assert took_over < 2.0, f"the standby took over {took_over:.1f} s after the holder died"
    finally:
        for proc in (holder, standby):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
