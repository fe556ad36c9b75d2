"""A small frame FIFO between two audio clocks (the sound card's and the SIP stack's). Pure.

The network jitter buffer is PJSIP's own (adaptive, with loss concealment); this one only absorbs
the scheduling jitter and the slow drift between the device clock and the conference clock, which
tick at the same nominal rate but not in step:

- it starts *priming*: `pop()` gives concealment until `target` frames are queued;
- a `pop()` on an empty FIFO is an underrun: it gives the last frame at half level once (a crude
  concealment that avoids a click), then silence, and primes again;
- a `push()` that would hold more than `max_depth` frames drops the oldest down to `target`
  (an overrun: the writer's clock runs fast, or the reader stalled).

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
    underruns: int = 0
    dropped: int = 0


class FrameFifo:
    def __init__(self, frame_bytes: int, target: int = 2, max_depth: int = 6) -> None:
        if not 1 <= target <= max_depth:
            raise ValueError(f"need 1 <= target ({target}) <= max_depth ({max_depth})")
        self.frame_bytes = frame_bytes
        self.target = target
        self.max_depth = max_depth
        self.stats = FifoStats()
        self._frames: deque[bytes] = deque()
        self._priming = True
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
        if self._priming:
            return self._conceal()
        if not self._frames:
            self.stats.underruns += 1
            self._priming = True
            return self._conceal()
        frame = self._frames.popleft()
        self.stats.popped += 1
        self._last = frame
        return frame

    def clear(self) -> None:
        self._frames.clear()
        self._priming = True
        self._last = None

    def _conceal(self) -> bytes:
        last, self._last = self._last, None
        return self._silence if last is None else apply_gain(last, 0.5)
