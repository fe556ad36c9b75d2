"""Estimators of the predictive pacer converge on known data."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from dialer.pacing.estimators import (
    RateEstimator,
    Samples,
    agent_free_table,
    call_live_table,
    ecdf,
)


def feed(est: RateEstimator, rng: random.Random, p: float, n: int) -> None:
    for _ in range(n):
        est.update(rng.random() < p)


def test_rate_uses_prior_before_first_window() -> None:
    est = RateEstimator(prior=0.25, prior_weight=10)
    assert est.value == pytest.approx(0.25)
    for _ in range(10):
        est.update(True)
    assert est.value == pytest.approx((10 + 2.5) / 20)


def test_rate_converges_on_a_stable_rate_with_the_longest_window() -> None:
    est = RateEstimator()
    feed(est, random.Random(1), 0.25, 6000)
    assert est.window == 3200
    assert est.value == pytest.approx(0.25, abs=3 * math.sqrt(0.25 * 0.75 / 3200))


def test_rate_follows_a_drop_within_a_few_hundred_calls() -> None:
    rng = random.Random(2)
    est = RateEstimator()
    for _ in range(4000):
        est.update(rng.random() < 0.25)
        est.value  # noqa: B018 - evaluated as often as a pacer does
    assert est.shifts == 0  # no false alarm on a stable rate
    for _ in range(400):
        est.update(rng.random() < 0.12)
        est.value  # noqa: B018
    assert est.window <= 500
    assert est.value == pytest.approx(0.12, abs=0.03)
    assert est.shifts >= 1


def test_rate_does_not_collapse_on_a_chance_run_of_misses() -> None:
    # A stable 25 %, then 60 misses in a row (at a 12 % rate such runs of 50 happen
    # a few times an hour with 50 agents).
    guarded, bare = RateEstimator(), RateEstimator(fall_window=0)
    for x in [i % 4 == 0 for i in range(3200)] + [False] * 60:
        guarded.update(x)
        bare.update(x)
    assert bare.window == 50 and bare.value < 0.01  # what dialed up to the line limit
    assert guarded.window == 50  # the short window is still chosen ...
    assert guarded.value == pytest.approx(140 * 0.25 / 200)  # ... but read over 200


def test_rate_guard_holds_back_only_a_fall_and_only_for_the_fall_window() -> None:
    up, up_bare = RateEstimator(), RateEstimator(fall_window=0)
    for x in [i % 25 < 3 for i in range(3200)] + [i % 2 == 0 for i in range(60)]:
        up.update(x)
        up_bare.update(x)
    assert up.value == up_bare.value == pytest.approx(0.5)  # a rise: at once
    down, down_bare = RateEstimator(), RateEstimator(fall_window=0)
    for x in [i % 4 == 0 for i in range(3200)] + [i % 10 == 0 for i in range(200)]:
        down.update(x)
        down_bare.update(x)
        assert down.value >= down_bare.value
    assert down.value == down_bare.value == pytest.approx(0.10)  # a real fall: 200 calls


def test_rate_rejects_bad_windows() -> None:
    with pytest.raises(ValueError):
        RateEstimator(windows=(100, 50))


def test_samples_keep_the_most_recent() -> None:
    s = Samples(3)
    for x in (5.0, -1.0, 2.0, 9.0):
        s.add(x)
    assert len(s) == 3
    assert list(s.sorted()) == [0.0, 2.0, 9.0]
    assert s.mean() == pytest.approx(11.0 / 3)


def test_ecdf() -> None:
    xs = np.array([1.0, 2.0, 2.0, 4.0])
    assert list(ecdf(xs, np.array([0.0, 2.0, 3.0, 4.0]))) == [0.0, 0.75, 0.75, 1.0]


def test_agent_free_table_matches_uniform_talk() -> None:
    # talk uniform on [100, 200] (dense grid of samples), no wrap-up
    talk = np.linspace(100.0, 200.0, 10001)
    wrap = np.zeros(50)
    h = np.array([10.0, 50.0])
    q_talk, q_wrap = agent_free_table(talk, wrap, h, 300)

    def exact(e: float, hh: float) -> float:
        lo = max(e, 100.0)
        return max(0.0, min(e + hh, 200.0) - lo) / (200.0 - lo)

    for e in (0, 95, 120, 150, 185):
        for j, hh in enumerate(h):
            assert q_talk[e, j] == pytest.approx(exact(e, hh), abs=2e-3)
    assert q_wrap[0, 0] == pytest.approx(1.0)  # zero wrap-up: free at once


def test_agent_free_table_adds_wrap_up() -> None:
    talk = np.full(100, 100.0)
    wrap = np.full(100, 20.0)
    q_talk, _ = agent_free_table(talk, wrap, np.array([25.0, 35.0]), 200)
    # at 90 s of a 100 s talk + 20 s wrap-up, free at 120 s: not within 25, within 35 s
    assert q_talk[90, 0] == pytest.approx(0.0)
    assert q_talk[90, 1] == pytest.approx(1.0)


def test_call_live_table_conditions_on_ringing() -> None:
    live = np.linspace(5.0, 15.0, 1001)  # live answers uniform on [5, 15]
    other = np.full(1000, 20.0)  # everything else ends at the 20 s timeout
    taus = np.array([5.0, 10.0])
    c = call_live_table(live, other, 0.25, taus, 30)
    assert c[0, 1] == pytest.approx(0.25 * 0.5, abs=2e-3)  # P(live by 10 s) at launch
    # still ringing at 10 s: P(live) = 0.25*0.5 / (0.25*0.5 + 0.75)
    assert c[10, 1] == pytest.approx(0.125 / 0.875, abs=3e-3)
    assert c[16, 0] == pytest.approx(0.0)  # past every live ring time
