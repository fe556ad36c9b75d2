"""Which sound card a remembered device id names, on PortAudio's device table.

The table is given (there is no sound card on the test machines): the layout is what PortAudio
lists on Linux with ALSA, a USB headset and PulseAudio.
"""

from __future__ import annotations

from typing import Any

import pytest

from softphone.audio.device import AudioDeviceError
from softphone.audio.sd_device import SounddeviceAudio


def dev(name: str, inputs: int, outputs: int) -> dict[str, Any]:
    return {"name": name, "max_input_channels": inputs, "max_output_channels": outputs,
            "default_samplerate": 48000.0}


BUILT_IN = dev("HDA Intel PCH: ALC257 Analog (hw:0,0)", 2, 2)
HDMI = dev("HDA Intel PCH: HDMI 0 (hw:0,3)", 0, 8)
PULSE = dev("pulse", 32, 32)


def card(table: list[dict[str, Any]], defaults: tuple[int, int] = (-1, -1)) -> SounddeviceAudio:
    return SounddeviceAudio(query=lambda: table, defaults=lambda: defaults)


def test_a_device_is_remembered_by_name_not_by_its_index() -> None:
    before = card([BUILT_IN, HDMI, dev("Jabra EVOLVE 20: USB Audio (hw:2,0)", 1, 2), PULSE],
                  defaults=(3, 3))
    devices = before.list_devices()
    headset = next(d for d in devices if d.name.startswith("Jabra"))
    assert headset.id == "Jabra EVOLVE 20: USB Audio (hw:2,0)"
    assert [d.is_default_input for d in devices] == [False, False, False, True]
    assert before.resolve(headset.id, want_input=True) == 2

    # unplugged and plugged back in: PortAudio lists it last, ALSA gave it card 3
    after = card([BUILT_IN, HDMI, PULSE, dev("Jabra EVOLVE 20: USB Audio (hw:3,0)", 1, 2)])
    assert after.resolve(headset.id, want_input=True) == 3
    assert after.resolve(headset.id, want_input=False) == 3
    # the index remembered by older settings now points at another device; it still resolves
    # to what that index is (the agent sees the device's name in the Audio menu)
    assert after.resolve("2", want_input=True) == 2


def test_two_devices_of_the_same_name_are_told_apart() -> None:
    twin = dev("USB Audio Device: - (hw:1,0)", 1, 2)
    twin2 = dev("USB Audio Device: - (hw:2,0)", 1, 2)
    same = dev("USB PnP Sound", 1, 0)
    audio = card([twin, same, dict(same), twin2])
    ids = [d.id for d in audio.list_devices()]
    assert ids == ["USB Audio Device: - (hw:1,0)", "USB PnP Sound", "USB PnP Sound #2",
                   "USB Audio Device: - (hw:2,0)"]
    assert audio.resolve("USB PnP Sound #2", want_input=True) == 2
    # two cards that differ only by card number: the number decides, never a guess
    assert audio.resolve("USB Audio Device: - (hw:2,0)", want_input=True) == 3
    with pytest.raises(AudioDeviceError, match=r"no input device matches .*\(hw:5,0\)'"):
        audio.resolve("USB Audio Device: - (hw:5,0)", want_input=True)


def test_a_missing_or_wrong_side_device_is_named_in_the_error() -> None:
    audio = card([BUILT_IN, HDMI, PULSE])
    with pytest.raises(AudioDeviceError, match=r"no input device matches 'Jabra.*have: HDA"):
        audio.resolve("Jabra EVOLVE 20: USB Audio (hw:2,0)", want_input=True)
    with pytest.raises(AudioDeviceError, match="no input device matches 'HDMI'"):
        audio.resolve("HDMI", want_input=True)      # outputs only
    assert audio.resolve("HDMI", want_input=False) == 1
    with pytest.raises(AudioDeviceError, match="no input device #1"):
        audio.resolve("1", want_input=True)
    assert audio.resolve(None, want_input=True) is None
