"""What the machine does to the audio benchmark's process (bench/softphone_audio.py): stalls of
the whole process, CPU steal, and which of the bridge's underruns came right after a stall."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class StallWatch:
    """What the machine did to every thread during the long call: a thread of this process
    that sleeps 5 ms at a time counts how often it woke more than 20 ms late (the whole process
    stopped: the CPU was busy, or the virtual machine's host ran something else), and
    /proc/stat gives the share of CPU time the host took (`steal`). Each underrun of the bridge's
    FIFOs is timed too (`watch`), to tell the ones that came within 100 ms after the process was
    stopped for more than 10 ms from the others."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []     # (from, to) of each stop over 10 ms
        self.underruns: list[float] = []
        self._unwatch: list[Callable[[], None]] = []
        self.stalls = 0
        self.worst_ms = 0.0
        self._stop = threading.Event()
        self._steal0 = self._cpu()
        self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)
        self._thread.start()

    @staticmethod
    def _cpu() -> tuple[int, int]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            return fields[7], sum(fields)
        return 0, 0

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            time.sleep(0.005)
            t1 = time.perf_counter()
            late = 1000 * (t1 - t0) - 5
            if late > 10:
                self.spans.append((t0 + 0.005, t1))
            if late > 20:
                self.stalls += 1
            self.worst_ms = max(self.worst_ms, late)

    def watch(self, fifo: Any) -> None:
        """Time `fifo`'s underruns (a FrameFifo or MicFifo of the bridge) until `stop()`."""
        pop = fifo.pop

        def timed() -> bytes:
            before = fifo.stats.underruns
            frame = pop()
            if fifo.stats.underruns != before:
                self.underruns.append(time.perf_counter())
            return frame
        fifo.pop = timed
        self._unwatch.append(lambda: delattr(fifo, "pop"))

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(1)
        for undo in self._unwatch:
            undo()
        steal1, total1 = self._cpu()
        steal = 100 * (steal1 - self._steal0[0]) / max(1, total1 - self._steal0[1])
        after = sum(1 for u in self.underruns
                    if any(a - 0.01 <= u <= b + 0.1 for a, b in self.spans))
        return (f"process_stalls_over_20ms={self.stalls} worst_stall_ms={self.worst_ms:.0f} "
                f"cpu_steal_pct={steal:.1f} underruns_after_a_stall={after} "
                f"of {len(self.underruns)} (within 100 ms after the process stopped > 10 ms)")
