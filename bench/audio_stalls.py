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
        # each underrun's context: ms since the fifo's last push (the device's block), ms since
        # the tick before it, and the level (ms) the tick found
        self.contexts: dict[str, list[tuple[float, float, float]]] = {}
        self.gaps: dict[str, list[float]] = {}      # ms between pushes / between ticks, > 10
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

    def watch(self, fifo: Any, name: str) -> None:
        """Time `fifo`'s underruns (a FrameFifo or MicFifo of the bridge) until `stop()`, each
        with its context: how long since the last block came in, and since the tick before."""
        pop, push = fifo.pop, fifo.push
        contexts = self.contexts.setdefault(name, [])
        pushes, ticks = self.gaps.setdefault(f"{name}_blocks", []), \
            self.gaps.setdefault(f"{name}_ticks", [])
        last = {"push": time.perf_counter(), "pop": time.perf_counter()}

        def timed_push(block: bytes) -> None:
            now = time.perf_counter()
            if (gap := 1000 * (now - last["push"])) > 10:
                pushes.append(gap)
            last["push"] = now
            push(block)

        def timed_pop() -> bytes:
            now = time.perf_counter()
            before, level = fifo.stats.underruns, getattr(fifo, "depth_ms", 0.0)
            frame = pop()
            if (gap := 1000 * (now - last["pop"])) > 30:
                ticks.append(gap)
            if fifo.stats.underruns != before:
                self.underruns.append(now)
                contexts.append((1000 * (now - last["push"]), gap, float(level)))
            last["pop"] = now
            return frame
        fifo.pop, fifo.push = timed_pop, timed_push
        self._unwatch.append(lambda: (delattr(fifo, "pop"), delattr(fifo, "push")))

    def detail(self) -> list[str]:
        """One line per watched FIFO: its underruns' context, and the late blocks and ticks."""
        lines = []
        for name, ctx in self.contexts.items():
            blocks, ticks = self.gaps[f"{name}_blocks"], self.gaps[f"{name}_ticks"]
            late_input = sum(1 for since, _g, _l in ctx if since > 10)
            burst = sum(1 for since, g, _l in ctx if since <= 10 and g < 10)
            each = " ".join(f"{since:.0f}/{g:.0f}/{lvl:.0f}" for since, g, lvl in ctx[:12])
            lines.append(
                f"{name}: underruns={len(ctx)} input_late={late_input} (no block for > 10 ms) "
                f"tick_burst={burst} (a block came, the tick followed another within 10 ms) "
                f"other={len(ctx) - late_input - burst}; each since_block/since_tick/level ms: "
                f"{each or '-'}; block gaps > 10/20/40 ms: "
                f"{sum(g > 10 for g in blocks)}/{sum(g > 20 for g in blocks)}/"
                f"{sum(g > 40 for g in blocks)}; tick gaps > 30/40/60 ms: "
                f"{sum(g > 30 for g in ticks)}/{sum(g > 40 for g in ticks)}/"
                f"{sum(g > 60 for g in ticks)}")
        return lines

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
