"""The softphone's audio layer without a sound card or a PBX: the frame FIFO between clocks, the
virtual device, the bridge (mute, volume, tap), the echo-check analysis, prefs. The PCM helpers
themselves (dialer/core/audio.py) are tested in test_audio.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.core.audio import (
    AudioFormat,
    apply_gain,
    dominant_frequency,
    frame_of,
    rms_dbfs,
    samples_of,
    write_wav,
)
from softphone.audio.bridge import AudioBridge
from softphone.audio.check import EchoProbe, analyse_echo
from softphone.audio.jitter import FrameFifo
from softphone.audio.prefs import AudioPrefs
from softphone.audio.virtual import Silence, VirtualAudioDevice, WavSignal, tone
from tests.unit.test_audio import FMT, tone_frames


# ---------------------------------------------------------------- FIFO between clocks
def fr(n: int) -> bytes:
    return bytes([n]) * 640


def test_fifo_primes_to_target_then_passes_frames_in_order() -> None:
    f = FrameFifo(640, target=2, max_depth=4)
    assert f.pop() == bytes(640)  # priming: silence
    f.push(fr(1))
    assert f.pop() == bytes(640)  # still priming (1 < 2)
    f.push(fr(2))
    assert [f.pop(), f.pop()] == [fr(1), fr(2)]
    assert f.stats.popped == 2 and f.stats.underruns == 0


def test_fifo_underrun_conceals_once_then_silence_and_primes_again() -> None:
    f = FrameFifo(640, target=1, max_depth=4)
    loud = frame_of([10000] * 320)
    f.push(loud)
    assert f.pop() == loud
    concealed = f.pop()  # underrun: the last frame at half level
    assert samples_of(concealed).tolist() == [5000] * 320
    assert f.pop() == bytes(640)  # then silence
    assert f.stats.underruns == 1
    f.push(fr(7))
    assert f.pop() == fr(7)


def test_fifo_overrun_drops_oldest_down_to_target() -> None:
    f = FrameFifo(640, target=2, max_depth=4)
    for i in range(1, 6):  # the fifth push exceeds max_depth
        f.push(fr(i))
    assert f.depth == 2 and f.stats.dropped == 3
    assert [f.pop(), f.pop()] == [fr(4), fr(5)]


def test_fifo_rejects_bad_frames_and_bad_sizes() -> None:
    with pytest.raises(ValueError, match="expected 640"):
        FrameFifo(640).push(bytes(10))
    with pytest.raises(ValueError, match="target"):
        FrameFifo(640, target=5, max_depth=4)


def test_fifo_absorbs_a_writer_clock_that_runs_slightly_fast() -> None:
    f = FrameFifo(640, target=2, max_depth=6)
    out = 0
    for tick in range(1000):  # writer 1 % fast: 1010 frames pushed while 1000 are read
        f.push(fr(tick % 250))
        if tick % 100 == 0:
            f.push(fr(0))
        f.pop()
        out += 1
    assert f.depth <= 6 and f.stats.dropped + f.stats.trimmed > 0 and f.stats.underruns == 0


# ---------------------------------------------------------------- virtual device and bridge
def test_virtual_device_feeds_its_signal_and_captures_what_is_played() -> None:
    dev = VirtualAudioDevice(FMT, tone(1004, FMT), realtime=False)
    heard: list[bytes] = []
    mic = dev.open_input(None, FMT, heard.append)
    spk = dev.open_output("virtual", FMT, lambda: fr(9))
    mic.start()
    spk.start()
    dev.tick(5)
    assert len(heard) == 5
    assert dominant_frequency(samples_of(b"".join(heard)), 16000) == pytest.approx(1004, abs=2)
    assert dev.captured() == fr(9) * 5
    mic.close()
    spk.close()
    dev.tick(3)
    assert len(heard) == 5


def test_virtual_device_refuses_other_devices_and_formats() -> None:
    dev = VirtualAudioDevice(FMT, realtime=False)
    from softphone.audio.device import AudioDeviceError

    with pytest.raises(AudioDeviceError, match="no virtual device 'hw:1'"):
        dev.open_input("hw:1", FMT, lambda _f: None)
    with pytest.raises(AudioDeviceError, match="runs at"):
        dev.open_output(None, AudioFormat(8000), FMT.silence)
    assert [d.id for d in dev.list_devices()] == ["virtual"]


def test_wav_signal_loops_the_file(tmp_path: Path) -> None:
    path = tmp_path / "v.wav"
    write_wav(path, 8000, b"".join(tone_frames(440, 2))[:1000])  # 500 samples at 8 kHz
    sig = WavSignal(path, FMT)
    frames = [sig.next_frame() for _ in range(10)]
    assert all(len(f) == 640 for f in frames)
    assert rms_dbfs(samples_of(b"".join(frames))) > -20
    once = WavSignal(path, FMT, loop=False)
    assert [once.next_frame() for _ in range(10)][-1] == FMT.silence()


class Recorder:
    def __init__(self) -> None:
        self.tx: list[bytes] = []
        self.rx: list[bytes] = []

    def on_tx(self, frame: bytes) -> bytes:
        self.tx.append(frame)
        return frame

    def on_rx(self, frame: bytes) -> None:
        self.rx.append(frame)


def started_bridge(signal_hz: float = 697) -> tuple[VirtualAudioDevice, AudioBridge]:
    dev = VirtualAudioDevice(FMT, tone(signal_hz, FMT), realtime=False)
    bridge = AudioBridge(dev, FMT, target_frames=1, max_frames=4)
    bridge.start()
    return dev, bridge


def test_bridge_carries_microphone_to_network_and_network_to_speaker() -> None:
    dev, bridge = started_bridge(697)
    far_end = tone_frames(1004, 20)
    sent = []
    for i in range(20):  # the device and the SIP clock alternate
        dev.tick()
        sent.append(bridge.read_tx_frame())
        bridge.write_rx_frame(far_end[i])
    tx = samples_of(b"".join(sent[2:]))
    assert dominant_frequency(tx, 16000) == pytest.approx(697, abs=2)
    played = samples_of(dev.captured()[640 * 2:])
    assert dominant_frequency(played, 16000) == pytest.approx(1004, abs=2)
    assert bridge.stats().mic.underruns == 0


def test_bridge_mute_volume_and_tap() -> None:
    dev, bridge = started_bridge(697)
    tap = Recorder()
    bridge.set_tap(tap)
    for _ in range(5):
        dev.tick()
        bridge.read_tx_frame()
    bridge.set_mic_muted(True)
    for _ in range(5):
        dev.tick()
        assert bridge.read_tx_frame() == FMT.silence()
    bridge.set_mic_muted(False)
    assert tap.tx[-1] == FMT.silence() and tap.tx[2] != FMT.silence()

    loud = frame_of([8000] * 320)
    bridge.set_speaker_volume(0.25)
    for _ in range(4):
        bridge.write_rx_frame(loud)
        dev.tick()
    assert samples_of(dev.captured()[-640:]).tolist() == [2000] * 320
    assert tap.rx[-1] == loud  # the tap sees the network side, before the volume
    with pytest.raises(ValueError):
        bridge.set_speaker_volume(5.0)


def test_stopped_bridge_ignores_the_sip_side() -> None:
    dev = VirtualAudioDevice(FMT, Silence(FMT), realtime=False)
    bridge = AudioBridge(dev, FMT)
    bridge.write_rx_frame(fr(3))
    assert bridge.read_tx_frame() == FMT.silence()
    assert bridge.stats().speaker.pushed == 0


def test_realtime_virtual_device_ticks_on_its_own_clock() -> None:
    dev = VirtualAudioDevice(FMT, tone(440, FMT))
    got: list[bytes] = []
    done = __import__("threading").Event()

    def sink(f: bytes) -> None:
        got.append(f)
        if len(got) >= 5:
            done.set()

    s = dev.open_input(None, FMT, sink)
    s.start()
    assert done.wait(5)
    s.close()
    n = len(got)
    assert dev.ticks >= 5 and len(got) == n  # stopped with its last stream


# ---------------------------------------------------------------- echo check analysis
def simulate_echo(delay_frames: int, gain: float, hz: float = 697) -> EchoProbe:
    probe = EchoProbe(FMT, freq=hz)
    line: list[bytes] = [FMT.silence()] * delay_frames
    while not probe.finished.is_set():
        sent = probe.on_tx(FMT.silence())
        line.append(apply_gain(sent, gain))
        probe.on_rx(line.pop(0))
    return probe


def test_echo_check_finds_the_bursts_level_and_delay() -> None:
    r = simulate_echo(delay_frames=3, gain=0.5).result()
    assert r.ok, r.message
    assert (r.bursts_sent, r.bursts_back) == (3, 3)
    assert r.echo_delay_ms == pytest.approx(60, abs=5)
    assert r.returned_dbfs == pytest.approx(-12 - 3 - 6, abs=1)
    assert r.tone_share > 0.9
    assert "audio works both ways" in r.message


def test_echo_check_says_when_nothing_comes_back() -> None:
    r = simulate_echo(delay_frames=3, gain=0.0).result()
    assert not r.ok and r.bursts_back == 0 and r.echo_delay_ms is None
    assert "did not come back" in r.message


def test_echo_check_says_when_nothing_was_sent() -> None:
    r = analyse_echo(FMT.silence() * 50, FMT.silence() * 50, FMT, 697)
    assert not r.ok and "nothing was sent" in r.message


def test_listen_only_probe_measures_the_microphone_signal() -> None:
    probe = EchoProbe(FMT, inject=False)
    mic = tone_frames(697, 60)
    for i, frame in enumerate(mic):
        assert probe.on_tx(frame) is frame
        probe.on_rx(mic[i - 2] if i >= 2 else FMT.silence())
    r = probe.result()
    assert r.mic_dbfs == pytest.approx(-15, abs=1)
    assert r.echo_delay_ms == pytest.approx(40, abs=5)


# ---------------------------------------------------------------- remembered choices
def test_prefs_round_trip_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "a" / "audio.json"
    assert AudioPrefs.load(path) == AudioPrefs()
    p = AudioPrefs("USB headset", "3", 0.8, -3.0)
    p.save(path)
    assert AudioPrefs.load(path) == p
    path.write_text("{not json")
    assert AudioPrefs.load(path) == AudioPrefs()
    path.write_text('{"input_device": "x", "future_key": 1}')
    assert AudioPrefs.load(path) == AudioPrefs(input_device="x")


def test_fifo_starts_at_one_frame_and_grows_only_on_underruns_after_settling() -> None:
    f = FrameFifo(640, target=1, max_depth=6, max_target=3, settle=3)
    assert f.pop() == bytes(640)            # priming
    f.push(fr(1))
    assert f.pop() == fr(1)
    f.pop()                                 # an underrun within the settling pops
    assert (f.stats.underruns, f.stats.startup_underruns, f.target) == (0, 1, 1)
    for expected_target in (2, 3, 3):       # each later underrun grows the target, up to 3
        for i in range(f.target):
            f.push(fr(i))
        for i in range(f.target):
            assert f.pop() == fr(i)
        f.pop()                             # the writer is late: an underrun
        assert f.target == expected_target
    assert f.stats.underruns == 3
    f.clear()                               # a new call starts low again
    assert f.target == 1


def test_fifo_trims_a_backlog_that_never_drains() -> None:
    f = FrameFifo(640, target=1, max_depth=6, window=10)
    for i in range(5):                      # the reader started late: 5 frames queued
        f.push(fr(i))
    for i in range(30):                     # then both clocks tick in step
        f.push(fr(i % 250))
        f.pop()
    assert f.depth == 0 and f.stats.trimmed == 5 and f.stats.underruns == 0  # popped at once


def test_bridge_on_the_device_clock_plays_what_the_tick_received_at_once() -> None:
    dev = VirtualAudioDevice(FMT, tone(697, FMT), realtime=False)
    bridge = AudioBridge(dev, FMT)
    far_end = tone_frames(1004, 10)
    sent: list[bytes] = []

    def tick() -> None:                    # what the SIP conference does on each tick
        sent.append(bridge.read_tx_frame())
        bridge.write_rx_frame(far_end[len(sent) - 1])

    bridge.set_clock(tick)
    bridge.start()
    dev.tick(10)
    played = dev.captured()
    assert len(sent) == 10                 # one conference tick per device frame
    assert played[:FMT.frame_bytes] == far_end[0]      # no speaker FIFO delay
    assert played == b"".join(far_end)
    assert bridge.stats().speaker.underruns == 0
    assert dominant_frequency(samples_of(b"".join(sent[1:])), FMT.rate) == pytest.approx(697, abs=2)


def test_bridge_on_the_device_clock_drops_what_fallback_ticks_left_behind() -> None:
    dev = VirtualAudioDevice(FMT, tone(697, FMT), realtime=False)
    bridge = AudioBridge(dev, FMT)
    far_end = tone_frames(1004, 12)
    received = iter(far_end)

    def tick() -> None:                    # the conference's tick: one frame each way
        bridge.read_tx_frame()
        bridge.write_rx_frame(next(received))

    bridge.set_clock(tick)
    bridge.start()
    dev.tick(4)
    for _ in range(3):                     # the headset is silent: the stack's clock ticks
        tick()
    dev.tick(5)
    played = dev.captured()
    f = FMT.frame_bytes
    # the frame after the gap is the one its own tick received, not the backlog's oldest:
    # the speaker's delay stays one tick instead of growing by the three the fallback pushed
    assert played[4 * f:] == b"".join(far_end[7:12])
    st = bridge.stats()
    assert (st.speaker.trimmed, st.speaker.underruns, st.speaker_depth) == (3, 0, 0)
