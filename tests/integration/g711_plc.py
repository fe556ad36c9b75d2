"""Packet loss concealment as ITU-T G.711 Appendix I describes it: what a real phone does (at
least) with a lost G.711 packet, for the simulated customer of `speech_path`.

The receiver works on 10 ms frames (80 samples at 8 kHz) and keeps the last 48.75 ms it played
(390 samples). When a frame is lost:

- at the start of the loss, it estimates the pitch period of the last 20 ms (a normalised
  cross-correlation, 40-120 samples: 66-200 Hz; a coarse search on every other sample, then a
  fine one around the best) and repeats the last pitch period, smoothing the seam with a quarter
  period overlap-add (OLA);
- a loss longer than 10 ms takes one more period into the repeated buffer at 10 and at 20 ms
  (less buzz), and fades the synthetic speech by 20 % per 10 ms after the first 10 ms; after
  60 ms the output is silence;
- the first good frame after a loss is overlap-added with the synthetic signal continued, over a
  quarter period plus 4 ms per further lost frame (at most 10 ms).

The output runs 3.75 ms (30 samples) behind the input: that is how the first OLA can look at
samples already "played". `conceal` removes that delay, so its output lines up with the input.

Pure numpy; the constants and steps are those of the Appendix (its reference "LowcFE").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FRAME = 80                      # 10 ms at 8 kHz: the unit the Appendix works on
PITCH_MIN, PITCH_MAX = 40, 120  # 200 Hz .. 66 Hz
PITCH_SPAN = PITCH_MAX - PITCH_MIN
OVERLAP_MAX = PITCH_MAX // 4    # the output's delay (30 samples, 3.75 ms)
HISTORY = 3 * PITCH_MAX + OVERLAP_MAX   # 390: up to 3 periods plus the OLA
CORR_LEN = 160                  # the 20 ms matched in the pitch search
CORR_BUF = CORR_LEN + PITCH_MAX
CORR_MIN_POWER = 250.0
DECIMATE = 2                    # the coarse search's step
END_OVERLAP_STEP = 32           # longer losses: a longer OLA into the first good frame
ATTENUATION = 0.2               # per 10 ms, after the first 10 ms of a loss
SILENT_AFTER = 6                # lost frames (60 ms) after which the output is silence


def find_pitch(history: np.ndarray) -> int:
    """The pitch period (samples, 40..120) of the last 20 ms of `history` (>= 280 samples)."""
    buf = np.asarray(history, dtype=float)[-CORR_BUF:]
    target = buf[CORR_BUF - CORR_LEN:]

    def score(lag: int, step: int) -> float:
        seg = buf[lag:lag + CORR_LEN:step]
        energy = max(float(np.dot(seg, seg)), CORR_MIN_POWER)
        return float(np.dot(seg, target[::step])) / float(np.sqrt(energy))

    best, best_score = 0, -np.inf
    for lag in range(0, PITCH_SPAN + 1, DECIMATE):          # coarse: ties go to the shorter pitch
        s = score(lag, DECIMATE)
        if s >= best_score:
            best, best_score = lag, s
    lo, hi = max(0, best - DECIMATE + 1), min(PITCH_SPAN, best + DECIMATE - 1)
    best, best_score = lo, score(lo, 1)
    for lag in range(lo + 1, hi + 1):                      # fine: every sample around it
        s = score(lag, 1)
        if s > best_score:
            best, best_score = lag, s
    return PITCH_MAX - best


def _ola(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cross-fade from `left` to `right` (same length), linear weights."""
    n = len(left)
    rw = np.arange(1, n + 1) / n
    return (1.0 - rw) * left + rw * right


class AppendixIPlc:
    """One receiver's concealment state. Feed it 10 ms frames in order: `good(frame)` for a
    frame that arrived, `lost()` for one that did not; each returns the 10 ms to play
    (float samples, 30 samples behind the input)."""

    def __init__(self) -> None:
        self.history = np.zeros(HISTORY)
        self.erased = 0                      # consecutive lost frames so far
        self.pitch = 0
        self._buf = np.zeros(HISTORY)        # the pitch buffer: its last `_blen` samples repeat
        self._blen = 0
        self._offset = 0
        self._overlap = 0
        self._tail = np.zeros(OVERLAP_MAX)   # the last quarter period as it was before the loss

    def _synthetic(self, n: int) -> np.ndarray:
        out = np.empty(n)
        start = HISTORY - self._blen
        i = 0
        while i < n:
            cnt = min(self._blen - self._offset, n - i)
            out[i:i + cnt] = self._buf[start + self._offset:start + self._offset + cnt]
            self._offset = (self._offset + cnt) % self._blen
            i += cnt
        return out

    def _seam(self) -> None:
        """Smooth the seam between the buffer's end and the start of its repeated part."""
        ov, start = self._overlap, HISTORY - self._blen
        if ov:
            self._buf[HISTORY - ov:] = _ola(self._tail[:ov], self._buf[start - ov:start])

    def _fade(self, out: np.ndarray) -> np.ndarray:
        g = 1.0 - (self.erased - 1) * ATTENUATION
        return out * (g - np.arange(FRAME) * (ATTENUATION / FRAME))

    def _played(self, frame: np.ndarray) -> np.ndarray:
        self.history = np.concatenate([self.history[FRAME:], frame])
        return self.history[HISTORY - FRAME - OVERLAP_MAX:HISTORY - OVERLAP_MAX].copy()

    def lost(self) -> np.ndarray:
        if self.erased == 0:
            self._buf = self.history.copy()
            self.pitch = find_pitch(self._buf)
            self._overlap = self.pitch // 4
            self._tail = self._buf[HISTORY - self._overlap:].copy()
            self._offset, self._blen = 0, self.pitch
            self._seam()
            self.history[HISTORY - self._overlap:] = self._buf[HISTORY - self._overlap:]
            out = self._synthetic(FRAME)
        elif self.erased in (1, 2):
            saved = self._offset
            old = self._synthetic(self._overlap)        # the old buffer, continued
            self._offset = saved
            while self._offset > self.pitch:
                self._offset -= self.pitch
            self._blen += self.pitch                    # one more period
            self._seam()
            out = self._synthetic(FRAME)
            out[:self._overlap] = _ola(old, out[:self._overlap])
            out = self._fade(out)
        elif self.erased >= SILENT_AFTER:
            out = np.zeros(FRAME)
        else:
            out = self._fade(self._synthetic(FRAME))
        self.erased += 1
        return self._played(out)

    def good(self, frame: np.ndarray) -> np.ndarray:
        s = np.asarray(frame, dtype=float).copy()
        if len(s) != FRAME:
            raise ValueError(f"a frame is {FRAME} samples (10 ms at 8 kHz), not {len(s)}")
        if self.erased:
            n = min(self._overlap + (self.erased - 1) * END_OVERLAP_STEP, FRAME)
            synthetic = self._synthetic(n)
            gain = max(0.0, 1.0 - (self.erased - 1) * ATTENUATION)
            rw = np.arange(1, n + 1) / n
            s[:n] = (1.0 - rw) * gain * synthetic + rw * s[:n]
            self.erased = 0
        return self._played(s)


def conceal(packets: Sequence[np.ndarray | None], packet: int = 160) -> np.ndarray:
    """Decoded packets in order (`None`: lost), `packet` samples each (a multiple of 10 ms),
    concealed by `AppendixIPlc` and lined up with the input (its 3.75 ms delay removed)."""
    if packet % FRAME:
        raise ValueError(f"a packet of {packet} samples is not a whole number of 10 ms frames")
    plc = AppendixIPlc()
    out = []
    for p in packets:
        for k in range(packet // FRAME):
            out.append(plc.lost() if p is None else plc.good(p[k * FRAME:(k + 1) * FRAME]))
    if not out:
        return np.zeros(0, dtype=np.int16)
    tail = plc.history[HISTORY - OVERLAP_MAX:]
    played = np.concatenate([*out, tail])[OVERLAP_MAX:]
    return np.clip(np.round(played), -32768, 32767).astype(np.int16)
