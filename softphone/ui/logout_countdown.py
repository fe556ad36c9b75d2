"""The negotiated-logout message: 'Awaiting logoff authorization' with a countdown in minutes and
seconds; it can be dismissed (the time left stays in My Messages and the status tooltip)."""

from __future__ import annotations

from datetime import datetime

from PyQt5.QtWidgets import QDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from softphone.model import AgentModel


class LogoutCountdown(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logoutCountdown")
        self.setWindowTitle("Logout")
        self.setModal(False)
        self.text = QLabel()
        self.text.setObjectName("countdownText")
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(dismiss)

    def render_model(self, model: AgentModel, now: datetime) -> None:
        left = model.remaining_text(now)
        if left is not None:
            self.text.setText(f"You are awaiting logoff authorization.\n"
                              f"Time remaining: {left}")
        elif model.logout_after_call:
            self.text.setText("You are awaiting logoff authorization.\n"
                              "You are logged off after this call's disposition.")
        elif model.logout_authorized:
            self.text.setText("Logoff authorized.")
