"""What a simulated campaign measured, per day and over whole runs.

Definitions (identical for every policy):

* occupancy = (talk + wrap-up seconds) / logged-in agent seconds, within the shift;
* talk minutes per agent-hour = talk minutes / logged-in agent hours;
* abandon rate = abandoned / live-answered calls (the FTC TSR definition); every run
  of at least ``window`` days is cut into all its windows of ``window`` consecutive
  days (a shorter run is one window); ``abandon_30d`` is the worst window over all
  runs, ``worst_day`` the worst single day over all days of all runs;
* customer hold = time from live answer to agent, over connected calls, kept as a
  histogram of ``HOLD_BIN`` s bins; ``hold_p99`` is the bin's upper edge;
* dials per agent-hour = calls launched / logged-in agent hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

HOLD_BIN = 0.02  # seconds per hold-histogram bin


@dataclass
class DayStats:
    """Totals of one simulated shift."""

    agent_s: float = 0.0
    busy_s: float = 0.0
    talk_s: float = 0.0
    dials: int = 0
    lives: int = 0
    abandons: int = 0
    connected: int = 0
    machines: int = 0
    hold_hist: list[int] = field(default_factory=list)  # counts per HOLD_BIN bin

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.lives if self.lives else 0.0

    @property
    def occupancy(self) -> float:
        return self.busy_s / self.agent_s if self.agent_s else 0.0


@dataclass
class Timeline:
    """Per-minute series of one shift (minute ``i`` covers ``[60 i, 60 i + 60)``)."""

    busy_s: list[float]
    lives: list[int]
    abandons: list[int]


@dataclass
class RunResult:
    """One seed's run: its days in order (and their timelines when recorded)."""

    days: list[DayStats]
    timelines: list[Timeline] = field(default_factory=list)

    @property
    def lives(self) -> int:
        return sum(d.lives for d in self.days)

    @property
    def abandons(self) -> int:
        return sum(d.abandons for d in self.days)

    @property
    def abandon_rate(self) -> float:
        lv = self.lives
        return self.abandons / lv if lv else 0.0

    def window_rates(self, window: int = 30) -> list[float]:
        """Abandon rate of every ``window``-day window (the whole run if shorter)."""
        days = self.days
        if len(days) <= window:
            return [self.abandon_rate]
        out = []
        for i in range(len(days) - window + 1):
            lv = sum(d.lives for d in days[i: i + window])
            ab = sum(d.abandons for d in days[i: i + window])
            out.append(ab / lv if lv else 0.0)
        return out


@dataclass(frozen=True)
class Summary:
    """A policy's figures over several runs (see the module docstring)."""

    occupancy: float
    abandon_30d: float
    abandon_mean: float
    worst_day: float
    talk_min_per_agent_hour: float
    dials_per_agent_hour: float
    hold_p99: float
    lives: int
    abandons: int
    days: int


def hold_quantile(days: Sequence[DayStats], q: float) -> float:
    """Quantile ``q`` of the customer hold over connected calls (seconds)."""
    n = sum(d.connected for d in days)
    if n == 0:
        return 0.0
    size = max((len(d.hold_hist) for d in days), default=0)
    hist = [0] * size
    for d in days:
        for i, c in enumerate(d.hold_hist):
            hist[i] += c
    rank = q * n
    acc = 0
    for i, c in enumerate(hist):
        acc += c
        if acc >= rank:
            return 0.0 if i == 0 else (i + 1) * HOLD_BIN
    return size * HOLD_BIN


def summarize(runs: Sequence[RunResult], window: int = 30) -> Summary:
    """Pool runs of one policy on one scenario."""
    days = [d for r in runs for d in r.days]
    agent_s = sum(d.agent_s for d in days) or 1.0
    agent_h = agent_s / 3600.0
    lives = sum(d.lives for d in days)
    abandons = sum(d.abandons for d in days)
    return Summary(
        occupancy=sum(d.busy_s for d in days) / agent_s,
        abandon_30d=max((x for r in runs for x in r.window_rates(window)), default=0.0),
        abandon_mean=abandons / lives if lives else 0.0,
        worst_day=max((d.abandon_rate for d in days), default=0.0),
        talk_min_per_agent_hour=sum(d.talk_s for d in days) / 60.0 / agent_h,
        dials_per_agent_hour=sum(d.dials for d in days) / agent_h,
        hold_p99=hold_quantile(days, 0.99),
        lives=lives,
        abandons=abandons,
        days=len(days),
    )


@dataclass(frozen=True)
class DropReport:
    """How a policy rode a change of the live rate, from timelines pooled over seeds.

    ``occupancy_after`` is the level it settles at (mean from one hour after the change
    to the end of the shift); ``recovery_min`` the minutes from the change until the
    pooled occupancy of the next five minutes is first back within ``tolerance`` of it;
    ``recovery_stable_min`` the same until it is back for good (within ``tolerance``
    from then until the settled hour begins); ``dip`` the lowest 5-minute occupancy in
    the hour after the change.
    ``rolling_1h_max`` is the highest pooled abandon rate of any 60-minute window ending
    after the change; ``rolling_1h_worst_seed`` the same seed by seed, and
    ``rolling_1h_worst_seed_before`` the seed-by-seed worst of the windows ending in the
    hours before the change (the same statistic with no change, for comparison);
    ``seeds_over_limit`` / ``seeds_over_limit_before`` how many seeds have any such
    window above ``limit`` (5 %) after / before the change.
    """

    occupancy_before: float
    occupancy_after: float
    dip: float
    recovery_min: int
    recovery_stable_min: int
    rolling_1h_max: float
    rolling_1h_worst_seed: float
    rolling_1h_worst_seed_before: float
    seeds_over_limit: int
    seeds_over_limit_before: int


def _rolling_max(lives: Sequence[int], abandons: Sequence[int], start: int, stop: int) -> float:
    """Highest abandon rate of the 60-minute windows ending in minutes [start, stop)."""
    worst = 0.0
    lv = ab = 0
    for m in range(min(len(lives), stop)):
        lv += lives[m]
        ab += abandons[m]
        if m >= 60:
            lv -= lives[m - 60]
            ab -= abandons[m - 60]
        if m >= start and lv:
            worst = max(worst, ab / lv)
    return worst


def analyze_drop(
    timelines: Sequence[Timeline], agents: int, change_min: int, tolerance: float = 0.015,
    limit: float = 0.05,
) -> DropReport:
    """Summarize timelines (one per seed, same shift) around a change at ``change_min``."""
    n = min(len(t.busy_s) for t in timelines) - 1  # the last bucket holds the clipped rest
    k = len(timelines)
    occ = [sum(t.busy_s[m] for t in timelines) / (60.0 * agents * k) for m in range(n)]
    lives = [sum(t.lives[m] for t in timelines) for m in range(n)]
    abandons = [sum(t.abandons[m] for t in timelines) for m in range(n)]
    before = sum(occ[max(0, change_min - 60): change_min]) / max(1, min(60, change_min))
    settled = occ[change_min + 60:] or occ[change_min:]
    after = sum(settled) / len(settled)
    ahead = [sum(occ[m: m + 5]) / len(occ[m: m + 5]) for m in range(n)]
    recovery = next((m - change_min for m in range(change_min, n)
                     if ahead[m] >= after - tolerance), n - change_min)
    below = [m for m in range(change_min, min(n, change_min + 60))
             if ahead[m] < after - tolerance]
    stable = below[-1] + 1 - change_min if below else 0
    seed_after = [_rolling_max(t.lives[:n], t.abandons[:n], change_min, n) for t in timelines]
    seed_before = [_rolling_max(t.lives[:n], t.abandons[:n], 60, change_min) for t in timelines]
    return DropReport(
        occupancy_before=before,
        occupancy_after=after,
        dip=min(ahead[change_min: min(n, change_min + 60)]),
        recovery_min=recovery,
        recovery_stable_min=stable,
        rolling_1h_max=_rolling_max(lives, abandons, change_min, n),
        rolling_1h_worst_seed=max(seed_after),
        rolling_1h_worst_seed_before=max(seed_before),
        seeds_over_limit=sum(x > limit for x in seed_after),
        seeds_over_limit_before=sum(x > limit for x in seed_before),
    )
