"""OMniDialer's formula on hand-computed inputs, and its warm-up / throttle states."""

from __future__ import annotations

import math

import pytest

from dialer.pacing import (
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallState,
    CallView,
    OmniDialerPacer,
    PacingMode,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
)
from dialer.pacing.omnidialer import compute_c_dial, compute_gamma, p_release


def test_gamma_zones() -> None:
    assert compute_gamma(0.0, 0.03, 1.0, 0.2) == 1.0
    assert compute_gamma(0.015, 0.03, 1.0, 0.2) == 1.0  # up to half the cap
    assert compute_gamma(0.0225, 0.03, 1.0, 0.2) == pytest.approx(0.6)  # halfway to floor
    assert compute_gamma(0.03, 0.03, 1.0, 0.2) == 0.0
    assert compute_gamma(0.0, 0.03, 9.0, 0.2) == 5.0  # aggressiveness clamped to 5
    assert compute_gamma(0.0, 0.0, 1.0, 0.2) == 0.0


def test_c_dial_formula() -> None:
    # (2 + 1.5 - 4 * 0.25) / 0.25 * 1 = 10
    assert compute_c_dial(2, 1.5, 4, 0.25, 1.0) == 10
    assert compute_c_dial(2, 1.5, 4, 0.25, 0.6) == 6  # floor(6.0)
    assert compute_c_dial(1, 0.0, 0, 0.3, 1.0) == 3  # floor(3.33)
    assert compute_c_dial(1, 0.0, 0, 0.01, 1.0) == 20  # P_hit floored at 0.05
    assert compute_c_dial(0, 0.0, 8, 0.25, 1.0) == 0  # never negative


def test_release_probability() -> None:
    assert p_release(10.0, 135.0, 35.0) == pytest.approx(1 - math.exp(-0.1))
    assert p_release(10.0, 135.0, 400.0) == pytest.approx(1 - math.exp(-10.0))  # eps = 1 s


def _history(p: OmniDialerPacer, talks: int) -> None:
    for i in range(talks):
        p.observe(CallAnswered(i, AnswerKind.LIVE if i % 4 == 0 else AnswerKind.MACHINE,
                               10.0), 0.0)
        p.observe(TalkEnded(0, 120.0), 0.0)
        p.observe(WrapUpEnded(0, 15.0), 0.0)


def snap(ready: int, talking_elapsed: list[float], ringing: int, now: float) -> Snapshot:
    agents = [AgentView(i, AgentState.READY, now) for i in range(ready)]
    agents += [AgentView(100 + i, AgentState.TALKING, now - e)
               for i, e in enumerate(talking_elapsed)]
    calls = [CallView(i, CallState.RINGING, now, now) for i in range(ringing)]
    return Snapshot(agents, calls)


def test_warm_up_is_progressive_until_fifty_talks() -> None:
    p = OmniDialerPacer()
    _history(p, 49)
    d = p.decide(snap(3, [60.0], 1, 100.0), 100.0)
    assert d.mode is PacingMode.WARM_UP and d.launch == 2


def test_predictive_decision_matches_the_formula() -> None:
    p = OmniDialerPacer()
    _history(p, 60)
    assert p.p_hit is not None
    d = p.decide(snap(2, [35.0], 2, 100.0), 100.0)
    a_exp = 1 - math.exp(-10.0 / (135.0 - 35.0))
    expected = math.floor((2 + a_exp - 2 * p.p_hit) / p.p_hit * 1.0)
    assert d.mode is PacingMode.PREDICTIVE
    assert d.launch == expected
    assert d.inputs["a_expected"] == pytest.approx(a_exp)


def test_throttle_latches_after_five_ticks_over_the_cap() -> None:
    p = OmniDialerPacer()
    _history(p, 60)
    p.observe(CallAbandoned(999, 2.0), 0.0)  # drop EWMA jumps to ~0.1 > 3 %
    modes = [p.decide(snap(2, [], 0, 100.0 + k), 100.0 + k).mode for k in range(6)]
    assert modes[:4] == [PacingMode.PREDICTIVE] * 4  # soft floor gamma first
    assert modes[5] is PacingMode.PROGRESSIVE and p.latched
    for i in range(40):  # live answers decay the EWMA below 0.8 x D_max
        p.observe(CallAnswered(2000 + i, AnswerKind.LIVE, 8.0), 200.0)
    assert p.decide(snap(2, [], 0, 300.0), 300.0).mode is PacingMode.PREDICTIVE
