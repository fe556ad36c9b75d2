"""The agent link's protocol (docs/agent-protocol.md), shared by the dialer's link server, its
client and the softphone. Pure: no I/O, no asyncio, no Qt.

- `dialer.protocol.messages`: every message as a frozen dataclass, one per type, and the error
  codes; agent states are `dialer.core.agent_state.AgentState` (re-exported here).
- `dialer.protocol.wire`: `parse_request`, `parse_server_message`, `server_message`, `encode`.
"""

from dialer.core.agent_state import AgentState
from dialer.core.results import CallResult
from dialer.protocol.messages import (
    REQUESTS,
    SERVER_MESSAGES,
    AnyRequest,
    AnyServerMessage,
    Callback,
    CallConnected,
    CallEnded,
    CampaignList,
    CampaignStarted,
    CampaignStopped,
    Channel,
    ChannelState,
    Disposition,
    DispositionSaved,
    DispositionTimeout,
    Error,
    ErrorCode,
    HangUp,
    JsonObject,
    LinkError,
    ListCampaigns,
    Login,
    LoginOk,
    Logout,
    LogoutAuthorized,
    LogoutPending,
    NotReady,
    OfferExpired,
    Ok,
    Ping,
    Pong,
    PreviewDial,
    PreviewRecord,
    PreviewRequest,
    PreviewSkip,
    PushAccept,
    PushOffer,
    PushReject,
    Ready,
    RecordUpdate,
    Request,
    ServerMessage,
    State,
    Welcome,
)
from dialer.protocol.wire import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    as_json,
    encode,
    fields_of,
    parse_request,
    parse_server_message,
    server_message,
)

__all__ = [
    "AgentState", "AnyRequest", "AnyServerMessage", "CallConnected", "CallEnded", "CallResult",
    "Callback", "CampaignList", "CampaignStarted", "CampaignStopped", "Channel", "ChannelState",
    "Disposition", "DispositionSaved", "DispositionTimeout", "Error", "ErrorCode", "HangUp",
    "JsonObject", "LinkError", "ListCampaigns", "Login", "LoginOk", "Logout", "LogoutAuthorized",
    "LogoutPending", "MAX_MESSAGE_BYTES", "NotReady", "OfferExpired", "Ok", "PROTOCOL_VERSION",
    "Ping", "Pong", "PreviewDial", "PreviewRecord", "PreviewRequest", "PreviewSkip", "PushAccept",
    "PushOffer", "PushReject", "REQUESTS", "Ready", "RecordUpdate", "Request", "SERVER_MESSAGES",
    "ServerMessage", "State", "Welcome", "as_json", "encode", "fields_of", "parse_request",
    "parse_server_message", "server_message",
]
