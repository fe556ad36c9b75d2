"""The agent link's messages in the loose shape of the first link server: a request as its type,
id and body dict, a reply from a kind and keyword fields. Both go through the typed messages of
`dialer.protocol` (the one definition of the protocol), so the checks and the wire are the same;
new code uses `dialer.protocol` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialer.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    LinkError,
    fields_of,
    parse_request,
    server_message,
)
from dialer.protocol import encode as encode_message

__all__ = ["MAX_MESSAGE_BYTES", "PROTOCOL_VERSION", "LinkError", "Message", "encode",
           "parse_client_message"]


@dataclass(frozen=True)
class Message:
    type: str
    id: str | None
    body: dict[str, Any]


def parse_client_message(text: str | bytes) -> Message:
    """A request, checked as `dialer.protocol.parse_request` checks it, with its fields as JSON."""
    request = parse_request(text)
    return Message(request.type, request.id, fields_of(request))


def encode(kind: str, re: str | None = None, **fields: Any) -> str:
    """A dialer-to-agent message; `re` echoes the request id it answers. Raises `LinkError` when
    the fields are not the message's."""
    return encode_message(server_message(kind, fields, re))
