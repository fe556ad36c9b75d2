"""The carrier's numbering plan and the audio measurements: pure."""

from __future__ import annotations

import math
from array import array
from collections import Counter

import pytest

from dialer.audio import goertzel_power, rms_dbfs, tone_share
from dialer.carrier_plan import (
    Behaviour,
    PlanError,
    RandomMix,
    number_for,
    parse,
    random_customers,
)


@pytest.mark.parametrize("behaviour", list(Behaviour))
def test_numbers_round_trip(behaviour: Behaviour) -> None:
    number = number_for(behaviour, ring_s=7, talk_s=42, tag=3, area_code="415")
    assert number == f"+14152{int(behaviour)}30742"
    c = parse(number)
    assert (c.behaviour, c.ring_s, c.talk_s) == (behaviour, 7, 42)


@pytest.mark.parametrize("bad", ["+12125551234", "+1212200010", "12122000100", "+11122000100",
                                 "+1212200010x"])
def test_numbers_outside_the_plan_are_refused(bad: str) -> None:
    with pytest.raises(PlanError, match="not in the carrier's plan"):
        parse(bad)


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(PlanError, match="within 0-99"):
        number_for(Behaviour.ANSWER, ring_s=100)
    with pytest.raises(PlanError, match="one digit"):
        number_for(Behaviour.ANSWER, tag=10)
    with pytest.raises(PlanError, match="area code"):
        number_for(Behaviour.ANSWER, area_code="012")


def test_random_customers_are_seeded_distinct_and_follow_the_mix() -> None:
    a = random_customers(2000, seed=7)
    assert a == random_customers(2000, seed=7)
    assert a != random_customers(2000, seed=8)
    assert len({c.number for c in a}) == 2000
    shares = Counter(c.behaviour for c in a)
    mix = RandomMix()
    assert abs(shares[Behaviour.ANSWER] / 2000 - mix.answer_rate) < 0.04
    assert abs(shares[Behaviour.MACHINE] / 2000 - mix.machine_rate) < 0.04
    assert abs(shares[Behaviour.BUSY] / 2000 - mix.busy_rate) < 0.03
    assert all(parse(c.number).behaviour == c.behaviour for c in a)
    rings = [c.ring_s for c in a if c.behaviour == Behaviour.ANSWER]
    assert 7.0 < sum(rings) / len(rings) < 10.5


def _tone(freq: float, seconds: float, amplitude: int = 8000, rate: int = 8000) -> array[int]:
    return array("h", (int(amplitude * math.sin(2 * math.pi * freq * i / rate))
                       for i in range(int(seconds * rate))))


def test_levels_and_tone_shares() -> None:
    assert rms_dbfs(array("h", [0] * 800)) == -math.inf
    full = _tone(1000, 1, amplitude=32767)
    assert rms_dbfs(full) == pytest.approx(-3.01, abs=0.05)
    assert tone_share(_tone(1004, 1), 8000, 1004) > 0.95
    assert tone_share(_tone(697, 1), 8000, 1004) < 0.01
    mixed = array("h", (a + b for a, b in zip(_tone(697, 1), _tone(1004, 1), strict=True)))
    assert 0.4 < tone_share(mixed, 8000, 697) < 0.6
    assert goertzel_power(_tone(697, 0.1), 8000, 697) > 100 * goertzel_power(_tone(697, 0.1),
                                                                               8000, 1500)
    # silence between tone bursts does not dilute the share
    bursts = _tone(1100, 0.5) + array("h", [0] * 24000)
    assert tone_share(bursts, 8000, 1100) > 0.9
