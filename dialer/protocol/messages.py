"""The agent link's messages, version 1, as frozen dataclasses (docs/agent-protocol.md). Pure.

Every message is one JSON object in one WebSocket text frame:

    {"v": 1, "type": "<type>", "id": "<request id>", ...fields}     desktop -> dialer (requests)
    {"v": 1, "type": "<type>", "re": "<id answered>", ...fields}     dialer -> desktop

There is one class per message type, a `Request` or a `ServerMessage`. Its `TYPE` is the wire
name; its fields are the message's fields under the same names, typed: agent states are the one
`AgentState` of the dialer, call results `CallResult`, date-times aware `datetime`s, records and
campaigns plain JSON objects (as the dialer's views give them). A field with a default may be
left out, and is left out of the frame when it is None; a field without one must be there (as
null if its type allows None). Reading and writing frames is `dialer.protocol.wire`.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from dialer.core.agent_state import AgentState
from dialer.core.results import CallResult

JsonObject = Mapping[str, Any]


class ErrorCode(enum.StrEnum):
    """An `error` message's code (equal to its wire string)."""

    BAD_JSON = "bad_json"
    BAD_ENVELOPE = "bad_envelope"
    BAD_VERSION = "bad_version"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    TOO_LARGE = "too_large"
    NOT_LOGGED_IN = "not_logged_in"
    OUT_OF_ORDER = "out_of_order"
    BAD_CREDENTIALS = "bad_credentials"
    REFUSED = "refused"
    VOICE_CHANNEL = "voice_channel"     # unsolicited: the dialer could not call the agent's phone
    SEAT_TAKEN = "seat_taken"           # unsolicited: another phone registered as the agent's seat
    INTERNAL = "internal"


class ChannelState(enum.Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class LinkError(Exception):
    """A message refused; `code` is stable, `message` is for people, `re` the request's id."""

    def __init__(self, code: ErrorCode | str, message: str, re: str | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.re = re

    def reply(self) -> Error:
        """The `error` message that answers it."""
        return Error(self.code, self.message, re=self.re)


@dataclass(frozen=True)
class Request:
    """A desktop-to-dialer message; every direct answer carries `id` back as `re`."""

    TYPE: ClassVar[str] = ""
    id: str | None = field(default=None, kw_only=True)

    @property
    def type(self) -> str:
        return self.TYPE


@dataclass(frozen=True)
class ServerMessage:
    """A dialer-to-desktop message; `re` is the id of the request it answers, if it answers one."""

    TYPE: ClassVar[str] = ""
    re: str | None = field(default=None, kw_only=True)

    @property
    def type(self) -> str:
        return self.TYPE


# -- requests (desktop to dialer) --------------------------------------------------------------

@dataclass(frozen=True)
class Login(Request):
    TYPE: ClassVar[str] = "login"
    agent: str
    password: str = field(repr=False)
    # the UDP port the agent's softphone takes SIP on, at the address this link comes from: the
    # dialer then calls that phone only, not whatever registered as the seat
    sip_port: int | None = None
    # the TCP port its softphone takes SIP over TLS on (it listens when it has the PBX's CA):
    # the dialer calls that one when the PBX takes agents' SIP over TLS (login_ok.sip.transport)
    sip_tls_port: int | None = None


@dataclass(frozen=True)
class Logout(Request):
    TYPE: ClassVar[str] = "logout"


@dataclass(frozen=True)
class Ready(Request):
    TYPE: ClassVar[str] = "ready"


@dataclass(frozen=True)
class NotReady(Request):
    TYPE: ClassVar[str] = "not_ready"
    reason: str | None = None


@dataclass(frozen=True)
class ListCampaigns(Request):
    TYPE: ClassVar[str] = "campaigns"


@dataclass(frozen=True)
class PreviewRequest(Request):
    TYPE: ClassVar[str] = "preview_request"
    campaign: int | None = None


@dataclass(frozen=True)
class PreviewDial(Request):
    TYPE: ClassVar[str] = "preview_dial"
    contact: int


@dataclass(frozen=True)
class PreviewSkip(Request):
    TYPE: ClassVar[str] = "preview_skip"
    contact: int


@dataclass(frozen=True)
class PushAccept(Request):
    TYPE: ClassVar[str] = "push_accept"
    offer: int


@dataclass(frozen=True)
class PushReject(Request):
    TYPE: ClassVar[str] = "push_reject"
    offer: int


@dataclass(frozen=True)
class RecordUpdate(Request):
    TYPE: ClassVar[str] = "record_update"
    contact: int
    fields: JsonObject


@dataclass(frozen=True)
class HangUp(Request):
    TYPE: ClassVar[str] = "hangup"


@dataclass(frozen=True)
class Callback:
    """A disposition's callback: when, and whether only this agent takes it."""

    at: datetime
    personal: bool = False


@dataclass(frozen=True)
class Disposition(Request):
    TYPE: ClassVar[str] = "disposition"
    attempt: int
    code: str
    note: str | None = None
    callback: Callback | None = None


@dataclass(frozen=True)
class Ping(Request):
    TYPE: ClassVar[str] = "ping"


# -- dialer to desktop ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Welcome(ServerMessage):
    TYPE: ClassVar[str] = "welcome"
    protocol: int
    server: str


@dataclass(frozen=True)
class LoginOk(ServerMessage):
    TYPE: ClassVar[str] = "login_ok"
    agent: str
    name: str
    state: AgentState
    campaigns: tuple[JsonObject, ...]
    # the agent's seat's own SIP account {"user", "password"} (seats the dialer's PBX renders)
    sip: JsonObject | None = field(default=None, repr=False)


@dataclass(frozen=True)
class State(ServerMessage):
    TYPE: ClassVar[str] = "state"
    state: AgentState
    reason: str | None = None
    logout_remaining_s: float | None = None


@dataclass(frozen=True)
class Channel(ServerMessage):
    """The nailed-up voice channel came up or went down (`reason` says why it went)."""

    TYPE: ClassVar[str] = "channel"
    channel: str
    state: ChannelState
    reason: str | None = None


@dataclass(frozen=True)
class CampaignStarted(ServerMessage):
    TYPE: ClassVar[str] = "campaign_started"
    campaign: JsonObject


@dataclass(frozen=True)
class CampaignStopped(ServerMessage):
    TYPE: ClassVar[str] = "campaign_stopped"
    campaign: JsonObject


@dataclass(frozen=True)
class CampaignList(ServerMessage):
    TYPE: ClassVar[str] = "campaigns"
    campaigns: tuple[JsonObject, ...]


@dataclass(frozen=True)
class PreviewRecord(ServerMessage):
    TYPE: ClassVar[str] = "preview_record"
    offer: int
    contact: JsonObject
    campaign: int


@dataclass(frozen=True)
class PushOffer(ServerMessage):
    TYPE: ClassVar[str] = "push_offer"
    offer: int
    contact: JsonObject
    campaign: int


@dataclass(frozen=True)
class OfferExpired(ServerMessage):
    """The record on offer was not dialed or skipped in time; it went back to the list."""

    TYPE: ClassVar[str] = "offer_expired"
    offer: int


@dataclass(frozen=True)
class CallConnected(ServerMessage):
    TYPE: ClassVar[str] = "call_connected"
    attempt: int
    campaign: int
    contact: JsonObject


@dataclass(frozen=True)
class CallEnded(ServerMessage):
    TYPE: ClassVar[str] = "call_ended"
    attempt: int
    result: CallResult
    disposition_required: bool


@dataclass(frozen=True)
class DispositionTimeout(ServerMessage):
    """No disposition came within the wrap-up time: the attempt settled without one."""

    TYPE: ClassVar[str] = "disposition_timeout"
    attempt: int


@dataclass(frozen=True)
class LogoutPending(ServerMessage):
    TYPE: ClassVar[str] = "logout_pending"
    deadline: datetime
    remaining_s: float


@dataclass(frozen=True)
class LogoutAuthorized(ServerMessage):
    TYPE: ClassVar[str] = "logout_authorized"


@dataclass(frozen=True)
class DispositionSaved(ServerMessage):
    TYPE: ClassVar[str] = "disposition_saved"
    attempt: int
    code: str
    callback: int | None            # the stored callback's id; null when none was asked


@dataclass(frozen=True)
class Ok(ServerMessage):
    TYPE: ClassVar[str] = "ok"
    request: str


@dataclass(frozen=True)
class Pong(ServerMessage):
    TYPE: ClassVar[str] = "pong"


@dataclass(frozen=True)
class Error(ServerMessage):
    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str


AnyRequest = (Login | Logout | Ready | NotReady | ListCampaigns | PreviewRequest | PreviewDial
              | PreviewSkip | PushAccept | PushReject | RecordUpdate | HangUp | Disposition | Ping)
AnyServerMessage = (Welcome | LoginOk | State | Channel | CampaignStarted | CampaignStopped
                    | CampaignList | PreviewRecord | PushOffer | OfferExpired | CallConnected
                    | CallEnded | DispositionTimeout | LogoutPending | LogoutAuthorized
                    | DispositionSaved | Ok | Pong | Error)
REQUESTS: dict[str, type[Request]] = {c.TYPE: c for c in typing.get_args(AnyRequest)}
SERVER_MESSAGES: dict[str, type[ServerMessage]] = {
    c.TYPE: c for c in typing.get_args(AnyServerMessage)}
