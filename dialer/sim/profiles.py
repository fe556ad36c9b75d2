"""Benchmark: the predictive pacer under each jurisdiction profile, in the campaign simulator.

``python -m dialer.sim.profiles [--days N] [--seeds N] [--agents N] [--only uk_ofcom,...]``
(wired as ``dialer bench profiles``). Not a test: it prints one line per profile.

Each profile runs scenario B0 (``dialer.sim.scenario``) with what the service runs: the
``predictive`` pacer at the profile's cap (with ``pacer_guard``'s window guard, as the call
floor makes it), behind the compliance hold (``HeldPacer``: while the
abandon rate over the profile's window is at or over its cap, one call per free agent, as
``dialer.db.ledger.compliance_hold`` makes the service do). Simulated day ``d`` starts at
``d x 86400`` s (an 8 h shift, then 16 h without calls), so a 24 h window is real time, and a
calendar month is 30 simulated days.

Printed per profile: the worst rate over every *complete* window of the profile's kind
(``worst_window``: 24 h windows ending at every instant, the worst being just after an abandon
or just before a live answer leaves the window; 30-day windows the same, the whole run when
shorter; each calendar month), the mean over the run, occupancy, the share of decisions made
while held, and ``within_cap`` (1 when ``worst_window`` <= cap). AMD is perfect in B0 (no
person is taken for a machine), so Ofcom's AMD false-positive estimate adds nothing here.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import Pool

from dialer.core.jurisdiction import PRESETS, Jurisdiction, WindowKind, pacer_guard
from dialer.pacing import Pacer, create_pacer
from dialer.pacing.base import counts
from dialer.pacing.events import (
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    Decision,
    PacingEvent,
    PacingMode,
    Snapshot,
)
from dialer.sim.engine import DAY_S, simulate
from dialer.sim.scenario import B0

MONTH_DAYS = 30  # a simulated calendar month


class HeldPacer(Pacer):
    """``inner`` behind the profile's compliance hold (module doc); records every live answer
    and abandon with its time for the window figures."""

    name = "held"

    def __init__(self, inner: Pacer, profile: Jurisdiction) -> None:
        super().__init__()
        self.inner, self.profile = inner, profile
        self.live_at: list[float] = []
        self.abandon_at: list[float] = []
        self._lives: deque[float] = deque()
        self._abandons: deque[float] = deque()
        self.decisions = self.held = 0

    def observe(self, event: PacingEvent, now: float) -> None:
        super().observe(event, now)
        self.inner.observe(event, now)
        if isinstance(event, CallAnswered) and event.kind is AnswerKind.LIVE:
            self.live_at.append(now)
            self._lives.append(now)
        elif isinstance(event, CallAbandoned):
            self.abandon_at.append(now)
            self._abandons.append(now)

    def window_start(self, now: float) -> float:
        if self.profile.window is WindowKind.CALENDAR_MONTH:
            month_s = MONTH_DAYS * DAY_S
            return (now // month_s) * month_s
        return now - self.profile.window_length.total_seconds()

    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        start = self.window_start(now)
        for q in (self._lives, self._abandons):
            while q and q[0] < start:
                q.popleft()
        self.decisions += 1
        lives, abandons = len(self._lives), len(self._abandons)
        if lives and abandons / lives >= self.profile.cap:
            self.held += 1
            ready, _, _, ringing, queued = counts(snapshot)
            return self._record(
                ready - ringing - queued, PacingMode.PROGRESSIVE,
                f"{self.profile.short_label} rate {abandons}/{lives} at or over the cap", now,
                {"ready": ready, "in_flight": ringing + queued},
            )
        decision = self.inner.decide(snapshot, now)
        self.last_decision = decision
        return decision


@dataclass(frozen=True)
class ProfileRun:
    """One seed's figures."""

    worst_window: float
    lives: int
    abandons: int
    busy_s: float
    agent_s: float
    held_share: float


def worst_window(lives: Sequence[float], abandons: Sequence[float], profile: Jurisdiction,
                 end: float) -> float:
    """The worst rate over the complete windows of ``profile``'s kind in ``[0, end]``."""
    if profile.window is WindowKind.CALENDAR_MONTH:
        month_s = MONTH_DAYS * DAY_S
        worst = 0.0
        for m in range(max(1, int(end // month_s))):
            lo, hi = m * month_s, (m + 1) * month_s
            lv = bisect.bisect_left(lives, hi) - bisect.bisect_left(lives, lo)
            ab = bisect.bisect_left(abandons, hi) - bisect.bisect_left(abandons, lo)
            worst = max(worst, ab / lv if lv else 0.0)
        return worst
    length = profile.window_length.total_seconds()
    if end < length:  # shorter than one window: the whole run
        return len(abandons) / len(lives) if lives else 0.0
    ends = [t for t in abandons if t >= length]
    ends += [t + length - 1e-6 for t in lives if length <= t + length - 1e-6 <= end]
    ends.append(end)
    worst = 0.0
    for t in ends:
        lv = bisect.bisect_right(lives, t) - bisect.bisect_right(lives, t - length)
        ab = bisect.bisect_right(abandons, t) - bisect.bisect_right(abandons, t - length)
        if lv:
            worst = max(worst, ab / lv)
    return worst


def run_one(args: tuple[str, int, int, int]) -> ProfileRun:
    name, agents, days, seed = args
    profile = PRESETS[name]
    pacer = HeldPacer(create_pacer("predictive", cap=profile.cap, **pacer_guard(profile)),
                      profile)
    scenario = B0.with_(agents=agents, days=days)
    result = simulate(scenario, pacer, seed)
    end = (days - 1) * DAY_S + scenario.shift_s + 60.0
    return ProfileRun(
        worst_window=worst_window(sorted(pacer.live_at), sorted(pacer.abandon_at), profile, end),
        lives=result.lives,
        abandons=result.abandons,
        busy_s=sum(d.busy_s for d in result.days),
        agent_s=sum(d.agent_s for d in result.days),
        held_share=pacer.held / max(pacer.decisions, 1),
    )


DEFAULT_DAYS = {"us_tsr": 30, "uk_ofcom": 10, "ca_crtc": 30}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dialer bench profiles", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated profiles (default: all presets)")
    ap.add_argument("--days", type=int, help="days per run (default: us_tsr 30, uk_ofcom 10, "
                    "ca_crtc 30)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        ap.error(f"--only: unknown profile(s) {', '.join(unknown)}; known: {', '.join(PRESETS)}")
    for name in names:
        profile = PRESETS[name]
        days = args.days or DEFAULT_DAYS[name]
        started = time.perf_counter()
        jobs = [(name, args.agents, days, seed) for seed in range(1, args.seeds + 1)]
        with Pool(min(args.jobs, len(jobs))) as pool:
            runs = pool.map(run_one, jobs)
        lives = sum(r.lives for r in runs)
        abandons = sum(r.abandons for r in runs)
        worst = max(r.worst_window for r in runs)
        print(
            f"profile={name} window={profile.window_label.replace(' ', '_')} "
            f"cap={profile.cap:.3f} agents={args.agents} seeds={args.seeds} days={days} "
            f"worst_window={worst:.4f} mean={abandons / max(lives, 1):.4f} "
            f"occupancy={sum(r.busy_s for r in runs) / sum(r.agent_s for r in runs):.3f} "
            f"held_share={sum(r.held_share for r in runs) / len(runs):.3f} "
            f"within_cap={int(worst <= profile.cap)} seconds={time.perf_counter() - started:.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
