"""The agent link server: one WebSocket per agent desktop, JSON messages (docs/agent-protocol.md).

Each connection is a session: `login` first (a wrong password is refused, and each further
failure from the same peer or for the same agent waits longer before the answer), then requests
that the engine carries out. A malformed or out-of-order message gets an `error` reply naming
what is wrong; the session and the stored data are unchanged by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from dialer.core.agent_state import AgentStateError
from dialer.core.floor import FloorRefused
from dialer.core.floor import messages as fl
from dialer.db import repository as repo
from dialer.db.agents import verify_password
from dialer.db.campaigns import agent_campaign_ids
from dialer.service.engine import Engine, Outbox
from dialer.service.protocol import (
    PROTOCOL_VERSION,
    LinkError,
    Message,
    encode,
    parse_client_message,
)

log = logging.getLogger(__name__)

MAX_FAILURE_DELAY = 8.0
# requests whose answer the floor sends itself (a record, an error, or `ok` once dialed)
ANSWERED_BY_FLOOR = frozenset({"preview_request", "preview_dial", "push_accept"})


class WsOutbox(Outbox):
    """Messages queued for one WebSocket, written in order by one task."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def send(self, kind: str, re: str | None = None, **fields: Any) -> None:
        self.queue.put_nowait(encode(kind, re, **fields))


class LinkServer:
    def __init__(self, engine: Engine, host: str = "127.0.0.1", port: int = 8765,
                 supervisor: tuple[str, str] | None = None) -> None:
        self.engine = engine
        self.supervisor = supervisor
        self.host = host
        self.port = port
        self.failures: dict[str, int] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/agent", self.handle)
        if self.supervisor is not None:
            from dialer.service.supervisor import SupervisorWeb

            SupervisorWeb(self.engine, *self.supervisor).add_routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        outbox = WsOutbox()
        writer = asyncio.create_task(self._write(ws, outbox))
        outbox.send("welcome", protocol=PROTOCOL_VERSION, server="opendialer")
        agent: int | None = None
        peer = request.remote or "?"
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        outbox.send("error", code="bad_json", message="binary frames are not "
                                    "part of the protocol; send JSON text")
                    continue
                req_id: str | None = None
                try:
                    m = parse_client_message(msg.data)
                    req_id = m.id
                    agent = await self._request(m, agent, outbox, peer)
                except LinkError as exc:
                    outbox.send("error", re=req_id or exc.re, code=exc.code,
                                message=exc.message)
                except (repo.RepositoryError, AgentStateError, FloorRefused) as exc:
                    outbox.send("error", re=req_id, code="refused", message=str(exc))
                except Exception as exc:   # never let one request end the session
                    log.exception("agent link request failed")
                    outbox.send("error", re=req_id, code="internal",
                                message=f"the dialer could not do that: {exc}")
        finally:
            if agent is not None and self.engine.outboxes.get(agent) is outbox:
                self.engine.outboxes.pop(agent, None)
                self.engine.feed(fl.LinkLost(agent))
            outbox.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)
        return ws

    @staticmethod
    async def _write(ws: web.WebSocketResponse, outbox: WsOutbox) -> None:
        while (text := await outbox.queue.get()) is not None:
            if ws.closed:
                return
            await ws.send_str(text)

    async def _request(self, m: Message, agent: int | None, out: WsOutbox,
                       peer: str) -> int | None:
        e = self.engine
        if m.type == "ping":
            out.send("pong", re=m.id)
            return agent
        if m.type == "login":
            if agent is not None and agent in e.floor.seats:
                raise LinkError("out_of_order", "already logged in")
            return await self._login(m, out, peer)
        if agent is None:
            raise LinkError("not_logged_in", f"{m.type}: log in first")
        if agent not in e.floor.seats or e.outboxes.get(agent) is not out:
            raise LinkError("not_logged_in", f"{m.type}: you are logged out; log in again")
        b = m.body
        if m.type == "campaigns":
            out.send("campaigns", re=m.id, campaigns=e.floor.my_campaigns(agent))
            return agent
        if m.type == "disposition":
            cb = b.get("callback") or {}
            at = datetime.fromisoformat(cb["at"]) if cb else None
            e.request(fl.DispositionGiven(agent, b["attempt"], b["code"], b.get("note"), at,
                                          bool(cb.get("personal", False)), m.id))
            return agent      # disposition_saved follows once it is stored
        e.request(fl.AgentAsks(agent, m.type, b, m.id))
        if m.type not in ANSWERED_BY_FLOOR:
            e.after_writes(lambda: out.send("ok", re=m.id, request=m.type))
        return agent

    async def _login(self, m: Message, out: WsOutbox, peer: str) -> int:
        login, password = m.body["agent"], m.body["password"]
        info = await asyncio.to_thread(verify_password, self.engine.db, login, password)
        if info is None:
            n = max(self.failures.get(login, 0), self.failures.get(peer, 0)) + 1
            self.failures[login] = self.failures[peer] = n
            await asyncio.sleep(min(MAX_FAILURE_DELAY, 0.25 * 2 ** (n - 1)))
            raise LinkError("bad_credentials", "wrong agent or password")
        self.failures.pop(login, None)
        self.failures.pop(peer, None)
        campaigns = await asyncio.to_thread(agent_campaign_ids, self.engine.db, info.id)
        e = self.engine
        e.login(fl.AgentLogin(info.id, info.login, info.display_name,
                              info.sip_endpoint or f"PJSIP/{info.login}", tuple(campaigns)), out)

        def welcome() -> None:
            views = e.floor.my_campaigns(info.id)
            seat = e.floor.seats.get(info.id)
            state = seat.machine.state.value if seat else "logged_out"
            out.send("login_ok", re=m.id, agent=info.login, name=info.display_name,
                     state=state, campaigns=views)
            for view in views:
                if view["status"] == "Started":
                    out.send("campaign_started", campaign=view)
        e.after_writes(welcome)
        return info.id
