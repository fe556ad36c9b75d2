"""The benchmark command on a tiny configuration: lines, tuning, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.sim import B0, bench
from dialer.sim.bench import FAMILIES, Case, format_row, run_benchmark

LINE = (r"^pacing scenario=B0 agents=3 policy=(\S+) occupancy=0\.\d{3} "
        r"abandon_30d=0\.\d{4} worst_day=0\.\d{4}( |$)")


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> list[Case]:
    fams = {k: v[:1] for k, v in FAMILIES.items()}
    monkeypatch.setattr(bench, "FAMILIES", fams)
    sc = B0.with_(agents=3, days=2, shift_s=1800.0)
    return [Case("B0", sc, seeds=1, oracle=True, frontier=(0.02,), tune_days=1)]


def test_benchmark_rows_and_plot(tiny: list[Case], tmp_path: Path) -> None:
    drop = [Case("drop25to12", B0.with_(agents=3, days=2, shift_s=5 * 3600.0,
                                        live_rate_change=(5 * 3600.0 + 4 * 3600.0, 0.12)),
                 seeds=1)]
    rows = run_benchmark(tiny, drop, jobs=1, steps=1)
    policies = [r.policy for r in rows if r.case == "B0"]
    assert policies == ["progressive", "ratio", "vicidial_adapt", "omnidialer", "predictive",
                        "oracle", "predictive@0.02"]
    import re

    for r in rows[:6]:
        assert re.match(LINE, format_row(r)), format_row(r)
    ratio = next(r for r in rows if r.policy == "ratio")
    assert ratio.params["basis"] == "ready" and ratio.sweep
    assert "setting=basis:ready,ratio:" in format_row(ratio)
    drop_row = rows[-1]
    assert drop_row.case == "drop25to12" and "recovery_min" in drop_row.extra

    from dialer.sim.plot import plot_frontiers

    (png,) = plot_frontiers([r for r in rows if r.case == "B0"], tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_main_rejects_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--bogus"])


def test_omnidialer_is_tuned_on_aggressiveness_and_on_d_max_under_the_cap() -> None:
    fams = FAMILIES["omnidialer"]
    assert {f.param for f in fams} == {"aggressiveness", "d_max"}
    for f in fams:
        for x in (f.lo, f.hi):
            p = f.params(x)
            assert 0 < p["d_max"] <= bench.CAP and 0.1 <= p["aggressiveness"] <= 5.0
