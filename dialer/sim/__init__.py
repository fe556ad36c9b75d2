"""Discrete-event campaign simulator, oracle baseline and benchmark (pure, no I/O).

``simulate(scenario, pacer, seed)`` runs the shifts of a :class:`Scenario` against any
pacer of :mod:`dialer.pacing` and returns per-day statistics; ``summarize(runs)``
pools them.  ``python -m dialer.sim.bench`` is the benchmark.
"""

from dialer.sim.engine import simulate
from dialer.sim.metrics import DayStats, RunResult, Summary, Timeline, summarize
from dialer.sim.oracle import OraclePacer
from dialer.sim.scenario import B0, Outcome, Scenario

__all__ = [
    "B0",
    "DayStats",
    "OraclePacer",
    "Outcome",
    "RunResult",
    "Scenario",
    "Summary",
    "Timeline",
    "simulate",
    "summarize",
]
