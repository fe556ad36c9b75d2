"""The agent window's one bridge to the dialer: the agent link over a Qt WebSocket.

`AgentLink` is the message hub the widgets depend on. It owns the `AgentModel` and feeds it every
message of the dialer, then emits:

    changed()                   the model changed: views re-render from it
    message(object)             every message of the dialer (a `dialer.protocol.ServerMessage`)
    error(str, str)             (code, text) of an error the dialer answered
    opened() / closed(str)      the WebSocket came up / went down (with the reason)
    logout_pending(float)       seconds left until logoff authorization
    logout_authorized()

Requests are methods (`login`, `ready`, `preview_dial`, ...). No widget talks to the socket.
Frames are read and written with `dialer.protocol`, the dialer's own definition of the messages;
a frame that is not one is logged and dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import UTC, datetime
from typing import Any

from PyQt5.QtCore import QObject, QUrl, pyqtSignal
from PyQt5.QtWebSockets import QWebSocket

from dialer import protocol as p
from softphone.model import AgentModel

log = logging.getLogger(__name__)

# requests whose `ok` means the record on offer is dealt with
OFFER_ANSWERS = frozenset({"preview_dial", "preview_skip", "push_accept", "push_reject"})


def now() -> datetime:
    return datetime.now(UTC)


class AgentLink(QObject):
    changed = pyqtSignal()
    message = pyqtSignal(object)
    error = pyqtSignal(str, str)
    opened = pyqtSignal()
    closed = pyqtSignal(str)
    logout_pending = pyqtSignal(float)
    logout_authorized = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = AgentModel()
        self.ws: Any = None
        self._use(QWebSocket())
        self._seq = 0
        self._pending: dict[str, str] = {}

    # ---------------------------------------------------------------- socket
    def open(self, url: str, ca_file: str | None = None) -> None:
        """Connect; a `wss://` dialer's certificate must chain to `ca_file` (default:
        OPENDIALER_CA_FILE, else the system's CAs)."""
        if url.startswith("wss:"):    # Qt's own TLS cannot load Debian 12's OpenSSL 3
            from softphone.tls_socket import TlsWebSocket

            self._use(TlsWebSocket(ca_file or os.environ.get("OPENDIALER_CA_FILE")))
        elif not isinstance(self.ws, QWebSocket):
            self._use(QWebSocket())
        self.ws.open(QUrl(url))

    def _use(self, ws: Any) -> None:
        if self.ws is not None:
            self.ws.close()
        self.ws = ws
        ws.connected.connect(self.opened)
        ws.disconnected.connect(self.on_disconnected)
        ws.textMessageReceived.connect(self.on_text)

    def close(self) -> None:
        self.ws.close()

    def is_open(self) -> bool:
        from PyQt5.QtNetwork import QAbstractSocket

        return bool(self.ws.state() == QAbstractSocket.ConnectedState)

    def on_disconnected(self) -> None:
        # the dialer's close reason first ("too many connections from ...", "frame over ...")
        reason = self.ws.closeReason() or self.ws.errorString() or "closed"
        self.closed.emit(reason)

    def on_text(self, text: str) -> None:
        try:
            msg = p.parse_server_message(text)
        except p.LinkError as exc:
            log.warning("the dialer sent a message this softphone cannot read (%s: %s): %.300s",
                        exc.code, exc, text)
            return
        self.model.apply(msg, now())
        if isinstance(msg, p.Ok) and msg.re in self._pending:
            if self._pending.pop(msg.re) in OFFER_ANSWERS:
                self.model.offer_done()
        self.message.emit(msg)
        if isinstance(msg, p.Error):
            self.error.emit(msg.code.value, msg.message)
        elif isinstance(msg, p.LogoutPending):
            self.logout_pending.emit(msg.remaining_s)
        elif isinstance(msg, p.LogoutAuthorized):
            self.logout_authorized.emit()
        self.changed.emit()

    # ---------------------------------------------------------------- requests
    def send(self, request: p.Request) -> str:
        """Send a request with the next request id; that id."""
        self._seq += 1
        req_id = f"q{self._seq}"
        self._pending[req_id] = request.type
        self.ws.sendTextMessage(p.encode(dataclasses.replace(request, id=req_id)))
        return req_id

    def login(self, agent: str, password: str, sip_port: int | None = None,
              sip_tls_port: int | None = None) -> str:
        return self.send(p.Login(agent, password, sip_port, sip_tls_port))

    def ready(self) -> str:
        return self.send(p.Ready())

    def not_ready(self, reason: str = "") -> str:
        return self.send(p.NotReady(reason or None))

    def logout(self) -> str:
        return self.send(p.Logout())

    def preview_request(self) -> str:
        return self.send(p.PreviewRequest())

    def dial_offer(self) -> str | None:
        offer = self.model.offer
        if offer is None:
            return None
        if self.model.offer_is_push:
            return self.send(p.PushAccept(offer.offer))
        return self.send(p.PreviewDial(offer.offer))

    def skip_offer(self) -> str | None:
        offer = self.model.offer
        if offer is None:
            return None
        if self.model.offer_is_push:
            return self.send(p.PushReject(offer.offer))
        return self.send(p.PreviewSkip(offer.offer))

    def record_update(self, contact: int, fields: dict[str, Any]) -> str:
        return self.send(p.RecordUpdate(contact, fields))

    def hangup(self) -> str:
        return self.send(p.HangUp())

    def disposition(self, attempt: int, code: str, note: str = "",
                    callback_at: datetime | None = None, personal: bool = False) -> str:
        callback = p.Callback(callback_at, personal) if callback_at is not None else None
        return self.send(p.Disposition(attempt, code, note or None, callback))
