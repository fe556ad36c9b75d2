"""16-bit PCM audio, for the dialer and the softphone: frames, tones, gain, WAV files and analysis.

One module for both sides (it replaces `dialer/audio.py` and `softphone/audio/pcm.py`). Samples are
signed 16-bit integers; a frame is `bytes` of little-endian mono samples lasting
`AudioFormat.frame_ms`. Pure: nothing here touches a device, a socket or a clock, and the only
files read or written are the WAV files `read_wav` and `write_wav` are given. It imports nothing
of the dialer, so the softphone can use it without the dialer's database or ARI client.

- frames: `AudioFormat`, `samples_of`, `frame_of`, `apply_gain`, `db_to_gain`, `ToneGenerator`
- analysis: `rms_dbfs` (level), `goertzel_power` (power at one frequency), `tone_share` (how much
  of a sound is one tone), `dominant_frequency`, `tone_envelope` and `onsets` (where bursts start)
- files: `read_wav`, `write_wav`, `resample_linear` (voice files to the call's rate)
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FULL_SCALE = 32768.0
SILENCE_MEAN_SQUARE = 10.0   # a stretch whose mean square is below this (-70 dBFS) is silent


# ------------------------------------------------------------------------------ frames
@dataclass(frozen=True)
class AudioFormat:
    """Sample rate and frame length of a 16-bit mono stream."""

    rate: int = 16000
    frame_ms: int = 20

    @property
    def frame_samples(self) -> int:
        return self.rate * self.frame_ms // 1000

    @property
    def frame_bytes(self) -> int:
        return 2 * self.frame_samples

    def silence(self) -> bytes:
        return bytes(self.frame_bytes)


def samples_of(frame: bytes) -> array[int]:
    """The samples of little-endian 16-bit `frame` (a trailing odd byte is left out)."""
    a = array("h")
    a.frombytes(frame[: len(frame) - len(frame) % 2])
    if sys.byteorder == "big":
        a.byteswap()
    return a


def frame_of(samples: Iterable[int]) -> bytes:
    """Little-endian 16-bit bytes of `samples` (each already within -32768..32767)."""
    a = array("h", samples)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()


def db_to_gain(db: float) -> float:
    return 10 ** (db / 20)


def apply_gain(frame: bytes, gain: float) -> bytes:
    """`frame` scaled by `gain`, clipped to 16 bits; 1.0 returns it unchanged, 0.0 gives silence."""
    if gain == 1.0:
        return frame
    if gain <= 0.0:
        return bytes(len(frame))
    return frame_of(max(-32768, min(32767, int(s * gain))) for s in samples_of(frame))


class ToneGenerator:
    """A continuous sine tone, frame after frame, without phase jumps between frames."""

    def __init__(self, freq: float, fmt: AudioFormat, level_dbfs: float = -12.0) -> None:
        self.freq = freq
        self.fmt = fmt
        self.amplitude = FULL_SCALE * db_to_gain(level_dbfs)
        self._n = 0

    def next_frame(self) -> bytes:
        step = 2 * math.pi * self.freq / self.fmt.rate
        start = self._n
        self._n += self.fmt.frame_samples
        amp = self.amplitude
        return frame_of(
            max(-32768, min(32767, round(amp * math.sin(step * (start + i)))))
            for i in range(self.fmt.frame_samples)
        )


# ------------------------------------------------------------------------------ analysis
def rms_dbfs(samples: Sequence[int]) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for digital silence)."""
    if not samples:
        return -math.inf
    power = sum(s * s for s in samples) / len(samples)
    return -math.inf if power == 0 else 10 * math.log10(power / FULL_SCALE**2)


def goertzel_power(samples: Sequence[int], rate: int, freq: float) -> float:
    """Mean power of `samples` at `freq` (Goertzel), on the scale of the mean square."""
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
    """Share (0..1) of the energy of `samples` that lies at `freq`, over the stretches that are
    not silent.

    Measured window by window (`window` seconds, so about 1/`window` Hz wide): silence between
    bursts does not dilute it, and a tone a few Hz off `freq` (a codec, a resampler, a frequency
    estimated to 0.5 Hz) still counts. `samples` shorter than one window are one window; after
    the last whole window, the rest is left out.
    """
    if window <= 0:
        raise ValueError(f"tone_share: window must be positive, got {window} s")
    size = min(len(samples), max(1, int(rate * window)))
    if size == 0:
        return 0.0
    at_freq = total = 0.0
    for start in range(0, len(samples) - size + 1, size):
        chunk = samples[start:start + size]
        mean_sq = sum(s * s for s in chunk) / size
        if mean_sq < SILENCE_MEAN_SQUARE:
            continue
        at_freq += goertzel_power(chunk, rate, freq)
        total += mean_sq
    return 0.0 if total == 0 else min(1.0, at_freq / total)


def dominant_frequency(samples: Sequence[int], rate: int, lo: float = 100.0,
                       hi: float = 3400.0) -> float | None:
    """The strongest frequency between `lo` and `hi` Hz (Goertzel scan, refined to 0.5 Hz).

    Looks at the loudest 250 ms stretch of `samples`; None when that is silent (< -60 dBFS).
    """
    size = min(len(samples), rate // 4)
    if size < rate // 50:
        return None
    starts = range(0, len(samples) - size + 1, size)
    start = max(starts, key=lambda i: sum(s * s for s in samples[i:i + size]))
    chunk = samples[start:start + size]
    if rms_dbfs(chunk) < -60:
        return None

    def best(freqs: Iterable[float]) -> float:
        return max(freqs, key=lambda f: goertzel_power(chunk, rate, f))

    coarse_step = max(1.0, rate / size)  # the scan's own resolution
    coarse = best(lo + i * coarse_step for i in range(int((hi - lo) / coarse_step) + 1))
    step = coarse_step / 2
    f = coarse
    while step >= 0.5:
        f = best((f - step, f, f + step))
        step /= 2
    return round(f, 1)


def tone_envelope(samples: Sequence[int], rate: int, freq: float, block: int) -> list[float]:
    """Power at `freq` in consecutive blocks of `block` samples."""
    return [goertzel_power(samples[i:i + block], rate, freq)
            for i in range(0, len(samples) - block + 1, block)]


def onsets(envelope: Sequence[float], threshold: float, min_gap: int) -> list[int]:
    """Indices where `envelope` rises above `threshold` after at least `min_gap` blocks below."""
    found: list[int] = []
    below = min_gap
    for i, v in enumerate(envelope):
        if v >= threshold:
            if below >= min_gap:
                found.append(i)
            below = 0
        else:
            below += 1
    return found


# ------------------------------------------------------------------------------ files
def read_wav(path: Path) -> tuple[int, array[int]]:
    """(sample rate, mono 16-bit samples) of a PCM WAV file (the first channel of a stereo one)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
        rate, channels = w.getframerate(), w.getnchannels()
        samples = samples_of(w.readframes(w.getnframes()))
    if channels > 1:
        samples = samples[::channels]
    return rate, samples


def write_wav(path: Path, rate: int, pcm: bytes) -> None:
    """Write mono 16-bit little-endian `pcm` as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def resample_linear(samples: Sequence[int], src_rate: int, dst_rate: int) -> array[int]:
    """`samples` at `dst_rate` by linear interpolation (for WAV voice files, not the call path)."""
    if src_rate == dst_rate or not samples:
        return array("h", samples)
    n_out = len(samples) * dst_rate // src_rate
    ratio = src_rate / dst_rate
    out = array("h", bytes(2 * n_out))
    last = len(samples) - 1
    for i in range(n_out):
        pos = i * ratio
        j = int(pos)
        frac = pos - j
        a = samples[min(j, last)]
        b = samples[min(j + 1, last)]
        out[i] = int(a + (b - a) * frac)
    return out
