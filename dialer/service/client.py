"""An agent-link client: what the softphone speaks, usable headless by scripted agents and tests.

`AgentClient` sends requests and waits for the dialer's messages by type. Every frame of the
dialer is read with `dialer.protocol.parse_server_message`, so a message that is not the protocol
is an error here (`ProtocolViolation`), not a silently odd dict. Typed: `ask(request)` and
`next(MessageClass)`. By name, for tests that read fields by name and send malformed requests on
purpose: `request(kind, **fields)`, `expect(kind)` and `seen` give the messages' JSON objects.
`scripted_agent` logs in, goes ready and dispositions every connected call with a given code,
until cancelled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp

from dialer import protocol as p

M = TypeVar("M", bound=p.ServerMessage)


class LinkClosed(Exception):
    pass


class ProtocolViolation(Exception):
    """The dialer sent a frame that is not a message of the protocol."""


class AgentClient:
    def __init__(self, url: str, ca_file: str | None = None) -> None:
        """`ca_file`: what a `wss://` dialer's certificate must chain to (default: the
        system's CAs)."""
        self.url = url
        self.ca_file = ca_file
        self.inbox: asyncio.Queue[p.ServerMessage | Exception] = asyncio.Queue()
        self.history: list[p.ServerMessage] = []
        self.backlog: list[p.ServerMessage] = []
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._seq = 0

    async def __aenter__(self) -> AgentClient:
        self._session = aiohttp.ClientSession()
        tls: Any = True           # aiohttp's default checks for wss:// (none for ws://)
        if self.url.startswith("wss:"):
            from dialer.service.tls import client_context

            tls = client_context(self.ca_file)
        try:
            self._ws = await self._session.ws_connect(self.url, heartbeat=20, ssl=tls)
        except BaseException:
            await self._session.close()
            raise
        self._reader = asyncio.create_task(self._read())
        await self.expect("welcome")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._session is not None:
            await self._session.close()

    @property
    def seen(self) -> list[dict[str, Any]]:
        """Every message received so far, as JSON objects."""
        return [p.as_json(m) for m in self.history]

    async def _read(self) -> None:
        assert self._ws is not None
        why = "link closed"
        while True:
            msg = await self._ws.receive()
            if msg.type == aiohttp.WSMsgType.CLOSE:     # the dialer says why, when it does
                why = f"link closed by the dialer (code {msg.data}" + (
                    f": {msg.extra})" if msg.extra else ")")
                break
            if msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.ERROR):
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                message = p.parse_server_message(msg.data)
            except p.LinkError as exc:
                await self.inbox.put(ProtocolViolation(
                    f"the dialer sent {msg.data[:300]!r}: {exc.code}: {exc}"))
                continue
            self.history.append(message)
            await self.inbox.put(message)
        await self.inbox.put(LinkClosed(why))

    async def send_raw(self, text: str) -> None:
        assert self._ws is not None
        await self._ws.send_str(text)

    def _next_id(self) -> str:
        self._seq += 1
        return f"r{self._seq}"

    async def submit(self, request: p.Request) -> str:
        """Send a typed request with the next request id; that id."""
        req_id = self._next_id()
        await self.send_raw(p.encode(dataclasses.replace(request, id=req_id)))
        return req_id

    async def send(self, kind: str, **fields: Any) -> str:
        """Send a request by name with these fields, unchecked (a test may send bad ones)."""
        req_id = self._next_id()
        await self.send_raw(json.dumps({"v": p.PROTOCOL_VERSION, "type": kind, "id": req_id,
                                        **fields}))
        return req_id

    async def _take(self, match: Callable[[p.ServerMessage], bool], timeout: float,
                    what: str) -> p.ServerMessage:
        """The first message, in arrival order, that `match` accepts; the others stay for later
        calls (nothing the dialer sent is lost to a wait for something else)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, msg in enumerate(self.backlog):
                if match(msg):
                    return self.backlog.pop(i)
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {what} in {timeout} s; last seen: "
                                   f"{[m.type for m in self.history[-8:]]}")
            try:
                got = await asyncio.wait_for(self.inbox.get(), left)
            except TimeoutError:
                continue
            if isinstance(got, LinkClosed):
                raise LinkClosed(f"{got} while waiting for {what}")
            if isinstance(got, Exception):
                raise got
            self.backlog.append(got)

    async def next(self, kind: type[M] | tuple[type[M], ...], timeout: float = 10.0,
                   where: Callable[[M], bool] | None = None) -> M:
        """The next message of that class (and matching `where`)."""
        kinds = kind if isinstance(kind, tuple) else (kind,)
        got = await self._take(lambda m: isinstance(m, kinds)
                               and (where is None or where(m)),
                               timeout, f"{[k.TYPE for k in kinds]} message")
        return got  # type: ignore[return-value]

    async def ask(self, request: p.Request, timeout: float = 10.0) -> p.ServerMessage:
        """Send and wait for the reply to this request (`Ok`, a typed reply, or `Error`)."""
        req_id = await self.submit(request)
        return await self._take(lambda m: m.re == req_id, timeout, f"reply to {request.type}")

    async def expect(self, kind: str | tuple[str, ...], timeout: float = 10.0,
                     where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The next message of that type (and matching `where`), as its JSON object."""
        kinds = (kind,) if isinstance(kind, str) else kind
        got = await self._take(lambda m: m.type in kinds and (where is None or where(p.as_json(m))),
                               timeout, f"{kinds} message")
        return p.as_json(got)

    async def request(self, kind: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Send by name (unchecked) and wait for the reply to it, as its JSON object."""
        req_id = await self.send(kind, **fields)
        got = await self._take(lambda m: m.re == req_id, timeout, f"reply to {kind}")
        return p.as_json(got)

    async def login(self, agent: str, password: str, sip_port: int | None = None,
                    sip_tls_port: int | None = None) -> dict[str, Any]:
        return p.as_json(await self.ask(p.Login(agent, password, sip_port, sip_tls_port)))


async def scripted_agent(url: str, login: str, password: str, code: str,
                         on_event: Callable[[str, dict[str, Any]], None] | None = None,
                         sip_port: int | None = None, ca_file: str | None = None,
                         sip_tls_port: int | None = None) -> None:
    """Log in, go ready once the voice channel is up, disposition every call with `code`.
    `on_event(login, message)` sees each call_connected, call_ended and logout_authorized as
    its JSON object; `sip_port` (and `sip_tls_port`): the agent's phone's, on this machine."""
    async with AgentClient(url, ca_file) as c:
        reply = await c.ask(p.Login(login, password, sip_port, sip_tls_port))
        if not isinstance(reply, p.LoginOk):
            why = reply.message if isinstance(reply, p.Error) else reply
            raise RuntimeError(f"{login}: login refused: {why}")
        await c.next(p.Channel, timeout=20,
                     where=lambda m: m.state is p.ChannelState.CONNECTED)
        await c.ask(p.Ready())
        while True:
            msg = await c.next((p.CallConnected, p.CallEnded, p.LogoutAuthorized),
                               timeout=3600)
            if on_event is not None:
                on_event(login, p.as_json(msg))
            if isinstance(msg, p.CallEnded) and msg.disposition_required:
                await c.ask(p.Disposition(msg.attempt, code, note="scripted agent"))
            elif isinstance(msg, p.LogoutAuthorized):
                return
