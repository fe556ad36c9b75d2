"""The floor's customer calls: each call's events by phase (originated, ringing, answered, machine
or fax verdict, bridged, the safe-harbor message, gone), how a call ends (`_finish`), and which
agent gets an answered customer (reserve, the longest-waiting customer for a newly ready agent).

Part of `Floor` (bound in its class body; `self` is the floor), like `dialing` and `requests`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dialer import pacing as pc
from dialer.core import agent_state as st
from dialer.core.floor import messages as m
from dialer.core.floor.phases import CallPhase, CustomerCall
from dialer.core.floor.seats import CUSTOMER_PREFIX, Leg, Seat
from dialer.core.results import (
    AmdStatus,
    AttemptPhase,
    CallFacts,
    CallResult,
    DialStatus,
    HangupSide,
    classify,
)

if TYPE_CHECKING:
    from dialer.core.floor.floor import Floor

log = logging.getLogger(__name__)


def _call_event(self: Floor, event: Any) -> None:
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


def _on_Originated(self: Floor, call: CustomerCall, phase: CallPhase, ev: m.Originated) -> None:
    call.originated = True
    detail: dict[str, Any] = {"trunk": call.trunk}
    if call.tried:
        detail["failed_over_from"] = list(call.tried)
    self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.ORIGINATED, self.now, detail,
                               call.agent_id, call.channel_id))


def _on_OriginateFailed(self: Floor, call: CustomerCall, phase: CallPhase,
                        ev: m.OriginateFailed) -> None:
    self._originate_failed(call, ev.reason)


def _on_CustomerRinging(self: Floor, call: CustomerCall, phase: CallPhase,
                        ev: m.CustomerRinging) -> None:
    call.phase = phase
    if call.ringing_at is None:
        call.ringing_at = self.now
        self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.RINGING, self.now))


def _on_CustomerAnswered(self: Floor, call: CustomerCall, phase: CallPhase,
                         ev: m.CustomerAnswered) -> None:
    call.phase = phase
    call.picked_up_at = self.now
    if call.amd:
        call.move(CallPhase.DETECTING)
        self._emit(m.DetectMachine(call.attempt_id, call.channel_id))
        return
    self._answered_live(call)


def _on_MachineVerdict(self: Floor, call: CustomerCall, phase: CallPhase,
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


def _on_FaxDetected(self: Floor, call: CustomerCall, phase: CallPhase, ev: m.FaxDetected) -> None:
    if call.fax or call.phase is CallPhase.ENDING:
        return
    call.fax = True
    log.info("attempt %s: a fax answered; hanging up", call.attempt_id)
    self._observe(call.campaign_id, pc.CallAnswered(call.attempt_id, pc.AnswerKind.MACHINE,
                                                    self._ring_s(call)))
    if call.phase is CallPhase.BRIDGING:
        return      # hung up once the bridge answers (a fax is nobody's call)
    self._hangup(call, "dialer", "fax machine")


def _ring_s(self: Floor, call: CustomerCall) -> float:
    return ((call.picked_up_at or self.now) - call.dialed_at).total_seconds()


def _answered_live(self: Floor, call: CustomerCall) -> None:
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


def _serve(self: Floor, call: CustomerCall) -> bool:
    """Give an answered, agentless call to a free agent (or a held one): True if bridged."""
    seat = self._free_agent(call.campaign_id) or self._held_agent(call.campaign_id)
    if seat is None:
        return False
    self._bridge(call, seat)        # first out: the reservation's audit row can wait
    self._reserve(seat, call)
    return True


def _bridge(self: Floor, call: CustomerCall, seat: Seat) -> None:
    call.move(CallPhase.BRIDGING)
    call.deadline = None
    self._emit(m.Bridge(call.attempt_id, seat.agent_id, call.channel_id, seat.bridge_id))


def _on_CustomerBridged(self: Floor, call: CustomerCall, phase: CallPhase,
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


def _on_BridgeFailed(self: Floor, call: CustomerCall, phase: CallPhase, ev: m.BridgeFailed) -> None:
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


def _message(self: Floor, call: CustomerCall, why: str) -> None:
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


def _on_MessageStarted(self: Floor, call: CustomerCall, phase: CallPhase,
                       ev: m.MessageStarted) -> None:
    call.phase = phase
    if call.message_started_at is None:
        call.message_started_at = self.now
        self.message_delays.append(
            (self.now - (call.answered_at or self.now)).total_seconds())


def _message_played(self: Floor, call: CustomerCall, how: str) -> None:
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


def _on_MessageFailed(self: Floor, call: CustomerCall, phase: CallPhase,
                      ev: m.MessageFailed) -> None:
    if call.phase is CallPhase.ENDING:
        return
    log.error("attempt %s: the safe-harbor message failed: %s", call.attempt_id, ev.reason)
    self._store(m.AttemptEvent(call.attempt_id, AttemptPhase.NOTE, self.now,
                               {"note": f"safe-harbor message failed: {ev.reason}"}))
    self._hangup(call, "dialer", "the message failed")


def _on_MessageFinished(self: Floor, call: CustomerCall, phase: CallPhase,
                        ev: m.MessageFinished) -> None:
    self._message_played(call, "to the end")
    if call.phase is not CallPhase.ENDING:
        self._hangup(call, "dialer", "the message was played")


def _hangup(self: Floor, call: CustomerCall, by: str, why: str) -> None:
    if call.phase in (CallPhase.ENDING, CallPhase.ENDED):
        return
    call.hung_up_by = call.hung_up_by or by
    call.move(CallPhase.ENDING)
    call.deadline = None
    self._emit(m.Hangup(call.channel_id, why))


def _on_CustomerGone(self: Floor, call: CustomerCall, phase: CallPhase, ev: m.CustomerGone) -> None:
    if ev.customer_hung_up and call.hung_up_by is None:
        call.hung_up_by = "customer"
    self._message_played(call, "cut short: the customer hung up")
    if self._failover(call, ev):
        return
    self._finish(call, self._facts(call, ev.cause, ev.tech_cause, ev.dial_status))


def _facts(self: Floor, call: CustomerCall, cause: int | None, tech: int | None,
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


def _finish(self: Floor, call: CustomerCall, facts: CallFacts, result: CallResult | None = None,
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


def _reserve(self: Floor, seat: Seat, call: CustomerCall) -> None:
    """`call` is now this agent's: reserved (a ready agent) or assigned (a held one)."""
    self._assign(call, seat)
    if seat.machine.state is st.AgentState.READY:
        self._apply(seat, st.CallReserved(str(call.attempt_id), self._logout_delay(seat)))
    else:
        seat.held = False
        self._apply(seat, st.CallAssigned(str(call.attempt_id)))


def _unreserve(self: Floor, call: CustomerCall, seat: Seat) -> None:
    self._assign(call, None)
    if (seat.machine.state in (st.AgentState.RESERVED, st.AgentState.LOGOUT_PENDING)
            and seat.machine.call_id == str(call.attempt_id)):
        self._apply(seat, st.ReservationReleased(str(call.attempt_id)))


def _give_waiting(self: Floor, seat: Seat) -> None:
    """An agent just became ready: the longest-waiting answered customer of their campaigns
    is theirs at once."""
    waiting = [c for c in self.calls.values() if c.phase is CallPhase.WAITING
               and c.campaign_id in seat.campaigns]
    if not waiting or seat.leg is not Leg.UP or not seat.machine.in_pool:
        return
    call = min(waiting, key=lambda c: c.answered_at or self.now)
    self._bridge(call, seat)
    self._reserve(seat, call)


def _free_agent(self: Floor, campaign_id: int) -> Seat | None:
    for seat in self.seats.values():
        if (campaign_id in seat.campaigns and seat.leg is Leg.UP and seat.machine.in_pool
                and seat.ticket is None and seat.offer is None
                and self.seat_call(seat.agent_id) is None):
            return seat
    return None


def _held_agent(self: Floor, campaign_id: int) -> Seat | None:
    for seat in self.seats.values():
        if (seat.held and campaign_id in seat.campaigns and seat.leg is Leg.UP
                and seat.machine.state is st.AgentState.LOGOUT_PENDING):
            return seat
    return None
