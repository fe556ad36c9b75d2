"""A dialer killed with SIGKILL mid-campaign and restarted: no stored attempt or disposition is
lost, no attempt is dialed twice, and the killed dialer's channels left in Asterisk are cleared."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.ari import AriClient
from dialer.config.campaign import loads_campaign
from dialer.config.settings import REPO_ROOT, Settings
from dialer.core.campaign import CampaignStatus
from dialer.core.results import CallResult
from dialer.db import repository as repo
from dialer.db.agents import add_agent
from dialer.db.campaigns import create_campaign, insert_contacts, set_campaign_status
from dialer.db.database import Database, open_database
from dialer.db.models import AttemptEvent, CallAttempt, Disposition
from dialer.lists import NewContact
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.qa.phones import start_phones
from dialer.service.client import scripted_agent
from tests.integration.dialer_env import CAMPAIGN, password

pytestmark = pytest.mark.pbx

PORT = 8767
SEATS = [1012, 1013]


def _serve(db_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OPENDIALER_DATABASE=str(db_path), OPENDIALER_LINK_PORT=str(PORT))
    out = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "serve"], cwd=REPO_ROOT,
                            env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return proc


async def _bots(url: str) -> list[asyncio.Task[None]]:
    for _ in range(100):   # the service is listening once a connection succeeds
        try:
            _, w = await asyncio.open_connection("127.0.0.1", PORT)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    return [asyncio.create_task(scripted_agent(url, f"agent{s}", password(s), "SALE"))
            for s in SEATS]


async def _wait(db: Database, cid: int, cond: object, seconds: float) -> repo.CampaignSummary:
    for _ in range(int(seconds * 5)):
        s = repo.campaign_summary(db, cid)
        if cond(s):  # type: ignore[operator]
            return s
        await asyncio.sleep(0.2)
    raise AssertionError(f"campaign did not get there in {seconds} s: {s}")


async def test_sigkill_mid_campaign_then_restart(pbx: Backend, settings: Settings,
                                                 tmp_path: Path) -> None:
    db_path = tmp_path / "dialer.sqlite3"
    db = open_database(db_path)
    for seat in SEATS:
        add_agent(db, f"agent{seat}", password(seat), sip_endpoint=f"PJSIP/agent{seat}")
    cid = create_campaign(db, loads_campaign(CAMPAIGN.format(
        name="crash", mode="progressive", logout_delay="5s", trunk='"carrier"',
        caller_id='caller_id = "+12125550100"\n', dialing="",
        agents=", ".join(f'"agent{s}"' for s in SEATS))))
    numbers = [number_for(Behaviour.ANSWER, 1, 4, tag=i, area_code="503") for i in range(10)]
    insert_contacts(db, cid, [NewContact(i + 2, (n,)) for i, n in enumerate(numbers)])
    phones = start_phones(settings, SEATS, tmp_path / "phones", first_sip_port=5340)
    url = f"ws://127.0.0.1:{PORT}/agent"
    log = tmp_path / "serve.log"
    first = _serve(db_path, log)
    second = None
    try:
        bots = await _bots(url)
        set_campaign_status(db, cid, CampaignStatus.STARTED)
        before = await _wait(db, cid, lambda s: sum(s.dispositions.values()) >= 2
                             and s.open_attempts >= 1, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        for bot in bots:
            bot.cancel()
        await asyncio.gather(*bots, return_exceptions=True)
        with db.session() as s:
            attempts_before = {a.id: a.result for a in s.scalars(select(CallAttempt))}
            dispositions_before = set(s.scalars(select(Disposition.id)))
        assert len(dispositions_before) == sum(before.dispositions.values())
        open_before = {a for a, r in attempts_before.items() if r is None}
        assert open_before
        async with AriClient.from_settings(settings.pbx, app="crash-test") as ari:
            leftovers = {c["id"] for c in await ari.get("channels")
                         if c["id"].startswith(("cust-", "agent-"))}
        assert leftovers, "the killed dialer left no channels: the test proves nothing"

        second = _serve(db_path, log)
        bots = await _bots(url)
        after = await _wait(db, cid, lambda s: s.attempts >= 10 and s.open_attempts == 0
                            and sum(s.dispositions.values()) == s.connected
                            and not any(st.value in ("new", "reserved", "retry")
                                        for st, n in s.contacts_by_state.items() if n), 120)
        for bot in bots:
            bot.cancel()
        await asyncio.gather(*bots, return_exceptions=True)
        async with AriClient.from_settings(settings.pbx, app="crash-test") as ari:
            now_channels = {c["id"] for c in await ari.get("channels")}
        assert not (leftovers & now_channels), "ghost channels survived the restart"
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        for phone in phones:
            phone.stop()
    with db.session() as s:
        attempts = {a.id: a for a in s.scalars(select(CallAttempt))}
        dispositions = set(s.scalars(select(Disposition.id)))
        originated = Counter(e.attempt_id for e in s.scalars(
            select(AttemptEvent).where(AttemptEvent.phase == "originated")))
    assert set(attempts_before) <= set(attempts)              # no stored attempt lost
    assert dispositions_before <= dispositions                # no stored disposition lost
    for a in open_before:                                     # the open ones: interrupted
        assert attempts[a].result is CallResult.INTERRUPTED
    assert set(originated.values()) == {1}                    # each attempt dialed once
    per_contact = Counter(a.contact_id for a in attempts.values())
    assert max(per_contact.values()) == 1                     # max_attempts = 1 is kept
    assert len(per_contact) == 10 and after.open_attempts == 0
    assert "resync: removed" in log.read_text()
