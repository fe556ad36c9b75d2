"""The preview card: the customer record on offer, with Dial and Skip (preview) or Accept and
Reject (push preview), and Get record for preview campaigns."""

from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softphone.model import AgentModel


class PreviewCard(QGroupBox):
    request_record = pyqtSignal()
    dial = pyqtSignal()
    skip = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Preview", parent)
        self.setObjectName("previewCard")
        self.fields = QFormLayout()
        self.get = QPushButton("Get record")
        self.get.setObjectName("getRecord")
        self.dial_button = QPushButton("Dial")
        self.dial_button.setObjectName("dialButton")
        self.skip_button = QPushButton("Skip")
        self.skip_button.setObjectName("skipButton")
        self.get.clicked.connect(self.request_record)
        self.dial_button.clicked.connect(self.dial)
        self.skip_button.clicked.connect(self.skip)
        buttons = QHBoxLayout()
        for b in (self.get, self.dial_button, self.skip_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(self.fields)
        layout.addLayout(buttons)

    def render_model(self, model: AgentModel) -> None:
        offer = model.offer
        while self.fields.rowCount():
            self.fields.removeRow(0)
        if offer is None:
            self.setTitle("Preview")
            self.fields.addRow(QLabel("No record. Preview campaigns: Get record."))
        else:
            c = offer["contact"]
            self.setTitle("Push preview: a record for you" if model.offer_is_push
                          else "Preview")
            self.fields.addRow("Number", QLabel(c["number"]))
            for key, value in c.get("fields", {}).items():
                self.fields.addRow(key.replace("_", " ").capitalize(), QLabel(str(value)))
            self.fields.addRow("Attempts", QLabel(str(c.get("attempts", 0))))
        push = model.offer_is_push
        self.dial_button.setText("Accept" if push else "Dial")
        self.skip_button.setText("Reject" if push else "Skip")
        self.dial_button.setEnabled(offer is not None)
        self.skip_button.setEnabled(offer is not None)
        self.get.setEnabled(offer is None and model.status.value == "ready")
