"""The agent status: a coloured dot and the status, with a tooltip that shows the negotiated
logout countdown and then its confirmation."""

from __future__ import annotations

from datetime import datetime

from PyQt5.QtGui import QCursor
from PyQt5.QtWidgets import QLabel, QToolTip, QWidget

from softphone.model import AgentModel, Status

COLOURS = {
    Status.LOGGED_OUT: "#9e9e9e", Status.NOT_READY: "#e53935", Status.READY: "#43a047",
    Status.RESERVED: "#43a047", Status.ON_CALL: "#1e88e5", Status.WRAP_UP: "#fb8c00",
    Status.LOGOUT_PENDING: "#8e24aa",
}


class StatusIcon(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusIcon")
        self.setMinimumWidth(170)

    def render_model(self, model: AgentModel, now: datetime) -> None:
        colour = COLOURS[model.status]
        self.setText(f'<span style="color:{colour}">&#9679;</span> {model.status.label}')
        tip = model.tooltip(now)
        if tip != self.toolTip():
            showing = QToolTip.isVisible() and QToolTip.text() == self.toolTip()
            self.setToolTip(tip)
            if showing:     # the agent is reading it: the countdown keeps counting there
                QToolTip.showText(QCursor.pos(), tip, self)
