"""The softphone on a real sound server: the headset is a PulseAudio device (null sinks, clocked
in real time by the server) opened through sounddevice by name, as a USB headset would be.

The agent (seat 1018, pjsua2) calls the PBX's echo extension 9196: what the headset's microphone
picks up comes back to its earpiece. The headset is then pulled out mid-call (its PulseAudio
modules unloaded: the streams die, as with a USB headset) and plugged back in: the agent is told,
the call stays up, and the audio comes back by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dialer.config.settings import Settings
from dialer.core.audio import AudioFormat, dominant_frequency, samples_of, tone_share
from dialer.pbx import Backend
from softphone.audio.bridge import AudioBridge, DeviceEvent, DeviceState
from softphone.audio.pulse_server import HEADSET, Ear, Mouth, PulseServer
from softphone.audio.sd_device import SounddeviceAudio
from softphone.audio.virtual import tone
from softphone.sip.api import CallState, CallStateChanged, EventQueue, SipAccount
from softphone.sip.pjsua2_ua import PjsuaStack, PjsuaUserAgent
from tests.integration.sound_server import sound_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.pbx

SEAT = 1018
FMT = AudioFormat()
VOICE_HZ = 697.0


def last_seconds(pcm: bytes, seconds: float) -> list[int]:
    samples = samples_of(pcm)
    return list(samples[-int(seconds * FMT.rate):])


def hears_the_voice(ear: Ear, seconds: float = 1.0, within: float = 8.0) -> str:
    """"" if the earpiece plays the voice's tone for `seconds` within `within` seconds (a
    PulseAudio stream's first callbacks can come a second or more late), else what it heard."""
    deadline = time.monotonic() + within
    seen = "nothing"
    while time.monotonic() < deadline:
        ear.clear()
        time.sleep(seconds + 0.1)
        heard = last_seconds(ear.heard(), seconds)
        if len(heard) < seconds * FMT.rate * 0.8:
            seen = f"only {len(heard) / FMT.rate:.2f} s of audio"
            continue
        freq = dominant_frequency(heard, FMT.rate)
        share = tone_share(heard, FMT.rate, VOICE_HZ)
        if freq is not None and abs(freq - VOICE_HZ) < 5 and share > 0.6:
            return ""
        seen = f"{freq} Hz dominant, {share:.2f} of the energy at {VOICE_HZ:g} Hz"
    return f"the earpiece did not play the {VOICE_HZ:g} Hz voice: last {seen}"


class Agent:
    def __init__(self, settings: Settings, stack: PjsuaStack) -> None:
        self.bridge = AudioBridge(SounddeviceAudio(), FMT, HEADSET, HEADSET)
        self.device_events: list[DeviceEvent] = []
        self.changed = threading.Event()
        self.bridge.add_listener(self._on_device)
        self.ua = PjsuaUserAgent(
            SipAccount(f"agent{SEAT}", settings.agents.sip_password(SEAT),
                       f"{settings.pbx.bind}:{settings.pbx.sip_port}"), self.bridge, stack=stack)
        self.events = EventQueue()
        self.ua.add_listener(self.events)

    def _on_device(self, event: DeviceEvent) -> None:
        self.device_events.append(event)
        self.changed.set()

    def wait_device(self, state: DeviceState, timeout: float = 10.0) -> DeviceEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.device_events if e.state is state]
            if found:
                return found[-1]
            self.changed.wait(0.1)
            self.changed.clear()
        raise AssertionError(f"no headset {state.value} event within {timeout:g} s: "
                             f"{self.device_events}")

    def call_echo(self) -> int:
        call = self.ua.make_call("9196")
        self.events.wait_for(CallStateChanged, 10,
                             lambda e: e.call == call and e.state is CallState.CONFIRMED)
        return call


@pytest.fixture
def agent(pbx: Backend, settings: Settings, sound_server: PulseServer  # noqa: F811
          ) -> Iterator[Agent]:
    a = Agent(settings, PjsuaStack.shared(bind="127.0.0.1"))
    a.ua.register()
    try:
        yield a
    finally:
        a.ua.close()
        if not sound_server.plugged:
            sound_server.plug()


def test_the_headset_is_listed_and_chosen_by_name(sound_server: PulseServer  # noqa: F811
                                                  ) -> None:
    devices = {d.name: d for d in SounddeviceAudio().list_devices()}
    assert HEADSET in devices, f"PortAudio lists {sorted(devices)}"
    assert devices[HEADSET].inputs >= 1 and devices[HEADSET].outputs >= 1
    sd_audio = SounddeviceAudio()
    assert sd_audio.resolve(HEADSET, want_input=True) == sd_audio.resolve(HEADSET, False)


def test_echo_call_carries_the_microphone_to_the_earpiece(
        agent: Agent, sound_server: PulseServer) -> None:  # noqa: F811
    mouth, ear = Mouth(FMT, tone(VOICE_HZ, FMT)), Ear(FMT)
    try:
        call = agent.call_echo()
        assert not (missing := hears_the_voice(ear, 1.5)), missing
        stats = agent.bridge.stats()
        assert stats.mic.popped > 50 and stats.speaker.popped > 50
        agent.ua.hangup(call)
    finally:
        mouth.close()
        ear.close()


def test_headset_pulled_out_mid_call_is_reported_and_recovers_when_plugged_back(
        agent: Agent, sound_server: PulseServer) -> None:  # noqa: F811
    mouth, ear = Mouth(FMT, tone(VOICE_HZ, FMT)), Ear(FMT)
    try:
        call = agent.call_echo()
        assert not (missing := hears_the_voice(ear)), f"before the unplug: {missing}"
        mouth.close()
        ear.close()
        sound_server.unplug()
        lost = agent.wait_device(DeviceState.LOST)
        assert HEADSET in lost.message and "plug the headset back in" in lost.message
        assert agent.bridge.device_lost is not None
        time.sleep(1.5)                                   # several reopen attempts fail meanwhile
        assert agent.ua.calls().get(call) is CallState.CONFIRMED, "the call dropped"
        sound_server.plug()
        back = agent.wait_device(DeviceState.BACK)
        assert "back" in back.message and agent.bridge.device_lost is None
        mouth, ear = Mouth(FMT, tone(VOICE_HZ, FMT)), Ear(FMT)
        assert not (missing := hears_the_voice(ear, 1.5)), f"after the replug: {missing}"
        agent.ua.hangup(call)
    finally:
        mouth.close()
        ear.close()
