"""The disposition panel: the campaign's codes, a note, and a callback (personal or campaign) at a
date and time. Required before the next call, as the dialer says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PyQt5.QtCore import QDateTime, pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from softphone.model import AgentModel


def _in_an_hour() -> datetime:
    return datetime.now().replace(second=0, microsecond=0) + timedelta(hours=1)


class DispositionPanel(QGroupBox):
    # attempt, code, note, callback time (or None), personal
    submitted = pyqtSignal(int, str, str, object, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Disposition", parent)
        self.setObjectName("dispositionPanel")
        self.codes = QComboBox()
        self.note = QLineEdit()
        self.callback = QCheckBox("Schedule a callback")
        self.when = QDateTimeEdit()
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.personal = QRadioButton("Personal (me)")
        self.campaign = QRadioButton("Campaign (any agent)")
        self.personal.setChecked(True)
        self.save = QPushButton("Save disposition")
        self.save.setObjectName("saveDisposition")
        self.save.clicked.connect(self.on_save)
        self.callback.toggled.connect(self.on_callback_toggled)
        form = QFormLayout(self)
        form.addRow("Code", self.codes)
        form.addRow("Note", self.note)
        form.addRow(self.callback)
        form.addRow("When", self.when)
        form.addRow(self.personal)
        form.addRow(self.campaign)
        form.addRow(self.save)
        self._attempt: int | None = None
        self.when.setDateTime(QDateTime(_in_an_hour()))
        self.on_callback_toggled(False)

    def on_callback_toggled(self, on: bool) -> None:
        for w in (self.when, self.personal, self.campaign):
            w.setEnabled(on)

    def render_model(self, model: AgentModel) -> None:
        due = model.disposition_due
        if due != self._attempt:
            self._attempt = due
            self.codes.clear()
            for c in model.disposition_codes():
                self.codes.addItem(f"{c['label']} ({c['code']})", c["code"])
            self.note.clear()
            self.callback.setChecked(False)
            self.when.setDateTime(QDateTime(_in_an_hour()))
        self.setEnabled(due is not None)
        self.setTitle("Disposition (required before your next call)" if due is not None
                      else "Disposition")

    def on_save(self) -> None:
        if self._attempt is None or self.codes.currentData() is None:
            return
        at = None
        if self.callback.isChecked():
            at = self.when.dateTime().toPyDateTime().astimezone(UTC)
        self.submitted.emit(self._attempt, self.codes.currentData(), self.note.text(), at,
                            self.personal.isChecked())
