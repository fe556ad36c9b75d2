"""The jurisdiction-profile benchmark's pieces: the compliance hold in front of a pacer and the
worst window of each rule's kind, on hand-made times; one tiny run through `dialer bench`."""

from __future__ import annotations

import re

import pytest

from dialer.cli import main as dialer_main
from dialer.core.jurisdiction import CA_CRTC, UK_OFCOM, US_TSR
from dialer.pacing import create_pacer
from dialer.pacing.events import (
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    PacingMode,
    Snapshot,
)
from dialer.sim.engine import DAY_S
from dialer.sim.profiles import HeldPacer, worst_window

H = 3600.0


def brute_force(lives: list[float], abandons: list[float], length: float, end: int) -> float:
    """Every window (t - length, t] ending on a whole second from ``length`` to ``end``."""
    worst = 0.0
    for t in range(int(length), end + 1):
        lv = sum(t - length < x <= t for x in lives)
        ab = sum(t - length < x <= t for x in abandons)
        if lv:
            worst = max(worst, ab / lv)
    return worst


def test_worst_24h_window_is_the_worst_of_every_complete_window() -> None:
    # day 0: 100 lives a minute apart, an abandon at 1 h; day 1: 10 lives, an abandon at 25 h
    lives = sorted([60.0 * i for i in range(100)] + [DAY_S + 60.0 * i for i in range(10)])
    abandons = [H, DAY_S + H]
    end = int(DAY_S + 2 * H)
    worst = worst_window(lives, abandons, UK_OFCOM, end)
    assert worst == pytest.approx(brute_force(lives, abandons, DAY_S, end))
    # the worst: once day 0's lives (the last at 1 h 39 min) have left the window, it holds
    # day 1's 10 lives and its abandon, e.g. (2 h, 26 h]; while they had not, (1 h, 25 h]
    # held 39 + 10 lives for that abandon
    assert worst == pytest.approx(1 / 10)
    assert worst > 2 / 110  # worse than the run as a whole
    # a run shorter than the window is one window
    assert worst_window([1.0, 2.0, 3.0, 4.0], [2.5], US_TSR, 10 * DAY_S) == 0.25


def test_calendar_month_windows_are_30_day_blocks() -> None:
    month = 30 * DAY_S
    lives = sorted([1.0 * i for i in range(100)] + [month + i for i in range(20)])
    abandons = [50.0, month + 5, month + 6]
    assert worst_window(lives, abandons, CA_CRTC, 2 * month) == pytest.approx(2 / 20)


def test_hold_dials_progressively_while_the_window_is_over_the_cap() -> None:
    held = HeldPacer(create_pacer("predictive", cap=0.03), UK_OFCOM)
    snap = Snapshot(agents=tuple(AgentView(i, AgentState.READY, 0.0) for i in range(4)), calls=())
    for i in range(20):
        held.observe(CallAnswered(i, AnswerKind.LIVE, 8.0), 10.0 + i)
    held.observe(CallAbandoned(19, 2.0), 40.0)  # 1 of 20: 5% >= 3%
    decision = held.decide(snap, 50.0)
    assert decision.mode is PacingMode.PROGRESSIVE and decision.launch == 4
    assert "24-hour rate 1/20" in decision.reason
    # 24 h later the abandon has left the window: the predictive pacer decides again
    later = held.decide(snap, 50.0 + DAY_S)
    assert later.pacer == "predictive"
    assert held.held == 1 and held.decisions == 2


def test_dialer_bench_profiles_prints_a_line_per_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert dialer_main(["bench", "profiles", "--", "--only", "uk_ofcom", "--days", "1",
                        "--seeds", "1", "--agents", "3", "--jobs", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert re.match(r"^profile=uk_ofcom window=24_h_rolling cap=0\.030 agents=3 seeds=1 days=1 "
                    r"worst_window=0\.\d{4} mean=0\.\d{4} occupancy=0\.\d{3} held_share=0\.\d{3} "
                    r"within_cap=[01] seconds=\d+$", out[0]), out[0]
