"""Vocabulary shared by every pacer: states, observed facts, snapshots and decisions.

Owns only plain data.  Events are frozen dataclasses named as past facts; the live
dialer and the simulator emit them, pacers consume them through ``Pacer.observe``.
A :class:`Snapshot` is what the caller sees *now* (agents and calls in flight); a
:class:`Decision` is what a pacer answers, with the inputs that led to it so a
supervisor can see why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple


class AgentState(Enum):
    """What an agent is doing, as far as pacing is concerned."""

    READY = "ready"  # logged in, idle, can take a call now
    TALKING = "talking"  # bridged to a customer
    WRAP_UP = "wrap_up"  # after-call work; free again when it ends
    PAUSED = "paused"  # logged in but not taking calls


class CallState(Enum):
    """State of an outbound call that has not reached an agent yet."""

    RINGING = "ringing"  # launched, outcome unknown (includes machine detection)
    QUEUED = "queued"  # live answer waiting (at most the connect limit) for an agent


class AnswerKind(Enum):
    LIVE = "live"
    MACHINE = "machine"


class FailReason(Enum):
    BUSY = "busy"  # busy, congestion, invalid number ...
    NO_ANSWER = "no_answer"  # ring timeout


class PacingMode(Enum):
    WARM_UP = "warm_up"
    PROGRESSIVE = "progressive"
    RATIO = "ratio"
    PREDICTIVE = "predictive"
    IDLE = "idle"  # nobody logged in


@dataclass(frozen=True, slots=True)
class CallLaunched:
    call_id: int


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The far end answered; ``ring_seconds`` is the time from launch to answer."""

    call_id: int
    kind: AnswerKind
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The call ended without an answer (busy, failure, ring timeout)."""

    call_id: int
    reason: FailReason
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class CallConnected:
    """A live answer was bridged to an agent after ``hold_seconds`` of waiting."""

    call_id: int
    agent_id: int
    hold_seconds: float


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """A live answer found no agent within the connect limit (recorded message played)."""

    call_id: int
    hold_seconds: float


@dataclass(frozen=True, slots=True)
class TalkEnded:
    agent_id: int
    talk_seconds: float


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """The agent finished after-call work and is READY again."""

    agent_id: int
    wrap_seconds: float


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    agent_id: int


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    agent_id: int


PacingEvent = (
    CallLaunched
    | CallAnswered
    | CallFailed
    | CallConnected
    | CallAbandoned
    | TalkEnded
    | WrapUpEnded
    | AgentLoggedIn
    | AgentLoggedOut
)


class AgentView(NamedTuple):
    """One logged-in agent: its state and when it entered that state (seconds)."""

    agent_id: int
    state: AgentState
    since: float


class CallView(NamedTuple):
    """One call in flight: ``launched_at`` and, if QUEUED, ``since`` = answer time."""

    call_id: int
    state: CallState
    since: float
    launched_at: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the caller sees at decision time: every logged-in agent, every call in flight.

    ``agents`` lists agents in any :class:`AgentState` (PAUSED ones are ignored by
    the pacers); ``calls`` lists launched calls that have not reached an agent yet
    (RINGING, or QUEUED = answered live and waiting at most the connect limit).
    """

    agents: Sequence[AgentView]
    calls: Sequence[CallView]

    def count(self, state: AgentState) -> int:
        return sum(1 for a in self.agents if a.state is state)

    @property
    def logged_in(self) -> int:
        return len(self.agents)


@dataclass(frozen=True, slots=True)
class Decision:
    """A pacer's answer for one tick: how many calls to launch now, and why.

    ``inputs`` holds the numbers the pacer used (counts it saw, its estimates, its
    threshold), so a supervisor can replay the reasoning from the log line alone.
    """

    launch: int
    mode: PacingMode
    reason: str
    now: float
    pacer: str = ""
    inputs: Mapping[str, float] = field(default_factory=dict)

    def as_log(self) -> str:
        """One human-readable line for a supervisor log."""
        parts = " ".join(f"{k}={v:.4g}" for k, v in self.inputs.items())
        head = f"t={self.now:.1f} pacer={self.pacer} launch={self.launch} "
        return f"{head}mode={self.mode.value} reason={self.reason!r} {parts}".rstrip()
