"""The microphone's sample FIFO (softphone/audio/mic_fifo.py): each tick sends the newest frame."""

from __future__ import annotations

import pytest

from dialer.core.audio import frame_of, samples_of
from softphone.audio.mic_fifo import MicFifo

RATE = 16000
FRAME = 640           # 20 ms at 16 kHz
BLOCK = 80            # samples in 5 ms


class Ramp:
    """Blocks whose samples count up (mod 30000): a cut or a repeat shows in the output."""

    def __init__(self) -> None:
        self.n = 0

    def block(self, samples: int = BLOCK) -> bytes:
        out = frame_of((self.n + i) % 30000 for i in range(samples))
        self.n += samples
        return out


def contiguous(frames: list[bytes]) -> bool:
    s = [x for f in frames for x in samples_of(f)]
    return all((b - a) % 30000 == 1 for a, b in zip(s, s[1:], strict=False))


def tick(fifo: MicFifo, ramp: Ramp, blocks: int = 4) -> bytes:
    for _ in range(blocks):
        fifo.push(ramp.block())
    return fifo.pop()


def gaps(fifo: MicFifo, ramp: Ramp, n: int) -> None:
    """`n` gaps, each a tick that finds a frame and one that finds nothing after it."""
    for _ in range(n):
        tick(fifo, ramp)
        fifo.pop()


def test_a_steady_microphone_passes_through_unchanged_at_the_lead() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=5.0, window=10), Ramp()
    fifo.push(ramp.block())                # one block before the first tick: the lead
    out = [tick(fifo, ramp) for _ in range(40)]
    assert contiguous(out)
    assert fifo.depth_ms == 5.0
    assert fifo.stats.underruns == fifo.stats.trimmed_ms == 0
    assert fifo.stats.popped == 40 and fifo.stats.pushed == 40   # in frames


def test_a_backlog_above_the_lead_is_cut_once_after_a_window() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=5.0, window=10), Ramp()
    for _ in range(7):                     # 35 ms before the first tick: 30 ms too many
        fifo.push(ramp.block())
    out = [tick(fifo, ramp) for _ in range(30)]
    assert fifo.stats.trimmed_ms == 30.0   # the level after a pop was 35 ms; the lead is 5
    assert fifo.depth_ms == 5.0
    assert contiguous(out[:10]) and contiguous(out[11:])   # one cut, in the 11th frame
    assert not contiguous(out)


def test_the_cut_is_a_crossfade_not_a_step() -> None:
    fifo = MicFifo(FRAME, RATE, lead_ms=20.0, window=1)
    fifo.push(frame_of([0] * 960))          # 60 ms of silence,
    fifo.push(frame_of([10000] * 320))      # then 20 ms of a loud level
    fifo.pop()                              # left: 60 ms; 40 ms above the lead are cut
    assert fifo.stats.trimmed_ms == 40.0
    samples = [0, *samples_of(fifo.pop())]  # after the silence that went out
    jumps = [abs(b - a) for a, b in zip(samples, samples[1:], strict=False)]
    assert max(jumps) < 1000                # 10000 spread over the 32-sample crossfade
    assert samples[-1] == 10000


def test_a_level_below_the_lead_is_raised_by_playing_a_few_ms_twice_without_a_step() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=10.0, window=10), Ramp()
    fifo.push(ramp.block())                 # 5 ms ahead of the ticks: 5 ms short of the lead
    out: list[int] = []
    for _ in range(30):
        out.extend(samples_of(tick(fifo, ramp)))
    assert fifo.stats.raised_ms == 5.0 and fifo.stats.trimmed_ms == 0
    assert fifo.depth_ms == 10.0
    assert len(out) == 30 * 320 and out[-1] == 30 * 320 + 80 - 160 - 1
    # the ramp rises by 1 a sample; played again, it would fall by 80 at the seam: blended,
    # no step is steeper than a few units
    steps = [b - a for a, b in zip(out, out[1:], strict=False)]
    assert max(map(abs, steps)) <= 4


def test_a_late_block_is_an_underrun_that_slips_the_stream_and_grows_the_lead() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=0.0, step_ms=5.0, window=1000), Ramp()
    good = [tick(fifo, ramp) for _ in range(5)]
    for _ in range(3):                     # the fourth block comes after the tick
        fifo.push(ramp.block())
    short = samples_of(fifo.pop())
    assert fifo.stats.underruns == 1 and fifo.stats.lead_ms == 5.0
    assert list(short[:240]) == [(5 * 320 + i) % 30000 for i in range(240)]
    assert all(abs(x) <= abs(short[239]) for x in short[240:])     # fades out, no click
    assert list(short[240 + 64:]) == [0] * 16
    late_and_next = [tick(fifo, ramp, 5) for _ in range(1)] + [tick(fifo, ramp) for _ in range(5)]
    assert contiguous(good) and contiguous(late_and_next)
    assert fifo.depth_ms == 5.0            # the slip became the lead: the next late block is safe
    for _ in range(3):
        fifo.push(ramp.block())
    fifo.pop()
    assert fifo.stats.underruns == 1


def test_underruns_while_the_streams_settle_are_counted_apart() -> None:
    fifo = MicFifo(FRAME, RATE, lead_ms=5.0, settle=3)
    assert fifo.pop() == bytes(FRAME)      # nothing yet: silence
    fifo.push(bytes(FRAME))
    fifo.pop()
    fifo.pop()
    assert fifo.stats.startup_underruns == 2 and fifo.stats.underruns == 0
    assert fifo.stats.lead_ms == 5.0


def test_a_run_of_short_pops_is_one_gap_and_one_step_of_lead() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=0.0, step_ms=5.0), Ramp()
    tick(fifo, ramp)
    for _ in range(3):                     # the process stalled: ticks come in a burst
        fifo.pop()
    assert fifo.stats.underruns == 1 and fifo.stats.lead_ms == 5.0
    tick(fifo, ramp)
    fifo.pop()                             # a new gap
    assert fifo.stats.underruns == 2 and fifo.stats.lead_ms == 10.0


def test_the_lead_comes_back_down_after_a_calm_minute_but_not_below_its_start() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=5.0, step_ms=5.0, relax=20, window=10), Ramp()
    gaps(fifo, ramp, 2)                    # the lead is 15 ms
    assert fifo.stats.lead_ms == 15.0
    for _ in range(20):                    # the first calm period began at the slip's level
        tick(fifo, ramp)
    assert fifo.stats.lead_ms == 15.0
    for _ in range(20):                    # then 20 ticks with 15 ms never touched
        tick(fifo, ramp)
    assert fifo.stats.lead_ms == 10.0
    for _ in range(100):
        tick(fifo, ramp)
    assert fifo.stats.lead_ms == 5.0 and fifo.stats.underruns == 2


def test_a_lead_that_was_used_in_the_calm_minute_stays() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=5.0, step_ms=5.0, relax=20, window=1000), Ramp()
    gaps(fifo, ramp, 2)                    # the lead is 15 ms
    for _ in range(3):                     # and the level 15 ms above each tick
        fifo.push(ramp.block())
    for i in range(40):                    # in each calm period a block comes 15 ms late
        late = i in (10, 30)
        tick(fifo, ramp, 1 if late else 4)
        if late:
            for _ in range(3):
                fifo.push(ramp.block())
    assert fifo.stats.underruns == 2       # the margin held...
    assert fifo.stats.lead_ms == 15.0      # ...and is kept: all of it was needed


def test_the_lead_stops_at_its_maximum_and_clear_starts_again() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=5.0, step_ms=5.0, max_lead_ms=10.0), Ramp()
    gaps(fifo, ramp, 4)
    assert fifo.stats.underruns == 4 and fifo.stats.lead_ms == 10.0
    fifo.push(bytes(160))
    fifo.clear()
    assert fifo.depth_ms == 0 and fifo.stats.lead_ms == 5.0


def test_a_fast_device_or_stalled_ticks_drop_the_oldest_audio() -> None:
    fifo, ramp = MicFifo(FRAME, RATE, lead_ms=5.0, max_frames=3), Ramp()
    for _ in range(13):                    # 65 ms, more than 3 frames
        fifo.push(ramp.block())
    assert fifo.depth_ms == 25.0           # a frame and the lead, the newest
    assert fifo.stats.dropped == 2
    newest = samples_of(fifo.pop())
    assert newest[-1] == (13 * BLOCK - BLOCK - 1) % 30000


def test_bad_blocks_and_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not whole 16-bit samples"):
        MicFifo(FRAME, RATE).push(bytes(3))
    with pytest.raises(ValueError, match="lead_ms"):
        MicFifo(FRAME, RATE, lead_ms=30.0, max_lead_ms=20.0)
    with pytest.raises(ValueError, match="step_ms"):
        MicFifo(FRAME, RATE, step_ms=0)
