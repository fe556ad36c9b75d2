"""Baseline: OMniDialer's one-line predictive formula.

Source: OMniDialer (Freetech Solutions, the dialer of OMniLeads), GitHub
``Freetech-Solutions/omnidialer``: ``docs/dialer_modes.md`` section 3 and
``workers/handle-campaign/src/handler/predictive_pacer.py`` (``compute_gamma``,
``compute_c_dial``, ``decide_predictive_pace``).  Reproduced:

* ``C = max(0, floor((A_free + A_expected - C_ringing * P_hit) / P_hit * gamma))``
  with ``P_hit`` floored at 0.05; ``A_free`` = READY agents, ``C_ringing`` = calls
  ringing (calls waiting for an agent are not subtracted);
* ``A_expected = sum(1 - exp(-t_ring / max(1, mu - elapsed)))`` over busy agents,
  ``mu`` = AHT (mean talk + mean wrap-up) while talking, mean wrap-up while in
  wrap-up; ``t_ring`` = mean ring time of live answers (15 s before any sample; no
  AMD latency here because the simulator hands live answers over at once);
* ``P_hit``: EWMA (alpha 0.1) of live answer = 1 / any other outcome = 0;
* ``D``: symmetric EWMA (alpha 0.1): 0 per live answer, 1 per abandon;
  ``gamma = aggressiveness`` (clamped to [0.1, 5]) while ``D <= D_max / 2``, then
  linear down to ``gamma_floor`` (0.2) at ``D_max``; at or over ``D_max`` a soft
  floor ``gamma_floor``; after 5 consecutive ticks at or over ``D_max`` a latched
  throttle (progressive, R = 1) until ``D < 0.8 D_max``;
* warm-up: progressive R = 1 (``A_free - ringing - waiting``) until 50 talks ended.

Knobs an operator sets, which the benchmark tunes like VICIdial's drop limit:
``aggressiveness`` is the campaign's ``initial_boost_factor`` and ``d_max`` the
deployment's ``DIALER_MAX_ABANDON_RATE`` (default 0.03); setting ``d_max`` below the
legal cap is how an OMniDialer operator would keep a margin (``dialer_modes.md`` 4.1,
4.2).  Not reproduced: the channel cap (``max_channels``), the ``DIALER_CAPS``
originations-per-second limit and multi-queue agent weights (deployment capacity,
not pacing; the simulator has one queue and no channel limit).
"""

from __future__ import annotations

import math

from dialer.pacing.base import Pacer
from dialer.pacing.events import (
    AgentState,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallFailed,
    CallState,
    Decision,
    PacingEvent,
    PacingMode,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
)


def compute_gamma(d: float, d_max: float, aggressiveness: float, floor: float) -> float:
    """OMniDialer's gamma: full aggressiveness up to half the cap, linear to ``floor``."""
    if d_max <= 0:
        return 0.0
    agg = max(0.1, min(aggressiveness, 5.0))
    floor = max(0.0, min(floor, agg))
    d = max(0.0, d)
    if d >= d_max:
        return 0.0
    half = 0.5 * d_max
    if d <= half:
        return agg
    t = (d - half) / (d_max - half)
    return agg + t * (floor - agg)


def compute_c_dial(
    a_free: float, a_expected: float, c_ringing: float, p_hit: float, gamma: float,
    p_hit_floor: float = 0.05,
) -> int:
    """``max(0, floor((A_free + A_expected - C_ringing * P_hit) / P_hit * gamma))``."""
    p = max(p_hit, p_hit_floor)
    if p <= 0 or gamma <= 0:
        return 0
    raw = (max(0.0, a_free) + max(0.0, a_expected) - max(0.0, c_ringing) * p) / p * gamma
    return max(0, math.floor(raw))


def p_release(t_ring: float, mu: float, elapsed: float, eps: float = 1.0) -> float:
    """P(a busy agent frees within ``t_ring``): ``1 - exp(-t_ring / max(eps, mu - elapsed))``."""
    return 1.0 - math.exp(-t_ring / max(eps, mu - elapsed))


class OmniDialerPacer(Pacer):
    """OMniDialer predictive pacing (C_dial formula with gamma back-off)."""

    name = "omnidialer"

    def __init__(
        self,
        d_max: float = 0.03,
        aggressiveness: float = 1.0,
        gamma_floor: float = 0.2,
        alpha: float = 0.1,
        p_hit_floor: float = 0.05,
        warmup: int = 50,
        default_art: float = 15.0,
        eps: float = 1.0,
        streak_k: int = 5,
        exit_ratio: float = 0.8,
    ) -> None:
        super().__init__()
        self.d_max = d_max
        self.aggressiveness = aggressiveness
        self.gamma_floor = gamma_floor
        self.alpha = alpha
        self.p_hit_floor = p_hit_floor
        self.warmup = warmup
        self.default_art = default_art
        self.eps = eps
        self.streak_k = streak_k
        self.exit_ratio = exit_ratio
        self.p_hit: float | None = None
        self.drop: float | None = None
        self.art_sum, self.art_n = 0.0, 0
        self.att_sum, self.att_n = 0.0, 0
        self.acw_sum, self.acw_n = 0.0, 0
        self.streak = 0
        self.latched = False

    def _ewma(self, old: float | None, x: float) -> float:
        return x if old is None else old + self.alpha * (x - old)

    def observe(self, event: PacingEvent, now: float) -> None:
        super().observe(event, now)
        if isinstance(event, CallAnswered):
            hit = event.kind is AnswerKind.LIVE
            self.p_hit = self._ewma(self.p_hit, 1.0 if hit else 0.0)
            if hit:
                self.drop = self._ewma(self.drop, 0.0)
                self.art_sum += event.ring_seconds
                self.art_n += 1
        elif isinstance(event, CallFailed):
            self.p_hit = self._ewma(self.p_hit, 0.0)
        elif isinstance(event, CallAbandoned):
            self.drop = self._ewma(self.drop, 1.0)
        elif isinstance(event, TalkEnded):
            self.att_sum += event.talk_seconds
            self.att_n += 1
        elif isinstance(event, WrapUpEnded):
            self.acw_sum += event.wrap_seconds
            self.acw_n += 1

    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        ready = 0
        talking: list[float] = []
        wrapping: list[float] = []
        for a in snapshot.agents:
            if a.state is AgentState.READY:
                ready += 1
            elif a.state is AgentState.TALKING:
                talking.append(now - a.since)
            elif a.state is AgentState.WRAP_UP:
                wrapping.append(now - a.since)
        ringing = sum(1 for c in snapshot.calls if c.state is CallState.RINGING)
        waiting = len(snapshot.calls) - ringing
        d = 0.0 if self.drop is None else self.drop
        self.streak = self.streak + 1 if d >= self.d_max else 0
        if self.streak >= self.streak_k:
            self.latched = True
        elif self.latched and d < self.exit_ratio * self.d_max:
            self.latched = False
        inputs: dict[str, float] = {"ready": ready, "ringing": ringing, "waiting": waiting,
                                    "drop_ewma": d}
        if self.att_n < self.warmup or self.p_hit is None or self.latched:
            if self.att_n < self.warmup:
                reason, mode = "warmup: progressive R=1", PacingMode.WARM_UP
            elif self.latched:
                reason, mode = "throttled: progressive R=1", PacingMode.PROGRESSIVE
            else:
                reason, mode = "p_hit unavailable: progressive R=1", PacingMode.PROGRESSIVE
            return self._record(ready - ringing - waiting, mode, reason, now, inputs)
        gamma = compute_gamma(d, self.d_max, self.aggressiveness, self.gamma_floor)
        reason = "C_dial formula"
        if gamma <= 0:
            gamma = max(0.0, min(self.gamma_floor, max(0.1, min(self.aggressiveness, 5.0))))
            reason = "C_dial formula, drop over D_max: soft floor gamma"
        att = self.att_sum / self.att_n
        acw = self.acw_sum / self.acw_n if self.acw_n else 0.0
        t_ring = self.art_sum / self.art_n if self.art_n else self.default_art
        a_exp = sum(p_release(t_ring, att + acw, e, self.eps) for e in talking)
        a_exp += sum(p_release(t_ring, acw, e, self.eps) for e in wrapping)
        launch = compute_c_dial(ready, a_exp, ringing, self.p_hit, gamma, self.p_hit_floor)
        inputs.update({"p_hit": self.p_hit, "gamma": gamma, "a_expected": a_exp,
                       "t_ring": t_ring})
        return self._record(launch, PacingMode.PREDICTIVE, reason, now, inputs)
