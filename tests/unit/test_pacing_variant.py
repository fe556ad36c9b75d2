"""bench/pacing_variant.py: one setting of the predictive pacer on the drop case, on chosen
seeds; bad settings and seed ranges are refused before any simulation starts."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from tests.unit.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("pacing_variant")


def test_seed_ranges_are_read_and_bad_ones_named() -> None:
    bench = _bench()
    assert bench.seed_range("3") == [3]
    assert bench.seed_range("0-4") == [0, 1, 2, 3, 4]
    for bad in ("5-2", "a-b", "-1"):
        with pytest.raises(Exception, match=f"seeds '{bad}'"):
            bench.seed_range(bad)


@pytest.mark.parametrize(("params", "said"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"bogus": 1}', "bogus"),
    ('{"hour_cap": 0.01}', "hour_cap must be above the target"),
])
def test_a_bad_setting_is_refused_with_its_reason(
    params: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _bench().main(["drop", params, "--seeds", "0"])
    assert exc.value.code == 2
    assert said in capsys.readouterr().err


def test_the_drop_case_reports_recovery_and_each_campaigns_worst_hour(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _bench().main(["drop", "{}", "--agents", "5", "--seeds", "0-1", "--jobs", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("pacing_variant case=drop agents=5 seeds=0-1 params={}")
    out = json.loads(line[line.index("params={}") + len("params={} "):])
    assert 0.5 < out["occupancy_before"] < 1.0
    assert len(out["worst4"]) == 2 and {seed for _, seed in out["worst4"]} == {0, 1}
    assert len(out["blocks_vs_settled"]) == 12  # the hour after the drop, in 5-minute blocks
