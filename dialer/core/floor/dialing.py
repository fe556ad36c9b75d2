"""The floor's dialing half: campaigns, pacing, claims, trunks, preview offers.

Part of `Floor` (a mixin, to keep each file readable): every pacing tick, each started campaign
asks for contacts (`Claim`) for its free agents (progressive, push preview; predictive while its
30-day abandon rate holds it back) or for as many calls as its pacer launches (predictive). The
database writer answers with `Claimed`; the contact's attempt is already stored, and the call is
originated through the campaign's first trunk with room (`Originate`). A call that meets a failing
trunk before anyone answers is dialed again through the next one.

An agent waiting for a claim is reserved for it in their machine (`claim-<ticket>`); the
reservation takes the attempt's id when the claim comes back (`CallAssigned`), so negotiated
logout holds for a call being claimed as for one ringing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dialer import pacing as pc
from dialer.core import agent_state as st
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.floor import messages as m
from dialer.core.floor.phases import CallPhase, CustomerCall
from dialer.core.floor.seats import FloorRefused, Leg, Seat
from dialer.core.results import CallFacts, CallResult
from dialer.core.trunk_faults import TrunkFault, fault_of

if TYPE_CHECKING:
    from dialer.core.floor.floor import Floor

log = logging.getLogger(__name__)


@dataclass
class Run:
    """A started (or paused) campaign."""

    info: Any                                   # dialer.db.campaigns.CampaignInfo
    pacer: pc.Pacer | None = None               # predictive campaigns
    hold: str | None = None                     # why predictive pacing holds back now
    in_flight: set[int] = field(default_factory=set)
    idle_until: datetime | None = None          # no contact was eligible: ask again after
    last_decision: str = ""


@dataclass(frozen=True)
class Pending:
    """A claim on its way."""

    campaign_id: int
    agent_id: int | None
    purpose: str                                # "dial", "offer", "preview"
    re: str | None = None
    more: tuple[int, ...] = ()                  # preview: the next campaigns to try


# The functions below are `Floor` methods (bound in its class body); `self` is the floor.

# -- campaigns -----------------------------------------------------------------------------
def _on_CampaignsRead(self: Floor, ev: m.CampaignsRead) -> None:
    self._reading = False
    for info in ev.campaigns:
        self.campaigns[info.id] = info
        run = self.runs.get(info.id)
        if info.status is CampaignStatus.STARTED and run is None:
            run = self.runs[info.id] = Run(info)
            if info.mode is DialMode.PREDICTIVE:
                run.pacer = ev.pacers.get(info.id) or self.make_pacer(info)
                for seat in self.seats.values():
                    if info.id in seat.campaigns:
                        run.pacer.observe(pc.AgentLoggedIn(seat.agent_id),
                                          self.now.timestamp())
            self._tell_campaign(info, "campaign_started")
        elif info.status not in (CampaignStatus.STARTED, CampaignStatus.PAUSED) and run:
            del self.runs[info.id]
            self._tell_campaign(info, "campaign_stopped")
        elif run is not None:
            run.info = info
    for cid, run in self.runs.items():
        hold = ev.holds.get(cid)
        if hold != run.hold and hold:
            log.warning("campaign %s: %s", run.info.name, hold)
        run.hold = hold


def _tell_campaign(self: Floor, info: Any, kind: str) -> None:
    for seat in self.seats.values():
        if info.id in seat.campaigns:
            self._notify(seat.agent_id, kind, campaign=self.campaign_view(info))


# -- pacing --------------------------------------------------------------------------------
def _pace(self: Floor, run: Run) -> None:
    info = run.info
    if info.status is not CampaignStatus.STARTED or info.mode is DialMode.PREVIEW:
        return
    if not self.pbx_up:
        run.last_decision = "not dialing: Asterisk is not connected"
        return
    if run.idle_until is not None and self.now < run.idle_until:
        return
    if info.mode is DialMode.PREDICTIVE and run.pacer is not None and run.hold is None:
        decision = run.pacer.decide(self.snapshot(run), self.now.timestamp())
        run.last_decision = decision.as_log()
        launch = decision.launch
        if launch > 0:
            room = self._trunk_room(run)
            if 0 < room < launch:
                run.last_decision += f"; trunks take {room} more: launching {room}"
            for _ in range(min(launch, max(room, 0))):
                self._claim(run, None, "dial")
        return
    # one call (or offer) per free agent, reserved for them
    purpose = "offer" if info.mode is DialMode.PUSH_PREVIEW else "dial"
    asked = 0
    while self._trunk_room(run) > 0 and (seat := self._free_agent(info.id)) is not None:
        self._claim(run, seat, purpose)
        asked += 1
    if asked:
        mode = "progressive" if info.mode is not DialMode.PUSH_PREVIEW else "push preview"
        hold = f" ({run.hold})" if run.hold else ""
        run.last_decision = f"{mode}{hold}: {asked} claimed for {asked} free ready agent(s); " \
                            f"{len(run.in_flight)} in flight"


def _claim(self: Floor, run: Run, seat: Seat | None, purpose: str, re: str | None = None,
           more: tuple[int, ...] = ()) -> None:
    ticket = next(self._tickets)
    self._claims[ticket] = Pending(run.info.id, seat.agent_id if seat else None, purpose,
                                   re, more)
    if seat is not None:
        seat.ticket = ticket
        if seat.machine.state is st.AgentState.READY:
            self._apply(seat, st.CallReserved(f"claim-{ticket}", self._logout_delay(seat)))
        else:
            self._apply(seat, st.CallAssigned(f"claim-{ticket}"))
    self._emit(m.Claim(ticket, run.info.id, seat.agent_id if seat else None, purpose))


def _pending_dials(self: Floor) -> int:
    return sum(1 for p in self._claims.values() if p.purpose == "dial")


def snapshot(self: Floor, run: Run) -> pc.Snapshot:
    """What a predictive pacer sees: the campaign's agents and its calls not yet with one."""
    agents = []
    for seat in self.seats.values():
        state = seat.machine.state
        if (run.info.id not in seat.campaigns or seat.leg is not Leg.UP
                or seat.machine.logout_requested):
            view = pc.AgentState.PAUSED
        elif state is st.AgentState.READY:
            view = (pc.AgentState.READY if seat.ticket is None and seat.offer is None
                    else pc.AgentState.TALKING)
        elif state in (st.AgentState.RESERVED, st.AgentState.ON_CALL):
            view = (pc.AgentState.TALKING if seat.machine.returns_to_pool
                    else pc.AgentState.PAUSED)
        elif state is st.AgentState.WRAP_UP:
            view = (pc.AgentState.WRAP_UP if seat.machine.returns_to_pool
                    else pc.AgentState.PAUSED)
        else:
            view = pc.AgentState.PAUSED
        agents.append(pc.AgentView(seat.agent_id, view, seat.since.timestamp()))
    calls = []
    for attempt_id in run.in_flight:
        call = self.calls.get(attempt_id)
        if call is None or call.agent_id is not None:
            continue
        launched = call.dialed_at.timestamp()
        if call.phase is CallPhase.WAITING and call.answered_at is not None:
            calls.append(pc.CallView(attempt_id, pc.CallState.QUEUED,
                                     call.answered_at.timestamp(), launched))
        elif call.phase in (CallPhase.DIALING, CallPhase.RINGING):
            calls.append(pc.CallView(attempt_id, pc.CallState.RINGING, launched, launched))
    for ticket, p in self._claims.items():
        if p.purpose == "dial" and p.campaign_id == run.info.id and p.agent_id is None:
            calls.append(pc.CallView(-ticket, pc.CallState.RINGING, self.now.timestamp(),
                                     self.now.timestamp()))
    return pc.Snapshot(agents, calls)


# -- claims come back ----------------------------------------------------------------------
def _on_Claimed(self: Floor, ev: m.Claimed) -> None:
    p = self._claims.pop(ev.ticket, None)
    if p is None:
        self._undo_claim(ev)
        return
    run = self.runs.get(p.campaign_id)
    seat = self.seats.get(p.agent_id) if p.agent_id is not None else None
    mine = (seat is not None and seat.ticket == ev.ticket
            and seat.machine.call_id == f"claim-{ev.ticket}")
    if seat is not None and seat.ticket == ev.ticket:
        seat.ticket = None
    if ev.claim is None:
        if run is not None:
            run.idle_until = self.now + self.limits.idle_after_empty
            if p.agent_id is not None:
                run.last_decision = (f"{run.info.mode.value}: a ready agent waits, but no "
                                     "contact is eligible now"
                                     + (f" ({ev.why})" if ev.why else ""))
        if p.purpose == "preview" and mine and p.more and p.more[0] in self.runs:
            assert seat is not None
            self._claim(self.runs[p.more[0]], seat, "preview", p.re, p.more[1:])
            return
        if mine:
            assert seat is not None
            self._apply(seat, st.ReservationReleased(f"claim-{ev.ticket}"))
        if p.purpose == "preview" and seat is not None:
            self._notify(seat.agent_id, "error", p.re, code="refused",
                         message="no record to preview now in your running preview "
                                 "campaigns")
        return
    if run is None or run.info.status is not CampaignStatus.STARTED:
        self._undo_claim(ev)
        if mine:
            assert seat is not None
            self._apply(seat, st.ReservationReleased(f"claim-{ev.ticket}"))
        return
    if p.purpose != "dial":
        self._offer(run, seat if mine else None, ev, push=p.purpose == "offer", re=p.re)
        return
    assert ev.attempt_id is not None
    target = seat if mine else None
    if target is None and p.agent_id is not None:
        target = self._free_agent(run.info.id)
        if target is None and run.info.mode is not DialMode.PREDICTIVE:
            log.info("attempt %s: its agent left before the dial; not dialed",
                     ev.attempt_id)
            self._undo_claim(ev)
            return
        if target is not None:
            self._claim_seat(target, f"claim-{ev.ticket}")
    self._start_call(run, ev.claim, ev.attempt_id, dict(ev.contact or {}), target)


def _claim_seat(self: Floor, seat: Seat, call_id: str) -> None:
    self._apply(seat, st.CallReserved(call_id, self._logout_delay(seat)))


def _undo_claim(self: Floor, ev: m.Claimed) -> None:
    if ev.attempt_id is not None:
        self._store(m.CancelAttempt(ev.attempt_id, self.now))
    elif ev.claim is not None:
        self._store(m.ReleaseContact(ev.claim.contact_id, self.now))


def _offer(self: Floor, run: Run, seat: Seat | None, ev: m.Claimed, push: bool,
           re: str | None) -> None:
    if seat is None or seat.machine.state is not st.AgentState.RESERVED:
        self._undo_claim(ev)
        if seat is not None and seat.machine.call_id == f"claim-{ev.ticket}":
            self._apply(seat, st.ReservationReleased(f"claim-{ev.ticket}"))
        return
    claim = ev.claim
    assert claim is not None
    seat.offer, seat.offer_contact = claim, dict(ev.contact or {})
    seat.offer_until = self.now + self.limits.offer_timeout
    self._apply(seat, st.CallAssigned(f"preview-{claim.contact_id}"))
    self._notify(seat.agent_id, "push_offer" if push else "preview_record", re,
                 offer=claim.contact_id, contact=seat.offer_contact,
                 campaign=claim.campaign_id)


# -- preview and push preview: the agent's answers -----------------------------------------
def _ask_preview_request(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    if seat.offer is not None or seat.ticket is not None or self.seat_call(seat.agent_id):
        raise FloorRefused("you already have a record; dial or skip it first")
    if seat.machine.state is not st.AgentState.READY:
        raise FloorRefused(f"you are {seat.machine.state.value}; go ready first")
    wanted = ev.args.get("campaign")
    order = [wanted] if wanted is not None else list(seat.campaigns)
    runs = [c for c in order if c in seat.campaigns and c in self.runs
            and self.runs[c].info.mode is DialMode.PREVIEW
            and self.runs[c].info.status is CampaignStatus.STARTED]
    if not runs:
        raise FloorRefused("no record to preview now in your running preview campaigns")
    self._claim(self.runs[runs[0]], seat, "preview", ev.re, tuple(runs[1:]))


def _ask_preview_dial(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    contact_id = _contact_arg(ev)
    claim = seat.offer
    if claim is None or claim.contact_id != contact_id:
        raise FloorRefused(f"record {contact_id} is not the one offered to you")
    if seat.dialing_offer:
        raise FloorRefused(f"record {contact_id} is being dialed already")
    run = self.runs.get(claim.campaign_id)
    if run is None:
        raise FloorRefused("the campaign is no longer running")
    if self._trunk_room(run) <= 0:
        order = self.trunks.order(run.info.trunk)
        raise FloorRefused("no trunk can take the call now (" + self.trunks.describe(
            order, self._in_use(), self.now.timestamp()) + "); try again in a moment")
    seat.dialing_offer = True
    self._emit(m.CreateAttempt(seat.agent_id, claim, ev.re))


_ask_push_accept = _ask_preview_dial


def _ask_preview_skip(self: Floor, seat: Seat, ev: m.AgentAsks) -> None:
    contact_id = _contact_arg(ev)
    if seat.offer is None or seat.offer.contact_id != contact_id or seat.dialing_offer:
        raise FloorRefused(f"record {contact_id} is not the one offered to you")
    self._drop_offer(seat, self.limits.skip_delay)


_ask_push_reject = _ask_preview_skip


def _on_AttemptCreated(self: Floor, ev: m.AttemptCreated) -> None:
    seat = self.seats.get(ev.agent_id)
    if seat is None or seat.offer is None or seat.offer.contact_id != ev.contact_id:
        if ev.attempt_id is not None:
            self._store(m.CancelAttempt(ev.attempt_id, self.now))
        return
    claim, contact = seat.offer, seat.offer_contact
    seat.offer, seat.offer_contact, seat.offer_until = None, {}, None
    seat.dialing_offer = False
    run = self.runs.get(claim.campaign_id)
    if ev.attempt_id is None or run is None:
        if ev.attempt_id is not None:
            self._store(m.CancelAttempt(ev.attempt_id, self.now))
        self._apply(seat, st.ReservationReleased(seat.machine.call_id or ""))
        why = (f"{claim.number} cannot be dialed now: {ev.refused}" if run is not None
               else "the campaign is no longer running")
        self._notify(seat.agent_id, "error", ev.re, code="refused", message=why)
        return
    self._start_call(run, claim, ev.attempt_id, contact, seat)
    self._notify(seat.agent_id, "ok", ev.re, request="preview_dial")


# -- the dial ------------------------------------------------------------------------------
def _start_call(self: Floor, run: Run, claim: Any, attempt_id: int,
                contact: dict[str, Any], seat: Seat | None) -> None:
    ring = max(15, int(run.info.ring_timeout.total_seconds()))
    call = CustomerCall(attempt_id, run.info.id, claim.number, claim.contact_id, contact,
                        self.now, ring, amd=bool(run.info.amd))
    self.calls[attempt_id] = call
    run.in_flight.add(attempt_id)
    if seat is not None:
        self._assign(call, seat)
        self._apply(seat, st.CallAssigned(str(attempt_id)))
    self._observe(run.info.id, pc.CallLaunched(attempt_id))
    self._originate(run, call)


def _originate(self: Floor, run: Run, call: CustomerCall) -> None:
    """Send the call out by the campaign's first trunk that has room and has not failed it;
    none left: the attempt fails (no trunk could carry it)."""
    trunk = self._next_trunk(run, call)
    if trunk is None:
        why = self.trunks.describe(self.trunks.order(run.info.trunk), self._in_use(),
                                   self.now.timestamp())
        log.warning("attempt %s: no trunk can carry it (%s)", call.attempt_id, why)
        self._finish(call, CallFacts(), CallResult.FAILED,
                     note=f"no trunk could carry the call: {why}")
        return
    call.trunk, call.originated = trunk, False
    self._emit(m.Originate(call.attempt_id, call.channel_id, call.number, trunk,
                           self.trunks.caller_id(trunk, run.info.caller_id),
                           call.ring_timeout, call.agent_id, tuple(call.tried)))


def _originate_failed(self: Floor, call: CustomerCall, reason: str) -> None:
    """Asterisk refused the channel at once: with qualify on, a trunk whose OPTIONS go
    unanswered is unreachable ("500 Allocation failed"); the next trunk may carry it."""
    trunk = call.trunk
    run = self.runs.get(call.campaign_id)
    if trunk is not None:
        self.trunks.fault(trunk, TrunkFault.UNREACHABLE, self.now.timestamp())
        call.tried.append(trunk)
    if run is not None and trunk is not None and self._next_trunk(run, call) is not None:
        log.warning("attempt %s: trunk %s refused the call (%s); dialing again through "
                    "the next", call.attempt_id, trunk, reason)
        self._originate(run, call)
        return
    log.warning("attempt %s: originate through %s failed: %s", call.attempt_id, trunk,
                reason)
    self._finish(call, CallFacts(), CallResult.FAILED,
                 note=f"originate through trunk {trunk} failed: {reason}")


def _failover(self: Floor, call: CustomerCall, ev: m.CustomerGone) -> bool:
    """A call that never answered because its trunk failed: mark the trunk and dial the same
    attempt through the next trunk (True), if the campaign has one."""
    if call.trunk is None:
        return False
    fault = (None if call.picked_up_at is not None or call.hung_up_by == "dialer"
             else fault_of(ev.cause, ev.tech_cause))
    if fault is None:
        self.trunks.carried(call.trunk)
        return False
    self.trunks.fault(call.trunk, fault, self.now.timestamp())
    run = self.runs.get(call.campaign_id)
    if run is None:
        return False
    failed = call.trunk
    call.tried.append(failed)
    nxt = self._next_trunk(run, call)
    how = f"{fault.value} through trunk {failed} (SIP {ev.tech_cause}, cause {ev.cause})"
    if nxt is None:     # with one trunk, usually the carrier's answer for this number
        log.info("attempt %s: %s; no other trunk to try", call.attempt_id, how)
        return False
    log.warning("attempt %s: %s; dialing again through %s", call.attempt_id, how, nxt)
    call.phase, call.ringing_at = CallPhase.DIALING, None
    self._originate(run, call)
    return True


# -- trunks --------------------------------------------------------------------------------
def _in_use(self: Floor, besides: CustomerCall | None = None) -> dict[str, int]:
    """Customer calls up (ringing or talking) per trunk, over every campaign, but for
    `besides` (a call choosing its next trunk)."""
    used: dict[str, int] = {}
    for call in self.calls.values():
        if call.trunk is not None and call is not besides:
            used[call.trunk] = used.get(call.trunk, 0) + 1
    return used


def _next_trunk(self: Floor, run: Run, call: CustomerCall) -> str | None:
    trunk: str | None = self.trunks.pick(self.trunks.order(run.info.trunk),
                                         self._in_use(call), self.now.timestamp(),
                                         exclude=call.tried)
    return trunk


def _trunk_room(self: Floor, run: Run) -> int:
    """How many more calls the campaign's trunks take now (claims on their way counted);
    says why in the decision if none."""
    order = self.trunks.order(run.info.trunk)
    unknown = self.trunks.unknown(order)
    if unknown and len(unknown) == len(order):
        run.last_decision = (f"not dialing: trunk {', '.join(unknown)} is not in the "
                             "trunks file (config/trunks.toml)")
        return 0
    in_use = self._in_use()
    room: int = self.trunks.free_channels(order, in_use, self.now.timestamp())
    room -= self._pending_dials()
    if room <= 0 and run.info.mode is not DialMode.PREVIEW:
        run.last_decision = ("not dialing: the campaign's trunks are full or failing ("
                             f"{self.trunks.describe(order, in_use, self.now.timestamp())})")
    return room


def _contact_arg(ev: m.AgentAsks) -> int:
    value = ev.args.get("contact", ev.args.get("offer"))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FloorRefused(f"{ev.request}: 'contact' must be a record id, got {value!r}") from None

