"""A whole dialer for integration tests: a fresh database, agents, a campaign, real phones (baresip)
registered to the real PBX, the engine and the agent link running in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dialer.ari import AriClient
from dialer.config.campaign import loads_campaign
from dialer.config.settings import REPO_ROOT, Settings
from dialer.db import repository as repo
from dialer.db.agents import add_agent
from dialer.db.campaigns import create_campaign, get_campaign, insert_contacts
from dialer.db.database import Database, open_database
from dialer.lists import NewContact
from dialer.qa.phones import Phone, start_phones
from dialer.safe_harbor import install_safe_harbor
from dialer.service.engine import Engine
from dialer.service.lease import acquire_lease
from dialer.service.link import LinkServer
from dialer.service.trunk_use import live_trunks

# the test dialer's agent link; another port lets two test runs share a machine
LINK_PORT = int(os.environ.get("OPENDIALER_TEST_LINK_PORT", "8766"))
SUPERVISOR = ("supervisor", "test-supervisor-password")
# the test phones' first SIP and RTP ports (baresip), so that two test runs on one machine
# do not take each other's phone ports
PHONE_SIP_PORT = int(os.environ.get("OPENDIALER_TEST_PHONE_SIP_PORT", "5300"))
PHONE_RTP_PORT = int(os.environ.get("OPENDIALER_TEST_PHONE_RTP_PORT", "13000"))

CAMPAIGN = """
[campaign]
name = "{name}"
mode = "{mode}"
{caller_id}trunk = {trunk}
agents = [{agents}]

[dialing]
ring_timeout = "15s"
max_logout_delay = "{logout_delay}"
max_attempts = 1
{dialing}
[[disposition]]
code = "SALE"
label = "Sale"
final = true

[[disposition]]
code = "CALLBACK"
label = "Call back"
final = false
retry_after = "1h"
"""
# a predictive campaign must name its message (a path relative to config/campaigns/)
SAFE_HARBOR = """
[safe_harbor]
message = "../sounds/demo-safe-harbor.wav"
"""


def password(seat: int) -> str:
    return f"test-agent-{seat}"


@dataclass
class DialerEnv:
    db: Database
    engine: Engine
    link: LinkServer
    campaign_id: int
    phones: list[Phone]
    url: str

    async def refreshed(self, timeout: float = 5.0) -> None:
        """Wait until the dialer has read the campaign's stored status (it reads the campaigns
        every second)."""
        want = get_campaign(self.db, self.campaign_id).status
        for _ in range(int(timeout / 0.05)):
            info = self.engine.floor.campaigns.get(self.campaign_id)
            if info is not None and info.status is want:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the dialer did not read campaign {self.campaign_id} as "
                             f"{want.value} within {timeout} s")

    async def settled(self, tries: int = 100) -> repo.CampaignSummary:
        """The campaign's summary once it has attempts and none is open (polled every 0.2 s,
        `tries` times; the last summary either way)."""
        for _ in range(tries):
            s = repo.campaign_summary(self.db, self.campaign_id)
            if s.attempts and not s.open_attempts:
                break
            await asyncio.sleep(0.2)
        return s


@contextlib.asynccontextmanager
async def dialer_env(settings: Settings, tmp: Path, seats: Sequence[int], numbers: Sequence[str],
                     mode: str = "progressive", logout_delay: str = "10s",
                     phones: bool = True, trunk: str = '"carrier"',
                     link_port: int = LINK_PORT,
                     caller_id: str | None = "+12125550100",
                     dialing: str = "") -> AsyncIterator[DialerEnv]:
    """`trunk` is the campaign's TOML value (a name or an array of names); `caller_id` None:
    the campaign sets none (its trunks' own are used); `dialing`: more [dialing] lines."""
    db = open_database(tmp / "dialer.sqlite3")
    for seat in seats:
        add_agent(db, f"agent{seat}", password(seat), sip_endpoint=f"PJSIP/agent{seat}")
    text = CAMPAIGN.format(
        name="it", mode=mode, logout_delay=logout_delay, trunk=trunk,
        caller_id=f'caller_id = "{caller_id}"\n' if caller_id else "", dialing=dialing,
        agents=", ".join(f'"agent{s}"' for s in seats))
    text += SAFE_HARBOR if mode == "predictive" else ""
    cfg = loads_campaign(text, base=REPO_ROOT / "config" / "campaigns")
    cid = create_campaign(db, cfg)
    install_safe_harbor(db, settings.runtime_dir, [cid])
    insert_contacts(db, cid, [NewContact(i + 2, (n,), {"name": f"Customer {i}"})
                              for i, n in enumerate(numbers)])
    started = (start_phones(settings, list(seats), tmp / "phones", first_sip_port=PHONE_SIP_PORT,
                            first_rtp_port=PHONE_RTP_PORT) if phones else [])
    # the test dialer holds the database's lease as `dialer serve` does: a second service on it
    # is refused
    lease = acquire_lease(str(tmp / "dialer.sqlite3"))
    try:
        async with AriClient.from_settings(settings.pbx) as ari:
            engine = Engine(db, ari, live_trunks(settings))
            link = LinkServer(engine, "127.0.0.1", link_port, supervisor=SUPERVISOR,
                              seats=settings.agents)
            try:
                await engine.start()
                await link.start()
                yield DialerEnv(db, engine, link, cid, started,
                                f"ws://127.0.0.1:{link_port}/agent")
            finally:
                await link.stop()
                await engine.stop()
                for phone in started:
                    phone.stop()
    finally:
        lease.release()
