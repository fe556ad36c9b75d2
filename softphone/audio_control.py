"""The agent window's audio controls: remembered devices, volume, microphone level, headset check.

`AudioControl` is the one object between the audio settings / headset check widgets and the audio
side (the `AudioBridge` and the SIP `UserAgent`): widgets send it requests and listen to its
signals, and never touch the bridge, the SIP stack or their threads. The headset check runs on a
worker thread; its progress and result come back as queued signals on Qt's thread.

Signals:

    prefs_changed(object)     the `AudioPrefs` now in force (already saved)
    levels(float, float)      microphone and earpiece level in dBFS, ten times a second while
                              `watch_levels(True)`; -inf when no call carries audio
    error(str)                a device could not be used, in plain words
    check_started()
    check_progress(str)       the check's part: "beeps", then "voice" (the agent should speak),
                              then "done"
    check_finished(object)    the `HeadsetReport`
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from softphone.audio.bridge import AudioBridge
from softphone.audio.device import AudioDeviceError, DeviceInfo, find_device
from softphone.audio.headset_check import (
    ECHO_EXTENSION,
    HeadsetReport,
    failed_report,
    run_headset_check,
)
from softphone.audio.prefs import AudioPrefs
from softphone.sip.api import CallState, CallStateChanged, RegState, UaEvent, UserAgent


def current_id(device: str | None, devices: list[DeviceInfo], want_input: bool) -> str | None:
    """The id `device` has now (a headset plugged back in may have another); None if absent."""
    if device is None:
        return None
    found = find_device(device, devices, want_input)
    return found.id if found is not None else None


class AudioControl(QObject):
    prefs_changed = pyqtSignal(object)
    levels = pyqtSignal(float, float)
    error = pyqtSignal(str)
    check_started = pyqtSignal()
    check_progress = pyqtSignal(str)
    check_finished = pyqtSignal(object)
    _done = pyqtSignal(object, object)       # worker -> Qt's thread: report, calls that ended

    def __init__(self, bridge: AudioBridge, ua: UserAgent | None = None,
                 prefs_path: Path | None = None, phone: Any = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.ua = ua
        self.phone = phone
        self.prefs_path = prefs_path
        self.prefs = AudioPrefs.load(prefs_path)
        self.note = ""            # e.g. a remembered device that is not plugged in
        self._checking = False
        self._saved_call: int | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.on_tick)
        self._done.connect(self.on_done)
        self._apply_to_bridge(self.prefs, self.devices())

    # ---------------------------------------------------------------- settings
    def devices(self) -> list[DeviceInfo]:
        try:
            return self.bridge.device.list_devices()
        except AudioDeviceError as exc:
            self.error.emit(f"The sound cards cannot be listed: {exc}")
            return []

    def apply(self, prefs: AudioPrefs) -> None:
        """Use `prefs` now (devices, volume, microphone level) and remember them."""
        if not self._apply_to_bridge(prefs, self.devices()):
            return
        self.prefs = prefs
        try:
            prefs.save(self.prefs_path)
        except OSError as exc:
            self.error.emit(f"Your audio choices are used but cannot be remembered: {exc}")
        self.prefs_changed.emit(prefs)

    def _apply_to_bridge(self, prefs: AudioPrefs, devices: list[DeviceInfo]) -> bool:
        notes = []
        inp = current_id(prefs.input_device, devices, True)
        out = current_id(prefs.output_device, devices, False)
        if inp is None and prefs.input_device is not None:
            notes.append(f"The remembered microphone ({prefs.input_device}) is not plugged in: "
                         "using the system default.")
        if out is None and prefs.output_device is not None:
            notes.append(f"The remembered earpiece ({prefs.output_device}) is not plugged in: "
                         "using the system default.")
        self.note = " ".join(notes)
        b = self.bridge
        b.set_speaker_volume(min(4.0, max(0.0, prefs.speaker_volume)))
        b.set_mic_gain_db(prefs.mic_gain_db)
        if (inp, out) == (b.input_device, b.output_device):
            return True
        old = (b.input_device, b.output_device)
        b.input_device, b.output_device = inp, out
        if b.running:   # a call carries audio: move it to the new devices now
            b.stop()
            try:
                b.start()
            except AudioDeviceError as exc:
                b.stop()
                b.input_device, b.output_device = old
                with contextlib.suppress(AudioDeviceError):
                    b.start()
                self.error.emit(f"That device cannot be used: {exc}")
                return False
        return True

    def watch_levels(self, on: bool) -> None:
        if on:
            self._timer.start()
        else:
            self._timer.stop()

    def on_tick(self) -> None:
        if self.bridge.running:
            self.levels.emit(self.bridge.mic_dbfs, self.bridge.speaker_dbfs)
        else:
            self.levels.emit(-math.inf, -math.inf)

    # ---------------------------------------------------------------- headset check
    @property
    def checking(self) -> bool:
        return self._checking

    def start_check(self, extension: str = ECHO_EXTENSION) -> bool:
        """Start the pre-shift headset check on a worker thread; False if one is running."""
        if self._checking:
            return False
        self._checking = True
        self._saved_call = getattr(self.phone, "call", None)
        self.check_started.emit()
        threading.Thread(target=self._check, args=(extension,), name="headset-check",
                         daemon=True).start()
        return True

    def _check(self, extension: str) -> None:
        ended: set[int] = set()

        def note_ended(ev: UaEvent) -> None:
            if isinstance(ev, CallStateChanged) and ev.state is CallState.DISCONNECTED:
                ended.add(ev.call)

        report: HeadsetReport
        ua = self.ua
        if ua is None:
            report = failed_report("This window has no SIP phone.")
        elif ua.registration is not RegState.REGISTERED:
            report = failed_report("Your SIP phone is not registered with the PBX yet: wait for "
                                   "'SIP phone: registered' at the bottom of the window.")
        else:
            ua.add_listener(note_ended)
            try:
                report = run_headset_check(
                    ua, extension, on_phase=lambda phase: self.check_progress.emit(phase.value))
            except Exception as exc:  # noqa: BLE001 - the agent gets a sentence, not a trace
                report = failed_report(f"The check stopped: {exc}")
            finally:
                ua.remove_listener(note_ended)
        self._done.emit(report, ended)

    def on_done(self, report: HeadsetReport, ended: set[int]) -> None:
        # The phone follows the last call it saw (the check's): give it its voice call back,
        # unless that call ended meanwhile.
        saved = self._saved_call
        if self.phone is not None and saved is not None and saved not in ended:
            self.phone.call = saved
        self._checking = False
        self.check_finished.emit(report)
