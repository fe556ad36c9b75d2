"""Oracle baseline: the predictive pacer told exactly when each busy agent is free.

A ceiling, not a competitor.  Before each decision the simulator hands it the drawn
end of every busy agent's talk + wrap-up (:meth:`OraclePacer.see_future`), so agent
supply over any horizon is known with certainty; calls are still modelled with the
estimated answer rate and ring-time distributions, under the same abandon budget.
The gap between ``predictive`` and ``oracle`` is what not knowing when agents free up
costs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from dialer.pacing.events import AgentState, AgentView
from dialer.pacing.predictive import PredictivePacer


class OraclePacer(PredictivePacer):
    """:class:`PredictivePacer` whose agent supply comes from the simulator's future."""

    name = "oracle"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._free_at: Mapping[int, float] = {}

    def see_future(self, free_at: Mapping[int, float]) -> None:
        """Exact time each busy agent will be READY (simulator only)."""
        self._free_at = free_at

    def _supply_override(
        self, ready: int, agents: Sequence[AgentView], now: float
    ) -> tuple[list[float], list[float], list[float]] | None:
        fa = self._free_at
        frees = sorted(fa[a.agent_id] for a in agents
                       if a.state is not AgentState.READY and a.agent_id in fa)
        sup = [float(ready + bisect_right(frees, now + t + self.connect_limit))
               for t in self._taus]
        zeros = [0.0] * len(sup)
        return sup, zeros, list(zeros)
