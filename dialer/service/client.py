"""An agent-link client: what the softphone speaks, usable headless by scripted agents and tests.

`AgentClient` sends requests and waits for the dialer's messages by type; `scripted_agent` logs in,
goes ready and dispositions every connected call with a given code, until cancelled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from dialer.service.protocol import PROTOCOL_VERSION


class LinkClosed(Exception):
    pass


class AgentClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.backlog: list[dict[str, Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._seq = 0

    async def __aenter__(self) -> AgentClient:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self.url, heartbeat=20)
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

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                self.seen.append(data)
                await self.inbox.put(data)
        await self.inbox.put({"type": "_closed"})

    async def send_raw(self, text: str) -> None:
        assert self._ws is not None
        await self._ws.send_str(text)

    async def send(self, kind: str, **fields: Any) -> str:
        self._seq += 1
        req_id = f"r{self._seq}"
        await self.send_raw(json.dumps({"v": PROTOCOL_VERSION, "type": kind, "id": req_id,
                                        **fields}))
        return req_id

    async def _take(self, match: Callable[[dict[str, Any]], bool], timeout: float,
                    what: str) -> dict[str, Any]:
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
                                   f"{[m['type'] for m in self.seen[-8:]]}")
            try:
                msg = await asyncio.wait_for(self.inbox.get(), left)
            except TimeoutError:
                continue
            if msg["type"] == "_closed":
                raise LinkClosed(f"link closed while waiting for {what}")
            self.backlog.append(msg)

    async def expect(self, kind: str | tuple[str, ...], timeout: float = 10.0,
                     where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The next message of that type (and matching `where`)."""
        kinds = (kind,) if isinstance(kind, str) else kind
        return await self._take(lambda m: m["type"] in kinds and (where is None or where(m)),
                                timeout, f"{kinds} message")

    async def request(self, kind: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Send and wait for the reply to this request (`ok`, a typed reply, or `error`)."""
        req_id = await self.send(kind, **fields)
        return await self._take(lambda m: m.get("re") == req_id, timeout, f"reply to {kind}")

    async def login(self, agent: str, password: str) -> dict[str, Any]:
        return await self.request("login", agent=agent, password=password)


async def scripted_agent(url: str, login: str, password: str, code: str,
                         on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
    """Log in, go ready once the voice channel is up, disposition every call with `code`."""
    async with AgentClient(url) as c:
        reply = await c.login(login, password)
        if reply["type"] != "login_ok":
            raise RuntimeError(f"{login}: login refused: {reply.get('message')}")
        await c.expect("channel", timeout=20, where=lambda m: m["state"] == "connected")
        await c.request("ready")
        while True:
            msg = await c.expect(("call_connected", "call_ended", "logout_authorized"),
                                 timeout=3600)
            if on_event is not None:
                on_event(login, msg)
            if msg["type"] == "call_ended" and msg.get("disposition_required"):
                await c.request("disposition", attempt=msg["attempt"], code=code,
                                note="scripted agent")
            elif msg["type"] == "logout_authorized":
                return
