"""The call panel: the customer record (editable, saved through the dialer), call timer, mute,
hold, keypad and hang-up. Mute, hold and keypad digits go to the SIP phone (signals)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dialer.core.agent_state import AgentState
from softphone.model import AgentModel, field_label


class CallPanel(QGroupBox):
    save_record = pyqtSignal(int, dict)   # contact id, changed fields
    hangup = pyqtSignal()
    mute_toggled = pyqtSignal(bool)
    hold_toggled = pyqtSignal(bool)
    digit = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Call", parent)
        self.setObjectName("callPanel")
        self.number = QLabel("-")
        self.number.setTextFormat(Qt.PlainText)     # the contact's number, as stored
        self.timer = QLabel("00:00")
        self.timer.setObjectName("callTimer")
        self.record = QTableWidget(0, 2)
        self.record.setHorizontalHeaderLabels(["Field", "Value"])
        self.record.verticalHeader().hide()
        self.record.horizontalHeader().setStretchLastSection(True)
        self.save = QPushButton("Save record")
        self.save.setObjectName("saveRecord")
        self.save.clicked.connect(self.on_save)
        self.mute = QPushButton("Mute")
        self.mute.setCheckable(True)
        self.mute.toggled.connect(self.mute_toggled)
        self.hold = QPushButton("Hold")
        self.hold.setCheckable(True)
        self.hold.toggled.connect(self.hold_toggled)
        self.hang = QPushButton("Hang up")
        self.hang.setObjectName("hangupButton")
        self.hang.clicked.connect(self.hangup)
        keypad = QGridLayout()
        self.keys: list[QPushButton] = []
        for i, key in enumerate("123456789*0#"):
            b = QPushButton(key)
            b.setFixedWidth(36)
            self.keys.append(b)
            b.clicked.connect(lambda _=False, k=key: self.digit.emit(k))
            keypad.addWidget(b, i // 3, i % 3)
        top = QHBoxLayout()
        top.addWidget(self.number, 1)
        top.addWidget(self.timer)
        actions = QHBoxLayout()
        for b in (self.save, self.mute, self.hold, self.hang):
            actions.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.record)
        layout.addLayout(actions)
        layout.addLayout(keypad)
        self._contact: int | None = None
        self._original: dict[str, str] = {}

    def render_model(self, model: AgentModel, now: datetime) -> None:
        call = model.call
        contact: Mapping[str, Any] = call.contact if call else {}
        campaign = model.campaigns.get(call.campaign, {}) if call else {}
        self.setTitle(f"Call ({campaign['name']})" if "name" in campaign else "Call")
        if call is None:
            self.number.setText("No call")
            self._contact = None
            self.record.setRowCount(0)
        elif contact.get("id") != self._contact:
            self._contact = contact["id"]
            self.number.setText(contact.get("number", ""))
            self._original = {k: str(v) for k, v in contact.get("fields", {}).items()}
            self.record.setRowCount(len(self._original))
            for i, (k, v) in enumerate(self._original.items()):
                key = QTableWidgetItem(field_label(k))
                key.setData(Qt.UserRole, k)
                key.setFlags(key.flags() & ~Qt.ItemIsEditable)
                self.record.setItem(i, 0, key)
                self.record.setItem(i, 1, QTableWidgetItem(v))
        secs = model.call_seconds(now)
        self.timer.setText(f"{secs // 60:02d}:{secs % 60:02d}")
        on_call = model.status is AgentState.ON_CALL
        for b in (self.mute, self.hold, self.hang, *self.keys):
            b.setEnabled(on_call)
        self.save.setEnabled(call is not None)

    def edited_fields(self) -> dict[str, str]:
        out = {}
        for i in range(self.record.rowCount()):
            k, v = self.record.item(i, 0).data(Qt.UserRole), self.record.item(i, 1).text()
            if self._original.get(k) != v:
                out[k] = v
        return out

    def on_save(self) -> None:
        changed = self.edited_fields()
        if self._contact is not None and changed:
            self.save_record.emit(self._contact, changed)
            self._original.update(changed)
