"""Audio settings: the microphone and earpiece devices, the earpiece volume and the microphone
level, with live level meters. Every change is sent at once as `changed(AudioPrefs)` (the audio
control applies and remembers it); mute stays in the call panel."""

from __future__ import annotations

import math

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from softphone.audio.device import DeviceInfo, find_device
from softphone.audio.prefs import AudioPrefs

METER_FLOOR_DBFS = -60


def _meter(name: str) -> QProgressBar:
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setRange(0, -METER_FLOOR_DBFS)
    bar.setTextVisible(False)
    bar.setMaximumHeight(10)
    return bar


def _show_level(bar: QProgressBar, dbfs: float) -> None:
    level = METER_FLOOR_DBFS if dbfs == -math.inf else int(max(METER_FLOOR_DBFS, min(0.0, dbfs)))
    bar.setValue(level - METER_FLOOR_DBFS)


class AudioSettingsDialog(QDialog):
    changed = pyqtSignal(object)   # AudioPrefs

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audioSettings")
        self.setWindowTitle("Audio settings")
        self.setModal(False)
        self._filling = False
        self.input = QComboBox()
        self.input.setObjectName("audioInput")
        self.output = QComboBox()
        self.output.setObjectName("audioOutput")
        self.volume = QSlider(Qt.Horizontal)
        self.volume.setObjectName("speakerVolume")
        self.volume.setRange(0, 400)          # percent of the received level (+12 dB at most)
        self.volume.setSingleStep(5)
        self.volume.setPageStep(25)
        self.volume_label = QLabel()
        self.mic_level = QSlider(Qt.Horizontal)
        self.mic_level.setObjectName("micLevel")
        self.mic_level.setRange(-20, 20)      # dB of gain on the microphone
        self.mic_level.setPageStep(3)
        self.mic_level_label = QLabel()
        self.mic_meter = _meter("micMeter")
        self.speaker_meter = _meter("speakerMeter")
        self.note = QLabel()
        self.note.setObjectName("audioNote")
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("audioError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020")
        self.error.hide()

        form = QFormLayout()
        form.addRow("Microphone (input):", self.input)
        form.addRow("Earpiece (output):", self.output)
        form.addRow("Earpiece volume:", self._row(self.volume, self.volume_label))
        form.addRow("Microphone level:", self._row(self.mic_level, self.mic_level_label))
        form.addRow("Microphone now:", self.mic_meter)
        form.addRow("Earpiece now:", self.speaker_meter)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Changes apply at once and are remembered. Mute is in the call "
                                "panel."))
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.input.currentIndexChanged.connect(self.on_edited)
        self.output.currentIndexChanged.connect(self.on_edited)
        self.volume.valueChanged.connect(self.on_edited)
        self.mic_level.valueChanged.connect(self.on_edited)

    @staticmethod
    def _row(slider: QSlider, label: QLabel) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(slider, 1)
        label.setMinimumWidth(56)
        row.addWidget(label)
        return box

    # ---------------------------------------------------------------- rendering
    def set_devices(self, devices: list[DeviceInfo], prefs: AudioPrefs, note: str = "") -> None:
        """Fill the lists from the device interface and show `prefs` (no `changed` emitted)."""
        self._filling = True
        try:
            for combo, want_input, chosen in ((self.input, True, prefs.input_device),
                                              (self.output, False, prefs.output_device)):
                combo.clear()
                combo.addItem("System default", "")
                for d in devices:
                    if not (d.inputs if want_input else d.outputs):
                        continue
                    default = d.is_default_input if want_input else d.is_default_output
                    combo.addItem(d.name + (" (system default)" if default else ""), d.id)
                now = find_device(chosen, devices, want_input) if chosen else None
                at = combo.findData(now.id if now is not None else "")
                combo.setCurrentIndex(max(0, at))
            self.volume.setValue(round(prefs.speaker_volume * 100))
            self.mic_level.setValue(round(prefs.mic_gain_db))
            self._show_values()
        finally:
            self._filling = False
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.error.hide()

    def _show_values(self) -> None:
        self.volume_label.setText(f"{self.volume.value()} %")
        self.mic_level_label.setText(f"{self.mic_level.value():+d} dB")

    def prefs(self) -> AudioPrefs:
        """What the dialog shows now."""
        return AudioPrefs(input_device=self.input.currentData() or None,
                          output_device=self.output.currentData() or None,
                          speaker_volume=self.volume.value() / 100,
                          mic_gain_db=float(self.mic_level.value()))

    # ---------------------------------------------------------------- slots
    def on_edited(self) -> None:
        self._show_values()
        if not self._filling:
            self.error.hide()
            self.changed.emit(self.prefs())

    def on_levels(self, mic_dbfs: float, speaker_dbfs: float) -> None:
        _show_level(self.mic_meter, mic_dbfs)
        _show_level(self.speaker_meter, speaker_dbfs)

    def on_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
