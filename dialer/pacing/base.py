"""The ``Pacer`` interface and the registry of pacing algorithms by name.

Owns the contract every algorithm follows (``observe`` facts, ``decide`` per tick) and
``create_pacer(name, **params)``, in the style of aioquic's congestion-control
registry: algorithms register a factory under a name; callers never import classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dialer.pacing.events import (
    AgentState,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallState,
    Decision,
    PacingEvent,
    PacingMode,
    Snapshot,
)


class Pacer(ABC):
    """Decides how many outbound calls to launch.

    Time is always an argument (seconds on a monotonic clock, any origin); a pacer
    never reads a clock, never blocks and never does I/O.  ``observe`` must be fed
    every fact in the order it happened; ``decide`` may be called at any cadence
    (once a second is what the simulator and the live dialer use).  The last answer
    stays in ``last_decision``.
    """

    name: str = "abstract"

    def __init__(self) -> None:
        self.last_decision: Decision | None = None
        self.lives = 0  # live answers seen since creation
        self.abandons = 0  # of which abandoned (no agent within the connect limit)

    def observe(self, event: PacingEvent, now: float) -> None:
        """Record a fact.  The base class keeps the campaign's live/abandon counts."""
        if isinstance(event, CallAnswered):
            if event.kind is AnswerKind.LIVE:
                self.lives += 1
        elif isinstance(event, CallAbandoned):
            self.abandons += 1

    def replay(self, events: Iterable[tuple[float, PacingEvent]]) -> int:
        """Feed past facts ``(time, event)``, oldest first, before the first decision.

        A fresh pacer so starts from a campaign's recent history (see
        :mod:`dialer.pacing.history`) instead of its priors.  Returns how many were fed.
        """
        n = 0
        for t, event in events:
            self.observe(event, t)
            n += 1
        return n

    @abstractmethod
    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        """Return how many calls to launch now (never negative), with the reason."""

    @property
    def abandon_rate(self) -> float:
        """Abandoned / live-answered since creation (0 before the first live answer)."""
        return self.abandons / self.lives if self.lives else 0.0

    def _record(
        self, launch: int, mode: PacingMode, reason: str, now: float,
        inputs: Mapping[str, float],
    ) -> Decision:
        d = Decision(launch=max(0, launch), mode=mode, reason=reason, now=now,
                     pacer=self.name, inputs=inputs)
        self.last_decision = d
        return d


def counts(snapshot: Snapshot) -> tuple[int, int, int, int, int]:
    """(READY, TALKING, WRAP_UP agents, RINGING, QUEUED calls) in ``snapshot``."""
    states = [a[1] for a in snapshot.agents]
    queued = [c[1] for c in snapshot.calls].count(CallState.QUEUED)
    return (
        states.count(AgentState.READY),
        states.count(AgentState.TALKING),
        states.count(AgentState.WRAP_UP),
        len(snapshot.calls) - queued,
        queued,
    )


PacerFactory = Callable[..., Pacer]
_REGISTRY: dict[str, PacerFactory] = {}


def register_pacer(name: str, factory: PacerFactory) -> None:
    """Make ``factory`` available to :func:`create_pacer` under ``name``."""
    _REGISTRY[name] = factory


def available_pacers() -> list[str]:
    """Names accepted by :func:`create_pacer`, sorted."""
    return sorted(_REGISTRY)


def create_pacer(name: str, **params: Any) -> Pacer:
    """Build a pacer by name; unknown names raise ``ValueError`` listing known ones."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(available_pacers())
        raise ValueError(f"unknown pacing algorithm {name!r}; known: {known}") from None
    return factory(**params)
