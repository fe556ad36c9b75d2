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
from dialer.core.floor import dialing, requests, resync
from dialer.core.floor import messages as m
from dialer.core.floor.dialing import Pending, Run
from dialer.core.floor.phases import CALL_EVENTS, CallPhase, CustomerCall
from dialer.core.floor.seats import (
    AGENT_PREFIX,
    CUSTOMER_PREFIX,
    FloorRefused,
    Leg,
    Limits,
    Seat,
)
from dialer.core.jurisdiction import pacer_guard
from dialer.core.results import (
    AmdStatus,
    AttemptPhase,
    CallFacts,
    CallResult,
    DialStatus,
    HangupSide,
    classify,
)

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

    # ------------------------------------------------------------------ customers
    def _call_event(self, event: Any) -> None:
        """A customer call's event: its handler gets the call and the phase the table allows
        (CallPhaseError, nothing changed, if it allows none); a call the floor does not know
        is a late word about a finished call (or an earlier run's leftover answering: hung up)."""
        call = self.calls.get(event.attempt_id)
        if call is None:
            if isinstance(event, m.CustomerAnswered):
                self._emit(m.Hangup(f"{CUSTOMER_PREFIX}{event.attempt_id}",
                                    "a call nobody waits for"))
            return
        phase = call.check(event)
        getattr(self, "_on_" + type(event).__name__)(call, phase, event)

    def _on_Originated(self, call: CustomerCall, phase: CallPhase, ev: m.Originated) -> None:
        call.originated = True
        detail: dict[str, Any] = {"trunk": call.trunk}
        if call.tried:
            detail["failed_over_from"] = list(call.tried)
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.ORIGINATED, self.now, detail,
                                   call.agent_id, call.channel_id))

    def _on_OriginateFailed(self, call: CustomerCall, phase: CallPhase,
                            ev: m.OriginateFailed) -> None:
        self._originate_failed(call, ev.reason)

    def _on_CustomerRinging(self, call: CustomerCall, phase: CallPhase,
                            ev: m.CustomerRinging) -> None:
        call.phase = phase
        if call.ringing_at is None:
            call.ringing_at = self.now
            self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.RINGING, self.now))

    def _on_CustomerAnswered(self, call: CustomerCall, phase: CallPhase,
                             ev: m.CustomerAnswered) -> None:
        call.phase = phase
        call.picked_up_at = self.now
        if call.amd:
            call.move(CallPhase.DETECTING)
            self._emit(m.DetectMachine(call.attempt_id, call.channel_id))
            return
        self._answered_live(call)

    def _on_MachineVerdict(self, call: CustomerCall, phase: CallPhase,
                           ev: m.MachineVerdict) -> None:
        if call.phase is CallPhase.ENDING:
            return
        call.phase = phase
        call.amd_status = ev.status or "NOTSURE"
        took = (self.now - (call.picked_up_at or self.now)).total_seconds()
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.AMD_DONE, self.now,
                                   {"status": call.amd_status, "cause": ev.cause,
                                    "amd_ms": round(1000 * took)}))
        if call.amd_status in ("MACHINE", "HANGUP"):
            if call.amd_status == "MACHINE":
                self._observe(call.campaign_id, pc.CallAnswered(
                    call.attempt_id, pc.AnswerKind.MACHINE, self._ring_s(call)))
            self._hangup(call, "dialer", f"answering machine ({ev.cause})")
            return
        self._answered_live(call)

    def _on_FaxDetected(self, call: CustomerCall, phase: CallPhase, ev: m.FaxDetected) -> None:
        if call.fax or call.phase is CallPhase.ENDING:
            return
        call.fax = True
        log.info("attempt %s: a fax answered; hanging up", call.attempt_id)
        self._observe(call.campaign_id, pc.CallAnswered(call.attempt_id, pc.AnswerKind.MACHINE,
                                                        self._ring_s(call)))
        if call.phase is CallPhase.BRIDGING:
            return      # hung up once the bridge answers (a fax is nobody's call)
        self._hangup(call, "dialer", "fax machine")

    def _ring_s(self, call: CustomerCall) -> float:
        return ((call.picked_up_at or self.now) - call.dialed_at).total_seconds()

    def _answered_live(self, call: CustomerCall) -> None:
        """A person answered: to the reserved agent's bridge at once, or any free agent's, or
        wait (at most until the message must be decided)."""
        call.answered_at = self.now
        self._observe(call.campaign_id, pc.CallAnswered(call.attempt_id, pc.AnswerKind.LIVE,
                                                        self._ring_s(call)))
        seat = self.seats.get(call.agent_id) if call.agent_id is not None else None
        if seat is not None and seat.leg is Leg.UP:
            self._bridge(call, seat)
            return
        if seat is not None:    # its agent lost the voice channel: someone else, or wait
            self._unreserve(call, seat)
        if self._serve(call):
            return
        call.move(CallPhase.WAITING)
        call.deadline = call.answered_at + self.limits.decide_after

    def _serve(self, call: CustomerCall) -> bool:
        """Give an answered, agentless call to a free agent (or a held one): True if bridged."""
        seat = self._free_agent(call.campaign_id) or self._held_agent(call.campaign_id)
        if seat is None:
            return False
        self._bridge(call, seat)        # first out: the reservation's audit row can wait
        self._reserve(seat, call)
        return True

    def _bridge(self, call: CustomerCall, seat: Seat) -> None:
        call.move(CallPhase.BRIDGING)
        call.deadline = None
        self._emit(m.Bridge(call.attempt_id, seat.agent_id, call.channel_id, seat.bridge_id))

    def _on_CustomerBridged(self, call: CustomerCall, phase: CallPhase,
                            ev: m.CustomerBridged) -> None:
        seat = self.seats.get(ev.agent_id)
        if call.phase is CallPhase.ENDING or seat is None or call.agent_id != ev.agent_id:
            call.phase = phase
            if call.phase is not CallPhase.ENDING:
                call.move(CallPhase.ENDING)
            self._emit(m.Hangup(call.channel_id, "bridged to an agent who is gone"))
            return
        call.phase = phase
        if call.fax:
            self._hangup(call, "dialer", "fax machine")
            return
        call.connected_at = self.now
        answered = call.answered_at or self.now
        latency = (self.now - answered).total_seconds()
        self.connect_latencies.append(latency)
        self._observe(call.campaign_id, pc.CallConnected(call.attempt_id, ev.agent_id, latency))
        self._apply(seat, st.CallConnected(str(call.attempt_id)))
        self._notify(seat.agent_id, "call_connected", attempt=call.attempt_id,
                     campaign=call.campaign_id, contact=dict(call.contact))
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.ANSWERED, answered))
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.BRIDGED, self.now,
                                   {"connect_ms": round(1000 * latency, 2)}, ev.agent_id))

    def _on_BridgeFailed(self, call: CustomerCall, phase: CallPhase, ev: m.BridgeFailed) -> None:
        if call.phase is CallPhase.ENDING:
            return
        call.phase = phase
        log.warning("attempt %s: bridging to agent %s failed (%s)", call.attempt_id,
                    ev.agent_id, ev.reason)
        seat = self.seats.get(ev.agent_id)
        if seat is not None and call.agent_id == ev.agent_id:
            self._unreserve(call, seat)
            if seat.leg is Leg.UP:    # its bridge is gone: the voice channel is placed again
                if seat.leg_channel:
                    self._emit(m.Hangup(seat.leg_channel, "its bridge is gone"))
                self._leg_lost(seat, f"bridge failed: {ev.reason}")
        if not self._serve(call):
            self._message(call, f"bridging failed: {ev.reason}")

    def _message(self, call: CustomerCall, why: str) -> None:
        """No agent in time for an answered customer: the safe-harbor message, then hang up."""
        if call.agent_id is not None:
            seat = self.seats.get(call.agent_id)
            if seat is not None:
                self._unreserve(call, seat)
        call.move(CallPhase.MESSAGE)
        call.deadline = None
        answered = call.answered_at or self.now
        self._observe(call.campaign_id, pc.CallAbandoned(
            call.attempt_id, (self.now - answered).total_seconds()))
        log.info("attempt %s: abandoned (%s); playing the message", call.attempt_id, why)
        info = self.campaigns.get(call.campaign_id)
        self._emit(m.PlayMessage(call.attempt_id, call.channel_id, self.message_for(info)))

    def _on_MessageStarted(self, call: CustomerCall, phase: CallPhase,
                           ev: m.MessageStarted) -> None:
        call.phase = phase
        if call.message_started_at is None:
            call.message_started_at = self.now
            self.message_delays.append(
                (self.now - (call.answered_at or self.now)).total_seconds())

    def _message_played(self, call: CustomerCall, how: str) -> None:
        """Store the message as played (at its start), once: it finished, or the customer hung
        up while hearing it."""
        if call.message_started_at is None or call.message_stored:
            return
        call.message_stored = True
        after = (call.message_started_at - (call.answered_at or call.message_started_at))
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.SAFE_HARBOR,
                                   call.message_started_at,
                                   {"after_answer_ms": round(1000 * after.total_seconds()),
                                    "played": how}))

    def _on_MessageFailed(self, call: CustomerCall, phase: CallPhase, ev: m.MessageFailed) -> None:
        if call.phase is CallPhase.ENDING:
            return
        log.error("attempt %s: the safe-harbor message failed: %s", call.attempt_id, ev.reason)
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.NOTE, self.now,
                                   {"note": f"safe-harbor message failed: {ev.reason}"}))
        self._hangup(call, "dialer", "the message failed")

    def _on_MessageFinished(self, call: CustomerCall, phase: CallPhase,
                            ev: m.MessageFinished) -> None:
        self._message_played(call, "to the end")
        if call.phase is not CallPhase.ENDING:
            self._hangup(call, "dialer", "the message was played")

    def _hangup(self, call: CustomerCall, by: str, why: str) -> None:
        if call.phase in (CallPhase.ENDING, CallPhase.ENDED):
            return
        call.hung_up_by = call.hung_up_by or by
        call.move(CallPhase.ENDING)
        call.deadline = None
        self._emit(m.Hangup(call.channel_id, why))

    def _on_CustomerGone(self, call: CustomerCall, phase: CallPhase, ev: m.CustomerGone) -> None:
        if ev.customer_hung_up and call.hung_up_by is None:
            call.hung_up_by = "customer"
        self._message_played(call, "cut short: the customer hung up")
        if self._failover(call, ev):
            return
        self._finish(call, self._facts(call, ev.cause, ev.tech_cause, ev.dial_status))

    def _facts(self, call: CustomerCall, cause: int | None, tech: int | None,
               dial_status: str) -> CallFacts:
        dial = None
        if dial_status:
            try:
                dial = DialStatus(dial_status)
            except ValueError:
                dial = None
        side = {"customer": HangupSide.CUSTOMER, "agent": HangupSide.AGENT,
                "dialer": HangupSide.DIALER}.get(call.hung_up_by or "")
        return CallFacts(sip_code=tech, hangup_cause=cause, dial_status=dial,
                         answered=call.picked_up_at is not None,
                         agent_bridged=call.connected_at is not None,
                         safe_harbor_played=call.message_stored,
                         amd=AmdStatus.parse(call.amd_status), hung_up_by=side,
                         fax_detected=call.fax,
                         elapsed=self.now - call.dialed_at,
                         ring_timeout=timedelta(seconds=call.ring_timeout))

    def _finish(self, call: CustomerCall, facts: CallFacts, result: CallResult | None = None,
                note: str | None = None) -> None:
        """The call is over: classify and store it, free or wrap up its agent."""
        result = result or classify(facts)
        call.phase = CallPhase.ENDED
        self.calls.pop(call.attempt_id, None)
        run = self.runs.get(call.campaign_id)
        if run is not None:
            run.in_flight.discard(call.attempt_id)
        connected = call.connected_at is not None
        if call.picked_up_at is not None and call.answered_at is None and not connected:
            self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.ANSWERED,
                                       call.picked_up_at))
        if not facts.answered:
            reason = (pc.FailReason.NO_ANSWER if result in (CallResult.NO_ANSWER,
                                                            CallResult.HUNG_UP_RINGING)
                      else pc.FailReason.BUSY)
            self._observe(call.campaign_id, pc.CallFailed(
                call.attempt_id, reason, (self.now - call.dialed_at).total_seconds()))
        elif connected and call.agent_id is not None and call.connected_at is not None:
            self._observe(call.campaign_id, pc.TalkEnded(
                call.agent_id, (self.now - call.connected_at).total_seconds()))
        self._store(m.FinishAttempt(call.attempt_id, result, self.now, facts,
                                    connected and not call.orphaned and not call.fax, note))
        seat = self.seats.get(call.agent_id) if call.agent_id is not None else None
        self._assign(call, None)
        if seat is not None:
            if connected and call.fax:     # the agent heard a fax: no work to record
                self._apply(seat, st.CallEnded(str(call.attempt_id)))
                self._apply(seat, st.DispositionSaved(str(call.attempt_id), ""))
                self._notify(seat.agent_id, "call_ended", attempt=call.attempt_id,
                             result=result.value, disposition_required=False)
            elif connected and not call.orphaned:
                seat.wrap_attempt, seat.wrap_contact = call.attempt_id, call.contact_id
                seat.wrap_campaign = call.campaign_id
                seat.wrap_since = self.now
                seat.wrap_until = self.now + self.limits.wrap_timeout
                self._apply(seat, st.CallEnded(str(call.attempt_id)))
                self._notify(seat.agent_id, "call_ended", attempt=call.attempt_id,
                             result=result.value, disposition_required=True)
            else:
                self._notify(seat.agent_id, "call_ended", attempt=call.attempt_id,
                             result=result.value, disposition_required=False)
                if seat.machine.state in (st.AgentState.RESERVED,
                                          st.AgentState.LOGOUT_PENDING):
                    self._apply(seat, st.ReservationReleased(str(call.attempt_id)))
        self._release_held()

    def _reserve(self, seat: Seat, call: CustomerCall) -> None:
        """`call` is now this agent's: reserved (a ready agent) or assigned (a held one)."""
        self._assign(call, seat)
        if seat.machine.state is st.AgentState.READY:
            self._apply(seat, st.CallReserved(str(call.attempt_id), self._logout_delay(seat)))
        else:
            seat.held = False
            self._apply(seat, st.CallAssigned(str(call.attempt_id)))

    def _unreserve(self, call: CustomerCall, seat: Seat) -> None:
        self._assign(call, None)
        if (seat.machine.state in (st.AgentState.RESERVED, st.AgentState.LOGOUT_PENDING)
                and seat.machine.call_id == str(call.attempt_id)):
            self._apply(seat, st.ReservationReleased(str(call.attempt_id)))

    def _give_waiting(self, seat: Seat) -> None:
        """An agent just became ready: the longest-waiting answered customer of their campaigns
        is theirs at once."""
        waiting = [c for c in self.calls.values() if c.phase is CallPhase.WAITING
                   and c.campaign_id in seat.campaigns]
        if not waiting or seat.leg is not Leg.UP or not seat.machine.in_pool:
            return
        call = min(waiting, key=lambda c: c.answered_at or self.now)
        self._bridge(call, seat)
        self._reserve(seat, call)

    def _free_agent(self, campaign_id: int) -> Seat | None:
        for seat in self.seats.values():
            if (campaign_id in seat.campaigns and seat.leg is Leg.UP and seat.machine.in_pool
                    and seat.ticket is None and seat.offer is None
                    and self.seat_call(seat.agent_id) is None):
                return seat
        return None

    def _held_agent(self, campaign_id: int) -> Seat | None:
        for seat in self.seats.values():
            if (seat.held and campaign_id in seat.campaigns and seat.leg is Leg.UP
                    and seat.machine.state is st.AgentState.LOGOUT_PENDING):
                return seat
        return None

    # ------------------------------------------------------------------ resync
