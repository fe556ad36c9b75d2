"""Audio checks on recordings and captured streams: level, tone presence, silence. Pure.

Samples are signed 16-bit integers. Used by the tests and `dialer call` to say whether audio came
back, and (later) by the softphone's pre-shift headset check.
"""

from __future__ import annotations

import math
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path


def read_wav(path: Path) -> tuple[int, array[int]]:
    """(sample rate, mono 16-bit samples) of a PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
        rate, channels = w.getframerate(), w.getnchannels()
        samples = array("h", w.readframes(w.getnframes()))
    if channels > 1:
        samples = samples[::channels]
    return rate, samples


def rms_dbfs(samples: Sequence[int]) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for digital silence)."""
    if not samples:
        return -math.inf
    power = sum(s * s for s in samples) / len(samples)
    return -math.inf if power == 0 else 10 * math.log10(power / (32768.0 ** 2))


def goertzel_power(samples: Sequence[int], rate: int, freq: float) -> float:
    """Mean power of `samples` at `freq` (Goertzel), on the same scale as the mean square."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * power / (n * n)


def tone_share(samples: Sequence[int], rate: int, freq: float, window: float = 0.1) -> float:
    """Share (0..1) of the signal's energy at `freq`, over the windows that are not silent."""
    size = int(rate * window)
    at_freq = total = 0.0
    for start in range(0, len(samples) - size + 1, size):
        chunk = samples[start:start + size]
        mean_sq = sum(s * s for s in chunk) / size
        if mean_sq < 10.0:  # below -70 dBFS: silence
            continue
        at_freq += goertzel_power(chunk, rate, freq)
        total += mean_sq
    return 0.0 if total == 0 else min(1.0, at_freq / total)
