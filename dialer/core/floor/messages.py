"""What goes into the call floor and what comes out: events (past facts) and commands.

The floor (`dialer.core.floor.floor.Floor`) is fed events with the time they happened,
`floor.handle(event, now)`, and answers with commands for the service to carry out, in order.
Events come from three places: Asterisk (through the service's ARI adapter), the agent link, and
the database writer answering a command that needed the database (a claimed contact, the
campaigns read again). Commands go to the same three: ARI requests, agent messages, writes.

A `Store` command carries a `Write`, a plain description of one repository call; the service
runs the writes one after another on its writer thread and sends every `Notify` that follows a
write only once that write is committed, so nothing is acknowledged to an agent before it is
stored, while bridging never waits for the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dialer.core import agent_state as st
from dialer.core.results import AttemptPhase, CallFacts, CallResult


class ClaimView(Protocol):
    """What the floor reads of a claimed contact (`dialer.db.repository.Claim` has it)."""

    @property
    def contact_id(self) -> int: ...
    @property
    def campaign_id(self) -> int: ...
    @property
    def number(self) -> str: ...


# -- events from Asterisk ----------------------------------------------------------------------


@dataclass(frozen=True)
class PbxConnected:
    """The ARI events WebSocket is (again) connected; what Asterisk has now, by id."""

    channels: frozenset[str]
    bridges: frozenset[str]
    up: frozenset[str] = frozenset()      # the channels that are answered (state Up)
    # what our Stasis application holds (another dialer's channels on the same Asterisk are
    # never ours to remove); None: everything with our ids
    ours: frozenset[str] | None = None


@dataclass(frozen=True)
class PbxLost:
    """The ARI events WebSocket dropped (Asterisk restarting, or the link)."""

    reason: str


@dataclass(frozen=True)
class LegAnswered:
    """The agent's phone answered the voice-channel call (its StasisStart)."""

    agent_id: int
    channel_id: str


@dataclass(frozen=True)
class LegGone:
    """The agent's voice channel ended, or could not be placed."""

    agent_id: int
    channel_id: str
    reason: str


@dataclass(frozen=True)
class Originated:
    """Asterisk accepted the customer call's originate (the channel exists)."""

    attempt_id: int


@dataclass(frozen=True)
class OriginateFailed:
    """Asterisk refused the customer call's originate (trunk unreachable, PBX away...)."""

    attempt_id: int
    reason: str


@dataclass(frozen=True)
class CustomerRinging:
    attempt_id: int


@dataclass(frozen=True)
class CustomerAnswered:
    """The customer's channel entered Stasis: answered (by a person, a machine or a fax)."""

    attempt_id: int


@dataclass(frozen=True)
class MachineVerdict:
    """Answering-machine detection's verdict (AMDSTATUS, AMDCAUSE) on an answered call."""

    attempt_id: int
    status: str
    cause: str


@dataclass(frozen=True)
class FaxDetected:
    """A fax answer tone (CED) was heard from the customer (Asterisk's TONE_DETECT)."""

    attempt_id: int


@dataclass(frozen=True)
class CustomerBridged:
    """The customer's channel joined the agent's bridge (the addChannel answer)."""

    attempt_id: int
    agent_id: int


@dataclass(frozen=True)
class BridgeFailed:
    attempt_id: int
    agent_id: int
    reason: str


@dataclass(frozen=True)
class MessageStarted:
    """The safe-harbor message started playing to the customer."""

    attempt_id: int


@dataclass(frozen=True)
class MessageFailed:
    attempt_id: int
    reason: str


@dataclass(frozen=True)
class MessageFinished:
    attempt_id: int


@dataclass(frozen=True)
class CustomerGone:
    """The customer's channel is destroyed; how, as Asterisk said it."""

    attempt_id: int
    cause: int | None
    tech_cause: int | None
    dial_status: str
    customer_hung_up: bool = False     # a hang-up request from the far end before ours


# -- events from the agent link ------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLogin:
    agent_id: int
    login: str
    name: str
    endpoint: str
    campaigns: tuple[int, ...]


@dataclass(frozen=True)
class AgentAsks:
    """An agent's request on the link: ready, not_ready, logout, hangup, preview_request,
    preview_dial, preview_skip, record_update (`args` as the protocol gives them)."""

    agent_id: int
    request: str
    args: Mapping[str, Any] = field(default_factory=dict)
    re: str | None = None


@dataclass(frozen=True)
class LinkLost:
    """The agent's link dropped without a logout."""

    agent_id: int


@dataclass(frozen=True)
class DispositionGiven:
    agent_id: int
    attempt_id: int
    code: str
    note: str | None
    callback_at: datetime | None
    personal: bool
    re: str | None = None


# -- events from the database writer ---------------------------------------------------------------


@dataclass(frozen=True)
class CampaignsRead:
    """The campaigns as stored now (the admin CLI starts, pauses and stops them in the database),
    with, per predictive campaign, why pacing must hold back (the 30-day ledger), if it must."""

    campaigns: tuple[Any, ...]                       # dialer.db.campaigns.CampaignInfo
    holds: Mapping[int, str] = field(default_factory=dict)
    pacers: Mapping[int, Any] = field(default_factory=dict)   # warm pacers for new runs


@dataclass(frozen=True)
class Claimed:
    """The answer to `Claim`: a contact and its stored attempt (dial), or a contact to offer
    (preview, push), or nothing (`claim` None, with the reason in `why`)."""

    ticket: int
    claim: ClaimView | None                           # dialer.db.repository.Claim
    attempt_id: int | None = None
    contact: Mapping[str, Any] | None = None          # the record as the agent sees it
    why: str = ""


@dataclass(frozen=True)
class AttemptCreated:
    """The answer to `CreateAttempt` (a preview dial): the attempt, or why it may not be dialed."""

    agent_id: int
    contact_id: int
    attempt_id: int | None
    refused: str = ""
    re: str | None = None


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallAgent:
    """Place the agent's voice channel: make the agent's bridge, originate to the endpoint."""

    agent_id: int
    channel_id: str
    bridge_id: str
    endpoint: str


@dataclass(frozen=True)
class JoinBridge:
    """Put a channel into a bridge (the agent's leg into its own bridge, at its answer)."""

    agent_id: int
    channel_id: str
    bridge_id: str


@dataclass(frozen=True)
class Originate:
    """Dial a customer through a trunk into the Stasis application."""

    attempt_id: int
    channel_id: str
    number: str
    trunk: str
    caller_id: str
    ring_timeout: int
    agent_id: int | None
    failed_over_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class DetectMachine:
    """Send the answered customer through answering-machine detection; `MachineVerdict` follows."""

    attempt_id: int
    channel_id: str


@dataclass(frozen=True)
class Bridge:
    """Add the answered customer's channel to the agent's bridge; `CustomerBridged` or
    `BridgeFailed` follows."""

    attempt_id: int
    agent_id: int
    channel_id: str
    bridge_id: str


@dataclass(frozen=True)
class PlayMessage:
    attempt_id: int
    channel_id: str
    media: str


@dataclass(frozen=True)
class Hangup:
    channel_id: str
    reason: str


@dataclass(frozen=True)
class DropBridge:
    bridge_id: str


@dataclass(frozen=True)
class Notify:
    """A message to one agent on the link (the protocol's `kind` and fields)."""

    agent_id: int
    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    re: str | None = None


@dataclass(frozen=True)
class Claim:
    """Claim the next contact of a campaign; `Claimed` with the same ticket follows.
    `purpose`: "dial" (the attempt is stored too), "offer" (push preview) or "preview"."""

    ticket: int
    campaign_id: int
    agent_id: int | None
    purpose: str


@dataclass(frozen=True)
class CreateAttempt:
    """Check a previewed contact again (DNC, hours) and store its attempt; `AttemptCreated`."""

    agent_id: int
    claim: ClaimView
    re: str | None = None


@dataclass(frozen=True)
class ReadCampaigns:
    """Read the campaigns again (and the 30-day holds; a warm pacer for each predictive campaign
    not in `running`); `CampaignsRead` follows."""

    running: frozenset[int] = frozenset()


# -- writes (what `Store` carries) ----------------------------------------------------------------


@dataclass(frozen=True)
class AttemptEvent:
    attempt_id: int
    phase: AttemptPhase
    at: datetime
    detail: Mapping[str, Any] | None = None
    agent_id: int | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class FinishAttempt:
    attempt_id: int
    result: CallResult
    at: datetime
    facts: CallFacts
    await_disposition: bool
    note: str | None = None


@dataclass(frozen=True)
class CancelAttempt:
    """An attempt stored but never dialed (its agent left meanwhile): undone, not counted."""

    attempt_id: int
    at: datetime


@dataclass(frozen=True)
class ReleaseContact:
    contact_id: int
    at: datetime
    delay_s: float | None = None


@dataclass(frozen=True)
class SaveDisposition:
    """Saved, then `disposition_saved` goes to the agent with the callback's id."""

    agent_id: int
    attempt_id: int
    code: str
    at: datetime
    note: str | None
    callback_at: datetime | None
    personal: bool
    re: str | None = None


@dataclass(frozen=True)
class SettleWithoutDisposition:
    attempt_id: int
    at: datetime
    note: str


@dataclass(frozen=True)
class AgentTransition:
    agent_id: int
    audit: st.AuditRecord


@dataclass(frozen=True)
class UpdateRecord:
    contact_id: int
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class HandOverCallbacks:
    campaign_id: int
    at: datetime
    logged_in: tuple[int, ...]


Write = (AttemptEvent | FinishAttempt | CancelAttempt | ReleaseContact | SaveDisposition
         | SettleWithoutDisposition | AgentTransition | UpdateRecord | HandOverCallbacks)


@dataclass(frozen=True)
class Store:
    write: Write


Event = (PbxConnected | PbxLost | LegAnswered | LegGone | Originated | OriginateFailed
         | CustomerRinging | CustomerAnswered | MachineVerdict | FaxDetected | CustomerBridged
         | BridgeFailed
         | MessageStarted | MessageFailed | MessageFinished | CustomerGone | AgentLogin
         | AgentAsks | LinkLost | DispositionGiven | CampaignsRead | Claimed | AttemptCreated)

Command = (CallAgent | JoinBridge | Originate | DetectMachine | Bridge | PlayMessage | Hangup
           | DropBridge | Notify | Claim | CreateAttempt | ReadCampaigns | Store)
