"""A small frame FIFO between two audio clocks (the sound card's and the SIP stack's). Pure.

The network jitter buffer is PJSIP's own (adaptive, with loss concealment); this one only absorbs
the scheduling jitter and the slow drift between the device clock and the conference clock, which
tick at the same nominal rate but not in step. Every frame it holds is 20 ms of added delay, so it
holds as few as it can:

- it starts *priming*: `pop()` gives concealment until `target` frames are queued;
- a `pop()` on an empty FIFO is an underrun (a click if nothing hid it): it gives the last frame at
  half level once (a crude concealment that avoids a click), then silence, and primes again;
- the target is *adaptive*: it starts low (one frame: the two clocks' phase difference, 0-20 ms,
  is then all the delay) and grows by one frame on each underrun, up to `max_target`, so a device
  whose callbacks really are late or bursty gets the slack it needs and one that is not pays
  nothing. Underruns during the first `settle` pops (streams starting, the first callbacks of a
  sound server arriving in a burst) are counted apart and do not grow the target;
- a `push()` that would hold more than `max_depth` frames drops the oldest down to `target`
  (an overrun: the writer's clock runs fast, or the reader stalled);
- a FIFO that stayed deeper than its target for a whole `window` of pops (a device that started
  late, as a PulseAudio output stream does, leaves a backlog that a steady pair of clocks never
  drains) drops the excess once (`trimmed`): it is delay nobody needs.

Not thread-safe by itself: the owner serialises `push()` and `pop()`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dialer.core.audio import apply_gain


@dataclass
class FifoStats:
    pushed: int = 0
    popped: int = 0
    underruns: int = 0          # after the settling pops: each one is a gap the listener hears
    dropped: int = 0
    startup_underruns: int = 0  # during the settling pops
    target: int = 0             # the target now (frames)
    trimmed: int = 0            # frames dropped because the FIFO stayed deeper than its target
    lead_ms: float = 0.0        # MicFifo: the margin it keeps above one frame before a tick
    trimmed_ms: float = 0.0     # MicFifo: audio cut out because the level stayed above the lead
    raised_ms: float = 0.0      # MicFifo: audio played twice to bring the level up to the lead


class FrameFifo:
    def __init__(self, frame_bytes: int, target: int = 2, max_depth: int = 6,
                 max_target: int | None = None, settle: int = 0, window: int = 50) -> None:
        top = target if max_target is None else max_target
        if not 1 <= target <= top <= max_depth:
            raise ValueError(f"need 1 <= target ({target}) <= max_target ({top}) "
                             f"<= max_depth ({max_depth})")
        if settle < 0:
            raise ValueError(f"settle ({settle}) must be >= 0")
        self.frame_bytes = frame_bytes
        self.target = target
        self.initial_target = target
        self.max_target = top
        self.max_depth = max_depth
        self.settle = settle
        self.window = window
        self._window_pops = 0
        self._window_min = max_depth + 1
        self.stats = FifoStats(target=target)
        self._frames: deque[bytes] = deque()
        self._priming = True
        self._pops = 0
        self._last: bytes | None = None
        self._silence = bytes(frame_bytes)

    @property
    def depth(self) -> int:
        return len(self._frames)

    def push(self, frame: bytes) -> None:
        if len(frame) != self.frame_bytes:
            raise ValueError(f"frame of {len(frame)} bytes, expected {self.frame_bytes}")
        self._frames.append(frame)
        self.stats.pushed += 1
        if len(self._frames) > self.max_depth:
            while len(self._frames) > self.target:
                self._frames.popleft()
                self.stats.dropped += 1
        if self._priming and len(self._frames) >= self.target:
            self._priming = False

    def pop(self) -> bytes:
        self._pops += 1
        if self._priming:
            return self._conceal()
        if not self._frames:
            self._underrun()
            return self._conceal()
        self._watch_depth()
        frame = self._frames.popleft()
        self.stats.popped += 1
        self._last = frame
        return frame

    def _watch_depth(self) -> None:
        self._window_min = min(self._window_min, len(self._frames))
        self._window_pops += 1
        if self._window_pops < self.window:
            return
        excess = self._window_min - self.target
        if excess > 0:
            for _ in range(excess):
                self._frames.popleft()
            self.stats.trimmed += excess
        self._window_pops = 0
        self._window_min = self.max_depth + 1

    def keep_newest(self, n: int) -> int:
        """Drop all but the newest `n` frames (counted as `trimmed`); how many were dropped.
        For a reader that knows the backlog is stale: a device whose own clock came back after
        someone else's clock filled the FIFO in its place."""
        excess = max(0, len(self._frames) - n)
        for _ in range(excess):
            self._frames.popleft()
        self.stats.trimmed += excess
        return excess

    def clear(self) -> None:
        """Start again (a new call or a reopened device): empty, priming, the initial target."""
        self._frames.clear()
        self._priming = True
        self._last = None
        self._pops = 0
        self._window_pops = 0
        self._window_min = self.max_depth + 1
        self.target = self.initial_target
        self.stats.target = self.target

    def _underrun(self) -> None:
        self._priming = True
        if self._pops <= self.settle:
            self.stats.startup_underruns += 1
            return
        self.stats.underruns += 1
        if self.target < self.max_target:
            self.target += 1
            self.stats.target = self.target

    def _conceal(self) -> bytes:
        last, self._last = self._last, None
        return self._silence if last is None else apply_gain(last, 0.5)
