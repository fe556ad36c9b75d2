"""The main window's Audio menu: "Audio settings..." and "Headset check...".

`install_audio_menu(window, phone)` adds the menu to a `MainWindow` and wires its two dialogs to
an `AudioControl` on the phone's audio bridge (it also applies the remembered audio choices at
once). Everything is created here, so the main window itself needs no change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import QObject
from PyQt5.QtWidgets import QAction, QMainWindow

from softphone.audio.bridge import AudioBridge
from softphone.audio_control import AudioControl
from softphone.ui.audio_settings import AudioSettingsDialog
from softphone.ui.headset_check_dialog import HeadsetCheckDialog

# While the agent is in these states a customer may be (or be about to be) on the line.
BUSY_STATES = {"ready", "reserved", "on_call", "logout_pending"}


class AudioMenu(QObject):
    """Owns the Audio menu's actions and dialogs (a child of the window, which keeps it)."""

    def __init__(self, window: QMainWindow, control: AudioControl) -> None:
        super().__init__(window)
        self.window = window
        self.control = control
        self.settings_action = QAction("Audio settings...", window)
        self.settings_action.setObjectName("menuAudioSettings")
        self.check_action = QAction("Headset check...", window)
        self.check_action.setObjectName("menuHeadsetCheck")
        menu = window.menuBar().addMenu("A&udio")
        menu.addAction(self.settings_action)
        menu.addAction(self.check_action)
        self.settings = AudioSettingsDialog(window)
        self.check = HeadsetCheckDialog(window)

        self.settings_action.triggered.connect(self.open_settings)
        self.check_action.triggered.connect(self.open_check)
        self.settings.changed.connect(control.apply)
        self.settings.finished.connect(lambda _code: control.watch_levels(False))
        control.levels.connect(self.settings.on_levels)
        control.error.connect(self.on_error)
        self.check.start_requested.connect(self.on_start_check)
        control.check_started.connect(self.check.on_started)
        control.check_progress.connect(self.check.on_progress)
        control.check_finished.connect(self.check.on_finished)

    def open_settings(self) -> None:
        self.settings.set_devices(self.control.devices(), self.control.prefs, self.control.note)
        self.control.watch_levels(True)
        self.settings.show()
        self.settings.raise_()

    def open_check(self) -> None:
        self.check.show()
        self.check.raise_()

    def on_error(self, text: str) -> None:
        # show the devices actually in use again, then say what went wrong
        self.settings.set_devices(self.control.devices(), self.control.prefs, self.control.note)
        self.settings.on_error(text)

    def on_start_check(self) -> None:
        link = getattr(self.window, "link", None)
        status = link.model.status.value if link is not None else "logged_out"
        if status in BUSY_STATES:
            self.check.on_refused("Go Not Ready first: a customer could be put through to you "
                                  "during the check.")
            return
        self.control.start_check()


def install_audio_menu(window: QMainWindow, phone: Any,
                       prefs_path: Path | None = None) -> AudioMenu | None:
    """Add the Audio menu for `phone` (a `softphone.phone.Phone`); None if it has no audio."""
    ua = getattr(phone, "ua", None)
    bridge = getattr(ua, "audio", None)
    if not isinstance(bridge, AudioBridge):
        return None
    control = AudioControl(bridge, ua, prefs_path, phone)
    menu = AudioMenu(window, control)
    control.setParent(menu)
    return menu
