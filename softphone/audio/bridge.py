"""The audio bridge: the headset on one side, the SIP stack's media port on the other.

Owns the two device streams, one `FrameFifo` each way (the device clock and the SIP stack's
conference clock are different clocks), the microphone mute and gain, the speaker volume, level
meters, and an optional `AudioTap` that sees (and may replace) every frame at the network side.

The SIP side calls `read_tx_frame()` (what to send) and `write_rx_frame()` (what was received)
once per frame on its media thread; the device calls the private `_on_mic()` / `_pull_speaker()`
on its own thread. A lock guards the FIFOs; nothing here blocks longer than a frame copy.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Protocol

from dialer.core.audio import AudioFormat, apply_gain, db_to_gain, rms_dbfs, samples_of
from softphone.audio.device import AudioDevice, AudioStream
from softphone.audio.jitter import FifoStats, FrameFifo


class AudioTap(Protocol):
    """Sees the audio at the network side, on the media thread; must not block."""

    def on_tx(self, frame: bytes) -> bytes:
        """`frame` is about to be sent (after mute and gain); return what to send instead."""
        ...

    def on_rx(self, frame: bytes) -> None:
        """`frame` was received from the call (before the speaker volume)."""
        ...


class AudioPort(Protocol):
    """What a SIP user agent needs from the audio side: one frame each way per tick."""

    @property
    def fmt(self) -> AudioFormat: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def set_mic_muted(self, muted: bool) -> None: ...
    def set_tap(self, tap: AudioTap | None) -> None: ...
    def read_tx_frame(self) -> bytes: ...
    def write_rx_frame(self, frame: bytes) -> None: ...


@dataclass(frozen=True)
class BridgeStats:
    mic: FifoStats
    speaker: FifoStats
    mic_depth: int
    speaker_depth: int
    frame_ms: int

    @property
    def added_delay_ms(self) -> tuple[int, int]:
        """Delay the FIFOs add now, (microphone -> network, network -> speaker), in ms."""
        return self.mic_depth * self.frame_ms, self.speaker_depth * self.frame_ms


class AudioBridge:
    def __init__(self, device: AudioDevice, fmt: AudioFormat | None = None,
                 input_device: str | None = None, output_device: str | None = None,
                 target_frames: int = 2, max_frames: int = 6) -> None:
        self.device = device
        self._fmt = fmt or AudioFormat()
        self.input_device = input_device
        self.output_device = output_device
        self._lock = threading.Lock()
        self._mic = FrameFifo(self._fmt.frame_bytes, target_frames, max_frames)
        self._speaker = FrameFifo(self._fmt.frame_bytes, target_frames, max_frames)
        self._streams: list[AudioStream] = []
        self._tap: AudioTap | None = None
        self.mic_muted = False
        self._mic_gain = 1.0
        self._speaker_gain = 1.0
        self.mic_dbfs = -math.inf
        self.speaker_dbfs = -math.inf

    @property
    def fmt(self) -> AudioFormat:
        return self._fmt

    @property
    def running(self) -> bool:
        return bool(self._streams)

    # ---------------------------------------------------------------- control (any thread)
    def start(self) -> None:
        """Open the input and output streams (separate streams: a duplex one stalled on Pulse)."""
        if self._streams:
            return
        with self._lock:
            self._mic.clear()
            self._speaker.clear()
        streams = [
            self.device.open_input(self.input_device, self._fmt, self._on_mic),
            self.device.open_output(self.output_device, self._fmt, self._pull_speaker),
        ]
        self._streams = streams
        for s in streams:
            s.start()

    def stop(self) -> None:
        streams, self._streams = self._streams, []
        for s in streams:
            s.close()

    def set_mic_muted(self, muted: bool) -> None:
        self.mic_muted = muted

    def set_mic_gain_db(self, db: float) -> None:
        self._mic_gain = db_to_gain(db)

    def set_speaker_volume(self, volume: float) -> None:
        """Speaker volume, 0.0 (silent) .. 1.0 (as received) .. 4.0 (+12 dB)."""
        if not 0.0 <= volume <= 4.0:
            raise ValueError(f"speaker volume {volume} is outside 0.0..4.0")
        self._speaker_gain = volume

    def set_tap(self, tap: AudioTap | None) -> None:
        self._tap = tap

    def stats(self) -> BridgeStats:
        with self._lock:
            return BridgeStats(FifoStats(**vars(self._mic.stats)),
                               FifoStats(**vars(self._speaker.stats)),
                               self._mic.depth, self._speaker.depth, self._fmt.frame_ms)

    # ---------------------------------------------------------------- SIP side (media thread)
    def read_tx_frame(self) -> bytes:
        if not self._streams:
            return self._fmt.silence()
        with self._lock:
            frame = self._mic.pop()
        if self.mic_muted:
            frame = self._fmt.silence()
        elif self._mic_gain != 1.0:
            frame = apply_gain(frame, self._mic_gain)
        tap = self._tap
        if tap is not None:
            frame = tap.on_tx(frame)
        return frame

    def write_rx_frame(self, frame: bytes) -> None:
        if not self._streams:
            return
        if len(frame) != self._fmt.frame_bytes:
            frame = (frame + self._fmt.silence())[: self._fmt.frame_bytes]
        tap = self._tap
        if tap is not None:
            tap.on_rx(frame)
        if self._speaker_gain != 1.0:
            frame = apply_gain(frame, self._speaker_gain)
        with self._lock:
            self._speaker.push(frame)

    # ---------------------------------------------------------------- device side
    def _on_mic(self, frame: bytes) -> None:
        if len(frame) != self._fmt.frame_bytes:
            return
        self.mic_dbfs = rms_dbfs(samples_of(frame)[::4])
        with self._lock:
            self._mic.push(frame)

    def _pull_speaker(self) -> bytes:
        with self._lock:
            frame = self._speaker.pop()
        self.speaker_dbfs = rms_dbfs(samples_of(frame)[::4])
        return frame
