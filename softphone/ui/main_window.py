"""The main window: the agent status (icon with tooltip), Ready / Not Ready / Logout in the menu and
on the title bar's toolbar, My Campaigns, My Messages and My Channels, and the work area (preview
card, call panel, disposition panel). It renders `AgentLink.model` on every change and once a
second (timers, countdowns)."""

from __future__ import annotations

from datetime import datetime

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QDockWidget,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from dialer import protocol as p
from dialer.core.agent_state import AgentState
from softphone.link import AgentLink, now
from softphone.model import STATE_LABELS
from softphone.ui.call_panel import CallPanel
from softphone.ui.campaigns_view import CampaignsView
from softphone.ui.channels_view import ChannelsView
from softphone.ui.disposition_panel import DispositionPanel
from softphone.ui.logout_countdown import LogoutCountdown
from softphone.ui.messages_view import MessagesView
from softphone.ui.preview_card import PreviewCard
from softphone.ui.status_icon import StatusIcon


class MainWindow(QMainWindow):
    def __init__(self, link: AgentLink, clock: type[datetime] | None = None) -> None:
        super().__init__()
        self.link = link
        self.setWindowTitle("opendialer agent")
        self.status_icon = StatusIcon()
        self.campaigns = CampaignsView()
        self.messages = MessagesView()
        self.channels = ChannelsView()
        self.preview = PreviewCard()
        self.call = CallPanel()
        self.disposition = DispositionPanel()
        self.countdown = LogoutCountdown(self)

        self.ready_action = QAction("Ready", self)
        self.not_ready_action = QAction("Not Ready", self)
        self.logout_action = QAction("Logout", self)
        self.logout_action.setObjectName("menuLogout")
        # keyboard shortcuts: F5 Ready, F6 Not Ready, Ctrl+D Dial, Ctrl+H Hang up, Ctrl+S Dispose
        self.ready_action.setShortcut(QKeySequence("F5"))
        self.not_ready_action.setShortcut(QKeySequence("F6"))
        self.dial_action = QAction("Dial / Accept", self)
        self.dial_action.setShortcut(QKeySequence("Ctrl+D"))
        self.hangup_action = QAction("Hang up", self)
        self.hangup_action.setShortcut(QKeySequence("Ctrl+H"))
        self.dispose_action = QAction("Save disposition", self)
        self.dispose_action.setShortcut(QKeySequence("Ctrl+S"))
        self.dial_action.triggered.connect(lambda: self.preview.dial_button.click())
        self.hangup_action.triggered.connect(lambda: self.call.hang.click())
        self.dispose_action.triggered.connect(lambda: self.disposition.save.click())
        self.ready_action.triggered.connect(lambda: link.ready())
        self.not_ready_action.triggered.connect(self.on_not_ready)
        self.logout_action.triggered.connect(self.on_logout)
        menu = self.menuBar().addMenu("&Agent")
        for a in (self.ready_action, self.not_ready_action, self.logout_action):
            menu.addAction(a)
        calls_menu = self.menuBar().addMenu("&Call")
        for a in (self.dial_action, self.hangup_action, self.dispose_action):
            calls_menu.addAction(a)
        bar = QToolBar("Status")
        bar.setMovable(False)
        bar.addWidget(self.status_icon)
        bar.addSeparator()
        for a in (self.ready_action, self.not_ready_action, self.logout_action):
            bar.addAction(a)
        self.addToolBar(Qt.TopToolBarArea, bar)

        work = QWidget()
        row = QHBoxLayout(work)
        left = QVBoxLayout()
        left.addWidget(self.preview)
        left.addWidget(self.disposition)
        row.addLayout(left, 1)
        row.addWidget(self.call, 1)
        self.setCentralWidget(work)
        for title, widget, area in (("My Campaigns", self.campaigns, Qt.RightDockWidgetArea),
                                    ("My Messages", self.messages, Qt.RightDockWidgetArea),
                                    ("My Channels", self.channels, Qt.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title.replace(" ", ""))
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetMovable)
            if area == Qt.RightDockWidgetArea:
                dock.setMinimumWidth(360)
            self.addDockWidget(area, dock)
        self.connection = QLabel("")
        self.statusBar().addPermanentWidget(self.connection)

        self.channels.logout_requested.connect(self.on_logout)
        self.preview.request_record.connect(lambda: link.preview_request())
        self.preview.dial.connect(lambda: link.dial_offer())
        self.preview.skip.connect(self.on_skip)
        self.call.hangup.connect(lambda: link.hangup())
        self.call.save_record.connect(lambda cid, fields: link.record_update(cid, fields))
        self.disposition.submitted.connect(
            lambda attempt, code, note, at, personal: link.disposition(attempt, code, note, at,
                                                                       personal))
        link.changed.connect(self.refresh)
        link.logout_pending.connect(self.on_logout_pending)
        link.message.connect(self.on_message)
        link.error.connect(lambda code, text: self.statusBar().showMessage(text, 8000))
        link.closed.connect(lambda why: self.connection.setText(f"dialer: {why}"))
        self.ticker = QTimer(self)
        self.ticker.setInterval(500)
        self.ticker.timeout.connect(self.refresh)
        self.ticker.start()
        self.resize(1180, 680)
        self.refresh()

    def on_not_ready(self) -> None:
        reason, ok = QInputDialog.getText(self, "Not Ready", "Reason (optional):")
        if ok:
            self.link.not_ready(reason)

    def on_skip(self) -> None:
        """Skip (preview) hands the record back and asks for the next one; Reject (push preview)
        hands it back and the dialer pushes the next one itself."""
        push = self.link.model.offer_is_push
        if self.link.skip_offer() is not None and not push:
            self.link.preview_request()

    def on_logout(self) -> None:
        self.link.logout()

    def on_message(self, msg: p.ServerMessage) -> None:
        if isinstance(msg, p.Ok) and msg.request == "logout" and \
                self.link.model.logout_after_call:    # asked on a call: say it will wait
            self.on_logout_pending(0.0)

    def on_logout_pending(self, _seconds: float) -> None:
        self.countdown.render_model(self.link.model, now())
        self.countdown.show()

    def refresh(self) -> None:
        t = now()
        m = self.link.model
        self.status_icon.render_model(m, t)
        self.campaigns.render_model(m)
        self.messages.render_model(m, t)
        self.channels.render_model(m)
        self.preview.render_model(m)
        self.call.render_model(m, t)
        self.disposition.render_model(m)
        self.countdown.render_model(m, t)
        st = m.status
        self.ready_action.setEnabled(st is AgentState.NOT_READY and m.disposition_due is None)
        self.not_ready_action.setEnabled(st in (AgentState.READY, AgentState.RESERVED,
                                                AgentState.ON_CALL, AgentState.WRAP_UP))
        self.logout_action.setEnabled(st is not AgentState.LOGGED_OUT and not m.logout_waiting)
        self.setWindowTitle(f"opendialer agent - {m.agent or 'not logged in'} - "
                            f"{STATE_LABELS[st]}")
