"""Asterisk's ARI events turned into the call floor's events (`dialer.core.floor.messages`).

Channels are named by the floor (`AGENT_PREFIX` + agent id, `CUSTOMER_PREFIX` + attempt id), so
an event's channel says whose it is. For a customer call the translation keeps what a single
event does not carry: the last dial status (a busy or unanswered call's `CustomerGone` needs
it), whether the customer hung up (a hang-up request that is not ours), and whether the dialer
itself asked for the hang-up. Pure: no I/O; the engine feeds each result to the floor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dialer.core.floor import messages as m
from dialer.core.floor.seats import AGENT_PREFIX, CUSTOMER_PREFIX
from dialer.service.fax import fax_detected


class AriEvents:
    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}   # what ARI told of each customer call

    # what the engine tells of its own requests
    def placing(self, channel_id: str) -> None:
        """A customer call is being originated on `channel_id`."""
        self.customers[channel_id] = {}

    def not_placed(self, channel_id: str) -> None:
        self.customers.pop(channel_id, None)

    def hanging_up(self, channel_id: str) -> None:
        """The dialer hangs this channel up: its end is not the customer's."""
        self.customers.get(channel_id, {})["ours"] = True

    def keep_only(self, channels: Iterable[str]) -> None:
        """After a reconnection: forget calls Asterisk no longer has (their end was missed)."""
        for gone in set(self.customers) - set(channels):
            del self.customers[gone]

    # ------------------------------------------------------------------ translation
    def translate(self, ev: dict[str, Any]) -> list[m.Event]:
        """The floor's events for one ARI event ([] for what the floor does not follow)."""
        kind = ev.get("type", "")
        channel = ev.get("channel") or ev.get("peer") or {}
        cid = channel.get("id", "")
        if not cid and "playback" in ev:
            cid = ev["playback"].get("target_uri", "").removeprefix("channel:")
        if cid.startswith(CUSTOMER_PREFIX):
            event = self._customer(cid, kind, ev)
            return [event] if event is not None else []
        if cid.startswith(AGENT_PREFIX):
            agent_id = agent_of(cid)
            if agent_id is None:
                return []
            if kind == "StasisStart":
                return [m.LegAnswered(agent_id, cid)]
            if kind == "ChannelDestroyed":
                return [m.LegGone(agent_id, cid, f"hung up (cause {ev.get('cause')} "
                                                 f"{ev.get('cause_txt', '')})".strip())]
        return []

    def _customer(self, cid: str, kind: str, ev: dict[str, Any]) -> m.Event | None:
        try:
            attempt_id = int(cid.removeprefix(CUSTOMER_PREFIX))
        except ValueError:
            return None
        facts = self.customers.setdefault(cid, {})
        if kind == "Dial" and ev.get("dialstatus"):
            facts["dial_status"] = ev["dialstatus"]
            return m.CustomerRinging(attempt_id) if ev["dialstatus"] == "RINGING" else None
        if kind == "ChannelStateChange":
            return m.CustomerRinging(attempt_id) if ev["channel"].get("state") == "Ringing" \
                else None
        if kind == "StasisStart":
            args = ev.get("args") or []
            if args[:1] == ["amd"]:
                return m.MachineVerdict(attempt_id, args[1] if len(args) > 1 else "",
                                        args[2] if len(args) > 2 else "")
            return m.CustomerAnswered(attempt_id)
        if fax_detected(ev):
            return m.FaxDetected(attempt_id)
        if kind == "ChannelHangupRequest":
            if not ev.get("soft") and not facts.get("ours"):
                facts["customer"] = True
            return None
        if kind == "PlaybackStarted":
            return m.MessageStarted(attempt_id)
        if kind == "PlaybackFinished":
            # a customer who hangs up during the message makes it "failed": it did play
            if ev["playback"].get("state") == "failed" and not facts.get("customer"):
                return m.MessageFailed(attempt_id, "Asterisk could not play "
                                       f"{ev['playback'].get('media_uri')}")
            return m.MessageFinished(attempt_id)
        if kind == "PlaybackFailed":
            return m.MessageFailed(attempt_id, f"Asterisk could not play "
                                               f"{ev['playback'].get('media_uri')}")
        if kind == "ChannelDestroyed":
            self.customers.pop(cid, None)
            return m.CustomerGone(attempt_id, ev.get("cause"), ev.get("tech_cause"),
                                  facts.get("dial_status", ""),
                                  customer_hung_up=bool(facts.get("customer")))
        return None


def agent_of(channel_id: str) -> int | None:
    """The agent id in an agent's voice channel id (`AGENT_PREFIX<id>-<leg>`), or None."""
    try:
        return int(channel_id.removeprefix(AGENT_PREFIX).split("-", 1)[0])
    except ValueError:
        return None
