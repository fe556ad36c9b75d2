"""My Messages: system messages (campaign started/stopped, logout pending with its countdown,
logout authorized, errors), newest last."""

from __future__ import annotations

from datetime import datetime

from PyQt5.QtWidgets import QListWidget, QWidget

from softphone.model import AgentModel


class MessagesView(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("myMessages")
        self.setWordWrap(True)

    def render_model(self, model: AgentModel, now: datetime) -> None:
        lines = [model.message_text(m, now) for m in model.messages]
        if lines != self.lines():
            self.clear()
            self.addItems(lines)
            self.scrollToBottom()

    def lines(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]
