"""The pre-shift headset check: says what will happen, what to do while it runs (listen to the
beeps, then speak), and then in plain words whether the headset works both ways and what failed.
The check itself runs elsewhere (the audio control's worker); this dialog only asks for it
(`start_requested`) and shows its progress and its report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from softphone.audio.headset_check import HeadsetReport

INTRO = ("The check calls the PBX's echo test with your headset (about 10 seconds).\n"
         "First you hear three beeps. Then say a few words, e.g. count to five, until it ends: "
         "you hear yourself back.")
PROGRESS = {
    "beeps": "Listen: three beeps...",
    "voice": "Now say a few words (count to five)...",
    "done": "Checking what came back...",
}
OK_STYLE = "color: #1b5e20; font-weight: bold"
FAIL_STYLE = "color: #b00020; font-weight: bold"


class HeadsetCheckDialog(QDialog):
    start_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("headsetCheck")
        self.setWindowTitle("Headset check")
        self.setModal(False)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.status = QLabel("Not checked yet.")
        self.status.setObjectName("headsetCheckStatus")
        self.status.setWordWrap(True)
        self.details = QPlainTextEdit()      # the report: one paragraph per part
        self.details.setObjectName("headsetCheckDetails")
        self.details.setReadOnly(True)
        self.details.setFrameShape(QFrame.NoFrame)
        self.details.viewport().setAutoFillBackground(False)
        self.details.setMinimumHeight(10 * self.details.fontMetrics().lineSpacing())
        self.start = QPushButton("Start check")
        self.start.setObjectName("startHeadsetCheck")
        self.start.clicked.connect(self.start_requested)
        close = QPushButton("Close")
        close.clicked.connect(self.hide)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.status)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self.resize(580, 420)

    def on_started(self) -> None:
        self.start.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText("Calling the echo test...")
        self.details.clear()

    def on_progress(self, phase: str) -> None:
        self.status.setText(PROGRESS.get(phase, phase))

    def on_finished(self, report: HeadsetReport) -> None:
        self.start.setEnabled(True)
        self.start.setText("Check again")
        self.status.setStyleSheet(OK_STYLE if report.ok else FAIL_STYLE)
        self.status.setText(report.headline)
        self.details.setPlainText("\n".join(report.details))

    def on_refused(self, text: str) -> None:
        """The check cannot run now (e.g. a customer could be connected): say why."""
        self.status.setStyleSheet(FAIL_STYLE)
        self.status.setText(text)
        self.details.clear()
