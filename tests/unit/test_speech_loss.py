"""Loss patterns and the simple phone's concealment (tests/integration/speech_loss.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.speech_loss import (
    TO_AGENT,
    TO_CUSTOMER,
    conceal_simple,
    lose_from,
    loss_pattern,
)


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


def stream(n: int) -> list[np.ndarray | None]:
    return [np.full(160, j, dtype=np.int16) for j in range(n)]


def test_the_pattern_follows_the_speech_wherever_it_starts_in_the_stream() -> None:
    pattern = np.zeros(50, dtype=bool)
    pattern[[0, 7, 20]] = True
    for offset in (0, 3, 11):                         # the speech starts `offset` packets in
        for phase in (-70, 0, 70):                    # ... and off the packet grid by < 1/2
            out, taken = lose_from(stream(60), offset * 160 + phase, pattern)
            assert [j for j, p in enumerate(out) if p is None] == [offset, offset + 7,
                                                                   offset + 20]
            assert taken == 3


def test_before_the_speech_and_past_the_pattern_nothing_is_lost() -> None:
    pattern = np.ones(5, dtype=bool)
    out, taken = lose_from(stream(12), 4 * 160, pattern)
    assert [j for j, p in enumerate(out) if p is None] == [4, 5, 6, 7, 8] and taken == 5


def test_a_packet_that_never_arrived_is_not_counted_again() -> None:
    got = stream(10)
    got[2] = None
    out, taken = lose_from(got, 0, np.array([False, False, True, True]))
    assert out[2] is None and out[3] is None and taken == 1
