"""Benchmark metrics: windows, worst day, hold quantile, the drop report."""

from __future__ import annotations

import pytest

from dialer.sim.metrics import (
    HOLD_BIN,
    DayStats,
    RunResult,
    Timeline,
    analyze_drop,
    hold_quantile,
    summarize,
)


def day(lives: int, abandons: int, busy: float = 80.0, hold: list[int] | None = None) -> DayStats:
    return DayStats(agent_s=100.0, busy_s=busy, talk_s=busy * 0.9, dials=4 * lives,
                    lives=lives, abandons=abandons, connected=lives - abandons,
                    hold_hist=hold or [lives - abandons])


def test_windows_worst_day_and_pooled_rates() -> None:
    run = RunResult(days=[day(100, 1)] * 30 + [day(100, 10)])
    assert run.window_rates(30)[0] == pytest.approx(0.01)
    assert run.window_rates(30)[1] == pytest.approx(0.013)  # (29 + 10) / 3000
    short = RunResult(days=[day(100, 2), day(100, 4)])
    assert short.window_rates(30) == [pytest.approx(0.03)]
    s = summarize([run, short])
    assert s.abandon_30d == pytest.approx(0.03)
    assert s.worst_day == pytest.approx(0.10)
    assert s.abandon_mean == pytest.approx((30 + 10 + 6) / 3300)
    assert s.occupancy == pytest.approx(0.8)
    assert s.dials_per_agent_hour == pytest.approx(4 * 3300 / (33 * 100 / 3600))
    assert s.days == 33


def test_hold_quantile_from_histogram() -> None:
    hist = [0] * 101
    hist[0], hist[50] = 98, 2  # 98 calls connected at once, 2 after ~1 s
    d = DayStats(connected=100, hold_hist=hist)
    assert hold_quantile([d], 0.98) == 0.0
    assert hold_quantile([d], 0.99) == pytest.approx(51 * HOLD_BIN)
    assert hold_quantile([DayStats()], 0.99) == 0.0


def test_drop_report_on_a_synthetic_timeline() -> None:
    n = 481
    busy = [48.0] * 240 + [30.0] * 6 + [45.0] * (n - 246)  # 1 agent: 0.8, dip, then 0.75
    lives = [4] * n
    abandons = [0] * 120 + [1] * 12 + [0] * 108 + [1] * 30 + [0] * (n - 270)
    rep = analyze_drop([Timeline(busy, lives, abandons)], agents=1, change_min=240)
    assert rep.occupancy_before == pytest.approx(0.8)
    assert rep.occupancy_after == pytest.approx(0.75)
    assert rep.dip == pytest.approx(0.5)
    assert rep.recovery_min == 6  # the dip lasts minutes 240-245
    assert rep.recovery_stable_min == 6
    assert rep.rolling_1h_max == pytest.approx(30 / 240)
    assert rep.rolling_1h_worst_seed == rep.rolling_1h_max
    assert rep.rolling_1h_worst_seed_before == pytest.approx(12 / 240)
    assert (rep.seeds_over_limit, rep.seeds_over_limit_before) == (1, 0)  # 12.5 % / 5 %


def test_drop_report_recovery_for_good_counts_a_second_dip() -> None:
    n = 481
    busy = [48.0] * 240 + [30.0] * 6 + [45.0] * 10 + [30.0] * 4 + [45.0] * (n - 260)
    lives, abandons = [4] * n, [0] * n
    rep = analyze_drop([Timeline(busy, lives, abandons)], agents=1, change_min=240)
    assert rep.recovery_min == 6  # first back in the band
    assert rep.recovery_stable_min == 20  # the second dip (minutes 256-259) ends at 20
