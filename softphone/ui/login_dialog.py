"""The login dialog: agent, password, dialer address and SIP account; errors said plainly."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class LoginRequest:
    agent: str
    password: str
    dialer_url: str
    sip_user: str
    sip_password: str
    sip_server: str
    sip_transport: str = "udp"     # "tls" when the dialer says so (login_ok.sip.transport)


class LoginDialog(QDialog):
    """Emits `submitted(LoginRequest)`; `show_error(text)` keeps the dialog open with the reason."""

    submitted = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None, dialer_url: str = "ws://127.0.0.1:8765/agent",
                 sip_server: str = "127.0.0.1:5060") -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in - opendialer agent")
        self.setMinimumWidth(440)    # the dialer address shows whole
        self.agent = QLineEdit()
        self.agent.setPlaceholderText("agent1001")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.Password)
        self.dialer = QLineEdit(dialer_url)
        self.sip_user = QLineEdit()
        self.sip_user.setPlaceholderText("given by the dialer")
        self.sip_password = QLineEdit()
        self.sip_password.setEchoMode(QLineEdit.Password)
        self.sip_password.setPlaceholderText("given by the dialer (type one for another PBX)")
        self.sip_server = QLineEdit(sip_server)
        form = QFormLayout()
        form.addRow("Agent", self.agent)
        form.addRow("Password", self.password)
        form.addRow("Dialer address", self.dialer)
        form.addRow("SIP account", self.sip_user)
        form.addRow("SIP password", self.sip_password)
        form.addRow("SIP server", self.sip_server)
        self.error = QLabel()
        self.error.setTextFormat(Qt.PlainText)      # the dialer's words, never markup
        self.error.setObjectName("loginError")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Log in")
        buttons.accepted.connect(self.on_accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def on_accept(self) -> None:
        agent = self.agent.text().strip()
        if not agent or not self.password.text():
            self.show_error("Enter your agent name and password.")
            return
        if not self.dialer.text().startswith(("ws://", "wss://")):
            self.show_error("The dialer address starts with ws:// or wss://, e.g. "
                            "ws://127.0.0.1:8765/agent.")
            return
        self.error.hide()
        self.buttons.setEnabled(False)
        self.submitted.emit(LoginRequest(
            agent, self.password.text(), self.dialer.text().strip(),
            self.sip_user.text().strip() or agent, self.sip_password.text(),
            self.sip_server.text().strip()))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.buttons.setEnabled(True)
