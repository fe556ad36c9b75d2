"""What the agent window shows, as plain data fed by the dialer's messages. Pure: no Qt, no I/O.

`AgentModel.apply(message, now)` takes each agent-link message (`dialer.protocol`'s typed
messages, docs/agent-protocol.md) with the current time and updates the agent's status (the
dialer's own `AgentState`), My Campaigns, My Messages, the record on offer, the call and the
negotiated-logout countdown. The widgets only render it; the countdown text comes from
`remaining_text(now)`, so a test can step the clock by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dialer import protocol as p
from dialer.core.agent_state import AgentState

STATE_LABELS: dict[AgentState, str] = {
    AgentState.LOGGED_OUT: "Logged out", AgentState.NOT_READY: "Not Ready",
    AgentState.READY: "Ready", AgentState.RESERVED: "Ready (call coming)",
    AgentState.ON_CALL: "On call", AgentState.WRAP_UP: "Wrap-up",
    AgentState.LOGOUT_PENDING: "Logout pending",
}


@dataclass
class SystemMessage:
    at: datetime
    kind: str   # the message type it comes from: campaign_started, logout_pending, error, ...
    text: str
    deadline: datetime | None = None   # a countdown runs until then (logout pending)


def field_label(key: str) -> str:
    """A record field's name as the agent reads it: 'account_no' -> 'Account no'."""
    return key.replace("_", " ").capitalize()


def format_remaining(seconds: float) -> str:
    """'1 min 05 s', '42 s', '0 s': minutes and seconds, as the countdown shows them."""
    s = max(0, int(seconds + 0.999))
    minutes, secs = divmod(s, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@dataclass
class AgentModel:
    agent: str = ""
    status: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    voice: str = "disconnected"
    campaigns: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    messages: list[SystemMessage] = field(default_factory=list)
    offer: p.PreviewRecord | p.PushOffer | None = None
    offer_is_push: bool = False
    call: p.CallConnected | None = None        # until the disposition
    call_started: datetime | None = None
    call_ended: datetime | None = None         # the call timer stops there (wrap-up)
    disposition_due: int | None = None         # attempt id
    logout_deadline: datetime | None = None
    logout_authorized: bool = False
    logout_after_call: bool = False   # asked on a call: authorized after its disposition

    # ---------------------------------------------------------------- feeding
    def apply(self, msg: p.ServerMessage, now: datetime) -> None:
        match msg:
            case p.LoginOk():
                if not self.agent:      # errors before the first login were the login dialog's
                    self.messages = [m for m in self.messages if m.kind != "error"]
                self.agent = msg.agent
                self.status = msg.state
                self.logout_authorized = False
                self.campaigns = {c["id"]: c for c in msg.campaigns}
            case p.State():
                self.status = msg.state
                self.reason = msg.reason or ""
            case p.CampaignList():
                self.campaigns = {c["id"]: c for c in msg.campaigns}
            case p.CampaignStarted(campaign=c):
                self.campaigns[c["id"]] = c
                self._say(now, "campaign_started",
                          f"Campaign {c['name']} has started; you are assigned to it.")
            case p.CampaignStopped(campaign=c):
                self.campaigns.pop(c["id"], None)
                self._say(now, "campaign_stopped", f"Campaign {c['name']} has stopped.")
            case p.Channel():
                self.voice = msg.state.value
            case p.PreviewRecord() | p.PushOffer():
                self.offer = msg
                self.offer_is_push = isinstance(msg, p.PushOffer)
            case p.OfferExpired():
                if self.offer is not None and self.offer.offer == msg.offer:
                    self.offer = None
                self._say(now, "offer_expired",
                          "The record on offer went back to the list: no answer in time.")
            case p.CallConnected():
                self.offer = None
                self.call = msg
                self.call_started = now
                self.call_ended = None
                if self.logout_deadline is not None:  # in time: the dialer stops the countdown
                    self._logout_after_call(now)
            case p.CallEnded():
                self.call_ended = now
                if msg.disposition_required:
                    self.disposition_due = msg.attempt
                else:
                    self.call = None
                    self.call_started = None
            case p.DispositionSaved():
                self._call_settled()
            case p.DispositionTimeout():
                self._call_settled()
                self._say(now, "disposition_timeout",
                          f"No disposition in time: attempt {msg.attempt} was saved without one.")
            case p.LogoutPending():
                self.logout_deadline = now + timedelta(seconds=msg.remaining_s)
                self._say(now, "logout_pending", "Awaiting logoff authorization",
                          deadline=self.logout_deadline)
            case p.LogoutAuthorized():
                self.logout_deadline = None
                self.logout_authorized = True
                self.logout_after_call = False
                self.status = AgentState.LOGGED_OUT
                self.campaigns = {}           # no longer working on them
                self.offer = None
                self.voice = "disconnected"
                self._say(now, "logout_authorized", "Logoff authorized. You are logged out.")
            case p.Ok(request="logout") if self.status in (AgentState.ON_CALL,
                                                           AgentState.WRAP_UP):
                self._logout_after_call(now)   # no countdown on a call (docs/agent-protocol.md)
            case p.Error():
                self._say(now, "error", msg.message or "error")

    def _call_settled(self) -> None:
        self.disposition_due = None
        self.call = None
        self.call_started = None

    def offer_done(self) -> None:
        """The agent dialed, skipped, accepted or rejected the record on offer."""
        self.offer = None

    def _logout_after_call(self, now: datetime) -> None:
        self.logout_deadline = None
        self.logout_after_call = True
        self._say(now, "logout_pending", "Logoff after this call's disposition")

    def _say(self, now: datetime, kind: str, text: str,
             deadline: datetime | None = None) -> None:
        self.messages.append(SystemMessage(now, kind, text, deadline))

    # ---------------------------------------------------------------- reading
    @property
    def logout_waiting(self) -> bool:
        """Logout was asked and is not authorized yet."""
        return self.status is AgentState.LOGOUT_PENDING or self.logout_after_call

    def remaining(self, now: datetime) -> float | None:
        if self.logout_deadline is None:
            return None
        return max(0.0, (self.logout_deadline - now).total_seconds())

    def remaining_text(self, now: datetime) -> str | None:
        left = self.remaining(now)
        return None if left is None else format_remaining(left)

    def tooltip(self, now: datetime) -> str:
        """The status icon's tooltip: the status, the logout countdown, its confirmation."""
        text = f"Status: {STATE_LABELS[self.status]}"
        if self.status is AgentState.NOT_READY and self.reason:
            text += f" ({self.reason})"
        left = self.remaining_text(now)
        if left is not None:
            text += f"\nLogout pending: {left} until logoff authorization"
        elif self.logout_after_call:
            text += "\nLogout pending: after this call's disposition"
        elif self.logout_authorized:
            text += "\nLogoff authorized"
        return text

    def message_text(self, m: SystemMessage, now: datetime) -> str:
        """A My Messages line; a running countdown shows the time left."""
        stamp = m.at.strftime("%H:%M:%S")
        if m.deadline is not None and self.logout_deadline == m.deadline:
            return f"{stamp}  {m.text}: {format_remaining((m.deadline - now).total_seconds())}"
        return f"{stamp}  {m.text}"

    def started_campaigns(self) -> list[Mapping[str, Any]]:
        return [c for c in self.campaigns.values() if c.get("status") in ("Started", "Paused")]

    def call_seconds(self, now: datetime) -> int:
        if self.call_started is None:
            return 0
        return int(((self.call_ended or now) - self.call_started).total_seconds())

    def disposition_codes(self) -> list[dict[str, Any]]:
        if self.call is None:
            return []
        c = self.campaigns.get(self.call.campaign)
        return list(c.get("dispositions", [])) if c else []
