"""G.711 Appendix I concealment (tests/integration/g711_plc.py): the simulated customer's phone."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.g711_plc import FRAME, AppendixIPlc, conceal, find_pitch

RATE = 8000


def vowel(f0: float, seconds: float = 0.5) -> np.ndarray:
    """A steady vowel-like sound: a 3-harmonic tone at pitch `f0`, about -12 dBFS."""
    t = np.arange(int(RATE * seconds)) / RATE
    x = sum(a * np.sin(2 * np.pi * f0 * h * t + h) for h, a in ((1, 1.0), (2, 0.6), (3, 0.3)))
    return np.round(6000 * x).astype(np.int16)


def packets(x: np.ndarray, lost: set[int]) -> list[np.ndarray | None]:
    return [None if i in lost else x[i * 160:(i + 1) * 160] for i in range(len(x) // 160)]


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got = ref.astype(float), got.astype(float)
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - got) ** 2), 1e-9)))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(float) ** 2)))


@pytest.mark.parametrize("f0", [80.0, 125.0, 160.0, 190.0])
def test_the_pitch_of_a_steady_vowel_is_found(f0: float) -> None:
    assert abs(find_pitch(vowel(f0)[:400]) - RATE / f0) <= 1


def test_nothing_lost_plays_the_input_unchanged() -> None:
    x = vowel(125.0)
    assert np.array_equal(conceal(packets(x, set())), x[:len(x) // 160 * 160])


def test_a_lost_packet_inside_a_vowel_is_rebuilt_close_to_the_original() -> None:
    x = vowel(133.0)                                   # 60.2 samples: not a whole period
    lost = 10
    out = conceal(packets(x, {lost}))
    span = slice(lost * 160, (lost + 1) * 160)
    half_repeat = x[(lost - 1) * 160:lost * 160] // 2  # the simple phone's guess
    assert snr_db(x[span], out[span]) > 15.0
    assert snr_db(x[span], out[span]) > snr_db(x[span], half_repeat) + 10
    assert snr_db(x[span.stop + 80:], out[span.stop + 80:]) > 60   # back on the input after it


def test_a_long_loss_fades_by_a_fifth_per_10ms_then_goes_silent() -> None:
    x = vowel(100.0, 1.0)
    lost = set(range(10, 16))                          # 120 ms
    out = conceal(packets(x, lost)).astype(float)
    level = rms(x[1600:2400])
    frames = [rms(out[1600 + k * FRAME:1600 + (k + 1) * FRAME]) / level for k in range(12)]
    assert frames[0] > 0.8                             # the first 10 ms: full level
    assert frames[1] == pytest.approx(0.9, abs=0.1)    # 1.0 -> 0.8 within the second
    assert frames[1] > frames[2] > frames[3] > frames[4] > frames[5]
    assert frames[5] < 0.2
    assert max(frames[6:]) < 0.01                      # after 60 ms: silence
    assert snr_db(x[2560 + FRAME:], out[2560 + FRAME:]) > 60   # then the input again


def test_the_first_good_frame_is_faded_in_not_cut_in() -> None:
    x = vowel(100.0, 1.0)
    out = conceal(packets(x, set(range(10, 16)))).astype(float)
    first = out[2560:2560 + 20]                        # the good packet's first 2.5 ms
    assert rms(first) < 0.6 * rms(x[2560:2580])        # a ramp from the (silent) synthesis


def test_silence_in_gives_silence_out() -> None:
    out = conceal([np.zeros(160, dtype=np.int16), None, None, np.zeros(160, dtype=np.int16)])
    assert not out.any()


def test_a_packet_that_is_not_whole_10ms_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="not a whole number of 10 ms frames"):
        conceal([np.zeros(100)], packet=100)
    with pytest.raises(ValueError, match="a frame is 80 samples"):
        AppendixIPlc().good(np.zeros(81))
