"""When the device clock drops the stale frames PJSIP's jitter buffer keeps
(softphone/sip/jb_trim.py). Pure: sizes, prefetch and empty counts as PJSIP reports them after
each tick."""

from __future__ import annotations

import pytest

from softphone.sip.jb_trim import JbTrim


def feed(trim: JbTrim, sizes: list[int], prefetch: int = 0, empty: int = 0) -> list[int]:
    """The ticks (indexes into `sizes`) at which `trim` says to drop."""
    return [i for i, size in enumerate(sizes) if trim.after_tick(size, prefetch, empty)]


def test_a_standing_half_packet_is_dropped_once_at_a_tick_that_leaves_only_it() -> None:
    trim = JbTrim(per_tick=2, window=10, settle=5)
    stale, drops = 1, []
    for tick in range(60):
        # after each tick: the stale frames, or 2 more when the next packet came in before the read
        size = stale + (2 if tick % 2 else 0)
        if trim.after_tick(size, 0, 0):
            drops.append((tick, size))
            stale = 0                        # the drop took the stale frame (and an empty get)
    assert drops == [(16, 1)]                # window of ticks 5..14 full at 14; armed; 15 has 3
    assert trim.trims == 1


def test_a_buffer_that_empties_after_each_tick_is_left_alone() -> None:
    trim = JbTrim(per_tick=2, window=10, settle=0)
    assert feed(trim, [0, 2, 0, 0, 2] * 20) == []
    assert trim.trims == 0


def test_frames_kept_for_pjsips_own_prefetch_are_not_stale() -> None:
    # PJSIP waits for 4 frames after running dry (bursty network): 2 left after a tick is its choice
    trim = JbTrim(per_tick=2, window=10, settle=0)
    assert feed(trim, [2] * 40, prefetch=4) == []
    # but 3 left is one more than it wants
    assert feed(trim, [3] * 25, prefetch=4) != []


def test_running_empty_restarts_the_window_and_disarms() -> None:
    trim = JbTrim(per_tick=2, window=10, settle=0)
    assert [i for i in range(30) if trim.after_tick(1 if i % 2 else 3, 0, i // 9)] == []
    # armed after a stale window, then the buffer ran dry before a tick left just the stale frame
    trim = JbTrim(per_tick=2, window=5, settle=0)
    feed(trim, [1] * 4 + [3])
    assert not trim.after_tick(1, 0, 1)      # empty count moved: nothing is dropped
    assert trim.trims == 0


def test_nothing_is_dropped_while_the_stream_settles_and_after_a_reset() -> None:
    trim = JbTrim(per_tick=2, window=5, settle=20)
    assert feed(trim, [1] * 20) == []
    assert feed(trim, [1] * 10) != []
    trim.reset()
    assert feed(trim, [1] * 20) == []


def test_bad_settings_are_refused() -> None:
    for kwargs in ({"per_tick": 0}, {"window": 0}, {"settle": -1}):
        with pytest.raises(ValueError, match="need per_tick"):
            JbTrim(**kwargs)
