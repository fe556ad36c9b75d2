"""The agent link's server alone, for tests of its limits: a real LinkServer on a real port, with
an Engine on a fresh SQLite database, and no PBX (every ARI request fails with `AriError`, as
when Asterisk is down). The engine is not started: its database writer runs, its ARI events loop
does not. The guard's clock is the test's (`Clock`), so holds and sessions expire when it says."""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.ari import AriError
from dialer.config.settings import Settings
from dialer.core.guard import LoginThrottle
from dialer.db.agents import add_agent
from dialer.db.database import Database, open_database
from dialer.service.engine import Engine
from dialer.service.guard import Guard
from dialer.service.link import LinkServer
from dialer.service.trunk_use import live_trunks
from dialer.service.writer import DbWriter

PORT = int(os.environ.get("OPENDIALER_TEST_LINK_PORT", "8766")) + 1
SUPERVISOR = ("supervisor", "test-supervisor-password")


class NoPbx:
    """What the engine asks of ARI, always failing as an unreachable Asterisk would."""

    app = "opendialer-test"

    async def post(self, path: str, *args: Any, **kw: Any) -> Any:
        raise AriError(f"no PBX in this test (POST {path})")

    async def get(self, path: str, *args: Any, **kw: Any) -> Any:
        raise AriError(f"no PBX in this test (GET {path})")

    async def delete(self, path: str, *args: Any, **kw: Any) -> Any:
        raise AriError(f"no PBX in this test (DELETE {path})")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class LinkEnv:
    db: Database
    engine: Engine
    link: LinkServer
    clock: Clock
    url: str           # the agent link
    base: str          # the supervisor's page


@contextlib.asynccontextmanager
async def link_env(settings: Settings, tmp: Path, max_per_address: int = 8,
                   max_total: int = 500,
                   ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[LinkEnv]:
    import asyncio

    db = open_database(tmp / "dialer.sqlite3")
    add_agent(db, "agent1001", "right-password", sip_endpoint="PJSIP/agent1001")
    engine = Engine(db, NoPbx(), live_trunks(settings))  # type: ignore[arg-type]
    engine.writer = DbWriter(asyncio.get_running_loop())
    clock = Clock()
    guard = Guard(LoginThrottle(), max_per_address=max_per_address, max_total=max_total,
                  clock=clock)
    link = LinkServer(engine, "127.0.0.1", PORT, supervisor=SUPERVISOR, guard=guard,
                      ssl_context=ssl_context)
    await link.start()
    tls = "s" if ssl_context else ""
    try:
        yield LinkEnv(db, engine, link, clock, f"ws{tls}://127.0.0.1:{PORT}/agent",
                      f"http{tls}://127.0.0.1:{PORT}/")
    finally:
        await link.stop()
        await engine.writer.drain(timeout=5)
        engine.writer.stop()
