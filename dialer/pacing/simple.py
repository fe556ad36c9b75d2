"""Progressive (one call per READY agent) and fixed-ratio pacing.

Progressive never abandons by construction: calls in flight never outnumber READY
agents, so every live answer finds a reserved agent.

Fixed ratio comes in the two forms dialers ship:

* ``basis="ready"`` (power dialing): keep ``round(ratio x READY)`` calls in flight;
  nothing is dialed while every agent is busy;
* ``basis="active"`` (VICIdial's RATIO dial method, ``AST_VDauto_dial.pl``: goal
  calls = ``auto_dial_level x (READY + INCALL agents)``, minus every call already up,
  those with agents included): dials ahead for talking agents too.
"""

from __future__ import annotations

from dialer.pacing.base import Pacer, counts
from dialer.pacing.events import Decision, PacingMode, Snapshot


class ProgressivePacer(Pacer):
    """Launch one call per READY agent not already covered by a call in flight."""

    name = "progressive"

    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        ready, _, _, ringing, queued = counts(snapshot)
        in_flight = ringing + queued
        return self._record(
            ready - in_flight, PacingMode.PROGRESSIVE, "one call per ready agent", now,
            {"ready": ready, "in_flight": in_flight},
        )


class FixedRatioPacer(Pacer):
    """A fixed number of calls per agent (no estimate, no feedback)."""

    name = "ratio"

    def __init__(self, ratio: float = 2.0, basis: str = "ready") -> None:
        super().__init__()
        if ratio <= 0:
            raise ValueError("ratio must be positive")
        if basis not in ("ready", "active"):
            raise ValueError("basis must be 'ready' or 'active'")
        self.ratio = ratio
        self.basis = basis

    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        ready, talking, _, ringing, queued = counts(snapshot)
        in_flight = ringing + queued
        if self.basis == "ready":
            launch = int(self.ratio * ready + 0.5) - in_flight
            reason = f"{self.ratio:g} calls per ready agent"
        else:
            launch = int(self.ratio * (ready + talking) + 0.5) - in_flight - talking
            reason = f"dial level {self.ratio:g} x (ready + talking agents)"
        return self._record(
            launch, PacingMode.RATIO, reason, now,
            {"ready": ready, "talking": talking, "in_flight": in_flight, "ratio": self.ratio},
        )
