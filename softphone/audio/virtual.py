"""A virtual sound card: a known signal as the microphone, a capture as the speaker.

It stands in for the headset where there is none: in tests it feeds a known signal and keeps what
was played, and in headless mode it is the scripted agent's voice (a tone or a WAV file) and ears
(a capture written to a WAV file). It has its own clock like a real card: a thread ticks every
frame in real time, calling each open input stream's `on_frame` and each output stream's `pull`
(or, with `realtime=False`, nothing ticks until `tick()` is called, for unit tests).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

from dialer.core.audio import AudioFormat, ToneGenerator, frame_of, read_wav, resample_linear
from softphone.audio.device import (
    AudioDeviceError,
    AudioStream,
    DeviceInfo,
    FrameSink,
    FrameSource,
)

DEVICE_ID = "virtual"


class Signal(Protocol):
    """Where a virtual microphone's frames come from."""

    def next_frame(self) -> bytes: ...


class Silence:
    def __init__(self, fmt: AudioFormat) -> None:
        self._frame = fmt.silence()

    def next_frame(self) -> bytes:
        return self._frame


class WavSignal:
    """A WAV file's samples (resampled to the stream's rate), looped or then silence."""

    def __init__(self, path: Path, fmt: AudioFormat, loop: bool = True) -> None:
        rate, samples = read_wav(path)
        self._pcm = frame_of(resample_linear(samples, rate, fmt.rate))
        self._fmt = fmt
        self._pos = 0
        self._loop = loop

    def next_frame(self) -> bytes:
        size = self._fmt.frame_bytes
        if not self._pcm:
            return self._fmt.silence()
        out = b""
        while len(out) < size:
            if self._pos >= len(self._pcm):
                if not self._loop:
                    return (out + bytes(size))[:size]
                self._pos = 0
            take = self._pcm[self._pos:self._pos + size - len(out)]
            self._pos += len(take)
            out += take
        return out


def tone(freq: float, fmt: AudioFormat, level_dbfs: float = -12.0) -> Signal:
    return ToneGenerator(freq, fmt, level_dbfs)


class _Stream:
    def __init__(self, device: VirtualAudioDevice, sink: FrameSink | None,
                 source: FrameSource | None) -> None:
        self._device = device
        self.sink = sink
        self.source = source
        self.running = False

    def start(self) -> None:
        self.running = True
        self._device._started(self)

    def close(self) -> None:
        self.running = False
        self._device._closed(self)


class VirtualAudioDevice:
    """One virtual card; `fmt` is the only format it opens (like a card fixed at one rate)."""

    def __init__(self, fmt: AudioFormat, signal: Signal | None = None,
                 realtime: bool = True, keep_seconds: float = 600.0) -> None:
        self.fmt = fmt
        self._signal: Signal = signal or Silence(fmt)
        self._realtime = realtime
        self._keep = int(keep_seconds * 1000 / fmt.frame_ms)
        self._lock = threading.Lock()
        self._streams: list[_Stream] = []
        self._captured: list[bytes] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._recorder: FrameSink | None = None
        self.ticks = 0

    # ---------------------------------------------------------------- AudioDevice
    def list_devices(self) -> list[DeviceInfo]:
        return [DeviceInfo(DEVICE_ID, "virtual (known signal in, capture out)", 1, 1,
                           float(self.fmt.rate), True, True)]

    def open_input(self, device: str | None, fmt: AudioFormat,
                   on_frame: FrameSink) -> AudioStream:
        self._check(device, fmt)
        return _Stream(self, on_frame, None)

    def open_output(self, device: str | None, fmt: AudioFormat,
                    pull: FrameSource) -> AudioStream:
        self._check(device, fmt)
        return _Stream(self, None, pull)

    # ---------------------------------------------------------------- the test's side
    def set_signal(self, signal: Signal) -> None:
        with self._lock:
            self._signal = signal

    def set_recorder(self, recorder: FrameSink | None) -> None:
        """Also hand every played frame to `recorder` (on the device's thread), e.g. a WAV file."""
        with self._lock:
            self._recorder = recorder

    def captured(self) -> bytes:
        """Everything the output streams played, oldest first (up to `keep_seconds`)."""
        with self._lock:
            return b"".join(self._captured)

    def clear_capture(self) -> None:
        with self._lock:
            self._captured.clear()

    def tick(self, frames: int = 1) -> None:
        """Advance the clock by `frames` frames: one input frame in, one output frame out each."""
        for _ in range(frames):
            with self._lock:
                streams = [s for s in self._streams if s.running]
                signal = self._signal
            mic = signal.next_frame() if any(s.sink for s in streams) else b""
            for s in streams:
                if s.sink is not None:
                    s.sink(mic)
                if s.source is not None:
                    played = s.source()
                    with self._lock:
                        self._captured.append(played)
                        if len(self._captured) > self._keep:
                            del self._captured[: len(self._captured) - self._keep]
                        recorder = self._recorder
                    if recorder is not None:
                        recorder(played)
            self.ticks += 1

    # ---------------------------------------------------------------- internals
    def _check(self, device: str | None, fmt: AudioFormat) -> None:
        if device not in (None, DEVICE_ID):
            raise AudioDeviceError(f"no virtual device {device!r} (there is only {DEVICE_ID!r})")
        if fmt != self.fmt:
            raise AudioDeviceError(f"virtual device runs at {self.fmt}, asked for {fmt}")

    def _started(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.append(stream)
            if self._realtime and self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="virtual-audio",
                                                daemon=True)
                self._thread.start()

    def _closed(self, stream: _Stream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)
            thread = self._thread if not self._streams else None
            if thread is not None:
                self._thread = None
                self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        period = self.fmt.frame_ms / 1000
        next_at = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_at:
                self._stop.wait(next_at - now)
                continue
            behind = int((now - next_at) / period)
            if behind > 10:  # stalled (suspended?): resynchronise instead of bursting
                next_at = now
            self.tick()
            next_at += period
