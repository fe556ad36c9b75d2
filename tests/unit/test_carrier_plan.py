"""The carrier's numbering plan: pure."""

from __future__ import annotations

from collections import Counter

import pytest

from dialer.qa.carrier_plan import (
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
