"""The pacing registry, progressive, fixed ratio and our predictive pacer."""

from __future__ import annotations

import math

import pytest

from dialer.pacing import (
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    CallLaunched,
    CallState,
    CallView,
    FailReason,
    PacingMode,
    PredictivePacer,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
    available_pacers,
    create_pacer,
)
from dialer.pacing.predictive import p_short

R, T, W = AgentState.READY, AgentState.TALKING, AgentState.WRAP_UP


def snap(agents: list[tuple[AgentState, float]], ringing: list[float] = (),  # type: ignore[assignment]
         queued: int = 0) -> Snapshot:
    calls = [CallView(i, CallState.RINGING, t, t) for i, t in enumerate(ringing)]
    calls += [CallView(100 + i, CallState.QUEUED, 0.0, 0.0) for i in range(queued)]
    return Snapshot(agents=[AgentView(i, st, since) for i, (st, since) in enumerate(agents)],
                    calls=calls)


def test_registry_lists_every_policy_and_rejects_unknown_names() -> None:
    assert {"progressive", "ratio", "predictive", "vicidial_adapt", "omnidialer"} <= set(
        available_pacers())
    with pytest.raises(ValueError, match="known: "):
        create_pacer("nope")


def test_progressive_covers_each_ready_agent_once() -> None:
    p = create_pacer("progressive")
    d = p.decide(snap([(R, 0), (R, 0), (R, 0), (T, 0)], ringing=[5.0]), now=10.0)
    assert d.launch == 2
    assert d.mode is PacingMode.PROGRESSIVE
    assert d.inputs == {"ready": 3, "in_flight": 1}
    assert d.pacer == "progressive" and "launch=2" in d.as_log()
    assert p.last_decision is d
    assert p.decide(snap([(T, 0)], ringing=[1.0, 2.0]), 10.0).launch == 0  # never negative


def test_fixed_ratio_per_ready_agent_and_per_active_agent() -> None:
    s = snap([(R, 0), (R, 0), (T, 0), (T, 0), (W, 0)], ringing=[1.0])
    assert create_pacer("ratio", ratio=2.0).decide(s, 5.0).launch == 2 * 2 - 1
    # VICIdial RATIO: level x (ready + talking) minus calls up, those with agents included
    assert create_pacer("ratio", ratio=1.5, basis="active").decide(s, 5.0).launch == 6 - 1 - 2
    with pytest.raises(ValueError):
        create_pacer("ratio", ratio=0)


def test_p_short_is_close_to_the_exact_binomial() -> None:
    n, q, need = 20, 0.3, 4  # X = Binomial(20, 0.3) - 4; P(X <= 0)
    exact = sum(math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(need + 1))
    approx = p_short(n * q - need, n * q * (1 - q), n * q * (1 - q) * (1 - 2 * q))
    assert approx == pytest.approx(exact, abs=0.01)
    assert p_short(-3.0, 0.05, 0.0) > 0.99 and p_short(5.0, 0.5, 0.0) < 1e-6


def warm(p: PredictivePacer, calls: int = 400, live_every: int = 4, t0: float = 0.0) -> float:
    """Feed ``calls`` resolved calls: one in ``live_every`` live (ring 8 s), each live
    one talked 100-140 s with 15 s of wrap-up; others fail at 20 s.  Returns the time."""
    now = t0
    for i in range(calls):
        p.observe(CallLaunched(i), now)
        if i % live_every == 0:
            p.observe(CallAnswered(i, AnswerKind.LIVE, 6.0 + (i % 5)), now + 8.0)
            p.observe(CallConnected(i, 0, 0.0), now + 8.0)
            p.observe(TalkEnded(0, 100.0 + (i % 41)), now + 128.0)
            p.observe(WrapUpEnded(0, 15.0), now + 143.0)
        else:
            p.observe(CallFailed(i, FailReason.NO_ANSWER, 20.0), now + 20.0)
        now += 1.0
    return now + 200.0


def test_predictive_warms_up_progressively() -> None:
    p = PredictivePacer()
    d = p.decide(snap([(R, 0), (R, 0), (T, 0)], ringing=[0.0]), now=1.0)
    assert d.mode is PacingMode.WARM_UP and d.launch == 1
    assert not p.warmed_up()
    warm(p)
    assert p.warmed_up()


def test_predictive_dials_ahead_for_ready_agents_and_records_inputs() -> None:
    p = PredictivePacer()
    now = warm(p)
    d = p.decide(snap([(R, now)] * 10), now)
    assert d.mode is PacingMode.PREDICTIVE
    assert 10 < d.launch <= 80  # about ready / live rate, never past the line limit
    for key in ("ready", "busy", "ringing", "queued", "p_live", "free_soon",
                "answers_soon", "next_risk", "theta", "budget", "abandon_rate"):
        assert key in d.inputs
    assert d.inputs["ready"] == 10 and d.inputs["p_live"] == pytest.approx(0.25, abs=0.01)
    assert f"next call's abandon risk {d.inputs['next_risk']:.3f}" in d.reason


def test_predictive_uses_elapsed_talk_and_wrap_up_time() -> None:
    p = PredictivePacer()
    now = warm(p)
    just_started = p.decide(snap([(T, now)] * 10), now).launch
    about_done = p.decide(snap([(W, now - 14.0)] * 10), now).launch
    assert just_started == 0  # talks last 100-140 s: nobody frees within ~20 s
    assert about_done > 10  # every wrap-up lasts 15 s: all ten free in about a second
    ringing = p.decide(snap([(W, now - 14.0)] * 10, ringing=[now - 5.0] * 40), now).launch
    assert ringing < about_done  # calls already ringing take part of that supply


def test_predictive_budget_tightens_after_abandons_and_loosens_after_lives() -> None:
    p = PredictivePacer()
    now = warm(p)
    p.decide(snap([(T, now)] * 10), now)  # theta holds dialing back: credit accrues
    theta = p.theta_at(now)
    for i in range(5):
        p.observe(CallAbandoned(10_000 + i, 2.0), now)
    tighter = p.theta_at(now)
    assert tighter < theta * math.exp(-0.03 * 5) * 1.0001  # slow and fast terms both cut
    for i in range(2000):
        p.observe(CallAnswered(20_000 + i, AnswerKind.LIVE, 8.0), now + 4000.0)
    assert p.theta_at(now + 4000.0) > tighter
    assert p.budget == pytest.approx(-5.0 + 2000 * 0.025)


def test_predictive_learns_the_live_rate_in_launch_order() -> None:
    p = PredictivePacer()
    for i in range(10):
        p.observe(CallLaunched(i), 0.0)
    for i in range(1, 10):  # fast failures resolve before call 0 answers
        p.observe(CallFailed(i, FailReason.BUSY, 3.0), 3.0)
    assert p.rate.n == 0
    p.observe(CallAnswered(0, AnswerKind.LIVE, 9.0), 9.0)
    assert p.rate.n == 10


def test_predictive_follows_a_drop_of_the_live_rate() -> None:
    p = PredictivePacer()
    now = warm(p, calls=3000, live_every=4)
    assert p.rate.value == pytest.approx(0.25, abs=0.02)
    warm(p, calls=400, live_every=8, t0=now)  # 12.5 % live
    assert p.rate.value == pytest.approx(0.125, abs=0.04)


def test_predictive_does_not_fill_the_line_limit_after_a_run_of_misses() -> None:
    # After a drop of the live rate, runs of 50 unanswered calls happen by chance;
    # the unguarded estimate read them as "no one answers" (p = 0.001) and the pacer
    # launched up to its line limit in one tick: a burst of abandons.
    launches = {}
    for fall_window in (200, 0):
        p = PredictivePacer(rate_fall_window=fall_window)
        now = warm(p, calls=3000, live_every=4)
        for i in range(60):
            p.observe(CallLaunched(50_000 + i), now + i)
            p.observe(CallFailed(50_000 + i, FailReason.NO_ANSWER, 20.0), now + i + 20.0)
        now += 100.0
        d = p.decide(snap([(W, now - 14.0)] * 5 + [(T, now - 60.0)] * 5), now)
        launches[fall_window] = (d.launch, d.inputs["p_live"])
    assert launches[0][1] < 0.01 and launches[0][0] == 80  # the old runaway
    assert launches[200][1] > 0.15
    assert launches[200][0] < launches[0][0] / 4


def test_predictive_rejects_a_target_above_the_cap() -> None:
    with pytest.raises(ValueError):
        PredictivePacer(cap=0.03, target=0.04)
    assert PredictivePacer(cap=0.03).target == pytest.approx(0.025)
    assert PredictivePacer().decide(Snapshot([], []), 0.0).mode is PacingMode.IDLE


def hour_of(p: PredictivePacer, lives: int, abandons: int, t0: float = 0.0) -> float:
    """``lives`` live answers spread over an hour, the last ``abandons`` of them abandoned."""
    for i in range(lives):
        now = t0 + 3600.0 * i / lives
        p.observe(CallAnswered(90_000 + i, AnswerKind.LIVE, 8.0), now)
        if i >= lives - abandons:
            p.observe(CallAbandoned(90_000 + i, 2.0), now + 2.0)
    return t0 + 3600.0


def test_hour_guard_cuts_theta_as_the_trailing_hour_nears_its_cap() -> None:
    # Ten agents: ~225 live answers an hour, 5 % = 11.25 abandons, target 5.6 +- 2.4.
    factors = {}
    for ab in (5, 9, 12):
        p = PredictivePacer(hour_cap=0.05)
        now = hour_of(p, 225, ab)
        factors[ab] = p.hour_factor(now)
    assert factors[5] == 1.0  # a normal hour: untouched
    assert 0.1 < factors[9] < 0.4  # (11.25 - 9) / (2 sqrt(0.025 x 225)) squared = 0.23
    assert factors[12] == 0.0  # over the cap: theta goes to its floor
    p = PredictivePacer(hour_cap=0.05, fast_gain=0.0)
    now = hour_of(p, 225, 9)
    unguarded = PredictivePacer(fast_gain=0.0, hour_cap=None)
    hour_of(unguarded, 225, 9)
    assert p.theta_at(now) == pytest.approx(unguarded.theta_at(now) * factors[9])
    assert p.hour_factor(now + 3700.0) == 1.0  # the hour has rolled past them


def test_hour_guard_leaves_a_big_team_alone_and_aims_a_tenth_under_twice_the_target() -> None:
    p = PredictivePacer(hour_cap=0.05)
    now = hour_of(p, 1125, 30)  # fifty agents: 30 abandons is an ordinary hour
    assert p.hour_factor(now) == 1.0
    off = PredictivePacer(hour_cap=None)
    now = hour_of(off, 225, 12)
    assert off.hour_factor(now) == 1.0
    assert PredictivePacer().hour_cap == pytest.approx(0.045)   # a tenth under 5 % = 2 x target
    assert PredictivePacer(cap=0.1).hour_cap == pytest.approx(0.9 * 2 * 0.1 * 2.5 / 3)
    on = PredictivePacer()
    now = hour_of(on, 225, 11)  # 4.9 %: under the 5 % limit, but past where the guard aims
    assert on.hour_factor(now) == 0.0
    at_limit = PredictivePacer(hour_cap=0.05)
    assert at_limit.hour_factor(hour_of(at_limit, 225, 11)) > 0.0  # aimed at 5 %: not yet
    with pytest.raises(ValueError):
        PredictivePacer(hour_cap=0.02)  # under the 2.5 % target


def test_hour_guard_extrapolates_the_first_minutes_of_a_shift() -> None:
    p = PredictivePacer(hour_cap=0.05)
    for i in range(40):  # 40 lives in the first 10 minutes: ~240 an hour
        p.observe(CallAnswered(i, AnswerKind.LIVE, 8.0), 15.0 * i)
    assert p.hour_factor(600.0) == 1.0  # not read as a 40-answer hour (cap 2 abandons)
    for i in range(3):
        p.observe(CallAbandoned(i, 2.0), 600.0)
    assert p.hour_factor(600.0) == 1.0
