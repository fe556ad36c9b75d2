"""VICIdial's adaptive dial level, rule by rule as docs/PREDICTIVE.txt and
AST_VDadapt.pl describe it."""

from __future__ import annotations

import pytest

from dialer.pacing import (
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallLaunched,
    CallState,
    CallView,
    Snapshot,
    VicidialAdaptPacer,
)
from dialer.pacing.vicidial import hhmm, tapered_rate

R, T, W = AgentState.READY, AgentState.TALKING, AgentState.WRAP_UP


def snap(ready: int, talking: int, wrap: int = 0, ringing: int = 0, waiting: int = 0) -> Snapshot:
    states = [R] * ready + [T] * talking + [W] * wrap
    calls = [CallView(i, CallState.RINGING, 0.0, 0.0) for i in range(ringing)]
    calls += [CallView(100 + i, CallState.QUEUED, 0.0, 0.0) for i in range(waiting)]
    return Snapshot([AgentView(i, s, 0.0) for i, s in enumerate(states)], calls)


def run_15s(p: VicidialAdaptPacer, s: Snapshot, t0: float) -> float:
    """Sixteen 1-second ticks: 15 samples, then the level update."""
    for k in range(16):
        p.decide(s, t0 + k)
    return t0 + 16


def test_clock_helpers_use_hhmm_arithmetic() -> None:
    assert hhmm(9 * 3600 + 30 * 60) == 930
    assert tapered_rate(1700, 930) == pytest.approx(0.77)  # 1700 - 930 = 770
    assert tapered_rate(2400, 900) == 1.0  # more than 1000 left
    assert tapered_rate(1700, 1730) < 0


def test_level_rises_with_ready_agents_and_is_capped() -> None:
    p = VicidialAdaptPacer(max_level=3.0)
    run_15s(p, snap(ready=5, talking=5), 0.0)
    assert p.level == pytest.approx(1.5)  # 1.0 x (1 + (5 - 0) / 10)
    t = 20.0
    for _ in range(5):
        t = run_15s(p, snap(ready=5, talking=5), t)
    assert p.level == pytest.approx(3.0)


def test_intensity_scales_the_change() -> None:
    up = VicidialAdaptPacer(intensity=50)
    run_15s(up, snap(ready=2, talking=8), 0.0)
    assert up.level == pytest.approx(1.0 * (1 + 0.2 * 1.5))
    down = VicidialAdaptPacer(start_level=2.0, intensity=50)
    run_15s(down, snap(ready=0, talking=8, waiting=2), 0.0)
    assert down.level == pytest.approx(2.0 * (1 - 0.25 * 0.5))  # |0.5 - 1| = 0.5


def test_level_never_drops_below_one() -> None:
    p = VicidialAdaptPacer(start_level=1.2)
    run_15s(p, snap(ready=0, talking=2, waiting=8), 0.0)
    assert p.level == 1.0


def test_goal_calls_count_incall_agents_and_calls_with_agents() -> None:
    p = VicidialAdaptPacer(start_level=2.0)
    d = p.decide(snap(ready=2, talking=6, wrap=2, ringing=5), 0.0)
    assert d.launch == round(2.0 * (2 + 6)) - 5 - 6
    assert d.inputs["level"] == 2.0


def _drop_today(p: VicidialAdaptPacer, now: float, calls: int, lives: int, drops: int) -> None:
    for i in range(calls):
        p.observe(CallLaunched(i), now)
    for i in range(lives):
        p.observe(CallAnswered(i, AnswerKind.LIVE, 8.0), now)
    for i in range(drops):
        p.observe(CallAbandoned(i, 2.0), now)


@pytest.mark.parametrize(
    ("method", "expected"),
    [("ADAPT_HARD_LIMIT", 1.0), ("ADAPT_AVERAGE", 1.5), ("ADAPT_TAPERED", 3.0 * 0.5)],
)
def test_daily_drop_limit_rules(method: str, expected: float) -> None:
    # 12:00 server time with shifts starting 09:00 -> tapered rate (1700 - 1200) / 1000
    p = VicidialAdaptPacer(method=method, start_level=3.0, drop_limit=0.03, max_level=3.0)
    t0 = 3 * 3600.0
    _drop_today(p, t0 - 120.0, calls=60, lives=20, drops=1)  # 5 % of answers dropped
    run_15s(p, snap(ready=0, talking=10), t0)
    assert p.level == pytest.approx(max(1.0, expected))


def test_tapered_past_the_latest_time_goes_to_one() -> None:
    p = VicidialAdaptPacer(method="ADAPT_TAPERED", start_level=3.0, latest_hhmm=1100)
    t0 = 3 * 3600.0  # 12:00
    _drop_today(p, t0 - 120.0, calls=60, lives=20, drops=1)
    run_15s(p, snap(ready=0, talking=10), t0)
    assert p.level == 1.0


def test_no_daily_rule_before_fifty_calls_and_new_day_resets() -> None:
    p = VicidialAdaptPacer(method="ADAPT_HARD_LIMIT", start_level=3.0)
    _drop_today(p, 100.0, calls=40, lives=20, drops=5)
    run_15s(p, snap(ready=0, talking=10), 200.0)
    assert p.level == 3.0
    _drop_today(p, 86400.0 + 100.0, calls=60, lives=40, drops=1)  # 2.5 % today
    run_15s(p, snap(ready=0, talking=10), 86400.0 + 200.0)
    assert p.level == 3.0


def test_half_the_last_minute_dropped_halves_the_level() -> None:
    p = VicidialAdaptPacer(method="ADAPT_HARD_LIMIT", start_level=2.0, drop_limit=1.0)
    _drop_today(p, 100.0, calls=30, lives=20, drops=16)
    run_15s(p, snap(ready=0, talking=10), 110.0)
    assert p.level == pytest.approx(1.0)  # 2.0 / 2
