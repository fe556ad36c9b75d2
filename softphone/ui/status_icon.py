"""The agent status: a coloured dot and the status, with a tooltip that shows the negotiated
logout countdown and then its confirmation."""

from __future__ import annotations

from datetime import datetime

from PyQt5.QtGui import QCursor
from PyQt5.QtWidgets import QLabel, QToolTip, QWidget

from dialer.core.agent_state import AgentState
from softphone.model import STATE_LABELS, AgentModel

COLOURS = {
    AgentState.LOGGED_OUT: "#9e9e9e", AgentState.NOT_READY: "#e53935",
    AgentState.READY: "#43a047", AgentState.RESERVED: "#43a047", AgentState.ON_CALL: "#1e88e5",
    AgentState.WRAP_UP: "#fb8c00", AgentState.LOGOUT_PENDING: "#8e24aa",
}


class StatusIcon(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusIcon")
        self.setMinimumWidth(170)

    def render_model(self, model: AgentModel, now: datetime) -> None:
        colour = COLOURS[model.status]
        self.setText(f'<span style="color:{colour}">&#9679;</span> '
                     f'{STATE_LABELS[model.status]}')
        tip = model.tooltip(now)
        if tip != self.toolTip():
            showing = QToolTip.isVisible() and QToolTip.text() == self.toolTip()
            self.setToolTip(tip)
            if showing:     # the agent is reading it: the countdown keeps counting there
                QToolTip.showText(QCursor.pos(), tip, self)
