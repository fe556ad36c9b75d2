"""The agent window's audio settings and headset check, offscreen and without a PBX: the device
lists, choices remembered in a (temporary) prefs file, volume and microphone level reaching the
audio bridge, device changes during a call, the headset check's verdicts in plain words, and the
check running on a worker thread with its result back through a signal."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtWidgets import QAction  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from dialer.core.agent_state import AgentState  # noqa: E402
from dialer.core.audio import (  # noqa: E402
    AudioFormat,
    ToneGenerator,
    apply_gain,
    frame_of,
    rms_dbfs,
    samples_of,
)
from dialer.protocol import LoginOk  # noqa: E402
from softphone.app import AgentApp  # noqa: E402
from softphone.audio.bridge import AudioBridge  # noqa: E402
from softphone.audio.check import EchoCheckResult  # noqa: E402
from softphone.audio.device import (  # noqa: E402
    AudioDeviceError,
    AudioStream,
    DeviceInfo,
    FrameSink,
    FrameSource,
)
from softphone.audio.headset_check import (  # noqa: E402
    DeviceCounts,
    HeadsetProbe,
    Phase,
    judge_headset,
)
from softphone.audio.prefs import AudioPrefs  # noqa: E402
from softphone.audio.virtual import VirtualAudioDevice, tone  # noqa: E402
from softphone.audio_control import AudioControl  # noqa: E402
from softphone.link import AgentLink  # noqa: E402
from softphone.phone import Phone  # noqa: E402
from softphone.sip.api import RegState  # noqa: E402
from softphone.ui.audio_menu import install_audio_menu  # noqa: E402
from softphone.ui.audio_settings import AudioSettingsDialog  # noqa: E402
from softphone.ui.headset_check_dialog import HeadsetCheckDialog  # noqa: E402
from softphone.ui.main_window import MainWindow  # noqa: E402

FMT = AudioFormat()


class Cards:
    """A machine with a few sound cards (a `softphone.audio.device.AudioDevice`): every card is
    the same virtual card underneath; "broken" cannot be opened."""

    def __init__(self) -> None:
        self.virtual = VirtualAudioDevice(FMT, tone(440, FMT), realtime=False)
        self.opened: list[tuple[str, str | None]] = []
        self.plugged: list[DeviceInfo] = []   # cards plugged in by a test

    def list_devices(self) -> list[DeviceInfo]:
        return [
            DeviceInfo("0", "Built-in microphone", 2, 0, 48000.0, is_default_input=True),
            DeviceInfo("1", "Built-in speakers", 0, 2, 48000.0, is_default_output=True),
            DeviceInfo("2", "USB headset", 1, 2, 16000.0),
            DeviceInfo("broken", "Broken headset", 1, 1, 16000.0),
        ] + self.plugged

    def _check(self, device: str | None) -> None:
        if device == "broken":
            raise AudioDeviceError("Broken headset: device unavailable")

    def open_input(self, device: str | None, fmt: AudioFormat, on_frame: FrameSink) -> AudioStream:
        self._check(device)
        self.opened.append(("in", device))
        return self.virtual.open_input(None, fmt, on_frame)

    def open_output(self, device: str | None, fmt: AudioFormat, pull: FrameSource) -> AudioStream:
        self._check(device)
        self.opened.append(("out", device))
        return self.virtual.open_output(None, fmt, pull)


class FakeUa:
    """Only what the window's audio pieces read from a user agent."""

    def __init__(self, audio: AudioBridge) -> None:
        self.audio = audio
        self.registration = RegState.UNREGISTERED
        self.listeners: list[Any] = []

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        self.listeners.remove(listener)


class FakePhone:
    def __init__(self, ua: FakeUa) -> None:
        self.ua = ua
        self.call: int | None = None


@pytest.fixture
def cards() -> Cards:
    return Cards()


@pytest.fixture
def prefs_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "softphone-audio.json"


def window_with_audio(qtbot: QtBot, cards: Cards, prefs_path: Path) -> tuple[MainWindow, Any]:
    bridge = AudioBridge(cards, FMT)
    window = MainWindow(AgentLink())
    qtbot.addWidget(window)
    menu = install_audio_menu(window, FakePhone(FakeUa(bridge)), prefs_path)
    assert menu is not None
    return window, menu


def menu_titles(window: MainWindow) -> list[str]:
    bar = window.menuBar()
    assert bar is not None
    return [a.text() for a in bar.actions()]


def combo_items(combo: Any) -> list[tuple[str, str]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


# ---------------------------------------------------------------- the settings dialog
def test_menu_opens_the_dialog_with_the_device_interfaces_lists(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    window, menu = window_with_audio(qtbot, cards, prefs_path)
    assert "A&udio" in menu_titles(window)
    menu.settings_action.trigger()
    d = menu.settings
    assert d.isVisible()
    assert combo_items(d.input) == [
        ("System default", ""), ("Built-in microphone (system default)", "0"),
        ("USB headset", "2"), ("Broken headset", "broken")]
    assert combo_items(d.output) == [
        ("System default", ""), ("Built-in speakers (system default)", "1"),
        ("USB headset", "2"), ("Broken headset", "broken")]
    assert d.input.currentIndex() == 0 and d.output.currentIndex() == 0
    assert (d.volume.value(), d.mic_level.value()) == (100, 0)
    assert (d.volume_label.text(), d.mic_level_label.text()) == ("100 %", "+0 dB")


def test_choices_are_remembered_in_the_prefs_file_and_shown_next_time(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    _window, menu = window_with_audio(qtbot, cards, prefs_path)
    menu.settings_action.trigger()
    d = menu.settings
    d.input.setCurrentIndex(d.input.findData("2"))
    d.output.setCurrentIndex(d.output.findData("1"))
    d.volume.setValue(150)
    d.mic_level.setValue(-6)
    assert AudioPrefs.load(prefs_path) == AudioPrefs("2", "1", 1.5, -6.0)
    assert menu.control.bridge.input_device == "2"
    assert menu.control.bridge.output_device == "1"

    # the next session (a new window) starts with them and shows them
    cards2 = Cards()
    _window2, menu2 = window_with_audio(qtbot, cards2, prefs_path)
    assert (menu2.control.bridge.input_device, menu2.control.bridge.output_device) == ("2", "1")
    menu2.settings_action.trigger()
    d2 = menu2.settings
    assert (d2.input.currentData(), d2.output.currentData()) == ("2", "1")
    assert (d2.volume.value(), d2.mic_level.value()) == (150, -6)
    assert not d2.note.isVisible()


def test_a_remembered_device_that_is_unplugged_falls_back_to_the_default(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    AudioPrefs("7", "2", 1.0, 0.0).save(prefs_path)
    _window, menu = window_with_audio(qtbot, cards, prefs_path)
    assert (menu.control.bridge.input_device, menu.control.bridge.output_device) == (None, "2")
    menu.settings_action.trigger()
    assert menu.settings.input.currentData() == "" and menu.settings.output.currentData() == "2"
    assert "remembered microphone (7) is not plugged in" in menu.settings.note.text()
    assert AudioPrefs.load(prefs_path).input_device == "7"   # still remembered for next time


def test_a_headset_plugged_back_in_as_another_card_is_still_the_remembered_one(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    AudioPrefs("Jabra EVOLVE 20: USB Audio (hw:2,0)", "Jabra EVOLVE 20: USB Audio (hw:2,0)",
               1.0, 0.0).save(prefs_path)
    name = "Jabra EVOLVE 20: USB Audio (hw:3,0)"
    cards.plugged = [DeviceInfo(name, name, 1, 2, 48000.0)]
    _window, menu = window_with_audio(qtbot, cards, prefs_path)
    assert (menu.control.bridge.input_device, menu.control.bridge.output_device) == (name, name)
    menu.settings_action.trigger()
    assert menu.settings.input.currentData() == name == menu.settings.output.currentData()
    assert not menu.settings.note.isVisibleTo(menu.settings)


def test_volume_and_microphone_level_reach_the_audio_bridge(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    _window, menu = window_with_audio(qtbot, cards, prefs_path)
    bridge = menu.control.bridge
    menu.settings_action.trigger()
    menu.settings.volume.setValue(50)        # -6 dB in the earpiece
    menu.settings.mic_level.setValue(6)      # +6 dB on the microphone
    bridge.start()
    loud = frame_of([8000] * FMT.frame_samples)
    sent = []
    for _ in range(6):
        cards.virtual.tick()
        sent.append(bridge.read_tx_frame())
        bridge.write_rx_frame(loud)
    played = samples_of(cards.virtual.captured()[-FMT.frame_bytes:])
    assert played.tolist() == [4000] * FMT.frame_samples
    mic = rms_dbfs(samples_of(sent[-1]))     # the 440 Hz tone at -12 dBFS peak (-15 RMS) + 6 dB
    assert mic == pytest.approx(-15 + 6, abs=0.3)
    bridge.stop()


def test_level_meters_follow_the_bridge(qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    _window, menu = window_with_audio(qtbot, cards, prefs_path)
    bridge = menu.control.bridge
    menu.settings_action.trigger()
    bridge.start()
    for _ in range(3):
        cards.virtual.tick()
    qtbot.waitUntil(lambda: abs(menu.settings.mic_meter.value() - (60 - 15)) <= 1, timeout=2000)
    menu.settings.reject()
    assert not menu.control._timer.isActive()
    bridge.stop()


def test_changing_device_during_a_call_moves_the_audio_or_says_why_not(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    _window, menu = window_with_audio(qtbot, cards, prefs_path)
    bridge = menu.control.bridge
    bridge.start()
    menu.settings_action.trigger()
    d = menu.settings
    d.input.setCurrentIndex(d.input.findData("2"))
    assert bridge.running and ("in", "2") in cards.opened
    d.output.setCurrentIndex(d.output.findData("broken"))
    assert d.error.isVisible() and "Broken headset: device unavailable" in d.error.text()
    assert bridge.running and bridge.output_device is None     # still on the one that works
    assert d.output.currentData() == ""                        # and the dialog shows it
    assert AudioPrefs.load(prefs_path).output_device is None
    bridge.stop()


def test_dialog_alone_emits_the_prefs_it_shows(qtbot: QtBot, cards: Cards) -> None:
    d = AudioSettingsDialog()
    qtbot.addWidget(d)
    d.set_devices(cards.list_devices(), AudioPrefs(None, "2", 0.8, 3.0))
    assert d.output.currentData() == "2" and d.volume.value() == 80
    with qtbot.waitSignal(d.changed) as sig:
        d.mic_level.setValue(-4)
    assert sig.args == [AudioPrefs(None, "2", 0.8, -4.0)]
    d.on_levels(-math.inf, -20.0)
    assert (d.mic_meter.value(), d.speaker_meter.value()) == (0, 40)


# ---------------------------------------------------------------- the headset check's verdicts
def echo(ok: bool = True) -> EchoCheckResult:
    if ok:
        return EchoCheckResult(True, 3, 3, -21.0, 0.99, 40.0, -15.0, "audio works both ways")
    return EchoCheckResult(False, 3, 0, -90.0, 0.0, None, -15.0,
                           "the 697 Hz bursts did not come back")


def voice(level: float, frames: int = 50) -> bytes:
    gen = ToneGenerator(300, FMT, level)
    return b"".join(gen.next_frame() for _ in range(frames))


COUNTS = DeviceCounts(300, 300, 320, False, "USB headset", "USB headset")


def test_verdict_when_everything_works() -> None:
    r = judge_headset(echo(), voice(-12), voice(-14), FMT, COUNTS)
    assert r.ok and r.headline == "Your headset works both ways."
    assert r.details[0].startswith("Line to the PBX: works (3/3 beeps came back after 40 ms)")
    assert "Earpiece (output: USB headset): played the three beeps" in r.details[1]
    assert "Microphone (input: USB headset): works" in r.details[2]
    assert "picked up your voice (loudest -15 dBFS), and the PBX sent it back" in r.details[2]


def test_verdict_when_the_microphone_is_silent() -> None:
    r = judge_headset(echo(), FMT.silence() * 50, FMT.silence() * 50, FMT, COUNTS)
    assert not r.ok and r.earpiece_ok and not r.microphone_ok
    assert r.headline == "Your headset does not work both ways: the microphone failed."
    assert "Microphone (input: USB headset): silent, it picked up nothing" in r.details[2]


def test_verdicts_for_a_quiet_muted_or_dead_microphone_and_a_dead_earpiece() -> None:
    quiet = judge_headset(echo(), voice(-40), voice(-42), FMT, COUNTS)
    assert quiet.ok and "raise the microphone level" in quiet.details[2]
    muted = judge_headset(echo(), voice(-12), voice(-12), FMT,
                          DeviceCounts(300, 300, 320, True))
    assert not muted.ok and "you are muted" in muted.details[2]
    dead_mic = judge_headset(echo(), FMT.silence(), FMT.silence(), FMT,
                             DeviceCounts(0, 300, 320))
    assert "the input device delivers no sound at all" in dead_mic.details[2]
    dead_ear = judge_headset(echo(), voice(-12), voice(-12), FMT, DeviceCounts(300, 0, 320))
    assert not dead_ear.ok and dead_ear.microphone_ok
    assert dead_ear.headline.endswith("the earpiece failed.")
    assert "nothing was played, the output device is not running" in dead_ear.details[1]


def test_verdict_when_the_line_carries_nothing_back() -> None:
    r = judge_headset(echo(ok=False), voice(-12), FMT.silence() * 50, FMT, COUNTS)
    assert not r.ok and not r.line_ok
    assert r.headline.startswith("The check could not test your headset")
    assert "not your headset" in r.details[0]


def test_probe_beeps_then_passes_the_voice_and_finishes() -> None:
    """The tap of the check over an in-memory echo line (3 frames of delay, -2 dB)."""
    phases: list[Phase] = []
    probe = HeadsetProbe(FMT, voice_ms=1000, on_phase=phases.append)
    mic = ToneGenerator(300, FMT, -10)
    line = [FMT.silence()] * 3
    for _ in range(2000):
        if probe.finished.is_set():
            break
        line.append(apply_gain(probe.on_tx(mic.next_frame()), 0.8))
        probe.on_rx(line.pop(0))
    assert phases == [Phase.VOICE, Phase.DONE]
    sent, received = probe.voice()
    assert len(sent) == 50 * FMT.frame_bytes
    r = judge_headset(probe.echo.result(), sent, received, FMT, DeviceCounts(None, None, 0))
    assert r.ok, r.text
    assert r.echo_delay_ms == pytest.approx(60, abs=5)


# ---------------------------------------------------------------- the check dialog and worker
def test_check_runs_on_a_worker_and_its_result_comes_back_as_a_signal(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    window, menu = window_with_audio(qtbot, cards, prefs_path)
    menu.check_action.trigger()
    assert menu.check.isVisible()
    gui = threading.current_thread()
    with qtbot.waitSignal(menu.control.check_finished, timeout=5000) as sig:
        menu.check.start.click()
        assert menu.check.status.text() == "Calling the echo test..."
        assert not menu.check.start.isEnabled()
    assert threading.current_thread() is gui
    report = sig.args[0]
    assert not report.ok and "not registered with the PBX" in report.details[0]
    assert menu.check.status.text() == "The headset check could not run."
    assert "not registered" in menu.check.details.toPlainText()
    assert menu.check.start.isEnabled()


def test_check_is_refused_while_a_customer_could_be_put_through(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    window, menu = window_with_audio(qtbot, cards, prefs_path)
    window.link.model.status = AgentState.READY
    menu.check_action.trigger()
    menu.check.start.click()
    assert "Go Not Ready first" in menu.check.status.text()
    assert not menu.control.checking


def test_check_dialog_shows_progress_and_the_report(qtbot: QtBot) -> None:
    d = HeadsetCheckDialog()
    qtbot.addWidget(d)
    d.on_started()
    d.on_progress("voice")
    assert d.status.text() == "Now say a few words (count to five)..."
    r = judge_headset(echo(), FMT.silence() * 50, FMT.silence() * 50, FMT, COUNTS)
    d.on_finished(r)
    assert d.status.text() == r.headline
    assert d.details.toPlainText().splitlines() == r.details
    assert "b00020" in d.status.styleSheet()


def test_the_phone_gets_its_voice_call_back_after_the_check(
        qtbot: QtBot, cards: Cards, prefs_path: Path) -> None:
    phone = FakePhone(FakeUa(AudioBridge(cards, FMT)))
    control = AudioControl(phone.ua.audio, None, prefs_path, phone)
    phone.call = 7                           # the dialer's voice channel
    with qtbot.waitSignal(control.check_finished, timeout=5000):
        control.start_check()                # (no SIP phone here: fails at once)
    assert phone.call == 7
    phone.call = 9                           # the phone followed the check's call ...
    control._saved_call = 7
    control.on_done(judge_headset(echo(), voice(-12), voice(-12), FMT, COUNTS), {9})
    assert phone.call == 7                   # ... and is given its voice call back
    phone.call = None
    control.on_done(judge_headset(echo(), voice(-12), voice(-12), FMT, COUNTS), {7, 9})
    assert phone.call is None                # unless that one ended meanwhile


def test_the_agent_app_gives_its_window_the_audio_menu(
        qtbot: QtBot, cards: Cards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))      # the default prefs file
    phone = Phone(FakeUa(AudioBridge(cards, FMT)))
    app = AgentApp()
    app.phone = phone
    app.on_message(LoginOk("agent1001", "Ada", AgentState.NOT_READY, ()))
    assert app.window is not None
    qtbot.addWidget(app.window)
    assert menu_titles(app.window)[-1] == "A&udio"
    action = app.window.findChild(QAction, "menuAudioSettings")
    assert action is not None
    action.trigger()
    dialog = app.window.findChild(AudioSettingsDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.volume.setValue(80)
    assert AudioPrefs.load(tmp_path / "opendialer" / "softphone-audio.json").speaker_volume == 0.8
    app.login.close()


def test_window_without_audio_gets_no_audio_menu(qtbot: QtBot) -> None:
    window = MainWindow(AgentLink())
    qtbot.addWidget(window)
    assert install_audio_menu(window, object()) is None
    assert "A&udio" not in menu_titles(window)


def test_control_applies_remembered_prefs_at_once(cards: Cards, prefs_path: Path,
                                                 qtbot: QtBot) -> None:
    AudioPrefs("2", "2", 0.5, 0.0).save(prefs_path)
    bridge = AudioBridge(cards, FMT)
    AudioControl(bridge, None, prefs_path)
    bridge.start()
    assert cards.opened == [("in", "2"), ("out", "2")]
    bridge.stop()
