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
from dialer.db import repository as repo
from dialer.db.agents import verify_password
from dialer.db.campaigns import agent_campaign_ids
from dialer.service.engine import AgentSession, Engine, Outbox
from dialer.service.protocol import (
    PROTOCOL_VERSION,
    LinkError,
    Message,
    encode,
    parse_client_message,
)

log = logging.getLogger(__name__)

MAX_FAILURE_DELAY = 8.0


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
        session: AgentSession | None = None
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
                    session = await self._request(m, session, outbox, peer)
                except LinkError as exc:
                    outbox.send("error", re=req_id or exc.re, code=exc.code,
                                message=exc.message)
                except (repo.RepositoryError, AgentStateError) as exc:
                    outbox.send("error", re=req_id, code="refused", message=str(exc))
                except Exception as exc:   # never let one request end the session
                    log.exception("agent link request failed")
                    outbox.send("error", re=req_id, code="internal",
                                message=f"the dialer could not do that: {exc}")
        finally:
            if session is not None:
                self.engine.session_lost(session)
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

    async def _request(self, m: Message, s: AgentSession | None, out: WsOutbox,
                       peer: str) -> AgentSession | None:
        e = self.engine
        if m.type == "ping":
            out.send("pong", re=m.id)
            return s
        if m.type == "login":
            if s is not None:
                raise LinkError("out_of_order", "already logged in")
            return await self._login(m, out, peer)
        if s is None:
            raise LinkError("not_logged_in", f"{m.type}: log in first")
        if e.agents.get(s.info.id) is not s:
            raise LinkError("not_logged_in", f"{m.type}: you are logged out; log in again")
        b = m.body
        if m.type == "logout":
            e.logout(s)
        elif m.type == "ready":
            e.ready(s)
        elif m.type == "not_ready":
            e.not_ready(s, b.get("reason") or "")
        elif m.type == "campaigns":
            out.send("campaigns", re=m.id, campaigns=e.my_campaigns(s))
            return s
        elif m.type == "preview_request":
            e.preview_request(s, b.get("campaign"), re=m.id)
            return s
        elif m.type in ("preview_dial", "push_accept"):
            await e.preview_dial(s, int(b["contact"] if "contact" in b else b["offer"]))
        elif m.type in ("preview_skip", "push_reject"):
            e.preview_skip(s, int(b["contact"] if "contact" in b else b["offer"]))
        elif m.type == "record_update":
            self._record_update(s, b["contact"], b["fields"])
        elif m.type == "hangup":
            await e.hangup(s)
        elif m.type == "disposition":
            cb = b.get("callback") or {}
            at = datetime.fromisoformat(cb["at"]) if cb else None
            out_ = e.disposition(s, b["attempt"], b["code"], b.get("note"), at,
                                 bool(cb.get("personal", False)))
            out.send("disposition_saved", re=m.id, attempt=b["attempt"], code=b["code"],
                     callback=out_.callback_id)
            return s
        out.send("ok", re=m.id, request=m.type)
        return s

    def _record_update(self, s: AgentSession, contact_id: int, fields: dict[str, Any]) -> None:
        allowed = {s.call.claim.contact_id} if s.call else set()
        if s.preview is not None:
            allowed.add(s.preview.contact_id)
        if s.wrap_contact is not None:
            allowed.add(s.wrap_contact)
        if contact_id not in allowed:
            raise LinkError("refused", f"record {contact_id} is not yours to edit now")
        repo.update_contact_fields(self.engine.db, contact_id, fields)

    async def _login(self, m: Message, out: WsOutbox, peer: str) -> AgentSession | None:
        login, password = m.body["agent"], m.body["password"]
        info = await asyncio.to_thread(verify_password, self.engine.db, login, password)
        if info is None:
            n = max(self.failures.get(login, 0), self.failures.get(peer, 0)) + 1
            self.failures[login] = self.failures[peer] = n
            await asyncio.sleep(min(MAX_FAILURE_DELAY, 0.25 * 2 ** (n - 1)))
            raise LinkError("bad_credentials", "wrong agent or password")
        self.failures.pop(login, None)
        self.failures.pop(peer, None)
        campaigns = agent_campaign_ids(self.engine.db, info.id)
        s = self.engine.login(info, out, campaigns)
        out.send("login_ok", re=m.id, agent=info.login, name=info.display_name,
                 state=s.machine.state.value, campaigns=self.engine.my_campaigns(s))
        for view in self.engine.my_campaigns(s):
            if view["status"] == "Started":
                out.send("campaign_started", campaign=view)
        return s
