"""A customer call's phases, as one table, and the call's record in the floor.

How it works
------------
Every customer call the floor dials is a `CustomerCall` whose `phase` moves along `TRANSITIONS`,
the single table of `{phase: {event type: next phase}}`, beside the agent table of
`dialer.core.agent_state`. An event the table does not list for the call's phase raises
`CallPhaseError` and changes nothing (the service logs it with the event and goes on). Some
moves are the floor's own decisions, not events (an answered call goes to an agent's bridge, or
waits, or gets the message): the floor makes them through `CustomerCall.move`, which checks the
same table of decisions (`DECISIONS`).

    dialing -Originated/CustomerRinging-> ringing -CustomerAnswered-> answered
    answered => detecting (AMD)  -MachineVerdict-> answered
    answered, waiting, connected... -FaxDetected-> ending (a fax: hung up, no agent's work)
    answered => bridging (an agent is free) -CustomerBridged-> connected
    answered => waiting (no agent yet) => bridging (one became free) | message (too late)
    bridging -BridgeFailed-> answered (another agent, or waiting, or the message)
    message -MessageFinished/MessageFailed-> ending (hung up by the dialer)
    any -CustomerGone-> ended (the result is classified and stored)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from dialer.core.floor import messages as m


class CallPhase(enum.Enum):
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    DETECTING = "detecting"
    WAITING = "waiting"
    BRIDGING = "bridging"
    CONNECTED = "connected"
    MESSAGE = "message"
    ENDING = "ending"
    ENDED = "ended"


class CallPhaseError(Exception):
    """An event that is not legal in the call's phase (the call is left unchanged)."""

    def __init__(self, phase: CallPhase, event: object) -> None:
        self.phase = phase
        self.event = event
        super().__init__(f"{type(event).__name__} for a call in phase {phase.value}")


P = CallPhase

TRANSITIONS: Final[dict[CallPhase, dict[type, CallPhase]]] = {
    P.DIALING: {m.Originated: P.DIALING, m.OriginateFailed: P.DIALING,
                m.CustomerRinging: P.RINGING, m.CustomerAnswered: P.ANSWERED,
                m.CustomerGone: P.ENDED},
    P.RINGING: {m.Originated: P.RINGING, m.CustomerRinging: P.RINGING,
                m.CustomerAnswered: P.ANSWERED, m.CustomerGone: P.ENDED},
    P.ANSWERED: {m.FaxDetected: P.ENDING, m.CustomerGone: P.ENDED},
    P.DETECTING: {m.MachineVerdict: P.ANSWERED, m.FaxDetected: P.ENDING,
                  m.CustomerGone: P.ENDED},
    P.WAITING: {m.FaxDetected: P.ENDING, m.CustomerGone: P.ENDED},
    P.BRIDGING: {m.CustomerBridged: P.CONNECTED, m.BridgeFailed: P.ANSWERED,
                 m.FaxDetected: P.BRIDGING, m.CustomerGone: P.ENDED},
    P.CONNECTED: {m.FaxDetected: P.ENDING, m.CustomerGone: P.ENDED},
    P.MESSAGE: {m.MessageStarted: P.MESSAGE, m.MessageFailed: P.ENDING,
                m.MessageFinished: P.ENDING, m.FaxDetected: P.ENDING, m.CustomerGone: P.ENDED},
    P.ENDING: {m.MessageStarted: P.ENDING, m.MessageFailed: P.ENDING,
               m.MessageFinished: P.ENDING, m.CustomerBridged: P.ENDING,
               m.BridgeFailed: P.ENDING, m.MachineVerdict: P.ENDING,
               m.FaxDetected: P.ENDING, m.CustomerGone: P.ENDED},
    P.ENDED: {},
}

# the events that are about one customer call (they carry its attempt_id)
CALL_EVENTS: Final = frozenset(kind for row in TRANSITIONS.values() for kind in row)

# The floor's own moves (decisions, not events), from -> allowed targets.
DECISIONS: Final[dict[CallPhase, frozenset[CallPhase]]] = {
    P.DIALING: frozenset({P.ENDING}),
    P.RINGING: frozenset({P.ENDING}),
    P.ANSWERED: frozenset({P.DETECTING, P.BRIDGING, P.WAITING, P.MESSAGE, P.ENDING}),
    P.DETECTING: frozenset({P.ENDING}),
    P.WAITING: frozenset({P.BRIDGING, P.MESSAGE, P.ENDING}),
    P.BRIDGING: frozenset({P.ENDING}),
    P.CONNECTED: frozenset({P.ENDING}),
    P.MESSAGE: frozenset({P.ENDING}),
    P.ENDING: frozenset(),
    P.ENDED: frozenset(),
}



@dataclass
class CustomerCall:
    """One customer call from its stored attempt to its result. `agent_id` is the one place that
    says which agent the call is for (reserved, bridging or connected)."""

    attempt_id: int
    campaign_id: int
    number: str
    contact_id: int
    contact: Mapping[str, Any]          # the record as the agent sees it
    dialed_at: datetime
    ring_timeout: int
    amd: bool = False
    agent_id: int | None = None
    phase: CallPhase = CallPhase.DIALING
    trunk: str | None = None
    tried: list[str] = field(default_factory=list)
    originated: bool = False            # Asterisk accepted the originate (resync may judge it)
    ringing_at: datetime | None = None
    picked_up_at: datetime | None = None    # the far end answered
    answered_at: datetime | None = None     # a person is there (after AMD, if it ran)
    connected_at: datetime | None = None
    deadline: datetime | None = None        # waiting: when the message must be decided
    amd_status: str | None = None
    fax: bool = False                       # a fax answered: hung up, never an agent's call
    message_started_at: datetime | None = None
    message_stored: bool = False            # its safe_harbor event is stored (it played)
    hung_up_by: str | None = None           # "dialer", "agent" or "customer"
    orphaned: bool = False                  # its agent's session was lost: no disposition

    @property
    def channel_id(self) -> str:
        return f"cust-{self.attempt_id}"

    def check(self, event: object) -> CallPhase:
        """The phase `event` leads to; raises CallPhaseError if it is not legal now."""
        nxt = TRANSITIONS[self.phase].get(type(event))
        if nxt is None:
            raise CallPhaseError(self.phase, event)
        return nxt

    def move(self, new: CallPhase) -> None:
        """One of the floor's own decisions; an illegal one is a bug (AssertionError)."""
        if new is not self.phase and new not in DECISIONS[self.phase]:
            raise AssertionError(f"attempt {self.attempt_id}: no move {self.phase.value} -> "
                                 f"{new.value}")
        self.phase = new
