"""Predictive pacing: launch while the next call's risk of being abandoned is low.

How it works, once per tick:

1. **Who will be free, who will need an agent.**  For a new call that would answer
   live ``tau`` seconds from now (``tau`` taken at ``n_tau`` quantiles of the observed
   live ring times) the pacer estimates

   * supply ``S``: READY agents plus, for every busy agent, the probability it is
     READY within ``tau + connect_limit`` given how long it has been talking or in
     wrap-up (empirical talk and wrap-up distributions conditioned on the elapsed
     time: a call at 300 s of a CV-1 talk distribution is not "almost done");
   * demand ``D``: live calls already waiting, plus for every ringing call the
     probability it answers live before ``tau`` given how long it has rung (live
     rate and ring-time distribution conditioned on "still ringing"), plus the
     earlier calls of the same batch.

   ``S - D`` is a difference of sums of independent Bernoullis; its mean, variance
   and third cumulant give P(no agent for this call) by a normal approximation with
   continuity and skewness (Edgeworth) corrections.  Small teams need the skewness
   term: with ten agents, "agents free in ten seconds" is 0, 1 or 2.
2. **Marginal risk.**  The risk averaged over ``tau`` is the next call's chance of
   being abandoned if it answers live; calls are added while it stays at or below
   ``theta``.  (``suffix_max=True`` also charges the call for later answers it may
   deprive of an agent; measured on B0 it did not help, so it is off.)
3. **The abandon budget sets theta.**  ``theta`` is the price of an abandon against
   talk time (a Lagrange multiplier).  It follows a budget ``b`` (``+target`` per live
   answer, ``-1`` per abandon; ``theta = theta0 * exp(gain * b)``): under target the
   campaign spends its slack, over target it turns cautious until the budget is
   repaid, so the long-run rate settles at ``target`` (2.5 % for a 3 % cap).  A fast
   term (abandons in excess of target, decaying over ``fast_tau``) cuts theta at once
   after a burst or when conditions change (e.g. the live rate).
4. **Warm-up and shifts.**  Until ``warmup_lives`` live answers and ``warmup_handles``
   talks and wrap-ups were seen, the pacer is progressive (zero abandon).  The live
   rate comes from :class:`~dialer.pacing.estimators.RateEstimator` fed in *launch*
   order, which switches to a short window when the answer rate shifts; a *fall* of
   the estimate is read over at least ``rate_fall_window`` (200) calls, because at a
   12 % live rate a 50-call window with no live answer happens by chance a few times
   an hour, and a rate estimate near 0 makes the pacer fill its line limit at once.
   A trailing-hour guard (``hour_cap``) cuts theta before the last hour's abandon
   rate nears 5 %.

Everything is driven by ``observe(event, now)`` and ``decide(snapshot, now)``; no
clock, no I/O.  The decision record lists the inputs above.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from dialer.pacing.base import Pacer
from dialer.pacing.estimators import (
    FloatArray,
    RateEstimator,
    Samples,
    agent_free_table,
    call_live_table,
    ecdf,
)
from dialer.pacing.events import (
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallFailed,
    CallLaunched,
    CallState,
    Decision,
    PacingEvent,
    PacingMode,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
)

_READY = AgentState.READY
_TALKING = AgentState.TALKING
_WRAP = AgentState.WRAP_UP
_QUEUED = CallState.QUEUED
_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def p_short(mean: float, var: float, k3: float) -> float:
    """P(X <= 0) for an integer X with these cumulants (continuity + Edgeworth)."""
    sd = math.sqrt(var)
    z = (0.5 - mean) / sd
    p = 0.5 * math.erfc(-z / _SQRT2)
    if k3 and -6.0 < z < 6.0:
        g = k3 / (var * sd)  # skewness, clamped where the expansion stays sensible
        g = 0.5 if g > 0.5 else (-0.5 if g < -0.5 else g)
        p += g / 6.0 * (1.0 - z * z) * _INV_SQRT2PI * math.exp(-0.5 * z * z)
        p = 0.0 if p < 0.0 else (1.0 if p > 1.0 else p)
    return p


class PredictivePacer(Pacer):
    """Marginal-risk predictive pacer with a cumulative abandon budget.

    Parameters (all optional): ``cap`` the legal abandon cap (3 %) and ``target`` the
    internal target (default 5/6 of the cap, 2.5 %); ``connect_limit`` seconds a live
    answer may wait for an agent; ``warmup_lives`` / ``warmup_handles`` samples before
    leaving progressive mode; ``theta0``, ``gain``, ``theta_min``, ``theta_max`` the
    budget controller (start, change per abandon in log units, bounds);
    ``fast_gain`` / ``fast_tau`` the short-term excess-abandon term;
    ``n_tau`` ring-time quantiles; ``rebuild_every`` seconds between table rebuilds;
    ``max_lines_per_agent`` hard cap on calls in flight; ``skew``, ``suffix_max``,
    ``rate_windows``, ``rate_z``, ``rate_fall_window`` model switches (see the module
    docstring; ``rate_fall_window=0`` restores the unguarded rate estimate);
    ``hour_cap``, ``hour_sd``, ``hour_s`` the trailing-hour guard (see
    :meth:`hour_factor`; ``"auto"``, the default, is 1.8 x the target: 4.5 % at the
    3 % legal cap, a tenth under the 5 % hourly limit, because calls already ringing
    when the guard cuts can still be abandoned; ``None`` turns it off).
    """

    name = "predictive"

    def __init__(
        self,
        cap: float = 0.03,
        target: float | None = None,
        connect_limit: float = 2.0,
        warmup_lives: int = 30,
        warmup_handles: int = 30,
        theta0: float = 0.03,
        gain: float = 0.03,
        theta_min: float = 0.002,
        theta_max: float = 0.3,
        fast_gain: float = 0.3,
        fast_tau: float = 1800.0,
        n_tau: int = 5,
        rebuild_every: float = 600.0,
        max_lines_per_agent: float = 8.0,
        skew: bool = True,
        suffix_max: bool = False,
        rate_windows: tuple[int, ...] = (50, 100, 200, 400, 800, 1600, 3200),
        rate_z: float = 2.5,
        rate_fall_window: int = 200,
        hour_cap: float | Literal["auto"] | None = "auto",
        hour_sd: float = 2.0,
        hour_s: float = 3600.0,
    ) -> None:
        super().__init__()
        self.cap = cap
        self.target = cap * 2.5 / 3.0 if target is None else target
        if not 0.0 < self.target <= cap:
            raise ValueError("target must be in (0, cap]")
        if not 0.0 < theta_min <= theta0 <= theta_max <= 1.0:
            raise ValueError("need 0 < theta_min <= theta0 <= theta_max <= 1")
        self.connect_limit = connect_limit
        self.warmup_lives = warmup_lives
        self.warmup_handles = warmup_handles
        self.theta0 = theta0
        self.gain = gain
        self.theta_min, self.theta_max = theta_min, theta_max
        self.fast_gain = fast_gain
        self.fast_tau = fast_tau
        self.n_tau = n_tau
        self.rebuild_every = rebuild_every
        self.max_lines_per_agent = max_lines_per_agent
        self.skew = skew
        self.suffix_max = suffix_max

        if hour_cap == "auto":
            hour_cap = 0.9 * 2.0 * self.target
        if hour_cap is not None and not 0.0 < self.target < hour_cap:
            raise ValueError("hour_cap must be above the target")
        self.hour_cap = hour_cap
        self.hour_sd = hour_sd
        self.hour_s = hour_s
        self._hour_lives: deque[float] = deque()  # times of live answers, last hour_s
        self._hour_abandons: deque[float] = deque()
        self._hour_since = 0.0  # start of the current run of activity

        self.budget = 0.0
        self._theta_binding = False  # did the last decision stop at theta?
        self._fast = 0.0  # excess abandons, decaying with fast_tau
        self._fast_t = 0.0
        self.rate = RateEstimator(windows=rate_windows, z=rate_z, fall_window=rate_fall_window)
        self.settle_s = 300.0
        self._launched: deque[tuple[int, float]] = deque()  # launch order, for the rate
        self._outcome: dict[int, bool | None] = {}
        self.live_ring = Samples(1000)
        self.other_end = Samples(2000)
        self.talk = Samples(2000)
        self.wrap = Samples(2000)
        self.warm = True
        self._e_talk, self._e_wrap, self._e_call = 1200, 300, 60
        self._built_at = -math.inf
        self._built_n = 0
        self._p_built = -1.0
        self._taus: list[float] = []
        self._pf: list[float] = []
        self._agent_q: FloatArray = np.zeros((0, 0))
        self._table: FloatArray = np.zeros((0, 0))

    # ------------------------------------------------------------------ facts
    def observe(self, event: PacingEvent, now: float) -> None:
        super().observe(event, now)
        if isinstance(event, CallLaunched):
            self._outcome[event.call_id] = None
            self._launched.append((event.call_id, now))
        elif isinstance(event, CallAnswered):
            live = event.kind is AnswerKind.LIVE
            self._settle(event.call_id, live, now)
            if live:
                self.live_ring.add(event.ring_seconds)
                self._account(-self.target, now)
                if self.hour_cap is not None:
                    self._hour_expire(now)
                    if not self._hour_lives:
                        self._hour_since = now
                    self._hour_lives.append(now)
            else:
                self.other_end.add(event.ring_seconds)
        elif isinstance(event, CallFailed):
            self._settle(event.call_id, False, now)
            self.other_end.add(event.ring_seconds)
        elif isinstance(event, TalkEnded):
            self.talk.add(event.talk_seconds)
        elif isinstance(event, WrapUpEnded):
            self.wrap.add(event.wrap_seconds)
        elif isinstance(event, CallAbandoned):
            self._account(1.0, now)
            if self.hour_cap is not None:
                self._hour_abandons.append(now)

    def replay(self, events: Iterable[tuple[float, PacingEvent]]) -> int:
        """Past facts, oldest first: the estimates, the hour guard and the fast term start warm.

        The fast term (recent abandons in excess of target) is booked as if theta had held
        dialing back all along: live answers credit it as abandons debit it, so a history at
        target leaves it near zero and a recent burst of abandons leaves it high.  The long
        budget starts at zero: a few hours of history do not say whether theta was what held
        dialing back, and the campaign's 30-day account is the compliance ledger's.
        """
        binding = self._theta_binding
        self._theta_binding = True
        try:
            n = super().replay(events)
        finally:
            self._theta_binding = binding
        self.budget = 0.0
        return n

    def _settle(self, call_id: int, live: bool, now: float) -> None:
        """Feed outcomes to the rate estimate in *launch* order.

        Fast failures resolve before live answers; counting outcomes as they arrive
        would read a burst of launches as a collapse of the live rate (and dial
        harder).  A call unresolved after ``settle_s`` is skipped.
        """
        if call_id in self._outcome:
            self._outcome[call_id] = live
        order, outcome = self._launched, self._outcome
        while order:
            head, t = order[0]
            result = outcome.get(head)
            if result is None and now - t < self.settle_s:
                break
            order.popleft()
            outcome.pop(head, None)
            if result is not None:
                self.rate.update(result)

    def _account(self, excess: float, now: float) -> None:
        """Book ``excess`` abandons (``-target`` per live answer, ``+1`` per abandon).

        Credit (a live answer) only accrues while theta is what holds dialing back;
        during warm-up or at the line limit it would wind the budget up for nothing.
        """
        if excess < 0 and not self._theta_binding:
            return
        self.budget -= excess
        lo = math.log(self.theta_min / self.theta0) / self.gain if self.gain else 0.0
        hi = math.log(self.theta_max / self.theta0) / self.gain if self.gain else 0.0
        self.budget = min(max(self.budget, lo), hi)
        self._fast = self._fast * math.exp((self._fast_t - now) / self.fast_tau) + excess
        self._fast = max(self._fast, 0.0)
        self._fast_t = now

    def theta_at(self, now: float, hour_factor: float | None = None) -> float:
        """The marginal-risk threshold now (budget, recent excess and hour guard applied)."""
        fast = self._fast * math.exp((self._fast_t - now) / self.fast_tau)
        th = self.theta0 * math.exp(self.gain * self.budget - self.fast_gain * fast)
        th *= self.hour_factor(now) if hour_factor is None else hour_factor
        return min(max(th, self.theta_min), self.theta_max)

    def _hour_expire(self, now: float) -> None:
        start = now - self.hour_s
        for q in (self._hour_lives, self._hour_abandons):
            while q and q[0] <= start:
                q.popleft()

    def hour_factor(self, now: float) -> float:
        """Cut of theta that keeps the trailing hour's abandon rate under ``hour_cap``.

        ``headroom`` = abandons the trailing hour can still take (``hour_cap`` x its
        live answers, extrapolated to a full hour early in a shift, minus its
        abandons).  Under ``hour_sd`` standard deviations of an hour's abandon count
        at target, theta is scaled by (headroom / that)^2.  Ten agents answer ~225
        calls an hour: the default 4.5 % is 10 abandons against 5.6 +- 2.4 at
        target, and with ``hour_sd=2`` the guard cuts theta once the hour holds 6;
        with 50 agents (51 against 28 +- 5.3) only after 40.  The default aims a
        tenth under the 5 % hourly limit: calls already ringing when theta is cut
        can still be abandoned (aimed at 5 % itself, 2 of 100 ten-agent campaigns
        had an hour at 5.2 % after a drop of the live rate).  ``hour_cap=None``
        turns it off.
        """
        if self.hour_cap is None:
            return 1.0
        self._hour_expire(now)
        n_live = len(self._hour_lives)
        if not n_live:
            return 1.0
        span = min(self.hour_s, max(now - self._hour_since, self.hour_s / 6.0))
        lives = n_live * self.hour_s / span
        headroom = self.hour_cap * lives - len(self._hour_abandons)
        scale = self.hour_sd * math.sqrt(self.target * lives)
        if headroom >= scale:
            return 1.0
        return (max(headroom, 0.0) / scale) ** 2

    # ------------------------------------------------------------- estimates
    def warmed_up(self) -> bool:
        return (
            self.lives >= self.warmup_lives
            and len(self.talk) >= self.warmup_handles
            and len(self.wrap) >= self.warmup_handles
        )

    def _rebuild(self, now: float, p: float) -> None:
        """Refresh the probability tables (agents: now and then; calls: when p moves)."""
        ring = self.live_ring.sorted()
        n_samples = len(self.talk) + len(self.live_ring)
        if (
            now - self._built_at >= self.rebuild_every
            or n_samples >= 2 * self._built_n
            or not self._taus
        ):
            taus = np.quantile(ring, (np.arange(self.n_tau) + 0.5) / self.n_tau)
            q_t, q_w = agent_free_table(
                self.talk.sorted(), self.wrap.sorted(), taus + self.connect_limit, self._e_talk
            )
            self._agent_q = np.vstack([q_t, q_w[: self._e_wrap + 1]])
            self._taus = [float(t) for t in taus]
            self._built_at = now
            self._built_n = n_samples
        taus_a = np.asarray(self._taus)
        c = call_live_table(ring, self.other_end.sorted(), p, taus_a, self._e_call)
        self._pf = [float(x) for x in p * ecdf(ring, taus_a)]
        self._p_built = p
        # One block-diagonal table, so a tick needs a single take + sum:
        # rows = talk elapsed | wrap-up elapsed | ring elapsed; columns = agent
        # (mean, var, third cumulant) per horizon | call (mean, var, third cumulant).
        def moments(q: FloatArray) -> FloatArray:
            return np.hstack([q, q * (1.0 - q), q * (1.0 - q) * (1.0 - 2.0 * q)])

        a, cm = moments(self._agent_q), moments(c)
        self._table = np.vstack([
            np.hstack([a, np.zeros((a.shape[0], cm.shape[1]))]),
            np.hstack([np.zeros((cm.shape[0], a.shape[1])), cm]),
        ])

    # -------------------------------------------------------------- decision
    def _supply_override(
        self, ready: int, agents: Sequence[AgentView], now: float
    ) -> tuple[list[float], list[float], list[float]] | None:
        """Exact supply per horizon, for the simulator's oracle; ``None`` here."""
        return None

    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        agents = snapshot.agents
        if not agents:
            return self._record(0, PacingMode.IDLE, "no agent logged in", now, {})
        e_t, e_w, e_c = self._e_talk, self._e_wrap, self._e_call
        off_w, off_c = e_t + 1, e_t + e_w + 2
        ready = [a[1] for a in agents].count(_READY)
        idx = [e if e < e_t else e_t
               for e in [int(now - since) for _, st, since in agents if st is _TALKING]]
        idx += [off_w + (e if e < e_w else e_w)
                for e in [int(now - since) for _, st, since in agents if st is _WRAP]]
        n_busy = len(idx)
        idx += [off_c + (e if e < e_c else e_c)
                for e in [int(now - t) for _, cst, _, t in snapshot.calls if cst is not _QUEUED]]
        queued = len(snapshot.calls) - (len(idx) - n_busy)
        in_flight = len(snapshot.calls)
        if self.warm:
            if not self.warmed_up():
                return self._record(
                    ready - in_flight, PacingMode.WARM_UP,
                    "warm-up: one call per ready agent until enough samples", now,
                    {"ready": ready, "in_flight": in_flight, "lives": self.lives,
                     "handles": len(self.talk)},
                )
            self.warm = False
        p = self.rate.value
        if now - self._built_at >= self.rebuild_every or abs(p - self._p_built) > 0.01 * p:
            self._rebuild(now, p)
        n = self.n_tau
        sums = self._table.take(idx, axis=0).sum(axis=0).tolist() if idx else [0.0] * 6 * n
        override = self._supply_override(ready, agents, now)
        if override is not None:
            sup_m, sup_v, sup_k = override
        else:
            sup_m = [ready + x for x in sums[:n]]
            sup_v = sums[n: 2 * n]
            sup_k = sums[2 * n: 3 * n]
        dem_m = [queued + x for x in sums[3 * n: 4 * n]]
        dem_v = sums[4 * n: 5 * n]
        dem_k = sums[5 * n:] if self.skew else [0.0] * n
        if not self.skew:
            sup_k = [0.0] * n
        hour = self.hour_factor(now)
        theta = self.theta_at(now, hour)
        pf = self._pf
        base_m = [sup_m[i] - dem_m[i] for i in range(n)]
        base_v = [sup_v[i] + dem_v[i] + 0.05 for i in range(n)]
        base_k = [sup_k[i] - dem_k[i] for i in range(n)]
        pf_v = [x * (1.0 - x) for x in pf]
        pf_k = [x * (1.0 - x) * (1.0 - 2.0 * x) for x in pf]
        k_max = max(0, int(self.max_lines_per_agent * len(agents)) - in_flight)
        launch = 0
        risk = 0.0
        suffix_max = self.suffix_max
        for k in range(k_max):  # k calls of this batch already decided
            probs = [p_short(base_m[i] - k * pf[i], base_v[i] + k * pf_v[i],
                             base_k[i] - k * pf_k[i]) for i in range(n)]
            if suffix_max:
                for i in range(n - 2, -1, -1):
                    if probs[i + 1] > probs[i]:
                        probs[i] = probs[i + 1]
            risk = sum(probs) / n
            if risk > theta:
                break
            launch = k + 1
        mid = n // 2
        inputs = {
            "ready": float(ready),
            "busy": float(n_busy),
            "ringing": float(in_flight - queued),
            "queued": float(queued),
            "p_live": p,
            "p_window": float(self.rate.window),
            "free_soon": sup_m[mid] - ready,
            "answers_soon": dem_m[mid] - queued,
            "next_risk": risk,
            "theta": theta,
            "hour_factor": hour,
            "budget": self.budget,
            "abandon_rate": self.abandon_rate,
        }
        self._theta_binding = launch < k_max
        if launch == k_max:
            reason = f"launch {launch}: line limit ({self.max_lines_per_agent:g} per agent)"
        else:
            reason = f"launch {launch}: next call's abandon risk {risk:.3f} > theta {theta:.3f}"
        return self._record(launch, PacingMode.PREDICTIVE, reason, now, inputs)
