"""A `wss://` WebSocket for the agent window, with the interface of the part of `QWebSocket` that
`AgentLink` uses (signals `connected`, `disconnected`, `textMessageReceived`; `open`, `close`,
`sendTextMessage`, `state`, `closeReason`, `errorString`).

Why not QWebSocket: the PyQt5 wheels' Qt 5.15 is built for OpenSSL 1.1 and loads it at run
time; Debian 12 ships OpenSSL 3, so there `QSslSocket.supportsSsl()` is False ("Incompatible
version of OpenSSL") and a `wss://` QWebSocket never connects. This socket runs aiohttp (the
dialer's own WebSocket client, on Python's `ssl`) on a thread of its own; its signals reach the
window's thread queued, as Qt's own socket's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import aiohttp
from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtNetwork import QAbstractSocket

from dialer.service.tls import client_context


class TlsWebSocket(QObject):
    connected = pyqtSignal()
    disconnected = pyqtSignal()
    textMessageReceived = pyqtSignal(str)  # noqa: N815 (QWebSocket's name)

    def __init__(self, ca_file: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ca_file = ca_file
        self._state = QAbstractSocket.UnconnectedState
        self._reason = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._thread: threading.Thread | None = None

    def open(self, url: Any) -> None:
        text = url.toString() if hasattr(url, "toString") else str(url)
        self._state, self._reason = QAbstractSocket.ConnectingState, ""
        self._thread = threading.Thread(target=self._run, args=(text,), daemon=True,
                                        name="agent-link-tls")
        self._thread.start()

    def _run(self, url: str) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._session(url))
        finally:
            loop.close()
            self._loop = None

    async def _session(self, url: str) -> None:
        try:
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(url, heartbeat=20, ssl=client_context(self.ca_file))
                self._ws = ws
                self._state = QAbstractSocket.ConnectedState
                self.connected.emit()
                while True:
                    msg = await ws.receive()
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self.textMessageReceived.emit(msg.data)
                    elif msg.type != aiohttp.WSMsgType.BINARY:   # close, closed, error
                        self._reason = msg.extra if isinstance(msg.extra, str) else ""
                        break
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._reason = str(exc) or type(exc).__name__
        finally:
            self._ws = None
            self._state = QAbstractSocket.UnconnectedState
            self.disconnected.emit()

    def sendTextMessage(self, text: str) -> int:  # noqa: N802 (QWebSocket's name)
        ws, loop = self._ws, self._loop
        if ws is None or loop is None:
            return 0
        asyncio.run_coroutine_threadsafe(ws.send_str(text), loop)
        return len(text)

    def close(self) -> None:
        ws, loop = self._ws, self._loop
        if ws is not None and loop is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(ws.close(), loop)

    def state(self) -> Any:
        return self._state

    def closeReason(self) -> str:  # noqa: N802 (QWebSocket's name)
        return self._reason

    def errorString(self) -> str:  # noqa: N802 (QWebSocket's name)
        return self._reason
