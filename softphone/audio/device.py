"""What the softphone needs from a sound card, named as protocols (after aioice's habit).

An `AudioDevice` lists its devices and opens one input and one output stream of 16-bit mono
frames in a given `AudioFormat`. Streams are driven by the device's own clock: an input stream
calls `on_frame(block)` with each block it captures (whole samples, at most a frame: a frame, or
5 ms from the headset), an output stream calls `pull()` once per frame and plays what it
returns. Both callbacks run on the device's thread and must not block.

Implementations: `softphone.audio.sd_device.SounddeviceAudio` (PortAudio via sounddevice, the
headset) and `softphone.audio.virtual.VirtualAudioDevice` (a known signal in, a capture out: the
stand-in for a sound card in tests, and the scripted agent's voice in headless mode).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dialer.core.audio import AudioFormat

FrameSink = Callable[[bytes], None]
FrameSource = Callable[[], bytes]


class AudioDeviceError(Exception):
    """A device could not be found or opened (the message names it and says why)."""


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    name: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool = False
    is_default_output: bool = False


_ALSA_CARD = re.compile(r"\s*\(hw:\d+,\d+\)")


def _bare_name(name: str) -> str:
    """A device name without its ALSA card number ("(hw:2,0)") or its " #2" suffix."""
    return _ALSA_CARD.sub("", name.split(" #")[0]).strip().lower()


def find_device(device: str, devices: Sequence[DeviceInfo], want_input: bool) -> DeviceInfo | None:
    """The device on that side that `device` (a remembered id) names, if it is plugged in.

    Its id first; else the one device of the same name but another ALSA card number (a USB
    headset plugged back in may come back as another card).
    """
    side = [d for d in devices if (d.inputs if want_input else d.outputs)]
    for d in side:
        if d.id == device:
            return d
    bare = _bare_name(device)
    same = [d for d in side if _bare_name(d.name) == bare]
    return same[0] if len(same) == 1 else None


class AudioStream(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


class AudioDevice(Protocol):
    def list_devices(self) -> list[DeviceInfo]: ...

    def open_input(self, device: str | None, fmt: AudioFormat,
                   on_frame: FrameSink) -> AudioStream: ...

    def open_output(self, device: str | None, fmt: AudioFormat,
                    pull: FrameSource) -> AudioStream: ...
