"""The agent window's one bridge to the dialer: the agent link over a Qt WebSocket.

`AgentLink` is the message hub the widgets depend on. It owns the `AgentModel` and feeds it every
message of the dialer, then emits:

    changed()                   the model changed: views re-render from it
    message(dict)               every message of the dialer, as received
    error(str, str)             (code, text) of an error the dialer answered
    opened() / closed(str)      the WebSocket came up / went down (with the reason)
    logout_pending(float)       seconds left until logoff authorization
    logout_authorized()

Requests are methods (`login`, `ready`, `preview_dial`, ...). No widget talks to the socket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from PyQt5.QtCore import QObject, QUrl, pyqtSignal
from PyQt5.QtWebSockets import QWebSocket

from softphone.model import AgentModel


def now() -> datetime:
    return datetime.now(UTC)


class AgentLink(QObject):
    changed = pyqtSignal()
    message = pyqtSignal(dict)
    error = pyqtSignal(str, str)
    opened = pyqtSignal()
    closed = pyqtSignal(str)
    logout_pending = pyqtSignal(float)
    logout_authorized = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = AgentModel()
        self.ws = QWebSocket()
        self.ws.connected.connect(self.opened)
        self.ws.disconnected.connect(self.on_disconnected)
        self.ws.textMessageReceived.connect(self.on_text)
        self._seq = 0
        self._pending: dict[str, str] = {}

    # ---------------------------------------------------------------- socket
    def open(self, url: str) -> None:
        self.ws.open(QUrl(url))

    def close(self) -> None:
        self.ws.close()

    def is_open(self) -> bool:
        from PyQt5.QtNetwork import QAbstractSocket

        return bool(self.ws.state() == QAbstractSocket.ConnectedState)

    def on_disconnected(self) -> None:
        reason = self.ws.errorString() or "closed"
        self.closed.emit(reason)

    def on_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        self.model.apply(msg, now())
        if msg.get("re") in self._pending and msg.get("type") == "ok":
            request = self._pending.pop(msg["re"])
            if request in ("preview_dial", "preview_skip", "push_accept", "push_reject"):
                self.model.offer_done()
        self.message.emit(msg)
        if msg.get("type") == "error":
            self.error.emit(str(msg.get("code", "")), str(msg.get("message", "")))
        elif msg.get("type") == "logout_pending":
            self.logout_pending.emit(float(msg.get("remaining_s", 0)))
        elif msg.get("type") == "logout_authorized":
            self.logout_authorized.emit()
        self.changed.emit()

    # ---------------------------------------------------------------- requests
    def send(self, kind: str, **fields: Any) -> str:
        self._seq += 1
        req_id = f"q{self._seq}"
        self._pending[req_id] = kind
        self.ws.sendTextMessage(json.dumps({"v": 1, "type": kind, "id": req_id, **fields}))
        return req_id

    def login(self, agent: str, password: str) -> str:
        return self.send("login", agent=agent, password=password)

    def ready(self) -> str:
        return self.send("ready")

    def not_ready(self, reason: str = "") -> str:
        return self.send("not_ready", reason=reason)

    def logout(self) -> str:
        return self.send("logout")

    def preview_request(self) -> str:
        return self.send("preview_request")

    def dial_offer(self) -> str | None:
        offer = self.model.offer
        if offer is None:
            return None
        if self.model.offer_is_push:
            return self.send("push_accept", offer=offer["offer"])
        return self.send("preview_dial", contact=offer["offer"])

    def skip_offer(self) -> str | None:
        offer = self.model.offer
        if offer is None:
            return None
        if self.model.offer_is_push:
            return self.send("push_reject", offer=offer["offer"])
        return self.send("preview_skip", contact=offer["offer"])

    def record_update(self, contact: int, fields: dict[str, Any]) -> str:
        return self.send("record_update", contact=contact, fields=fields)

    def hangup(self) -> str:
        return self.send("hangup")

    def disposition(self, attempt: int, code: str, note: str = "",
                    callback_at: datetime | None = None, personal: bool = False) -> str:
        fields: dict[str, Any] = {"attempt": attempt, "code": code}
        if note:
            fields["note"] = note
        if callback_at is not None:
            fields["callback"] = {"at": callback_at.isoformat(), "personal": personal}
        return self.send("disposition", **fields)
