"""Loss patterns and the simple phone's concealment (tests/integration/speech_loss.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.speech_loss import TO_AGENT, TO_CUSTOMER, conceal_simple, loss_pattern


def test_a_seed_loses_the_same_packets_every_time() -> None:
    assert np.array_equal(loss_pattern(17, TO_AGENT, 0.03), loss_pattern(17, TO_AGENT, 0.03))


def test_directions_and_seeds_lose_different_packets() -> None:
    a = loss_pattern(17, TO_AGENT, 0.03)
    assert not np.array_equal(a, loss_pattern(17, TO_CUSTOMER, 0.03))
    assert not np.array_equal(a, loss_pattern(18, TO_AGENT, 0.03))


def test_the_share_lost_is_the_loss_asked_for() -> None:
    lost = np.concatenate([loss_pattern(seed, TO_AGENT, 0.03) for seed in range(10)])
    assert lost.mean() == pytest.approx(0.03, abs=0.005)
    assert not loss_pattern(17, TO_AGENT, 0.0).any()


def test_a_higher_loss_keeps_the_lower_one_s_losses() -> None:
    # one draw per packet: 5 % loses what 3 % loses, and more (builds and losses compare)
    low, high = loss_pattern(17, TO_AGENT, 0.03), loss_pattern(17, TO_AGENT, 0.05)
    assert np.all(high[low]) and high.sum() > low.sum()


def test_a_loss_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="loss 1.5 is outside"):
        loss_pattern(17, TO_AGENT, 1.5)


def test_the_simple_phone_repeats_at_half_level_then_goes_silent() -> None:
    a, b = np.full(160, 1000, dtype=np.int16), np.full(160, -800, dtype=np.int16)
    out = conceal_simple([a, None, None, b, None])
    assert list(out[::160]) == [1000, 500, 0, -800, -400]
