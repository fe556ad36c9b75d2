"""Admin commands (`dialer agent|campaign|list|summary|serve|status`), on the service database.

`dialer list import` and `dialer campaign export` are parsed here (one tree a new admin can
guess) and run by ``dialer.cli.compliance``, with the other list and compliance commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import getpass
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from dialer.ari import AriClient
from dialer.config.asterisk_values import ValueProblem, seat_endpoint
from dialer.config.campaign import CampaignConfigError, load_campaign
from dialer.config.exposure import refuse_exposed_defaults
from dialer.config.settings import Settings, SettingsError
from dialer.core.campaign import CampaignStatus
from dialer.db import repository as repo
from dialer.db.agents import AgentExistsError, add_agent, list_agents
from dialer.db.campaigns import (
    CampaignExistsError,
    campaign_id_by_name,
    create_campaign,
    list_campaigns,
    set_campaign_status,
)
from dialer.db.database import Database, open_database
from dialer.lists import ListError, ListRejected
from dialer.safe_harbor import install_safe_harbor
from dialer.service.lease import Lease, LeaseError, LeaseLost, acquire_lease

USER_ERRORS = (CampaignConfigError, CampaignExistsError, AgentExistsError, ListError,
               ListRejected, repo.RepositoryError, FileNotFoundError, LeaseError)


class AdminError(Exception):
    pass


def open_db(settings: Settings) -> Database:
    return open_database(settings.service.database)


def shown_database(database: str) -> str:
    """The database as it may be printed or logged: a URL without its password."""
    if "://" not in database:
        return database
    return make_url(database).render_as_string(hide_password=True)


def _campaign(db: Database, name: str) -> int:
    cid = campaign_id_by_name(db, name)
    if cid is None:
        known = ", ".join(c.name for c in list_campaigns(db)) or "none yet"
        raise AdminError(f"no campaign named {name!r} (known: {known})")
    return cid


def cmd_agent(settings: Settings, args: argparse.Namespace) -> int:
    db = open_db(settings)
    if args.action == "add":
        # the phone the dialer rings for this agent: one of the seats the PBX renders, never a
        # free-form channel (PJSIP/carrier/..., Local/...)
        sip = args.sip or f"PJSIP/{args.login}"
        try:
            seat_endpoint(sip, settings.agents.numbers())
        except ValueProblem as exc:
            given = "--sip" if args.sip else f"the default phone (PJSIP/{args.login}; give --sip)"
            raise SettingsError(f"agent add: {given} {exc}") from None
        password = os.environ.get(args.password_env) if args.password_env else None
        if password is None:
            password = getpass.getpass(f"password for {args.login}: ")
        agent_id = add_agent(db, args.login, password, display_name=args.name,
                             sip_endpoint=sip)
        print(f"agent {args.login} added (id {agent_id}, phone {sip})")
    else:
        for a in list_agents(db):
            print(f"{a.id:4} {a.login:16} {a.display_name:24} {a.sip_endpoint or '-'}"
                  f"{'' if a.active else '  (inactive)'}")
    return 0


def cmd_campaign(settings: Settings, args: argparse.Namespace) -> int:
    db = open_db(settings)
    if args.action == "create":
        cid = create_campaign(db, load_campaign(args.file))
        install_safe_harbor(db, settings.runtime_dir, [cid])
        print(f"campaign created (id {cid}, stopped); import a list, then `dialer campaign "
              "start`")
    elif args.action == "list":
        for c in list_campaigns(db):
            print(f"{c.id:4} {c.name:20} {c.mode.value:13} {c.status.value:9} "
                  f"agents: {', '.join(c.agents) or '-'}")
    else:
        status = {"start": CampaignStatus.STARTED, "stop": CampaignStatus.STOPPED,
                  "pause": CampaignStatus.PAUSED}[args.action]
        set_campaign_status(db, _campaign(db, args.name), status)
        print(f"campaign {args.name}: {status.value}")
    return 0


def cmd_random_list(args: argparse.Namespace) -> int:
    from dialer.cli.compliance import to_stdout
    from dialer.qa.carrier_plan import RandomMix, random_customers

    rates = (args.answer_rate, args.machine_rate, args.busy_rate)
    if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1:
        raise AdminError("--answer-rate, --machine-rate and --busy-rate must be shares 0-1 "
                         "that add up to at most 1")
    mix = RandomMix(args.answer_rate, args.machine_rate, args.busy_rate,
                    ring_mean_s=args.ring_mean, talk_mean_s=args.talk_mean)
    customers = random_customers(args.count, args.seed, mix)
    stdout = to_stdout(args.output)
    with contextlib.ExitStack() as stack:
        f = sys.stdout if stdout else stack.enter_context(args.output.open("w", newline=""))
        writer = csv.writer(f)
        writer.writerow(["name", "phone", "carrier_behaviour", "ring_s", "talk_s"])
        for i, c in enumerate(customers, 1):
            writer.writerow([f"Customer {i}", c.number, c.behaviour.name.lower(), c.ring_s,
                             c.talk_s])
    print(f"{'standard output' if stdout else args.output}: {len(customers)} simulated "
          f"customers (seed {args.seed})",
          file=sys.stderr if stdout else sys.stdout)
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """`dialer list random` (`list import` runs in ``dialer.cli.compliance``)."""
    return cmd_random_list(args)


def format_summary(db: Database, campaign_id: int) -> str:
    s = repo.campaign_summary(db, campaign_id)
    lines = [f"contacts: {s.contacts} ("
             + ", ".join(f"{k.value} {v}" for k, v in sorted(s.contacts_by_state.items(),
                                                              key=lambda kv: kv[0].value))
             + ")",
             f"attempts: {s.attempts}" + (f" ({s.open_attempts} open)" if s.open_attempts
                                          else ""),
             *[f"  {r.value:20} {n}" for r, n in sorted(s.attempts_by_result.items(),
                                                        key=lambda kv: kv[0].value)],
             f"connected to an agent: {s.connected}",
             f"abandoned: {s.abandoned} (rate {s.abandon_rate:.2%})",
             "dispositions: " + (", ".join(f"{k} {v}" for k, v in sorted(s.dispositions.items()))
                                 or "none")]
    return "\n".join(lines)


def cmd_summary(settings: Settings, args: argparse.Namespace) -> int:
    db = open_db(settings)
    print(format_summary(db, _campaign(db, args.campaign)))
    return 0


async def serve(settings: Settings, stop: asyncio.Event | None = None,
                lease: Lease | None = None) -> None:
    """Run the dialer service until `stop` is set (or SIGINT/SIGTERM). Holding the database's
    lease (`lease`, or taken here first: LeaseHeld if another service holds it) before the
    database is migrated or recovered and before Asterisk is reached."""
    refuse_exposed_defaults(settings)     # before anything listens
    lease = lease or acquire_lease(settings.service.database)
    try:
        await _serve(settings, stop, lease)
    finally:
        lease.release()


async def _serve(settings: Settings, stop: asyncio.Event | None, lease: Lease) -> None:
    from dialer.service.engine import Engine
    from dialer.service.guard import Guard
    from dialer.service.link import LinkServer
    from dialer.service.trunk_use import live_trunks

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    db = open_db(settings)
    install_safe_harbor(db, settings.runtime_dir)  # every campaign's message where the PBX reads
    async with AriClient.from_settings(settings.pbx) as ari:
        engine = Engine(db, ari, live_trunks(settings))
        await engine.start()
        # what start-up made lives as long as the process: out of the collector's full passes,
        # which otherwise stall the loop (and a bridge in flight) 100-250 ms now and then
        gc.collect()
        gc.freeze()
        sv = settings.service
        link = LinkServer(engine, sv.link_host, sv.link_port,
                          supervisor=(sv.supervisor_user, sv.supervisor_password),
                          seats=settings.agents, ssl_context=tls_context(settings),
                          guard=Guard.from_settings(sv))
        await link.start()
        logging.getLogger(__name__).info("dialer serving agents at %s", settings.service.link_url)
        print(f"dialer: serving agents at {sv.link_url}, the supervisor's live view at "
              f"{sv.web_url}; database {shown_database(sv.database)}", flush=True)
        try:
            # until asked to stop, or the engine stopped itself (a supervised task died)
            done = asyncio.ensure_future(stop.wait())
            dead = asyncio.ensure_future(engine.stopped.wait())
            while not (done.done() or dead.done()):
                await asyncio.wait({done, dead}, timeout=2.0,
                                   return_when=asyncio.FIRST_COMPLETED)
                try:
                    lease.check()
                except LeaseLost as exc:    # another service may take the database now
                    engine.fatal = f"the database lease was lost: {exc}"
                    logging.getLogger(__name__).critical(engine.fatal)
                    break
            for waiter in (done, dead):
                waiter.cancel()
        finally:
            await link.stop()
            await engine.stop()
        if engine.fatal:
            raise AdminError(f"the service stopped: {engine.fatal}")


def tls_context(settings: Settings) -> Any:
    """The service's TLS context when [service] tls_cert is set, else None."""
    sv = settings.service
    if not sv.tls_cert:
        return None
    from dialer.service.tls import TlsError, server_context

    try:
        return server_context(sv.tls_cert, sv.tls_key)
    except TlsError as exc:
        raise SettingsError(str(exc)) from None


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    import base64
    import json
    import time
    import urllib.error
    import urllib.request

    from dialer.service.supervisor import render_text

    sv = settings.service
    token = base64.b64encode(f"{sv.supervisor_user}:{sv.supervisor_password}".encode()).decode()
    tls = None
    if sv.web_url.startswith("https:"):
        from dialer.service.tls import client_context

        tls = client_context(sv.ca_file)
    while True:
        req = urllib.request.Request(sv.web_url + "status",
                                     headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(req, timeout=5, context=tls) as resp:
                snap = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AdminError(f"the dialer at {sv.web_url} refused the supervisor login "
                             f"({exc.code}); check OPENDIALER_SUPERVISOR_PASSWORD") from None
        except OSError as exc:
            raise AdminError(f"no dialer service answers at {sv.web_url} ({exc}); is "
                             "`dialer serve` running?") from None
        text = json.dumps(snap, indent=2) if args.json else render_text(snap)
        if not args.watch:
            print(text)
            return 0
        print("\033[H\033[2J" + text, flush=True)
        time.sleep(1)


def add_parsers(sub: Any) -> None:
    from dialer.cli import compliance

    agent = sub.add_parser("agent", help="agent accounts")
    a = agent.add_subparsers(dest="action", required=True)
    add = a.add_parser("add", help="add an agent")
    add.add_argument("login")
    add.add_argument("--name")
    add.add_argument("--sip", help="the agent's phone, e.g. PJSIP/agent1001 (default "
                     "PJSIP/<login>)")
    add.add_argument("--password-env", help="read the password from this environment variable "
                     "(default: ask)")
    a.add_parser("list")
    camp = sub.add_parser("campaign", help="campaigns")
    c = camp.add_subparsers(dest="action", required=True)
    create = c.add_parser("create", help="create a campaign from a TOML file")
    create.add_argument("file", type=Path)
    c.add_parser("list")
    for action in ("start", "stop", "pause"):
        p = c.add_parser(action)
        p.add_argument("name")
    compliance.add_export_arguments(c.add_parser(
        "export", help="a campaign's attempts (with dispositions), dispositions, callbacks or "
        "agent statistics as CSV; all: the four files into a folder"))
    lst = sub.add_parser("list", help="calling lists")
    ls = lst.add_subparsers(dest="action", required=True)
    compliance.add_import_arguments(ls.add_parser(
        "import", help="import a CSV list into a campaign (header mapping, progress, all or "
        "nothing; --dry-run checks only)"))
    rnd = ls.add_parser("random", help="write a seeded random list of simulated customers "
                        "(config/carrier/numbering.md) for demos and soak runs")
    rnd.add_argument("count", type=int)
    rnd.add_argument("-o", "--output", required=True, type=compliance.output,
                     help="the CSV file (- for standard output)")
    rnd.add_argument("--seed", type=int, default=1)
    rnd.add_argument("--answer-rate", type=float, default=0.25)
    rnd.add_argument("--machine-rate", type=float, default=0.15)
    rnd.add_argument("--busy-rate", type=float, default=0.10)
    rnd.add_argument("--ring-mean", type=float, default=8.7, help="seconds (lognormal)")
    rnd.add_argument("--talk-mean", type=float, default=30.0, help="seconds (lognormal, CV 1)")
    summ = sub.add_parser("summary", help="a campaign's attempts, results and dispositions")
    summ.add_argument("campaign")
    serve_p = sub.add_parser("serve", help="run the dialer service (agent link + campaigns); "
                             "refused while another service holds the database")
    serve_p.add_argument("--standby", action="store_true",
                         help="wait until the service holding the database exits, then start")
    status = sub.add_parser("status", help="the running dialer's live view: agents, calls, "
                            "campaigns, pacing")
    status.add_argument("--watch", action="store_true", help="refresh every second")
    status.add_argument("--json", action="store_true")


def run(settings: Settings, args: argparse.Namespace) -> int | None:
    handlers = {"agent": cmd_agent, "campaign": cmd_campaign, "list": cmd_list,
                "status": cmd_status,
                "summary": cmd_summary}
    if args.command == "serve":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        # the very first thing: nothing is migrated, recovered or hung up while another holds it
        with acquire_lease(settings.service.database, wait=args.standby) as lease:
            logging.getLogger(__name__).info("dialer service lease held: %s", lease.where)
            asyncio.run(serve(settings, lease=lease))
        return 0
    handler = handlers.get(args.command)
    return None if handler is None else handler(settings, args)
