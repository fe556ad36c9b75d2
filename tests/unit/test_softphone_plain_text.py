"""A customer record is shown as typed (issue 14): markup in a list's fields or number is text on
the agent's screen, never an image fetched or a link drawn."""

from __future__ import annotations

import os
from datetime import UTC, datetime

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QLabel  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from dialer import protocol as p  # noqa: E402
from dialer.core.agent_state import AgentState  # noqa: E402
from softphone.model import AgentModel  # noqa: E402
from softphone.ui.call_panel import CallPanel  # noqa: E402
from softphone.ui.preview_card import PreviewCard  # noqa: E402

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
HOSTILE = '<img src="http://198.51.100.9/track.png"><a href="http://x">click</a><b>Bob</b>'
CAMPAIGN = {"id": 1, "name": "Autumn", "mode": "preview", "status": "Started",
            "dispositions": [{"code": "SALE", "label": "Sale", "final": True}]}
CONTACT = {"id": 5, "number": "<i>+12125550100</i>", "fields": {"name": HOSTILE, "<h1>k": "v"},
           "attempts": 0}


def _model() -> AgentModel:
    m = AgentModel()
    m.apply(p.LoginOk("a", "A", AgentState.READY, (CAMPAIGN,)), T0)
    m.apply(p.PushOffer(7, CONTACT, 1), T0)
    return m


def test_the_preview_card_shows_markup_as_text(qtbot: QtBot) -> None:
    card = PreviewCard()
    qtbot.addWidget(card)
    card.render_model(_model())
    labels = card.findChildren(QLabel)
    shown = {label.text() for label in labels}
    assert HOSTILE in shown and "<i>+12125550100</i>" in shown
    for label in labels:
        if "<" in label.text():
            assert label.textFormat() == Qt.PlainText, label.text()


def test_the_call_panel_shows_the_number_as_text(qtbot: QtBot) -> None:
    m = _model()
    m.apply(p.CallConnected(9, 1, CONTACT), T0)
    panel = CallPanel()
    qtbot.addWidget(panel)
    panel.render_model(m, T0)
    assert panel.number.text() == "<i>+12125550100</i>"
    assert panel.number.textFormat() == Qt.PlainText

