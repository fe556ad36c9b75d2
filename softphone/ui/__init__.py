"""The agent window's widgets, one per file; each renders `AgentModel` and emits what the agent
asks for. None of them talks to the network or the SIP stack: `softphone.app` wires them."""

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel


def plain_label(text: str) -> QLabel:
    """A label that shows `text` as typed: a customer record's `<img src=...>` or `<a href=...>`
    is text, never markup (a QLabel's default is to guess, and render rich text)."""
    label = QLabel(text)
    label.setTextFormat(Qt.PlainText)
    return label
