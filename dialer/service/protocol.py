"""The agent link's messages (version 1): parsing and validation, pure. See docs/agent-protocol.md.

Every message is one JSON object in one WebSocket text frame:

    {"v": 1, "type": "<type>", "id": "<client's request id, optional>", ...fields}

`parse_client_message` checks the envelope and each field of the client's request types, and
raises `LinkError` with a machine-readable code and a sentence naming what is wrong; the server
answers it with an `error` message and the session goes on unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024


class LinkError(Exception):
    """A request the dialer refuses; `code` is stable, the message is for people."""

    def __init__(self, code: str, message: str, re: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.re = re   # the request id, when the message got that far


@dataclass(frozen=True)
class Message:
    type: str
    id: str | None
    body: dict[str, Any]

    def get_int(self, key: str) -> int:
        value: int = self.body[key]
        return value


# For each request type: {field: (kind, required)}; kinds: str, int, bool, dict, "datetime".
_Spec = dict[str, tuple[Any, bool]]
CLIENT_MESSAGES: dict[str, _Spec] = {
    "login": {"agent": (str, True), "password": (str, True)},
    "logout": {},
    "ready": {},
    "not_ready": {"reason": (str, False)},
    "campaigns": {},
    "preview_request": {"campaign": (int, False)},
    "preview_dial": {"contact": (int, True)},
    "preview_skip": {"contact": (int, True)},
    "push_accept": {"offer": (int, True)},
    "push_reject": {"offer": (int, True)},
    "record_update": {"contact": (int, True), "fields": (dict, True)},
    "hangup": {},
    "disposition": {"attempt": (int, True), "code": (str, True), "note": (str, False),
                    "callback": (dict, False)},
    "ping": {},
}
CALLBACK_FIELDS: _Spec = {"at": ("datetime", True), "personal": (bool, False)}


def _check_fields(where: str, body: dict[str, Any], spec: _Spec) -> None:
    for key, (kind, required) in spec.items():
        if key not in body or body[key] is None:
            if required:
                raise LinkError("missing_field", f"{where}: field {key!r} is required")
            continue
        value = body[key]
        if kind == "datetime":
            if not isinstance(value, str):
                raise LinkError("bad_field", f"{where}: {key!r} must be an ISO 8601 date-time "
                                             "string with a time zone")
            from datetime import datetime

            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise LinkError("bad_field", f"{where}: {key!r} is not an ISO 8601 date-time: "
                                             f"{value!r}") from None
            if parsed.tzinfo is None:
                raise LinkError("bad_field", f"{where}: {key!r} needs a time zone offset")
            continue
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            raise LinkError("bad_field", f"{where}: {key!r} must be {kind.__name__}, got "
                                         f"{type(value).__name__}")


def parse_client_message(text: str | bytes) -> Message:
    if len(text) > MAX_MESSAGE_BYTES:
        raise LinkError("too_large", f"message of {len(text)} bytes is over the "
                                     f"{MAX_MESSAGE_BYTES}-byte limit")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LinkError("bad_json", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LinkError("bad_envelope", "a message must be a JSON object")
    req_id = data.get("id")
    if req_id is not None and not isinstance(req_id, str | int):
        raise LinkError("bad_envelope", "'id' must be a string or an integer")
    rid = None if req_id is None else str(req_id)
    try:
        version = data.get("v")
        if version != PROTOCOL_VERSION:
            raise LinkError("bad_version", f"protocol version {version!r} is not supported; "
                                           f"this dialer speaks v{PROTOCOL_VERSION}")
        kind = data.get("type")
        if not isinstance(kind, str) or kind not in CLIENT_MESSAGES:
            raise LinkError("unknown_type", f"unknown message type {kind!r}")
        body = {k: v for k, v in data.items() if k not in ("v", "type", "id")}
        unknown = sorted(set(body) - set(CLIENT_MESSAGES[kind]))
        if unknown:
            raise LinkError("unknown_field", f"{kind}: unknown field(s) {', '.join(unknown)}")
        _check_fields(kind, body, CLIENT_MESSAGES[kind])
        if kind == "disposition" and "callback" in body:
            extra = sorted(set(body["callback"]) - set(CALLBACK_FIELDS))
            if extra:
                raise LinkError("unknown_field", f"disposition.callback: unknown field(s) "
                                                 f"{', '.join(extra)}")
            _check_fields("disposition.callback", body["callback"], CALLBACK_FIELDS)
    except LinkError as exc:
        exc.re = rid
        raise
    return Message(kind, rid, body)


def encode(kind: str, re: str | None = None, **fields: Any) -> str:
    """A dialer-to-agent message; `re` echoes the request id it answers."""
    msg: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": kind}
    if re is not None:
        msg["re"] = re
    msg.update(fields)
    return json.dumps(msg, default=str)
