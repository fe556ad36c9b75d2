"""My Channels: the Voice channel with its state and its own Logout action."""

from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from dialer.core.agent_state import AgentState
from softphone.model import AgentModel


class ChannelsView(QWidget):
    logout_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("myChannels")
        self.name = QLabel("Voice")
        self.state = QLabel("disconnected")
        self.state.setObjectName("voiceState")
        self.logout = QPushButton("Logout")
        self.logout.setObjectName("voiceLogout")
        self.logout.clicked.connect(self.logout_requested)
        row = QHBoxLayout(self)
        row.addWidget(self.name)
        row.addWidget(self.state, 1)
        row.addWidget(self.logout)

    def render_model(self, model: AgentModel) -> None:
        text = model.voice
        if model.logout_waiting:
            text += " - logout pending"
        self.state.setText(text)
        self.logout.setEnabled(model.status is not AgentState.LOGGED_OUT
                               and not model.logout_waiting)
