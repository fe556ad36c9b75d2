"""The pure parts of the call-floor benchmarks: percentiles, the printed lines, the import's
store window and whether it overlapped the measured calls (bench/latency_stats.py), and the
customer lists of bench/connect_latency.py and bench/safe_harbor_start.py."""

from __future__ import annotations

import pytest

from dialer.qa.carrier_plan import parse
from tests.unit.bench_scripts import load_bench

ls = load_bench("latency_stats")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]      # 1..100
    assert ls.percentile(values, 50) == 51.0        # round(0.5 * 99) = 50 -> the 51st
    assert ls.percentile(values, 99) == 99.0
    assert ls.percentile(values, 100) == 100.0
    assert ls.percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert ls.percentile([7.5], 99) == 7.5
    with pytest.raises(ValueError, match="no values"):
        ls.percentile([], 50)
    with pytest.raises(ValueError, match="0-100"):
        ls.percentile([1.0], 101)


def test_latency_line_format() -> None:
    line = ls.latency_line("connect_latency_ms", [1.0, 2.0, 30.0], load="import", concurrent=20)
    assert line == "connect_latency_ms p50=2.00 p99=30.00 calls=3 load=import concurrent=20"
    assert ls.latency_line("x_ms", [], "ticks") == "x_ms p50=nan p99=nan ticks=0"


def test_worst_names_the_largest_samples_and_when() -> None:
    samples = [(100.0, 2.0), (101.5, 250.0), (103.0, 12.25), (104.0, 1.0)]
    assert ls.worst(samples, origin=100.0, n=2) == "250.0@+1.50s,12.2@+3.00s"
    assert ls.worst([], origin=0.0) == "none"


def test_parse_progress_lines_of_dialer_list_import() -> None:
    assert ls.parse_progress("  [###...........................] 5000/100000") == (5000, 100000)
    assert ls.parse_progress("  [##############################] 100000/100000 ") == (100000,
                                                                                       100000)
    assert ls.parse_progress("list.csv: imported 100000 contacts into x") is None


def test_store_window_extrapolates_the_first_chunk() -> None:
    # 5,000 rows per line, one line a second: the first insert began a second before line one
    progress = [(100.0 + k, 5000 * (k + 1), 100_000) for k in range(20)]
    w = ls.store_window(progress, ended=120.5)
    assert w == ls.Window(99.0, 120.5)
    assert ls.store_window([(50.0, 5000, 10_000)], ended=51.0) == ls.Window(50.0, 51.0)
    assert ls.store_window([], ended=3.0) is None


def test_overlap_counts_answers_in_the_run_and_in_the_store_phase() -> None:
    run, store = ls.Window(10.0, 30.0), ls.Window(25.0, 30.0)
    ov = ls.overlap(run, store, [31.0, 5.0, 12.0, 26.0, 30.0])
    assert (ov.answers, ov.in_run, ov.in_store, ov.calls) == (ls.Window(5.0, 31.0), 3, 2, 5)
    assert ov.overlapped
    line = ls.overlap_line(run, store, ov)
    assert line == ("import_overlap import=+5.00..+25.00s store=+20.00..+25.00s "
                    "answers=+0.00..+26.00s calls_during_import=3 calls_during_store=2/5 "
                    "overlapped=yes")


def test_no_overlap_when_no_answer_falls_in_the_store_phase() -> None:
    # the import ran during the calls, but its write lock came after the last answer
    ov = ls.overlap(ls.Window(0.0, 20.0), ls.Window(15.0, 20.0), [1.0, 5.0, 14.9])
    assert ov.in_run == 3 and ov.in_store == 0 and not ov.overlapped
    assert ls.overlap_line(ls.Window(0.0, 20.0), None, ls.overlap(
        ls.Window(0.0, 20.0), None, [])).endswith("overlapped=NO")


def test_connect_latency_customers_are_distinct_and_spread() -> None:
    numbers = load_bench("connect_latency").customer_numbers(100)
    assert len(set(numbers)) == 100
    customers = [parse(n) for n in numbers]
    assert {c.ring_s for c in customers} == {1, 2, 3, 4}
    assert {c.talk_s for c in customers} == {2, 3, 4, 5}
    assert len(set(load_bench("connect_latency").customer_numbers(1280))) == 1280
    with pytest.raises(ValueError):
        load_bench("connect_latency").customer_numbers(1281)


def test_safe_harbor_customers_answer_fast_and_outstay_the_message() -> None:
    bench = load_bench("safe_harbor_start")
    numbers = bench.customer_numbers(48)
    customers = [parse(n) for n in numbers]
    assert len(set(numbers)) == 48
    assert {c.ring_s for c in customers} == {1, 2, 3, 4}
    assert {c.talk_s for c in customers} == {11, 12, 13, 14}     # the message lasts 10 s
    short = [parse(n) for n in bench.customer_numbers(48, talk_s=3)]
    assert {c.talk_s for c in short} == {3} and len({c.number for c in short}) == 48
    assert len(set(bench.customer_numbers(1280))) == 1280
    assert len(set(bench.customer_numbers(320, talk_s=3))) == 320
    with pytest.raises(ValueError):
        bench.customer_numbers(321, talk_s=3)
