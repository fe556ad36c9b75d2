"""The call floor: agents, customer calls and who has which call, as one pure object.

How it works
------------
`Floor.handle(event, now)` takes one event (`dialer.core.floor.messages`: from Asterisk, the agent
link or the database writer) and returns the commands the service must carry out, in order;
`next_timer()` says when `handle_timer(now)` is due (pacing ticks, the moment an answered
customer must get the safe-harbor message, logout deadlines, voice channels to place again,
offers and wrap-ups that ran out of time, the campaigns to read again). Nothing here reads a
clock, a socket or the database: tests step `now` by hand.

State: `seats` (the logged-in agents: their `AgentMachine`, voice channel, offered record,
wrap-up), `calls` (customer calls by attempt id, each with its phase, `dialer.core.floor.phases`)
and `runs` (the started campaigns with their pacers). Which agent has which call is kept in one
place, `CustomerCall.agent_id`, and changed only by `_assign`; `seat_call()` reads it back.

An agent request that cannot be done raises `FloorRefused` (nothing changed); an event that is
illegal for a call's phase or an agent's state raises `CallPhaseError` / `AgentStateError`
(nothing changed). The service logs those with the event and goes on.

Dialing and answering (the part written for speed): when a customer answers, the floor answers
with `Bridge` before any `Store`; the service executes commands in order and never waits for a
write before an ARI request, so the bridge goes out at once, the attempt's events follow.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from dialer import pacing as pc
from dialer.core import agent_state as st
from dialer.core.campaign import CampaignStatus
from dialer.core.floor import customers, dialing, requests, resync
from dialer.core.floor import messages as m
from dialer.core.floor.dialing import Pending, Run
from dialer.core.floor.phases import CALL_EVENTS, CallPhase, CustomerCall
from dialer.core.floor.seats import (
    AGENT_PREFIX,
    FloorRefused,
    Leg,
    Limits,
    Seat,
)
from dialer.core.jurisdiction import pacer_guard

log = logging.getLogger(__name__)

class Floor:
    def __init__(self, trunks: Any, run_id: str, limits: Limits | None = None,
                 message_for: Callable[[Any], str] = lambda _info: "sound:hello,sound:vm-goodbye",
                 make_pacer: Callable[[Any], pc.Pacer] | None = None) -> None:
        self.trunks = trunks
        self.run_id = run_id
        self.limits = limits or Limits()
        self.message_for = message_for
        self.make_pacer = make_pacer or (lambda info: pc.create_pacer(
            "predictive", cap=info.abandon_cap,
            connect_limit=self.limits.connect_limit.total_seconds(),
            **pacer_guard(getattr(info, "profile", None))))   # the campaign's rule window
        self.seats: dict[int, Seat] = {}
        self.calls: dict[int, CustomerCall] = {}
        self.runs: dict[int, Run] = {}
        self.campaigns: dict[int, Any] = {}           # every campaign read: CampaignInfo
        self.pbx_up = False
        self.connect_latencies: deque[float] = deque(maxlen=1000)
        self.message_delays: deque[float] = deque(maxlen=1000)
        self._claims: dict[int, Pending] = {}
        self._tickets = itertools.count(1)
        self._legs = itertools.count(1)
        self._out: list[m.Command] = []
        self._now: datetime | None = None
        self._next_tick: datetime | None = None
        self._next_refresh: datetime | None = None
        self._reading = False


    # the dialing half (dialer/core/floor/dialing.py)
    _on_CampaignsRead = dialing._on_CampaignsRead
    _tell_campaign = dialing._tell_campaign
    _pace = dialing._pace
    _claim = dialing._claim
    _pending_dials = dialing._pending_dials
    snapshot = dialing.snapshot
    _on_Claimed = dialing._on_Claimed
    _claim_seat = dialing._claim_seat
    _undo_claim = dialing._undo_claim
    _offer = dialing._offer
    _ask_preview_request = dialing._ask_preview_request
    _ask_preview_dial = dialing._ask_preview_dial
    _ask_preview_skip = dialing._ask_preview_skip
    _on_AttemptCreated = dialing._on_AttemptCreated
    _start_call = dialing._start_call
    _originate = dialing._originate
    _originate_failed = dialing._originate_failed
    _failover = dialing._failover
    _in_use = dialing._in_use
    _next_trunk = dialing._next_trunk
    _trunk_room = dialing._trunk_room
    _ask_push_accept = dialing._ask_preview_dial
    _ask_push_reject = dialing._ask_preview_skip

    # the agents' requests and negotiated logout (dialer/core/floor/requests.py)
    _on_AgentAsks = requests._on_AgentAsks
    _ask_ready = requests._ask_ready
    _ask_not_ready = requests._ask_not_ready
    _ask_logout = requests._ask_logout
    _ask_hangup = requests._ask_hangup
    _ask_record_update = requests._ask_record_update
    _on_DispositionGiven = requests._on_DispositionGiven
    _on_LinkLost = requests._on_LinkLost
    _logged_out = requests._logged_out
    _logout_delay = requests._logout_delay
    _counted_on = requests._counted_on
    _release_held = requests._release_held
    _reroute = requests._reroute

    # the customer calls and who gets them (dialer/core/floor/customers.py)
    _call_event = customers._call_event
    _on_Originated = customers._on_Originated
    _on_OriginateFailed = customers._on_OriginateFailed
    _on_CustomerRinging = customers._on_CustomerRinging
    _on_CustomerAnswered = customers._on_CustomerAnswered
    _on_MachineVerdict = customers._on_MachineVerdict
    _on_FaxDetected = customers._on_FaxDetected
    _ring_s = customers._ring_s
    _answered_live = customers._answered_live
    _serve = customers._serve
    _bridge = customers._bridge
    _on_CustomerBridged = customers._on_CustomerBridged
    _on_BridgeFailed = customers._on_BridgeFailed
    _message = customers._message
    _on_MessageStarted = customers._on_MessageStarted
    _message_played = customers._message_played
    _on_MessageFailed = customers._on_MessageFailed
    _on_MessageFinished = customers._on_MessageFinished
    _hangup = customers._hangup
    _on_CustomerGone = customers._on_CustomerGone
    _facts = customers._facts
    _finish = customers._finish
    _reserve = customers._reserve
    _unreserve = customers._unreserve
    _give_waiting = customers._give_waiting
    _free_agent = customers._free_agent
    _held_agent = customers._held_agent

    # the resync with Asterisk (dialer/core/floor/resync.py)
    _on_PbxLost = resync._on_PbxLost
    _on_PbxConnected = resync._on_PbxConnected

    # ------------------------------------------------------------------ the interface
    def handle(self, event: m.Event, now: datetime) -> list[m.Command]:
        """Apply one event; return the commands to carry out, in order."""
        self._out, self._now = [], now
        try:
            if type(event) in CALL_EVENTS:
                self._call_event(event)
            else:
                getattr(self, "_on_" + type(event).__name__)(event)
        except Exception:
            self._out = []
            raise
        return self._flush()

    def handle_timer(self, now: datetime) -> list[m.Command]:
        """Do what is due at `now`."""
        self._out, self._now = [], now
        for call in list(self.calls.values()):
            if call.phase is CallPhase.WAITING and call.deadline and call.deadline <= now:
                self._message(call, "no agent was free in time")
        for seat in list(self.seats.values()):
            self._seat_timers(seat, now)
        if self._next_refresh is None or self._next_refresh <= now:
            self._next_refresh = now + self.limits.refresh
            if not self._reading:
                self._reading = True
                self._emit(m.ReadCampaigns(frozenset(self.runs)))
            for run in self.runs.values():
                self._emit(m.Store(m.HandOverCallbacks(run.info.id, now, tuple(self.seats))))
        if self._next_tick is None or self._next_tick <= now:
            self._next_tick = now + self.limits.tick
            for run in list(self.runs.values()):
                self._pace(run)
        return self._flush()

    def next_timer(self) -> datetime | None:
        times = [t for t in (self._next_tick, self._next_refresh) if t is not None]
        if not times:
            return None   # not started: the first handle_timer starts the clock
        for call in self.calls.values():
            if call.phase is CallPhase.WAITING and call.deadline is not None:
                times.append(call.deadline)
        for seat in self.seats.values():
            times += [t for t in (seat.machine.get_timer(), seat.leg_retry_at, seat.offer_until,
                                  seat.wrap_until) if t is not None]
        return min(times)

    def seat_call(self, agent_id: int) -> CustomerCall | None:
        """The call reserved for, being bridged to, or connected to this agent."""
        for call in self.calls.values():
            if call.agent_id == agent_id and call.phase is not CallPhase.ENDED:
                return call
        return None

    def campaign_view(self, info: Any) -> dict[str, Any]:
        return {"id": info.id, "name": info.name, "mode": info.mode.value,
                "status": info.status.value.capitalize(),
                "dispositions": [{"code": c, "label": label, "final": final}
                                 for c, label, final in info.dispositions]}

    def my_campaigns(self, agent_id: int) -> list[dict[str, Any]]:
        seat = self.seats.get(agent_id)
        views = []
        for cid in seat.campaigns if seat else ():
            info = self.campaigns.get(cid)
            if info is not None and info.status in (CampaignStatus.STARTED,
                                                    CampaignStatus.PAUSED):
                views.append(self.campaign_view(info))
        return views

    # ------------------------------------------------------------------ plumbing
    @property
    def now(self) -> datetime:
        assert self._now is not None
        return self._now

    def _emit(self, command: m.Command) -> None:
        self._out.append(command)

    def _flush(self) -> list[m.Command]:
        out, self._out = self._out, []
        return out

    def _store(self, write: m.Write) -> None:
        self._emit(m.Store(write))

    def _notify(self, agent_id: int, kind: str, re: str | None = None, **fields: Any) -> None:
        self._emit(m.Notify(agent_id, kind, fields, re))

    def _assign(self, call: CustomerCall, seat: Seat | None) -> None:
        """The one place where a call gets (or loses) its agent."""
        call.agent_id = seat.agent_id if seat is not None else None

    def _observe(self, campaign_ids: Iterable[int] | int, event: pc.PacingEvent) -> None:
        ids = [campaign_ids] if isinstance(campaign_ids, int) else campaign_ids
        for cid in ids:
            run = self.runs.get(cid)
            if run is not None and run.pacer is not None:
                run.pacer.observe(event, self.now.timestamp())

    # ------------------------------------------------------------------ agents
    def _apply(self, seat: Seat, event: st.Event) -> st.Outcome:
        """Feed the agent's machine, store the audit record, tell the agent, carry out effects."""
        outcome = seat.machine.handle(event, self.now)
        self._after(seat, outcome)
        return outcome

    def _after(self, seat: Seat, outcome: st.Outcome) -> None:
        self._store(m.AgentTransition(seat.agent_id, outcome.audit))
        old, new = outcome.audit.old, outcome.audit.new
        if old is not new:
            seat.since = self.now
            if old is st.AgentState.WRAP_UP and seat.wrap_since is not None:
                self._observe(seat.campaigns, pc.WrapUpEnded(
                    seat.agent_id, (self.now - seat.wrap_since).total_seconds()))
                seat.wrap_since = None
        self._send_state(seat)
        for effect in outcome.effects:
            if isinstance(effect, st.ShowLogoutCountdown):
                self._notify(seat.agent_id, "logout_pending", deadline=effect.deadline.isoformat(),
                             remaining_s=round((effect.deadline - self.now).total_seconds(), 1))
            elif isinstance(effect, st.RerouteCall):
                self._reroute(seat)
            elif isinstance(effect, st.EndCall):
                call = self.seat_call(seat.agent_id)
                if call is not None:
                    call.orphaned = True
                    self._hangup(call, "dialer", "the agent's session was lost")
            elif isinstance(effect, st.AuthorizeLogout):
                self._logged_out(seat)
        if new is st.AgentState.READY and old is not new and seat.agent_id in self.seats:
            self._give_waiting(seat)

    def _send_state(self, seat: Seat) -> None:
        fields: dict[str, Any] = {"state": seat.machine.state.value}
        if seat.machine.not_ready_reason:
            fields["reason"] = seat.machine.not_ready_reason
        remaining = seat.machine.remaining(self.now)
        if remaining is not None:
            fields["logout_remaining_s"] = round(remaining.total_seconds(), 1)
        self._notify(seat.agent_id, "state", **fields)

    def _seat(self, agent_id: int) -> Seat:
        seat = self.seats.get(agent_id)
        if seat is None:
            raise FloorRefused("you are logged out; log in again")
        return seat

    def _on_AgentLogin(self, ev: m.AgentLogin) -> None:
        if ev.agent_id in self.seats:
            raise FloorRefused(f"agent {ev.login} is already logged in elsewhere")
        seat = Seat(ev.agent_id, ev.login, ev.name, ev.endpoint, ev.campaigns,
                    st.AgentMachine(str(ev.agent_id)), self.now)
        self.seats[ev.agent_id] = seat
        self._apply(seat, st.LoginSucceeded())
        self._observe(ev.campaigns, pc.AgentLoggedIn(ev.agent_id))
        self._call_agent(seat)

    def _call_agent(self, seat: Seat) -> None:
        seat.leg = Leg.CALLING
        seat.leg_retry_at = None
        seat.leg_channel = f"{AGENT_PREFIX}{seat.agent_id}-{self.run_id}{next(self._legs)}"
        if self.pbx_up:
            self._emit(m.CallAgent(seat.agent_id, seat.leg_channel, seat.bridge_id,
                                   seat.endpoint))
        else:    # placed by the resync when Asterisk is back
            seat.leg, seat.leg_channel = Leg.DOWN, None

    def _on_LegAnswered(self, ev: m.LegAnswered) -> None:
        seat = self.seats.get(ev.agent_id)
        if seat is None or seat.leg_channel != ev.channel_id:
            self._emit(m.Hangup(ev.channel_id, "a voice channel nobody waits for"))
            return
        seat.leg, seat.leg_failures = Leg.UP, 0
        self._emit(m.JoinBridge(seat.agent_id, ev.channel_id, seat.bridge_id))
        self._notify(seat.agent_id, "channel", channel="voice", state="connected")
        if seat.resume_ready and seat.machine.state is st.AgentState.NOT_READY:
            seat.resume_ready = False
            self._apply(seat, st.ReadyRequested())

    def _on_LegGone(self, ev: m.LegGone) -> None:
        seat = self.seats.get(ev.agent_id)
        if seat is None or seat.leg_channel != ev.channel_id:
            return      # an old leg's late news
        self._leg_lost(seat, ev.reason)

    def _leg_lost(self, seat: Seat, reason: str) -> None:
        was_up = seat.leg is Leg.UP
        seat.leg, seat.leg_channel = Leg.DOWN, None
        seat.leg_failures += 1
        backoff = min(self.limits.leg_backoff_max.total_seconds(),
                      0.5 * 2 ** min(seat.leg_failures - 1, 8))
        seat.leg_retry_at = self.now + timedelta(seconds=backoff)
        log.warning("agent %s: voice channel lost (%s); calling the phone again in %.1f s",
                    seat.login, reason, backoff)
        if was_up:
            self._notify(seat.agent_id, "channel", channel="voice", state="disconnected",
                         reason=reason)
        elif seat.leg_failures == 1:
            self._notify(seat.agent_id, "error", code="voice_channel",
                         message=f"{reason}; is the softphone registered? The dialer calls it "
                                 "again by itself")
        if seat.machine.state is st.AgentState.READY:
            seat.resume_ready = True
            self._apply(seat, st.NotReadyRequested("voice channel lost"))
        call = self.seat_call(seat.agent_id)
        if call is not None and call.phase is CallPhase.CONNECTED:
            self._hangup(call, "dialer", f"agent {seat.login}'s voice channel was lost")

    def _seat_timers(self, seat: Seat, now: datetime) -> None:
        outcome = seat.machine.handle_timer(now)
        if outcome is not None:
            self._after(seat, outcome)
        if seat.agent_id not in self.seats:
            return
        if seat.leg_retry_at is not None and seat.leg_retry_at <= now:
            self._call_agent(seat)
        if (seat.offer is not None and seat.offer_until is not None
                and seat.offer_until <= now and not seat.dialing_offer):
            self._notify(seat.agent_id, "offer_expired", offer=seat.offer.contact_id)
            self._drop_offer(seat, delay=None)
        if seat.wrap_until is not None and seat.wrap_until <= now and seat.wrap_attempt:
            attempt = seat.wrap_attempt
            self._store(m.SettleWithoutDisposition(
                attempt, now, "no disposition: the wrap-up time ran out"))
            self._notify(seat.agent_id, "disposition_timeout", attempt=attempt)
            self._end_wrap(seat, attempt, "")

    def _end_wrap(self, seat: Seat, attempt_id: int, code: str) -> None:
        seat.wrap_attempt = seat.wrap_contact = seat.wrap_until = seat.wrap_campaign = None
        self._apply(seat, st.DispositionSaved(str(attempt_id), code))

    def _drop_offer(self, seat: Seat, delay: timedelta | None) -> None:
        claim, seat.offer, seat.offer_until = seat.offer, None, None
        seat.offer_contact = {}
        if claim is None:
            return
        self._store(m.ReleaseContact(claim.contact_id, self.now,
                                     delay.total_seconds() if delay else None))
        if seat.machine.state in (st.AgentState.RESERVED, st.AgentState.LOGOUT_PENDING):
            self._apply(seat, st.ReservationReleased(seat.machine.call_id or ""))
