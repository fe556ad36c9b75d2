"""My Campaigns: the active and running campaigns the agent is assigned to, with their status."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QPainter, QPaintEvent, QPalette
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from softphone.model import AgentModel


class CampaignsView(QTableWidget):
    EMPTY = "No started campaign is assigned to you."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setObjectName("myCampaigns")
        self.setHorizontalHeaderLabels(["Campaign", "Mode", "Status"])
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)

    def render_model(self, model: AgentModel) -> None:
        rows = model.started_campaigns()
        self.setRowCount(len(rows))
        for i, c in enumerate(rows):
            for j, text in enumerate((c["name"], c["mode"].replace("_", " "), c["status"])):
                self.setItem(i, j, QTableWidgetItem(text))

    def paintEvent(self, event: QPaintEvent | None) -> None:
        super().paintEvent(event)
        if self.rowCount() == 0:        # say so rather than show an empty table
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.Disabled, QPalette.Text))
            painter.drawText(self.viewport().rect().adjusted(6, 6, -6, -6),
                             Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, self.EMPTY)
            painter.end()

    def rows(self) -> list[tuple[str, ...]]:
        return [tuple(self.item(i, j).text() for j in range(3)) for i in range(self.rowCount())]
