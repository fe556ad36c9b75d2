"""The floor's agents' requests: ready, not ready, logout (negotiated), hang-up, record edits,
dispositions, a lost link, and what happens to a call whose agent leaves before it connects.

Part of `Floor` (bound in its class body; `self` is the floor). An agent request that cannot be
done raises `FloorRefused` before anything changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from dialer import pacing as pc
from dialer.core import agent_state as st
from dialer.core.campaign import DialMode
from dialer.core.floor import messages as m
from dialer.core.floor.phases import CallPhase
from dialer.core.floor.seats import FloorRefused, Leg, Seat

if TYPE_CHECKING:
    from dialer.core.floor.floor import Floor


def _on_AgentAsks(self: Floor, ev: m.AgentAsks) -> None:
    seat = self._seat(ev.agent_id)
    getattr(self, "_ask_" + ev.request)(seat, ev)


def _ask_ready(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    if seat.leg is not Leg.UP:
        raise FloorRefused("your voice channel is not connected yet")
    if seat.wrap_attempt is not None:
        raise FloorRefused(f"pick a disposition for attempt {seat.wrap_attempt} first")
    self._apply(seat, st.ReadyRequested())


def _ask_not_ready(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    seat.resume_ready = False
    self._apply(seat, st.NotReadyRequested(str(ev.args.get("reason") or "")))


def _ask_logout(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    seat.resume_ready = False
    if seat.offer is not None and not seat.dialing_offer:
        self._drop_offer(seat, delay=None)
    if seat.machine.state is st.AgentState.READY and self._counted_on(seat):
        # predictive: calls launched counting on this agent still ring; the agent is held
        # for them until they end or the deadline passes (the seed's negotiated logout)
        seat.held = True
        self._apply(seat, st.CallReserved(f"held-{seat.agent_id}",
                                          self._logout_delay(seat)))
    self._apply(seat, st.LogoutRequested())


def _ask_hangup(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    call = self.seat_call(seat.agent_id)
    if call is None or call.phase is not CallPhase.CONNECTED:
        raise FloorRefused("you are not on a call")
    self._hangup(call, "agent", f"agent {seat.login} hung up")


def _ask_record_update(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    contact_id = ev.args.get("contact")
    fields = ev.args.get("fields")
    call = self.seat_call(seat.agent_id)
    allowed = {call.contact_id} if call else set()
    if seat.offer is not None:
        allowed.add(seat.offer.contact_id)
    if seat.wrap_contact is not None:
        allowed.add(seat.wrap_contact)
    if contact_id not in allowed:
        raise FloorRefused(f"record {contact_id} is not yours to edit now")
    if not isinstance(fields, dict):
        raise FloorRefused("record_update: 'fields' must be an object")
    self._store(m.UpdateRecord(contact_id, dict(fields)))


def _on_DispositionGiven(self: Floor, ev: m.DispositionGiven) -> None:
    seat = self._seat(ev.agent_id)
    if seat.wrap_attempt != ev.attempt_id:
        raise FloorRefused(f"attempt {ev.attempt_id} is not waiting for your disposition")
    info = self.campaigns.get(seat.wrap_campaign) if seat.wrap_campaign else None
    codes = {c for c, _label, _final in info.dispositions} if info else set()
    if codes and ev.code not in codes:
        raise FloorRefused(f"unknown disposition code {ev.code!r}; this campaign has "
                           f"{', '.join(sorted(codes))}")
    if ev.callback_at is not None and ev.callback_at.tzinfo is None:
        raise FloorRefused("callback time needs a time zone (e.g. 2026-12-03T15:00+01:00)")
    self._store(m.SaveDisposition(seat.agent_id, ev.attempt_id, ev.code, self.now, ev.note,
                                  ev.callback_at, ev.personal, ev.re))
    self._end_wrap(seat, ev.attempt_id, ev.code)


def _on_LinkLost(self: Floor, ev: m.LinkLost) -> None:
    seat = self.seats.get(ev.agent_id)
    if seat is None:
        return
    if seat.offer is not None and not seat.dialing_offer:
        claim, seat.offer = seat.offer, None
        self._store(m.ReleaseContact(claim.contact_id, self.now))
    if seat.wrap_attempt is not None:
        self._store(m.SettleWithoutDisposition(
            seat.wrap_attempt, self.now, "no disposition: the agent's session was lost"))
        seat.wrap_attempt = seat.wrap_contact = None
    outcome = seat.machine.handle(st.SessionLost(), self.now)
    self._after(seat, outcome)
    if seat.machine.state is st.AgentState.LOGGED_OUT and self.seats.get(ev.agent_id):
        self._logged_out(seat)


def _logged_out(self: Floor, seat: Seat) -> None:
    if self.seats.pop(seat.agent_id, None) is None:
        return
    self._observe(seat.campaigns, pc.AgentLoggedOut(seat.agent_id))
    self._notify(seat.agent_id, "logout_authorized")
    if seat.leg_channel is not None:
        self._emit(m.Hangup(seat.leg_channel, f"agent {seat.login} logged out"))
    self._emit(m.DropBridge(seat.bridge_id))


def _logout_delay(self: Floor, seat: Seat) -> timedelta:
    delays = [self.campaigns[c].max_logout_delay for c in seat.campaigns
              if c in self.campaigns]
    return max(delays, default=st.DEFAULT_MAX_LOGOUT_DELAY)


def _counted_on(self: Floor, seat: Seat) -> bool:
    """Whether a predictive campaign of this agent has calls still ringing with no agent:
    the pacer launched them counting on the campaign's ready agents."""
    for call in self.calls.values():
        run = self.runs.get(call.campaign_id)
        if (call.agent_id is None and call.campaign_id in seat.campaigns
                and call.phase in (CallPhase.DIALING, CallPhase.RINGING)
                and run is not None and run.info.mode is DialMode.PREDICTIVE):
            return True
    return False


def _release_held(self: Floor) -> None:
    """Held agents whose campaigns have nothing ringing for them any more: logout now."""
    for seat in list(self.seats.values()):
        if (seat.held and seat.machine.state is st.AgentState.LOGOUT_PENDING
                and self.seat_call(seat.agent_id) is None and not self._counted_on(seat)):
            seat.held = False
            self._apply(seat, st.ReservationReleased(seat.machine.call_id or ""))


def _reroute(self: Floor, seat: Seat) -> None:
    """The logout deadline passed with a call still on its way to `seat`: another ready
    agent of the campaign takes it, or it waits for one when answered (then the message)."""
    seat.held = False
    call = self.seat_call(seat.agent_id)
    if call is None:
        return
    self._assign(call, None)
    other = self._free_agent(call.campaign_id)
    if other is not None:
        self._reserve(other, call)
    elif call.phase is CallPhase.BRIDGING:
        pass   # already joining this agent's bridge: the bridge answer settles it
