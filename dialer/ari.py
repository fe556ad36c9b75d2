"""A thin asyncio client for Asterisk's REST Interface (ARI): REST calls and the events WebSocket.

Owns one aiohttp session. `request()` raises `AriError` naming the method, path and Asterisk's own
message on any non-2xx answer; `events()` yields each event of the Stasis application as a dict.
Checked against Asterisk 22; maintained Python ARI clients were found lacking (see the issue
notes: ari-client cannot add a list of channels to a bridge and sets global logging on import).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from dialer.config.settings import PbxSettings


class AriError(Exception):
    """ARI answered with an error status, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AriClient:
    def __init__(self, base_url: str, user: str, password: str, app: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self._headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._session: aiohttp.ClientSession | None = None

    def for_app(self, app: str) -> AriClient:
        """Another client (own session, own events) of the same account, for application
        `app`: a watcher's events then never mix with the dialer's."""
        twin = AriClient(self.base_url, "", "", app)
        twin._headers = self._headers
        return twin

    @classmethod
    def from_settings(cls, pbx: PbxSettings, app: str | None = None) -> AriClient:
        return cls(pbx.ari_url, pbx.ari_user, pbx.ari_password, app or pbx.ari_app)

    async def __aenter__(self) -> AriClient:
        self._session = aiohttp.ClientSession(headers=self._headers,
                                              timeout=aiohttp.ClientTimeout(total=15))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AriClient used outside `async with`")
        return self._session

    async def request(self, method: str, path: str, body: Any = None,
                      **params: str | int | bool) -> Any:
        query = {k: (str(v).lower() if isinstance(v, bool) else str(v))
                 for k, v in params.items()}
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            async with self.session.request(method, url, params=query, json=body) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    try:
                        detail = json.loads(text).get("message", text)
                    except ValueError:
                        detail = text
                    raise AriError(f"ARI {method} /{path.lstrip('/')}: {resp.status} {detail}",
                                   resp.status)
                return json.loads(text) if text else None
        except aiohttp.ClientError as exc:
            raise AriError(f"ARI {method} {url}: cannot reach Asterisk ({exc})") from None

    async def get(self, path: str, **params: str | int | bool) -> Any:
        return await self.request("GET", path, **params)

    async def post(self, path: str, body: Any = None, **params: str | int | bool) -> Any:
        return await self.request("POST", path, body, **params)

    async def delete(self, path: str, **params: str | int | bool) -> Any:
        return await self.request("DELETE", path, **params)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Yield the application's events until the WebSocket closes; the first item is
        `{"type": "WebSocketConnected"}` (ours, not Asterisk's), once the socket is open."""
        ws_url = self.base_url.replace("http", "ws", 1) + "/events"
        try:
            async with self.session.ws_connect(
                ws_url, params={"app": self.app, "subscribeAll": "false"}, heartbeat=20
            ) as ws:
                yield {"type": "WebSocketConnected"}
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        yield json.loads(msg.data)
                    elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
        except aiohttp.ClientError as exc:
            raise AriError(f"ARI events WebSocket {ws_url}: {exc}") from None
