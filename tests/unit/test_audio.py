"""dialer/core/audio.py: frames, tones, gain, WAV files and the analysis both the dialer and the
softphone use. Pure, except the WAV round trip (a temporary file) and the import check (a fresh
interpreter)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from dialer.core.audio import (
    AudioFormat,
    ToneGenerator,
    apply_gain,
    dominant_frequency,
    frame_of,
    goertzel_power,
    onsets,
    read_wav,
    resample_linear,
    rms_dbfs,
    samples_of,
    tone_envelope,
    tone_share,
    write_wav,
)

FMT = AudioFormat()


def tone_frames(freq: float, n: int, level: float = -12.0) -> list[bytes]:
    gen = ToneGenerator(freq, FMT, level)
    return [gen.next_frame() for _ in range(n)]


def sine(freq: float, seconds: float, amplitude: int = 8000, rate: int = 8000,
         phase: float = 0.0) -> array[int]:
    return array("h", (int(amplitude * math.sin(2 * math.pi * freq * i / rate + phase))
                       for i in range(int(seconds * rate))))


def silence(seconds: float, rate: int = 8000) -> array[int]:
    return array("h", bytes(2 * int(seconds * rate)))


# ------------------------------------------------------------------------------ frames
def test_format_sizes() -> None:
    assert (FMT.rate, FMT.frame_samples, FMT.frame_bytes) == (16000, 320, 640)
    assert AudioFormat(8000, 20).frame_samples == 160
    assert FMT.silence() == bytes(640)


def test_frames_are_little_endian_and_an_odd_byte_is_left_out() -> None:
    assert frame_of([1, -2]) == b"\x01\x00\xfe\xff"
    assert samples_of(b"\x01\x00\xfe\xff\x07").tolist() == [1, -2]


def test_tone_has_its_level_and_frequency_and_no_phase_jumps() -> None:
    pcm = b"".join(tone_frames(697, 50, level=-12.0))
    s = samples_of(pcm)
    assert rms_dbfs(s) == pytest.approx(-12 - 3.01, abs=0.1)  # a sine's RMS is peak - 3 dB
    assert tone_share(s, FMT.rate, 697) > 0.98
    assert tone_share(s, FMT.rate, 1004) < 0.01
    assert dominant_frequency(s, FMT.rate) == pytest.approx(697, abs=1)
    # continuous across frame boundaries: no sample-to-sample step larger than the sine's slope
    peak = 32768 * 10 ** (-12 / 20)
    max_step = peak * 2 * math.pi * 697 / FMT.rate
    assert max(abs(a - b) for a, b in zip(s, s[1:], strict=False)) <= max_step + 2


def test_gain_scales_clips_and_mutes() -> None:
    frame = frame_of([1000, -1000, 30000, -30000])
    assert samples_of(apply_gain(frame, 0.5)).tolist() == [500, -500, 15000, -15000]
    assert samples_of(apply_gain(frame, 2.0)).tolist() == [2000, -2000, 32767, -32768]
    assert apply_gain(frame, 0.0) == bytes(8)
    assert apply_gain(frame, 1.0) is frame


# ------------------------------------------------------------------------------ levels and tones
def test_levels_and_tone_shares() -> None:
    assert rms_dbfs(array("h", [0] * 800)) == -math.inf
    assert rms_dbfs(array("h")) == -math.inf
    full = sine(1000, 1, amplitude=32767)
    assert rms_dbfs(full) == pytest.approx(-3.01, abs=0.05)
    assert tone_share(sine(1004, 1), 8000, 1004) > 0.95
    assert tone_share(sine(697, 1), 8000, 1004) < 0.01
    mixed = array("h", (a + b for a, b in zip(sine(697, 1), sine(1004, 1), strict=True)))
    assert 0.4 < tone_share(mixed, 8000, 697) < 0.6
    assert goertzel_power(sine(697, 0.1), 8000, 697) > 100 * goertzel_power(sine(697, 0.1),
                                                                             8000, 1500)
    assert goertzel_power(array("h"), 8000, 697) == 0.0


def test_silence_between_bursts_does_not_dilute_the_tone_share() -> None:
    bursts = sine(1100, 0.5) + silence(3)
    assert tone_share(bursts, 8000, 1100) > 0.9
    # three bursts whose phases do not follow on from each other
    three = array("h")
    for k in range(3):
        three += sine(697, 0.2, phase=1.3 * k) + silence(0.4)
    assert tone_share(three, 8000, 697) > 0.9
    assert tone_share(silence(1), 8000, 697) == 0.0
    assert tone_share(array("h"), 8000, 697) == 0.0


@pytest.mark.parametrize("off_hz", [0.5, 2.0])
def test_a_tone_a_little_off_the_frequency_asked_for_still_counts(off_hz: float) -> None:
    # e.g. dominant_frequency's 0.5 Hz steps, or a codec: over 2 s as one block, 0.5 Hz off
    # would read as no tone at all
    assert tone_share(sine(1004 + off_hz, 2), 8000, 1004) > 0.85
    assert tone_share(sine(1004 + 25, 2), 8000, 1004) < 0.05


def test_a_stretch_shorter_than_a_window_is_one_window() -> None:
    frame = samples_of(tone_frames(697, 1)[0])   # 20 ms
    assert tone_share(frame, FMT.rate, 697) > 0.95
    assert tone_share(frame, FMT.rate, 1500) < 0.05
    with pytest.raises(ValueError, match="window must be positive"):
        tone_share(frame, FMT.rate, 697, window=0)


def test_speech_spreads_its_energy() -> None:
    """A vowel-like sound (a 120 Hz voice with falling harmonics, its pitch gliding) has no one
    frequency with most of its energy, even at the strongest one."""
    rate, n = 8000, 8000
    out = array("h")
    phase = 0.0
    for i in range(n):
        f0 = 110 + 30 * i / n
        phase += 2 * math.pi * f0 / rate
        out.append(int(sum(3000 / k * math.sin(k * phase) for k in range(1, 12))))
    hz = dominant_frequency(out, rate)
    assert hz is not None
    assert tone_share(out, rate, hz) < 0.5


@pytest.mark.parametrize("freq", [300.0, 1004.0, 1209.0, 3000.0])
def test_dominant_frequency_finds_the_tone_in_the_loudest_stretch(freq: float) -> None:
    quiet = [FMT.silence()] * 30
    s = samples_of(b"".join(quiet + tone_frames(freq, 20) + quiet))
    assert dominant_frequency(s, FMT.rate) == pytest.approx(freq, abs=1)


def test_dominant_frequency_of_silence_is_none() -> None:
    assert dominant_frequency(samples_of(FMT.silence() * 20), FMT.rate) is None
    assert dominant_frequency(samples_of(b""), FMT.rate) is None


def test_envelope_and_onsets_find_where_bursts_start() -> None:
    block = 40  # 5 ms at 8 kHz
    s = silence(0.1) + sine(697, 0.2) + silence(0.3) + sine(697, 0.2) + silence(0.1)
    env = tone_envelope(s, 8000, 697, block)
    assert len(env) == len(s) // block
    peak = max(env)
    assert onsets(env, peak / 4, min_gap=20) == [20, 120]
    # a gap shorter than min_gap is the same burst
    assert onsets([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 0.5, min_gap=3) == [0, 6]
    assert onsets([], 0.5, 3) == []


# ------------------------------------------------------------------------------ files
def test_wav_round_trip_and_resampling(tmp_path: Path) -> None:
    pcm = b"".join(tone_frames(440, 10))
    path = tmp_path / "t.wav"
    write_wav(path, FMT.rate, pcm)
    rate, s = read_wav(path)
    assert rate == FMT.rate and s.tobytes() == samples_of(pcm).tobytes()
    down = resample_linear(s, 16000, 8000)
    assert len(down) == len(s) // 2
    assert dominant_frequency(down, 8000) == pytest.approx(440, abs=1)
    assert resample_linear(s, 16000, 16000) == s


def test_read_wav_takes_the_first_channel_and_refuses_8_bit(tmp_path: Path) -> None:
    def wav(name: str, channels: int, width: int, frames: bytes) -> Path:
        path = tmp_path / name
        with wave.open(str(path), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(width)
            w.setframerate(8000)
            w.writeframes(frames)
        return path

    stereo = wav("stereo.wav", 2, 2, frame_of([1, -1, 2, -2, 3, -3]))
    assert read_wav(stereo) == (8000, array("h", [1, 2, 3]))
    eight = wav("eight.wav", 1, 1, bytes(100))
    with pytest.raises(ValueError, match="eight.wav: expected 16-bit PCM, got 8-bit"):
        read_wav(eight)


# ------------------------------------------------------------------------------ one module, light
def test_the_softphone_loads_only_the_dialers_pure_modules() -> None:
    """This module and the agent link's messages (with the agent states and results they
    name), nothing of the dialer's database, ARI or service."""
    code = ("import sys, softphone.app, softphone.headless, softphone.audio.headset_check\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dialer', 'sqlalchemy', 'aiohttp', 'alembic'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.split() == [
        "dialer", "dialer.core", "dialer.core.agent_state", "dialer.core.audio",
        "dialer.core.results", "dialer.core.timeutil", "dialer.protocol",
        "dialer.protocol.messages", "dialer.protocol.wire"]
