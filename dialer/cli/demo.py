"""`dialer demo`: the whole product on one machine, end to end.

Brings the PBX and the simulated carrier up, makes a fresh demo database (three agents, the demo
campaign of config/campaigns/demo.toml and the list config/lists/demo.csv), starts a real SIP
phone per agent (the softphone in headless mode, auto-answering), the dialer service and three
scripted agents on the agent link, runs the progressive campaign to its end and prints the
summary read back from the database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from dialer.ari import AriClient
from dialer.cli.admin import format_summary, tls_context
from dialer.config.campaign import load_campaign
from dialer.config.settings import REPO_ROOT, Settings
from dialer.core.campaign import CampaignStatus
from dialer.core.floor import Leg
from dialer.core.selection import ContactState
from dialer.db import repository as repo
from dialer.db.agents import add_agent
from dialer.db.campaigns import create_campaign, import_contacts, set_campaign_status
from dialer.db.database import open_database
from dialer.lists import read_list
from dialer.pbx import backend
from dialer.qa.phones import start_softphones
from dialer.safe_harbor import install_safe_harbor
from dialer.service.client import scripted_agent
from dialer.service.engine import Engine
from dialer.service.guard import Guard
from dialer.service.lease import acquire_lease
from dialer.service.link import LinkServer
from dialer.service.trunk_use import live_trunks

SEATS = (1001, 1002, 1003)
# DEVELOPMENT DEFAULT: the demo agents' passwords, for a database that lives in var/ only.
DEMO_PASSWORD = "dev-only-agent-{seat}"
CODES = ("SALE", "NOT_INTERESTED", "SALE", "DO_NOT_CALL", "WRONG_NUMBER")
UNFINISHED = (ContactState.NEW, ContactState.RESERVED, ContactState.RETRY, ContactState.CALLBACK)


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


async def run_demo(settings: Settings, campaign_file: Path, list_file: Path,
                   timeout: float = 900.0) -> int:
    started = time.monotonic()
    be = backend(settings, log=lambda m: say(m.removeprefix("pbx: ")))
    be.up()
    say(f"PBX and carrier up ({be.name})")
    db_path = settings.runtime_dir / "demo.sqlite3"
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    # a second demo is refused here, before it wipes the running one's database
    with acquire_lease(str(db_path)):
        return await _run_demo(settings, db_path, campaign_file, list_file, timeout,
                               started)


async def _run_demo(settings: Settings, db_path: Path, campaign_file: Path,
                    list_file: Path, timeout: float, started: float) -> int:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db = open_database(db_path)
    for seat in SEATS:
        add_agent(db, f"agent{seat}", DEMO_PASSWORD.format(seat=seat),
                  display_name=f"Demo agent {seat}", sip_endpoint=f"PJSIP/agent{seat}")
    cfg = load_campaign(campaign_file)
    cid = create_campaign(db, cfg)
    install_safe_harbor(db, settings.runtime_dir, [cid])
    parsed = read_list(list_file, cfg.default_region, destinations=cfg.destinations)
    if parsed.errors:
        for err in parsed.errors:
            print(f"  {err}", file=sys.stderr)
        say(f"{list_file}: {len(parsed.errors)} rejected rows; nothing imported")
        return 1
    import_contacts(db, cid, parsed)
    say(f"database {db_path}: campaign {cfg.name!r} ({cfg.mode.value}), "
        f"{len(parsed.contacts)} contacts, agents {', '.join(f'agent{s}' for s in SEATS)}")
    phones = start_softphones(settings, list(SEATS), settings.runtime_dir / "demo-phones")
    say(f"{len(SEATS)} agents' softphones registered (headless, auto-answer)")
    port = settings.service.link_port
    try:
        async with AriClient.from_settings(settings.pbx) as ari:
            engine = Engine(db, ari, live_trunks(settings))
            await engine.start()
            link = LinkServer(engine, settings.service.link_host, port, seats=settings.agents,
                              ssl_context=tls_context(settings),
                              guard=Guard.from_settings(settings.service))
            await link.start()
            url = settings.service.link_url
            calls: dict[str, int] = {}

            def seen(who: str, msg: dict[str, object]) -> None:
                if msg["type"] == "call_connected":
                    calls[who] = calls.get(who, 0) + 1

            bots = [asyncio.create_task(_bot(url, seat, i, phones.sip_ports.get(seat),
                                             phones.sip_tls_ports.get(seat),
                                             settings.service.ca_file))
                    for i, seat in enumerate(SEATS)]
            for bot in bots:
                bot.add_done_callback(lambda t: None)
            while sum(1 for a in engine.floor.seats.values() if a.leg is Leg.UP) < len(SEATS):
                await asyncio.sleep(0.1)
                _check(bots)
            say("agents logged in, voice channels up; starting the campaign")
            set_campaign_status(db, cid, CampaignStatus.STARTED)
            last = ""
            while True:
                await asyncio.sleep(1.0)
                _check(bots)
                s = repo.campaign_summary(db, cid)
                left = sum(s.contacts_by_state.get(st, 0) for st in UNFINISHED)
                line = (f"{s.attempts} attempts, {len(engine.floor.calls)} in flight, "
                        f"{s.connected} connected, {s.abandoned} abandoned, "
                        f"{sum(s.dispositions.values())} dispositions, {left} contacts to go")
                if line != last:
                    say(line)
                    last = line
                waiting = any(a.wrap_attempt for a in engine.floor.seats.values())
                if left == 0 and not engine.floor.calls and not waiting:
                    break
                if time.monotonic() - started > timeout:
                    say(f"gave up after {timeout:.0f} s")
                    return 1
            set_campaign_status(db, cid, CampaignStatus.FINISHED)
            for bot in bots:
                bot.cancel()
            await asyncio.gather(*bots, return_exceptions=True)
            await link.stop()
            await engine.stop()
            lat = sorted(engine.floor.connect_latencies)
            if lat:
                say(f"answer-to-agent: p50 {1000 * lat[len(lat) // 2]:.1f} ms, "
                    f"max {1000 * lat[-1]:.1f} ms over {len(lat)} calls")
    finally:
        phones.stop()
    print()
    print(f"Campaign {cfg.name!r} finished in {time.monotonic() - started:.0f} s "
          f"(from the database {db_path}):")
    print(format_summary(db, cid))
    return 0


async def _bot(url: str, seat: int, index: int, sip_port: int | None, sip_tls_port: int | None,
               ca_file: str) -> None:
    # each scripted agent dispositions with its own code, so the summary shows several
    await scripted_agent(url, f"agent{seat}", DEMO_PASSWORD.format(seat=seat),
                         CODES[index % len(CODES)], sip_port=sip_port,
                         sip_tls_port=sip_tls_port, ca_file=ca_file or None)


def _check(bots: list[asyncio.Task[None]]) -> None:
    for bot in bots:
        if bot.done() and not bot.cancelled() and bot.exception() is not None:
            raise RuntimeError(f"a scripted agent failed: {bot.exception()!r}")


def main(settings: Settings, campaign: str | None, contacts: str | None) -> int:
    campaign_file = Path(campaign or REPO_ROOT / "config/campaigns/demo.toml")
    list_file = Path(contacts or REPO_ROOT / "config/lists/demo.csv")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return asyncio.run(run_demo(settings, campaign_file, list_file))
