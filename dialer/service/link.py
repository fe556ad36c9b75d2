"""The agent link server: one WebSocket per agent desktop, JSON messages (docs/agent-protocol.md).

Each connection is a session: `login` first, then requests that the engine carries out. A
malformed or out-of-order message gets an `error` reply naming what is wrong; the session and
the stored data are unchanged by it.

Limits (docs/security.md): a frame over the protocol's 64 KiB gets `too_large` (aiohttp itself
takes frames up to twice that, and closes the connection with code 1009 and a reason above it);
a wrong password is refused and each further failure from the same address waits longer, on
every login path of this server (`dialer.service.guard`); connections are capped per address and
in total, a refused one is told why and closed with code 1013 (try again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from dialer import protocol as p
from dialer.ari import AriClient
from dialer.config.asterisk_values import ValueProblem, phone_at, seat_endpoint
from dialer.config.settings import AgentSeats
from dialer.core.agent_state import AgentState, AgentStateError
from dialer.core.floor import FloorRefused
from dialer.core.floor import messages as fl
from dialer.db import repository as repo
from dialer.db.agents import verify_password
from dialer.db.campaigns import agent_campaign_ids
from dialer.protocol import ErrorCode, LinkError
from dialer.service.engine import Engine, Outbox
from dialer.service.guard import Guard, check_password, refused
from dialer.service.seat_watch import Binding, SeatWatch

log = logging.getLogger(__name__)

# aiohttp's own limit: frames between the protocol's limit and this get a `too_large` answer
WS_MAX_MSG_SIZE = 2 * p.MAX_MESSAGE_BYTES
TOO_BIG_REASON = (f"frame over {WS_MAX_MSG_SIZE} bytes; the agent link's limit is "
                  f"{p.MAX_MESSAGE_BYTES} bytes").encode()
# requests whose answer the floor sends itself (a record, an error, or `ok` once dialed)
ANSWERED_BY_FLOOR = (p.PreviewRequest, p.PreviewDial, p.PushAccept)


class WsOutbox(Outbox):
    """Messages queued for one WebSocket, written in order by one task."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(self, message: p.ServerMessage) -> None:
        self.queue.put_nowait(p.encode(message))

    def send(self, kind: str, re: str | None = None, **fields: Any) -> None:
        """The engine's message (a `Notify`'s kind and fields) as its typed message. One that does
        not fit the protocol is a fault in the dialer: logged, and sent as it is all the same,
        so the agent is not left without news."""
        try:
            message = p.server_message(kind, fields, re)
        except LinkError as exc:
            log.error("the dialer's %r message to an agent does not fit the protocol (%s); "
                      "sent as it is: %r", kind, exc, fields)
            envelope = {"v": p.PROTOCOL_VERSION, "type": kind, **({"re": re} if re else {})}
            self.queue.put_nowait(json.dumps({**envelope, **fields}, default=str))
            return
        self.put(message)


class LinkSocket(web.WebSocketResponse):
    """aiohttp closes a connection whose frame is over `max_msg_size` with code 1009 and no
    reason; this one says why."""

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"",
                    drain: bool = True) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = TOO_BIG_REASON
        return await super().close(code=code, message=message, drain=drain)


class LinkServer:
    def __init__(self, engine: Engine, host: str = "127.0.0.1", port: int = 8765,
                 supervisor: tuple[str, str] | None = None, guard: Guard | None = None,
                 seats: AgentSeats | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.engine = engine
        self.ssl_context = ssl_context    # TLS: wss:// and https:// (dialer.service.tls)
        self.bindings: dict[str, Binding] = {}    # seat user -> where its agent's phone is
        self._watch: asyncio.Task[None] | None = None
        self.seats = seats        # the PBX's agent seats: their SIP accounts are handed at login
        self.supervisor = supervisor
        self.host = host
        self.port = port
        self.guard = guard or Guard()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/agent", self.handle)
        if self.supervisor is not None:
            from dialer.service.supervisor import SupervisorWeb

            SupervisorWeb(self.engine, *self.supervisor, guard=self.guard).add_routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        if self.seats is not None and isinstance(self.engine.ari, AriClient):
            watch = SeatWatch(self.engine.ari, self._binding, self._seat_taken)
            self._watch = asyncio.create_task(watch.run(), name="seat watch")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._runner is not None:
            await self._runner.cleanup()

    def _binding(self, user: str) -> Binding | None:
        b = self.bindings.get(user)
        return b if b is not None and b.agent_id in self.engine.floor.seats else None

    def _seat_taken(self, b: Binding, other: str) -> None:
        outbox = self.engine.outboxes.get(b.agent_id)
        if isinstance(outbox, WsOutbox):
            outbox.put(p.Error(ErrorCode.SEAT_TAKEN,
                               f"another phone registered as your seat {b.user} from {other}; "
                               f"the dialer keeps calling your phone at {b.host}:{b.port}. "
                               f"Tell your supervisor."))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        peer = request.remote or "?"
        ws = LinkSocket(heartbeat=20, max_msg_size=WS_MAX_MSG_SIZE)
        why = self.guard.admit(peer)
        if why is not None:
            log.warning("security: refused connection from %s (agent link): %s", peer, why)
            await ws.prepare(request)
            await ws.send_str(p.encode(p.Error(ErrorCode.REFUSED, why)))
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=why.encode()[:120])
            return ws
        try:
            return await self._session(request, ws, peer)
        finally:
            self.guard.release(peer)

    async def _session(self, request: web.Request, ws: LinkSocket,
                       peer: str) -> web.WebSocketResponse:
        await ws.prepare(request)
        outbox = WsOutbox()
        writer = asyncio.create_task(self._write(ws, outbox))
        outbox.put(p.Welcome(p.PROTOCOL_VERSION, "opendialer"))
        agent: int | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        outbox.put(p.Error(ErrorCode.BAD_JSON, "binary frames are not part of "
                                           "the protocol; send JSON text"))
                    continue
                req_id: str | None = None
                try:
                    req = p.parse_request(msg.data)
                    req_id = req.id
                    agent = await self._request(req, agent, outbox, peer)
                except LinkError as exc:
                    outbox.put(p.Error(exc.code, exc.message, re=req_id or exc.re))
                except (repo.RepositoryError, AgentStateError, FloorRefused) as exc:
                    outbox.put(p.Error(ErrorCode.REFUSED, str(exc), re=req_id))
                except Exception:   # a fault in the dialer: never let it end the session
                    log.exception("agent link request failed")
                    outbox.put(p.Error(ErrorCode.INTERNAL, "the dialer could not do that "
                                       "(its log says why)", re=req_id))
        finally:
            if agent is not None and self.engine.outboxes.get(agent) is outbox:
                self.engine.outboxes.pop(agent, None)
                self.engine.feed(fl.LinkLost(agent))
            outbox.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)
        return ws

    def _seat_account(self, endpoint: str) -> dict[str, str | int] | None:
        """The seat's own SIP account, for an agent whose phone is one of the PBX's seats."""
        if self.seats is None:
            return None
        try:
            seat_endpoint(endpoint, self.seats.numbers())
        except ValueProblem:
            return None                   # a desk phone or another PBX's endpoint: not ours
        user = endpoint.removeprefix("PJSIP/")
        seat = int(user.removeprefix("agent"))
        account: dict[str, str | int] = {"user": user, "password": self.seats.sip_password(seat),
                                         "transport": self.seats.transport.name}
        if self.seats.transport.tls:
            account["port"] = self.seats.transport.tls_port      # the PBX's TLS port
        return account

    def _phone_port(self, req: p.Login) -> tuple[int | None, bool]:
        """The phone's port the dialer calls, and whether over TLS (the PBX's agents' transport).
        LinkError when the PBX takes agents' SIP over TLS and the login named no TLS port."""
        if self.seats is None or not self.seats.transport.tls or req.sip_port is None:
            return req.sip_port, False
        if req.sip_tls_port is None:
            log.warning("security: agent %r: login refused: the PBX takes agents' SIP over TLS "
                        "only and the phone named no TLS port", req.agent)
            raise LinkError(ErrorCode.BAD_FIELD,
                            "login: this dialer's PBX takes agents' SIP over TLS only, and the "
                            "login named no sip_tls_port: start the softphone with the PBX's CA "
                            "(softphone --ca FILE or OPENDIALER_CA_FILE) so its phone listens on "
                            "TLS")
        return req.sip_tls_port, True

    @staticmethod
    async def _write(ws: web.WebSocketResponse, outbox: WsOutbox) -> None:
        while (text := await outbox.queue.get()) is not None:
            if ws.closed:
                return
            await ws.send_str(text)

    async def _request(self, req: p.Request, agent: int | None, out: WsOutbox,
                       peer: str) -> int | None:
        """Carry out one request: a typed request becomes the floor's event."""
        e = self.engine
        if isinstance(req, p.Ping):
            out.put(p.Pong(re=req.id))
            return agent
        if isinstance(req, p.Login):
            if agent is not None and agent in e.floor.seats:
                raise LinkError(ErrorCode.OUT_OF_ORDER, "already logged in")
            return await self._login(req, out, peer)
        if agent is None:
            raise LinkError(ErrorCode.NOT_LOGGED_IN, f"{req.type}: log in first")
        if agent not in e.floor.seats or e.outboxes.get(agent) is not out:
            raise LinkError(ErrorCode.NOT_LOGGED_IN,
                            f"{req.type}: you are logged out; log in again")
        if isinstance(req, p.ListCampaigns):
            out.put(p.CampaignList(tuple(e.floor.my_campaigns(agent)), re=req.id))
            return agent
        if isinstance(req, p.Disposition):
            cb = req.callback
            e.request(fl.DispositionGiven(agent, req.attempt, req.code, req.note,
                                          cb.at if cb else None, cb.personal if cb else False,
                                          req.id))
            return agent      # disposition_saved follows once it is stored
        e.request(fl.AgentAsks(agent, req.type, p.fields_of(req), req.id))
        if not isinstance(req, ANSWERED_BY_FLOOR):
            e.after_writes(lambda: out.put(p.Ok(req.type, re=req.id)))
        return agent

    async def _login(self, req: p.Login, out: WsOutbox, peer: str) -> int:
        login, password = req.agent, req.password
        held = self.guard.held_for(peer, login)
        if held:
            refused(login, peer, "agent link", "too many failed logins")
            raise LinkError(ErrorCode.REFUSED, f"too many failed logins from {peer}; try again "
                                               f"in {max(1, round(held))} s")
        info = await check_password(verify_password, self.engine.db, login, password)
        if info is None:
            refused(login, peer, "agent link", "wrong agent or password")
            await asyncio.sleep(self.guard.failed(peer, login))
            raise LinkError(ErrorCode.BAD_CREDENTIALS, "wrong agent or password")
        self.guard.succeeded(peer, login)
        endpoint = info.sip_endpoint or f"PJSIP/{info.login}"
        dial = endpoint
        binding = None
        port, tls = self._phone_port(req)
        if port is not None:
            try:
                dial = phone_at(endpoint, peer, port, tls)
            except ValueProblem as exc:
                raise LinkError(ErrorCode.BAD_FIELD, f"login: {exc}") from None
            user = endpoint.removeprefix("PJSIP/")
            binding = Binding(info.id, info.login, user, peer, port)
        campaigns = await asyncio.to_thread(agent_campaign_ids, self.engine.db, info.id)
        e = self.engine
        e.login(fl.AgentLogin(info.id, info.login, info.display_name, dial, tuple(campaigns)),
                out)
        sip = self._seat_account(endpoint)
        if binding is not None:
            self.bindings[binding.user] = binding
        if req.sip_port is None:
            log.warning("security: agent %s logged in from %s without naming its phone's SIP "
                        "port: the voice channel goes to whatever phone registered as %s",
                        info.login, peer, endpoint)

        def welcome() -> None:
            views = e.floor.my_campaigns(info.id)
            seat = e.floor.seats.get(info.id)
            state = seat.machine.state if seat else AgentState.LOGGED_OUT
            out.put(p.LoginOk(info.login, info.display_name, state, tuple(views), sip=sip,
                              re=req.id))
            for view in views:
                if view["status"] == "Started":
                    out.put(p.CampaignStarted(view))
        e.after_writes(welcome)
        return info.id
