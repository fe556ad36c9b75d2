"""The audio bridge: the headset on one side, the SIP stack's media port on the other.

Owns the two device streams, a FIFO each way (the device clock and the SIP stack's conference
clock are different clocks), the microphone mute and gain, the speaker volume, level meters, and
an optional `AudioTap` that sees (and may replace) every frame at the network side.

The SIP side calls `read_tx_frame()` (what to send) and `write_rx_frame()` (what was received)
once per frame on its media thread; the device calls the private `_on_mic()` / `_pull_speaker()`
on its own thread. A lock guards the FIFOs; nothing here blocks longer than a frame copy.

The microphone's FIFO (`MicFifo`) works sample by sample: the headset hands in short blocks, and
each tick sends the newest frame it has plus a small lead against late callbacks, whatever the
phase between the input stream and the tick. The speaker's (`FrameFifo`) starts at one frame and
grows only on measured underruns (with the headset's clock driving the ticks it stays empty: each
tick's frame is played in the same callback, and a backlog left by the stack's fallback ticks while
the headset was silent is dropped at its next tick).

A headset can go away during a call (USB unplugged, the sound server dropped it): a stream that
stops by itself is reported (`DeviceEvent` LOST, with a log line naming the device), the call
stays up and sends silence, and a thread reopens the same devices by name every `retry_s` until
they come back (`DeviceEvent` BACK).
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dialer.core.audio import AudioFormat, apply_gain, db_to_gain, rms_dbfs, samples_of
from softphone.audio.device import AudioDevice, AudioDeviceError, AudioStream
from softphone.audio.jitter import FifoStats, FrameFifo
from softphone.audio.mic_fifo import MicFifo

log = logging.getLogger(__name__)


class DeviceState(enum.Enum):
    LOST = "lost"
    BACK = "back"


@dataclass(frozen=True)
class DeviceEvent:
    """The headset went away during a call, or came back; `message` is for the agent."""

    state: DeviceState
    message: str


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
    device_xruns: int = 0          # callbacks the sound device itself flagged (under/overflow)
    mic_depth_ms: float = 0.0      # what the microphone's FIFO holds now, in ms

    @property
    def added_delay_ms(self) -> tuple[float, float]:
        """Delay the FIFOs hold now, (microphone -> network, network -> speaker), in ms."""
        return self.mic_depth_ms, float(self.speaker_depth * self.frame_ms)


class AudioBridge:
    def __init__(self, device: AudioDevice, fmt: AudioFormat | None = None,
                 input_device: str | None = None, output_device: str | None = None,
                 target_frames: int = 1, max_frames: int = 6, max_target: int = 4,
                 settle_frames: int = 150, retry_s: float = 0.5, mic_lead_ms: float = 5.0,
                 max_mic_lead_ms: float = 20.0) -> None:
        self.device = device
        self._fmt = fmt or AudioFormat()
        self.input_device = input_device
        self.output_device = output_device
        self._lock = threading.Lock()
        top = max(target_frames, min(max_target, max_frames))
        self._mic = MicFifo(self._fmt.frame_bytes, self._fmt.rate, mic_lead_ms,
                            max_lead_ms=max_mic_lead_ms, max_frames=max_frames,
                            settle=settle_frames)
        self._speaker = FrameFifo(self._fmt.frame_bytes, target_frames, max_frames, top,
                                  settle_frames)
        self._streams: list[AudioStream] = []
        self._lost: str | None = None
        self._stopped = threading.Event()
        self._retry_s = retry_s
        self._listeners: list[Callable[[DeviceEvent], None]] = []
        self._clock: Callable[[], None] | None = None
        self.losses = 0
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
        self._stopped.clear()
        self._lost = None
        self._streams = self._open()

    def stop(self) -> None:
        self._stopped.set()
        streams, self._streams = self._streams, []
        for s in streams:
            s.close()

    @property
    def device_lost(self) -> str | None:
        """Why the headset is gone (None: it is there or the bridge is stopped)."""
        return self._lost

    def add_listener(self, listener: Callable[[DeviceEvent], None]) -> None:
        """`listener(event)` is called on a device or bridge thread: it must not block."""
        self._listeners.append(listener)

    def _open(self) -> list[AudioStream]:
        with self._lock:
            self._mic.clear()
            self._speaker.clear()
        streams = [self.device.open_input(self.input_device, self._fmt, self._on_mic)]
        try:
            streams.append(self.device.open_output(self.output_device, self._fmt,
                                                   self._pull_speaker))
            for s in streams:
                watch = getattr(s, "set_on_lost", None)
                if watch is not None:
                    watch(self._on_lost)
                s.start()
        except BaseException:
            for s in streams:
                s.close()
            raise
        return streams

    def _on_lost(self, why: str) -> None:
        """A stream stopped by itself (on the device's thread): report it and start reopening."""
        with self._lock:
            if self._lost is not None or not self._streams or self._stopped.is_set():
                return
            self._lost = why
            self.losses += 1
        names = f"{self.input_device or 'default'} / {self.output_device or 'default'}"
        message = (f"The headset ({names}) is gone: {why}. The call stays up but is silent; "
                   "plug the headset back in.")
        log.warning("audio: headset lost: %s", message)
        self._emit(DeviceEvent(DeviceState.LOST, message))
        threading.Thread(target=self._recover, name="audio-recover", daemon=True).start()

    def _recover(self) -> None:
        old, self._streams = self._streams, [_Placeholder()]
        for s in old:
            s.close()
        attempts = 0
        while not self._stopped.wait(self._retry_s):
            attempts += 1
            try:
                streams = self._open()
            except AudioDeviceError as exc:
                if attempts == 1 or attempts % 20 == 0:
                    log.info("audio: headset still gone (%s)", exc)
                continue
            if self._stopped.is_set():
                for s in streams:
                    s.close()
                return
            self._streams = streams
            with self._lock:
                self._lost = None
            message = f"The headset is back ({self.input_device or 'default'})."
            log.warning("audio: %s", message)
            self._emit(DeviceEvent(DeviceState.BACK, message))
            return

    def _emit(self, event: DeviceEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener's fault is not the audio path's
                log.exception("audio: a device listener failed")

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

    def set_clock(self, tick: Callable[[], None] | None) -> None:
        """`tick()` runs one tick of the SIP stack's conference; given, the headset's output
        callback calls it before taking each frame (the stack then runs on the headset's clock:
        softphone/sip/device_clock.py)."""
        self._clock = tick

    def stats(self) -> BridgeStats:
        with self._lock:
            return BridgeStats(FifoStats(**vars(self._mic.stats)),
                               FifoStats(**vars(self._speaker.stats)),
                               self._mic.depth, self._speaker.depth, self._fmt.frame_ms,
                               sum(int(getattr(s, "xruns", 0)) for s in self._streams),
                               self._mic.depth_ms)

    # ---------------------------------------------------------------- SIP side (media thread)
    def read_tx_frame(self) -> bytes:
        if not self._streams or self._lost is not None:
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
        if not self._streams or self._lost is not None:
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
    def _on_mic(self, block: bytes) -> None:
        """A block of the microphone (whole samples, a frame or less: 5 ms from the headset)."""
        if not block or len(block) % 2 or len(block) > self._fmt.frame_bytes:
            return
        self.mic_dbfs = rms_dbfs(samples_of(block)[::4])
        with self._lock:
            self._mic.push(block)

    def _pull_speaker(self) -> bytes:
        clock = self._clock if self._lost is None else None
        if clock is not None:
            clock()
        with self._lock:
            if clock is not None:
                # this tick pushed the newest frame; anything older is what the stack's
                # fallback ticks pushed while the headset was silent: playing it would add
                # their delay (a frame each) until the FIFO's trim, a second later
                self._speaker.keep_newest(self._speaker.target)
            frame = self._speaker.pop()
        self.speaker_dbfs = rms_dbfs(samples_of(frame)[::4])
        return frame


class _Placeholder:
    """Stands for the streams while the headset is gone (the bridge still counts as running)."""

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass
