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

from dialer.core.agent_state import AgentState
from softphone.model import AgentModel, field_label
from softphone.ui import plain_label


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
        self._shown: object = ()

    def render_model(self, model: AgentModel) -> None:
        offer = model.offer
        push = offer is not None and model.offer_is_push
        campaign = model.campaigns.get(offer.campaign, {}) if offer else {}
        shown = (push, offer and offer.contact, campaign.get("name"))
        if shown != self._shown:        # rebuilt only when the record changes (no flicker)
            self._shown = shown
            self._render_record(model)
        self.dial_button.setText("Accept" if push else "Dial")
        self.skip_button.setText("Reject" if push else "Skip")
        self.dial_button.setEnabled(offer is not None)
        self.skip_button.setEnabled(offer is not None)
        self.get.setEnabled(offer is None and model.status is AgentState.READY)

    def _render_record(self, model: AgentModel) -> None:
        offer = model.offer
        while self.fields.rowCount():
            self.fields.removeRow(0)
        if offer is None:
            self.setTitle("Preview")
            self.fields.addRow(QLabel("No record. Preview campaigns: Get record."))
        else:
            c = offer.contact
            title = "Push preview: a record for you" if model.offer_is_push else "Preview"
            name = model.campaigns.get(offer.campaign, {}).get("name")
            self.setTitle(f"{title} ({name})" if name else title)
            self.fields.addRow("Number", plain_label(c["number"]))
            for key, value in c.get("fields", {}).items():
                self.fields.addRow(plain_label(field_label(key)), plain_label(str(value)))
            self.fields.addRow("Attempts", plain_label(str(c.get("attempts", 0))))

    def record(self) -> dict[str, str]:
        """The record on the card as shown, label -> value (empty when there is none)."""
        shown = {}
        for i in range(self.fields.rowCount()):
            label = self.fields.itemAt(i, QFormLayout.LabelRole)
            value = self.fields.itemAt(i, QFormLayout.FieldRole)
            if label is not None and value is not None:
                shown[label.widget().text()] = value.widget().text()
        return shown
