"""My Campaigns: the active and running campaigns the agent is assigned to, with their status."""

from __future__ import annotations

from PyQt5.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from softphone.model import AgentModel


class CampaignsView(QTableWidget):
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

    def rows(self) -> list[tuple[str, ...]]:
        return [tuple(self.item(i, j).text() for j in range(3)) for i in range(self.rowCount())]
