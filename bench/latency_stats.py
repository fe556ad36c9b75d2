"""Pure helpers of the call-floor benchmarks (bench/connect_latency.py, bench/safe_harbor_start.py):
percentiles, the printed lines, and whether a background load really overlapped the measured calls.

No I/O and no clock here: times are plain epoch seconds passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_PROGRESS = re.compile(r"(\d+)/(\d+)\s*$")


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile `p` (0-100) of `values` (not empty)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be 0-100, got {p}")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def latency_line(name: str, values_ms: Sequence[float], counted: str = "calls",
                 **extra: object) -> str:
    """`<name> p50=<x> p99=<y> calls=<n> k=v ...` (milliseconds, two decimals; `counted` names
    the count); with no values, p50 and p99 are `nan` and the count 0: a line is always printed."""
    if values_ms:
        head = (f"{name} p50={percentile(values_ms, 50):.2f} p99={percentile(values_ms, 99):.2f} "
                f"{counted}={len(values_ms)}")
    else:
        head = f"{name} p50=nan p99=nan {counted}=0"
    return " ".join([head, *(f"{k}={v}" for k, v in extra.items())])


def worst(samples: Iterable[tuple[float, float]], origin: float, n: int = 3) -> str:
    """The `n` largest `(epoch, ms)` samples as `ms@+seconds` from `origin`, largest first
    (`none` if there are none): to see whether the slowest calls and the stalls coincide."""
    top = sorted(samples, key=lambda s: s[1], reverse=True)[:n]
    return ",".join(f"{ms:.1f}@{t - origin:+.2f}s" for t, ms in top) or "none"


@dataclass(frozen=True)
class Window:
    """A span of wall-clock time, epoch seconds."""

    start: float
    end: float

    def holds(self, t: float) -> bool:
        return self.start <= t <= self.end

    def relative(self, origin: float) -> str:
        return f"{self.start - origin:+.2f}..{self.end - origin:+.2f}s"


def parse_progress(text: str) -> tuple[int, int] | None:
    """`done, total` from one progress line of `dialer list import` (`  [###...] 5000/100000`)."""
    got = _PROGRESS.search(text)
    return (int(got.group(1)), int(got.group(2))) if got else None


def store_window(progress: Sequence[tuple[float, int, int]], ended: float) -> Window | None:
    """When the import held the database's write lock, from its progress lines
    `(time seen, rows stored, rows in all)` and the moment the process ended.

    A line is printed after each chunk is inserted, so the first insert began about one chunk
    earlier than the first line: that start is extrapolated at the pace of the following
    chunks. The lock ends with the commit, just before the process ends. None: no progress."""
    if not progress:
        return None
    t0, done0, _ = progress[0]
    start = t0
    if len(progress) >= 2:
        t1, done1, _ = progress[-1]
        if done1 > done0 and t1 >= t0:
            start = t0 - done0 * (t1 - t0) / (done1 - done0)
    return Window(start, max(ended, t0))


@dataclass(frozen=True)
class Overlap:
    answers: Window | None      # the first and last measured answer
    in_run: int                 # measured answers while the import process ran
    in_store: int               # ... while it held the write lock
    calls: int

    @property
    def overlapped(self) -> bool:
        """True when at least one measured answer fell while the import held the write lock."""
        return self.in_store > 0


def overlap(run: Window, store: Window | None, answers: Iterable[float]) -> Overlap:
    """How many answers (epoch seconds) fell in the import's run and in its store phase."""
    times = sorted(answers)
    return Overlap(Window(times[0], times[-1]) if times else None,
                   sum(1 for t in times if run.holds(t)),
                   sum(1 for t in times if store is not None and store.holds(t)),
                   len(times))


def overlap_line(run: Window, store: Window | None, ov: Overlap) -> str:
    """One line, times relative to the first measured answer."""
    origin = ov.answers.start if ov.answers else run.start
    answers = ov.answers.relative(origin) if ov.answers else "none"
    stored = store.relative(origin) if store else "none"
    return (f"import_overlap import={run.relative(origin)} store={stored} answers={answers} "
            f"calls_during_import={ov.in_run} calls_during_store={ov.in_store}/{ov.calls} "
            f"overlapped={'yes' if ov.overlapped else 'NO'}")
