"""`AudioDevice` on PortAudio through sounddevice: the agent's headset.

Raw (buffer) streams of int16 mono, one input and one output stream (a single full-duplex stream
stalled on PulseAudio here). The output's `blocksize` is one frame (each callback plays exactly
one: with the headset's clock driving the SIP stack, one callback is one tick; if a host API asks
for other sizes, frames are re-cut). The input's is `input_block_ms` (5 ms): the microphone's
blocks go to the bridge as they come, so a tick can send the newest audio whatever the phase
between the two streams (softphone/audio/mic_fifo.py); a block longer than a frame is cut.

A device's id is its name (with " #2", " #3" for a second and third device of the same name),
not PortAudio's index: indices shift when a USB headset is unplugged and plugged back, and the
agent's remembered headset must still be found. `resolve` also takes an index (what older
settings stored), a name whose ALSA "(hw:X,Y)" part changed (the card came back under another
number), or a unique part of a name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dialer.core.audio import AudioFormat
from softphone.audio.device import (
    AudioDeviceError,
    AudioStream,
    DeviceInfo,
    FrameSink,
    FrameSource,
    find_device,
)
from softphone.audio.steady import realtime_io_threads, realtime_thread


def _sd() -> Any:
    try:
        import sounddevice  # type: ignore[import-untyped]
    except OSError as exc:  # libportaudio2 missing
        raise AudioDeviceError(f"PortAudio is not available: {exc}") from None
    return sounddevice


class _Stream:
    """One PortAudio stream; `on_lost(why)` is called (on PortAudio's thread) if it stops by itself:
    the device was unplugged or its sound server dropped it."""

    def __init__(self, what: str, realtime: bool, realtime_io: bool = False) -> None:
        self._stream: Any = None
        self._what = what
        self._closing = False
        self._realtime = realtime
        self._realtime_io = realtime_io
        self._began = False
        self.on_lost: Callable[[str], None] | None = None
        self.xruns = 0     # callbacks PortAudio flagged (input overflow, output underflow...)

    def callback_begins(self, status: Any) -> None:
        """At the top of each callback (on PortAudio's thread): count a flagged one; the first
        asks real-time scheduling for the callback thread, and for the sound server's client
        threads (by then the stream's own is running), if the device wants it."""
        if status:
            self.xruns += 1
        if not self._began:
            self._began = True
            if self._realtime:
                realtime_thread()
            if self._realtime_io:
                realtime_io_threads()

    def set_on_lost(self, on_lost: Callable[[str], None] | None) -> None:
        self.on_lost = on_lost

    def finished(self) -> None:
        if not self._closing and self.on_lost is not None:
            self.on_lost(f"{self._what} stopped by itself (unplugged?)")

    def start(self) -> None:
        try:
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
            raise AudioDeviceError(f"cannot start {self._what}: {exc}") from None

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            self._stream.stop()
        except Exception:  # noqa: BLE001 - a lost device's stream may refuse to stop
            pass
        finally:
            self._stream.close()


class SounddeviceAudio:
    """The sound cards PortAudio sees.

    `query` and `defaults` stand in for `sounddevice.query_devices` and `sounddevice.default.device`
    (tests give a device table: there is no sound card on the test machines).
    """

    def __init__(self, query: Callable[[], Any] | None = None,
                 defaults: Callable[[], Any] | None = None,
                 latency: float | str = "low", input_block_ms: int = 5,
                 realtime: bool = True, realtime_io: bool | None = None) -> None:
        if input_block_ms <= 0:
            raise ValueError(f"input_block_ms ({input_block_ms}) must be > 0")
        self._query = query
        self._defaults = defaults
        self.latency = latency
        self.input_block_ms = input_block_ms
        self.realtime = realtime          # ask real-time scheduling for the callback threads
        # ... and for the sound server's client threads (softphone/audio/steady.py)
        self.realtime_io = realtime if realtime_io is None else realtime_io

    def _table(self) -> tuple[list[Any], int, int]:
        if self._query is not None:
            table = list(self._query())
            pair = self._defaults() if self._defaults is not None else (-1, -1)
        else:
            sd = _sd()
            table = list(sd.query_devices())
            pair = sd.default.device
        try:
            default_in, default_out = (int(x) for x in pair)
        except (TypeError, ValueError):
            default_in = default_out = -1
        return table, default_in, default_out

    def _indexed(self) -> list[tuple[int, DeviceInfo]]:
        table, default_in, default_out = self._table()
        seen: dict[str, int] = {}
        found = []
        for i, d in enumerate(table):
            name = str(d["name"])
            seen[name] = seen.get(name, 0) + 1
            dev_id = name if seen[name] == 1 else f"{name} #{seen[name]}"
            found.append((i, DeviceInfo(dev_id, name, int(d["max_input_channels"]),
                                        int(d["max_output_channels"]),
                                        float(d["default_samplerate"]),
                                        i == default_in, i == default_out)))
        return found

    def list_devices(self) -> list[DeviceInfo]:
        return [d for _i, d in self._indexed()]

    def resolve(self, device: str | None, want_input: bool) -> int | None:
        """PortAudio's index for `device` (None: the system default)."""
        if device is None:
            return None
        indexed = self._indexed()
        found = find_device(device, [d for _i, d in indexed], want_input)
        if found is not None:
            return next(i for i, d in indexed if d is found)
        devices = [(i, d) for i, d in indexed if (d.inputs if want_input else d.outputs)]
        kind = "input" if want_input else "output"
        if device.isdigit():
            if any(i == int(device) for i, _d in devices):
                return int(device)
            raise AudioDeviceError(f"no {kind} device #{device}")
        matches = [i for i, d in devices if device.lower() in d.name.lower()]
        if len(matches) != 1:
            names = ", ".join(d.name for _i, d in devices) or "none"
            what = "no" if not matches else "more than one"
            raise AudioDeviceError(f"{what} {kind} device matches {device!r} (have: {names})")
        return matches[0]

    def open_input(self, device: str | None, fmt: AudioFormat,
                   on_frame: FrameSink) -> AudioStream:
        sd = _sd()
        index = self.resolve(device, want_input=True)
        block = max(1, min(fmt.frame_samples, fmt.rate * self.input_block_ms // 1000))

        def callback(indata: Any, frames: int, _time: Any, status: Any) -> None:
            wrapper.callback_begins(status)
            data = bytes(indata)
            if len(data) <= fmt.frame_bytes:
                on_frame(data)
                return
            for i in range(0, len(data), fmt.frame_bytes):
                on_frame(data[i:i + fmt.frame_bytes])

        wrapper = _Stream(f"input device {device or 'default'}", self.realtime,
                          self.realtime_io)
        try:
            wrapper._stream = sd.RawInputStream(
                samplerate=fmt.rate, blocksize=block, device=index, channels=1,
                dtype="int16", latency=self.latency, callback=callback,
                finished_callback=wrapper.finished)
        except Exception as exc:  # noqa: BLE001
            raise AudioDeviceError(f"cannot open input device {device or 'default'} at "
                                   f"{fmt.rate} Hz: {exc}") from None
        return wrapper

    def open_output(self, device: str | None, fmt: AudioFormat,
                    pull: FrameSource) -> AudioStream:
        sd = _sd()
        index = self.resolve(device, want_input=False)
        pending = bytearray()

        def callback(outdata: Any, frames: int, _time: Any, status: Any) -> None:
            wrapper.callback_begins(status)
            need = 2 * frames
            while len(pending) < need:
                pending.extend(pull())
            outdata[:] = bytes(pending[:need])
            del pending[:need]

        wrapper = _Stream(f"output device {device or 'default'}", self.realtime,
                          self.realtime_io)
        try:
            wrapper._stream = sd.RawOutputStream(
                samplerate=fmt.rate, blocksize=fmt.frame_samples, device=index, channels=1,
                dtype="int16", latency=self.latency, callback=callback,
                finished_callback=wrapper.finished)
        except Exception as exc:  # noqa: BLE001
            raise AudioDeviceError(f"cannot open output device {device or 'default'} at "
                                   f"{fmt.rate} Hz: {exc}") from None
        return wrapper
