"""A call floor on a hand-stepped clock, with the answers the service would feed it.

`FloorHarness` plays the service: it feeds events, keeps every command, answers `Claim` and
`CreateAttempt` from a little list of contacts, checks that every `Notify` is a message of the
agent link's protocol (`dialer.protocol.server_message`), and steps time with
`advance(seconds)` (firing the floor's timers as they fall due). No Asterisk, database or event
loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dialer import pacing as pc
from dialer.config.trunks import Trunk, TrunkKind
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.floor import Floor, Limits
from dialer.core.floor import messages as m
from dialer.core.selection import ContactState
from dialer.db.campaigns import CampaignInfo
from dialer.db.repository import Claim
from dialer.protocol import server_message
from dialer.service.trunk_use import LiveTrunks

T0 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def campaign(cid: int = 1, mode: DialMode = DialMode.PROGRESSIVE, trunk: str = "carrier",
             logout_delay: float = 10, amd: bool = False) -> CampaignInfo:
    return CampaignInfo(
        id=cid, name=f"c{cid}", mode=mode, status=CampaignStatus.STARTED, ratio=1.0,
        ring_timeout=timedelta(seconds=20), abandon_cap=0.03,
        max_logout_delay=timedelta(seconds=logout_delay), caller_id="+12125550100",
        trunk=trunk, default_region="US", time_zone="America/New_York", max_attempts=1,
        dispositions=(("SALE", "Sale", True), ("CALLBACK", "Call back", False)),
        agents=("agent1", "agent2"), amd=amd)


def trunks(*names: str, channels: int = 10) -> LiveTrunks:
    return LiveTrunks([Trunk(n, TrunkKind.IP, "127.0.0.1", 5080, channels)
                       for n in names or ("carrier",)])


@dataclass
class Dialed:
    attempt_id: int
    contact_id: int


class FloorHarness:
    def __init__(self, *infos: CampaignInfo, contacts: int = 20,
                 trunk_names: tuple[str, ...] = ("carrier",), limits: Limits | None = None,
                 auto_claims: bool = True) -> None:
        # predictive campaigns pace with a fixed 3 calls per ready agent: scenarios need calls
        # ahead of the agents, whatever a cold estimator would launch
        self.floor = Floor(trunks(*trunk_names), "r1", limits,
                           message_for=lambda info: f"sound:msg-{info.id}",
                           make_pacer=lambda info: pc.create_pacer("ratio", ratio=3.0))
        self.now = T0
        self.out: list[m.Command] = []
        self.contacts = list(range(100, 100 + contacts))
        self.next_attempt = 1
        self.auto_claims = auto_claims
        self.held_claims: list[m.Claim] = []
        self.feed(m.PbxConnected(frozenset(), frozenset()))
        self.timers()      # reads the campaigns
        self.feed(m.CampaignsRead(tuple(infos) or (campaign(),)))

    # -- plumbing --------------------------------------------------------------------------
    def feed(self, event: m.Event) -> list[m.Command]:
        cmds = self.floor.handle(event, self.now)
        self._take(cmds)
        return cmds

    def timers(self) -> list[m.Command]:
        cmds = self.floor.handle_timer(self.now)
        self._take(cmds)
        return cmds

    def advance(self, seconds: float) -> None:
        end = self.now + timedelta(seconds=seconds)
        while (due := self.floor.next_timer()) is not None and due <= end:
            self.now = max(self.now, due)
            self.timers()
        self.now = end

    def _take(self, cmds: list[m.Command]) -> None:
        self.out += cmds
        for cmd in cmds:
            if isinstance(cmd, m.Claim):
                if self.auto_claims:
                    self.answer_claim(cmd)
                else:
                    self.held_claims.append(cmd)
            elif isinstance(cmd, m.CreateAttempt):
                self.feed(m.AttemptCreated(cmd.agent_id, cmd.claim.contact_id,
                                           self._attempt(), re=cmd.re))
            elif isinstance(cmd, m.ReadCampaigns):
                pass    # the test feeds CampaignsRead itself
            elif isinstance(cmd, m.Notify):
                # every message to an agent is one of the link protocol's (raises if not)
                server_message(cmd.kind, cmd.fields, cmd.re)

    def answer_claim(self, cmd: m.Claim) -> None:
        if not self.contacts:
            self.feed(m.Claimed(cmd.ticket, None))
            return
        contact = self.contacts.pop(0)
        claim = Claim(contact_id=contact, campaign_id=cmd.campaign_id, number=f"+1212201{contact}",
                      number_index=0, agent_id=cmd.agent_id, callback_id=None,
                      previous_state=ContactState.NEW, attempts=0, fields={"name": "x"},
                      time_zone=None, claimed_at=self.now)
        attempt = self._attempt() if cmd.purpose == "dial" else None
        self.feed(m.Claimed(cmd.ticket, claim, attempt, {"id": contact, "number": claim.number}))

    def _attempt(self) -> int:
        self.next_attempt += 1
        return self.next_attempt - 1

    def sent(self, kind: type, **match: Any) -> list[Any]:
        return [c for c in self.out if isinstance(c, kind)
                and all(getattr(c, k) == v for k, v in match.items())]

    def notes(self, agent_id: int, kind: str) -> list[m.Notify]:
        return [c for c in self.out if isinstance(c, m.Notify) and c.agent_id == agent_id
                and c.kind == kind]

    def writes(self, kind: type) -> list[Any]:
        return [c.write for c in self.out if isinstance(c, m.Store) and isinstance(c.write, kind)]

    def clear(self) -> None:
        self.out = []

    # -- scenes ----------------------------------------------------------------------------
    def login(self, agent_id: int, campaigns: tuple[int, ...] = (1,), ready: bool = True) -> None:
        self.feed(m.AgentLogin(agent_id, f"agent{agent_id}", f"Agent {agent_id}",
                               f"PJSIP/agent{agent_id}", campaigns))
        leg = self.sent(m.CallAgent, agent_id=agent_id)[-1]
        self.feed(m.LegAnswered(agent_id, leg.channel_id))
        if ready:
            self.feed(m.AgentAsks(agent_id, "ready"))

    def state(self, agent_id: int) -> str:
        seat = self.floor.seats.get(agent_id)
        return seat.machine.state.value if seat else "logged_out"

    def originates(self) -> list[m.Originate]:
        return self.sent(m.Originate)

    def answer(self, attempt_id: int) -> list[m.Command]:
        self.feed(m.Originated(attempt_id))
        self.feed(m.CustomerRinging(attempt_id))
        return self.feed(m.CustomerAnswered(attempt_id))

    def gone(self, attempt_id: int, cause: int = 16, tech: int | None = None,
             dial: str = "ANSWER", customer: bool = True) -> list[m.Command]:
        return self.feed(m.CustomerGone(attempt_id, cause, tech, dial, customer))


def with_status(info: CampaignInfo, status: CampaignStatus) -> CampaignInfo:
    return replace(info, status=status)
