"""The dialer service: agent sessions, campaigns and the call path, tied together.

One asyncio process. `Engine` owns the logged-in agents (one `AgentMachine` each, the dialer being
the authority on agent state), the running campaigns, and the calls in flight. It listens to
`CallControl` (ARI) and to the agent link (WebSocket, `dialer.service.link`), and stores every
attempt, event and disposition through `dialer.db.repository`, which commits before returning:
nothing is acknowledged to an agent before it is stored.

Call path (progressive, push preview and preview share it from the dial on):

    claim contact + create attempt (committed) -> reserve the agent -> originate through the trunk
    customer answers -> bridged into the reserved agent's bridge at once (no DB wait before it)
                     -> or, no agent: abandoned, the identification message, hang up
    hang-up -> result classified (SIP code, cause) and stored -> agent to wrap-up (disposition)
              or, never connected, back to ready
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dialer import pacing as pc
from dialer.ari import AriClient, AriError
from dialer.core import agent_state as st
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.results import (
    AmdStatus,
    AttemptPhase,
    CallFacts,
    CallResult,
    DialStatus,
    classify,
)
from dialer.db import gate
from dialer.db import repository as repo
from dialer.db.agents import AgentInfo, log_agent_transition
from dialer.db.campaigns import CampaignInfo, get_campaign, list_campaigns
from dialer.db.database import Database
from dialer.service.calls import QUEUE, CallControl, CustomerEnd
from dialer.service.trunk_use import LiveTrunks
from dialer.trunks import TrunkFault, fault_of

log = logging.getLogger(__name__)

# A customer who answers must hear an agent within this time, else the call is abandoned.
CONNECT_LIMIT = timedelta(seconds=2)
TICK_SECONDS = 0.2
# A record an agent skips or rejects comes back to the list after this (no attempt is counted).
SKIP_DELAY = timedelta(minutes=30)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """Where an agent's messages go (the WebSocket session); tests and bots may plug in."""

    def send(self, kind: str, re: str | None = None, **fields: Any) -> None:
        raise NotImplementedError


@dataclass
class Call:
    """A customer call in flight, from the dial to the disposition."""

    attempt_id: int
    claim: repo.Claim
    campaign_id: int
    agent_id: int | None
    connected: bool = False
    abandoned: bool = False
    ended: bool = False
    orphaned: bool = False     # its agent's session was lost while connected: no disposition
    ringing: bool = False
    dialed_at: float = 0.0
    answered_at: float | None = None
    queued: bool = False        # predictive: answered, waiting (at most 2 s) for an agent
    talk_started: float | None = None
    trunk: str | None = None    # the trunk the customer call leaves by (now)
    tried: list[str] = field(default_factory=list)   # trunks that failed this attempt


@dataclass
class AgentSession:
    info: AgentInfo
    machine: st.AgentMachine
    outbox: Outbox
    campaigns: list[int]
    endpoint: str
    leg_up: bool = False
    preview: repo.Claim | None = None      # a record shown to the agent (preview / push offer)
    call: Call | None = None               # the call reserved for / connected to the agent
    wrap_attempt: int | None = None        # the attempt awaiting the agent's disposition
    wrap_contact: int | None = None        # its contact (the agent may still edit the record)
    logout_timer: asyncio.TimerHandle | None = None
    reserved_since: float = 0.0
    state_since: float = 0.0
    wrap_since: float | None = None


@dataclass
class CampaignRun:
    info: CampaignInfo
    in_flight: set[int] = field(default_factory=set)   # attempt ids
    exhausted_at: float | None = None
    last_decision: str = ""                             # the last pacing decision, in words
    pacer: pc.Pacer | None = None                       # predictive campaigns


class Engine:
    def __init__(self, db: Database, ari: AriClient, trunks: LiveTrunks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ari = ari
        self.trunks = trunks
        self.clock = clock
        self.calls = CallControl(ari, self, clock=clock)
        self.agents: dict[int, AgentSession] = {}
        self.campaigns: dict[int, CampaignRun] = {}
        self.by_attempt: dict[int, Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connect_latencies: list[float] = []
        self.recovery: repo.RecoveryReport | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.recovery = repo.recover_after_crash(self.db, utcnow())
        if self.recovery.changed:
            log.warning("recovered after a stop: %s", self.recovery)
        self._spawn(self.calls.run())
        await self.calls.wait_connected()
        for info in list_campaigns(self.db):
            if info.status is CampaignStatus.STARTED:
                self.campaigns[info.id] = self._new_run(info)
        self._spawn(self._pacing_loop())

    def _new_run(self, info: CampaignInfo) -> CampaignRun:
        run = CampaignRun(info)
        if info.mode is DialMode.PREDICTIVE:
            run.pacer = pc.create_pacer("predictive", cap=info.abandon_cap,
                                        connect_limit=CONNECT_LIMIT.total_seconds())
            for s in self.agents.values():
                if info.id in s.campaigns:
                    run.pacer.observe(pc.AgentLoggedIn(s.info.id), self.clock())
        return run

    def _observe(self, campaign_ids: list[int] | int, event: pc.PacingEvent) -> None:
        """Tell the predictive pacers of these campaigns a fact."""
        for cid in [campaign_ids] if isinstance(campaign_ids, int) else campaign_ids:
            run = self.campaigns.get(cid)
            if run is not None and run.pacer is not None:
                run.pacer.observe(event, self.clock())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for agent_id in list(self.agents):
            await self.calls.stop_agent_leg(agent_id)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task failed", exc_info=task.exception())

    # ------------------------------------------------------------------ campaigns
    def campaign_started(self, campaign_id: int) -> None:
        info = get_campaign(self.db, campaign_id)
        self.campaigns[campaign_id] = self._new_run(info)
        for s in self.agents.values():
            if campaign_id in s.campaigns:
                s.outbox.send("campaign_started", campaign=self._campaign_view(info))

    def campaign_stopped(self, campaign_id: int) -> None:
        run = self.campaigns.pop(campaign_id, None)
        if run is None:
            return
        for s in self.agents.values():
            if campaign_id in s.campaigns:
                s.outbox.send("campaign_stopped", campaign=self._campaign_view(run.info))

    @staticmethod
    def _campaign_view(info: CampaignInfo) -> dict[str, Any]:
        return {"id": info.id, "name": info.name, "mode": info.mode.value,
                "status": info.status.value.capitalize(),
                "dispositions": [{"code": c, "label": label, "final": final}
                                 for c, label, final in info.dispositions]}

    def my_campaigns(self, s: AgentSession) -> list[dict[str, Any]]:
        views = []
        for cid in s.campaigns:
            run = self.campaigns.get(cid)
            info = run.info if run else get_campaign(self.db, cid)
            if info.status in (CampaignStatus.STARTED, CampaignStatus.PAUSED):
                views.append(self._campaign_view(info))
        return views

    # ------------------------------------------------------------------ agent sessions
    def _apply(self, s: AgentSession, event: st.Event) -> st.Outcome:
        """Feed the agent's machine, store the audit record, tell the agent, carry out effects."""
        now = utcnow()
        outcome = s.machine.handle(event, now)
        self._after(s, outcome, now)
        return outcome

    def _after(self, s: AgentSession, outcome: st.Outcome, now: datetime) -> None:
        log_agent_transition(self.db, s.info.id, outcome.audit)
        if outcome.audit.old is not outcome.audit.new:
            s.state_since = self.clock()
            if outcome.audit.old is st.AgentState.WRAP_UP and s.wrap_since is not None:
                self._observe(s.campaigns, pc.WrapUpEnded(s.info.id,
                                                          self.clock() - s.wrap_since))
                s.wrap_since = None
            if outcome.audit.new is st.AgentState.READY:
                self._give_queued(s)
        self._send_state(s, now)
        for effect in outcome.effects:
            if isinstance(effect, st.ShowLogoutCountdown):
                remaining = (effect.deadline - now).total_seconds()
                s.outbox.send("logout_pending", deadline=effect.deadline.isoformat(),
                              remaining_s=round(remaining, 1))
                if s.logout_timer is not None:
                    s.logout_timer.cancel()
                s.logout_timer = asyncio.get_running_loop().call_later(
                    max(0.0, remaining), self._logout_deadline, s.info.id)
            elif isinstance(effect, st.RerouteCall):
                self._reroute(s)
            elif isinstance(effect, st.AuthorizeLogout):
                self._logged_out(s)

    def _send_state(self, s: AgentSession, now: datetime) -> None:
        fields: dict[str, Any] = {"state": s.machine.state.value}
        if s.machine.not_ready_reason:
            fields["reason"] = s.machine.not_ready_reason
        remaining = s.machine.remaining(now)
        if remaining is not None:
            fields["logout_remaining_s"] = round(remaining.total_seconds(), 1)
        s.outbox.send("state", **fields)

    def login(self, info: AgentInfo, outbox: Outbox, campaign_ids: list[int]) -> AgentSession:
        if info.id in self.agents:
            raise repo.RepositoryError(f"agent {info.login} is already logged in elsewhere")
        endpoint = info.sip_endpoint or f"PJSIP/{info.login}"
        s = AgentSession(info, st.AgentMachine(str(info.id)), outbox, campaign_ids, endpoint)
        self.agents[info.id] = s
        self._apply(s, st.LoginSucceeded())
        self._observe(campaign_ids, pc.AgentLoggedIn(info.id))
        self._spawn(self._start_leg(s))
        return s

    async def _start_leg(self, s: AgentSession) -> None:
        try:
            await self.calls.start_agent_leg(s.info.id, s.endpoint)
        except AriError as exc:
            s.outbox.send("error", code="voice_channel",
                          message=f"the dialer cannot call your phone ({s.endpoint}): {exc}; "
                                  "is the softphone registered?")

    def agent_leg_up(self, agent_id: int) -> None:
        s = self.agents.get(agent_id)
        if s is None:
            self._spawn(self.calls.stop_agent_leg(agent_id))
            return
        s.leg_up = True
        s.outbox.send("channel", channel="voice", state="connected")

    def agent_leg_down(self, agent_id: int, cause: int | None) -> None:
        s = self.agents.get(agent_id)
        if s is None:
            return
        s.leg_up = False
        s.outbox.send("channel", channel="voice", state="disconnected", cause=cause)
        if s.machine.state is st.AgentState.READY:
            self._apply(s, st.NotReadyRequested("voice channel lost"))

    def ready(self, s: AgentSession) -> None:
        if not s.leg_up:
            raise repo.RepositoryError("your voice channel is not connected yet")
        if s.wrap_attempt is not None:
            raise repo.RepositoryError(f"pick a disposition for attempt {s.wrap_attempt} first")
        self._apply(s, st.ReadyRequested())

    def not_ready(self, s: AgentSession, reason: str) -> None:
        self._apply(s, st.NotReadyRequested(reason))

    def logout(self, s: AgentSession) -> None:
        if s.preview is not None and s.call is None:
            # a record shown but not dialed goes back to the list
            repo.release_contact(self.db, s.preview.contact_id, utcnow())
            claim, s.preview = s.preview, None
            if s.machine.state is st.AgentState.RESERVED:
                self._apply(s, st.ReservationReleased(f"preview-{claim.contact_id}"))
        self._apply(s, st.LogoutRequested())

    def _logout_deadline(self, agent_id: int) -> None:
        s = self.agents.get(agent_id)
        if s is None:
            return
        s.logout_timer = None
        outcome = s.machine.handle_timer(utcnow())
        if outcome is not None:
            self._after(s, outcome, utcnow())

    def _reroute(self, s: AgentSession) -> None:
        """The logout deadline passed with a call still on its way to `s`: another ready agent
        of the campaign takes it, or it is abandoned when it answers."""
        call, s.call = s.call, None
        if call is None:
            return
        other = self._free_agent(call.campaign_id, exclude=s.info.id)
        call.agent_id = other.info.id if other else None
        if other is not None:
            other.call = call
            self._apply(other, st.CallReserved(str(call.attempt_id),
                                               self._logout_delay(call.campaign_id)))

    def _logged_out(self, s: AgentSession) -> None:
        self._observe(s.campaigns, pc.AgentLoggedOut(s.info.id))
        if s.logout_timer is not None:
            s.logout_timer.cancel()
        self.agents.pop(s.info.id, None)
        s.outbox.send("logout_authorized")
        self._spawn(self.calls.stop_agent_leg(s.info.id))

    def session_lost(self, s: AgentSession) -> None:
        """The agent link dropped without a logout: nothing is left hanging. A record on offer
        goes back to the list, a call on its way goes to another agent (or is abandoned with the
        message), a connected call is ended, and a call in wrap-up settles on its result."""
        if self.agents.get(s.info.id) is not s:
            return
        now = utcnow()
        if s.preview is not None and s.call is None:
            repo.release_contact(self.db, s.preview.contact_id, now)
            s.preview = None
        if s.wrap_attempt is not None:
            repo.settle_without_disposition(self.db, s.wrap_attempt, now,
                                            "no disposition: the agent's session was lost")
            s.wrap_attempt = s.wrap_contact = None
        call = s.call
        outcome = s.machine.handle(st.SessionLost(), now)
        for effect in outcome.effects:
            if isinstance(effect, st.EndCall) and call is not None:
                call.orphaned = True
                self._spawn(self.calls.hangup_customer(call.attempt_id))
        self._after(s, outcome, now)
        if s.machine.state is st.AgentState.LOGGED_OUT and self.agents.get(s.info.id) is s:
            self._logged_out(s)

    def _logout_delay(self, campaign_id: int) -> timedelta:
        run = self.campaigns.get(campaign_id)
        info = run.info if run else get_campaign(self.db, campaign_id)
        return info.max_logout_delay

    def _free_agent(self, campaign_id: int, exclude: int | None = None) -> AgentSession | None:
        for s in self.agents.values():
            if (s.info.id != exclude and campaign_id in s.campaigns and s.leg_up
                    and s.machine.in_pool and s.machine.state is st.AgentState.READY
                    and s.call is None and s.preview is None):
                return s
        return None

    # ------------------------------------------------------------------ dialing
    def refresh_campaigns(self) -> None:
        """Pick up campaigns started, paused or stopped by the admin CLI (it writes the DB)."""
        for info in list_campaigns(self.db):
            run = self.campaigns.get(info.id)
            if info.status is CampaignStatus.STARTED and run is None:
                self.campaign_started(info.id)
            elif info.status is not CampaignStatus.STARTED and run is not None:
                if info.status is CampaignStatus.PAUSED:
                    run.info = info
                else:
                    self.campaign_stopped(info.id)
            elif run is not None:
                run.info = info

    async def _pacing_loop(self) -> None:
        last_refresh = 0.0
        while True:
            if self.clock() - last_refresh >= 1.0:
                last_refresh = self.clock()
                self.refresh_campaigns()
                self.trunks.reload_if_changed()
                logged_in = list(self.agents)
                for cid in list(self.campaigns):
                    try:
                        repo.hand_over_personal_callbacks(self.db, cid, utcnow(), logged_in)
                    except Exception:
                        log.exception("callback hand-over for campaign %s", cid)
            for run in list(self.campaigns.values()):
                try:
                    await self._pace(run)
                except Exception:   # a bad campaign must not stop the others
                    log.exception("pacing campaign %s", run.info.name)
            await asyncio.sleep(TICK_SECONDS)

    def _in_use(self, besides: Call | None = None) -> dict[str, int]:
        """Customer calls up (ringing or talking) per trunk, over every campaign, but for
        `besides` (a call choosing its next trunk)."""
        used: dict[str, int] = {}
        for call in self.by_attempt.values():
            if call.trunk is not None and call is not besides:
                used[call.trunk] = used.get(call.trunk, 0) + 1
        return used

    def _next_trunk(self, run: CampaignRun, call: Call) -> str | None:
        """The trunk `call` would leave by now: the campaign's first with room that the call
        has not failed on."""
        return self.trunks.pick(self.trunks.order(run.info.trunk), self._in_use(call),
                                self.clock(), exclude=call.tried)

    def _trunk_room(self, run: CampaignRun) -> int:
        """How many more calls the campaign's trunks take now; says why in the decision if 0."""
        order = self.trunks.order(run.info.trunk)
        unknown = self.trunks.unknown(order)
        if unknown and len(unknown) == len(order):
            run.last_decision = (f"not dialing: trunk {', '.join(unknown)} is not in the "
                                 "trunks file (config/trunks.toml)")
            return 0
        in_use = self._in_use()
        room = self.trunks.free_channels(order, in_use, self.clock())
        if room <= 0 and run.info.mode is not DialMode.PREVIEW:
            run.last_decision = ("not dialing: the campaign's trunks are full or failing ("
                                 f"{self.trunks.describe(order, in_use, self.clock())})")
        return room

    async def _pace(self, run: CampaignRun) -> None:
        mode = run.info.mode
        if run.info.status is not CampaignStatus.STARTED:
            return
        if mode is DialMode.PROGRESSIVE:
            # progressive: one call per ready agent, each reserved for its agent (never abandons
            # while the agent keeps its voice channel)
            dialed = 0
            while (self._trunk_room(run) > 0
                   and (agent := self._free_agent(run.info.id)) is not None):
                got = gate.claim_for_dialing(self.db, run.info.id, utcnow(), agent.info.id)
                if got is None:
                    run.exhausted_at = run.exhausted_at or self.clock()
                    run.last_decision = (f"progressive: {dialed} dialed; a ready agent waits, "
                                         "but no contact is eligible now")
                    return
                claim, attempt_id = got
                await self._dial(run, agent, claim, attempt_id)
                dialed += 1
            if dialed:
                run.last_decision = (f"progressive: {dialed} dialed for {dialed} free ready "
                                     f"agent(s); {len(run.in_flight)} in flight")
        if mode is DialMode.PREDICTIVE and run.pacer is not None:
            decision = run.pacer.decide(self._snapshot(run), self.clock())
            run.last_decision = decision.as_log()
            launch = decision.launch
            if launch > 0:
                room = self._trunk_room(run)
                if room < launch:
                    run.last_decision = (f"{decision.as_log()}; trunks take {room} more: "
                                         f"launching {room}")
                    launch = room
            for _ in range(launch):
                got = gate.claim_for_dialing(self.db, run.info.id, utcnow())
                if got is None:
                    run.exhausted_at = run.exhausted_at or self.clock()
                    return
                claim, attempt_id = got
                await self._dial(run, None, claim, attempt_id)
        elif mode is DialMode.PUSH_PREVIEW:
            # a record is pushed only when a trunk could carry its call
            while (self._trunk_room(run) > 0
                   and (agent := self._free_agent(run.info.id)) is not None):
                offer = repo.claim_next_contact(self.db, run.info.id, utcnow(), agent.info.id)
                if offer is None:
                    run.exhausted_at = run.exhausted_at or self.clock()
                    return
                self._offer(agent, offer, push=True)

    def _offer(self, s: AgentSession, claim: repo.Claim, push: bool,
               re: str | None = None) -> None:
        s.preview = claim
        self._apply(s, st.CallReserved(f"preview-{claim.contact_id}",
                                       self._logout_delay(claim.campaign_id)))
        record = repo.get_contact(self.db, claim.contact_id)
        s.outbox.send("push_offer" if push else "preview_record", re=re,
                      offer=claim.contact_id, contact=self._contact_view(record, claim.number),
                      campaign=claim.campaign_id)

    @staticmethod
    def _contact_view(record: repo.ContactRecord, number: str) -> dict[str, Any]:
        return {"id": record.id, "number": number, "numbers": list(record.numbers),
                "fields": dict(record.fields), "time_zone": record.time_zone,
                "attempts": record.attempts}

    async def _dial(self, run: CampaignRun, s: AgentSession | None, claim: repo.Claim,
                    attempt_id: int) -> None:
        """Originate an attempt; with an agent (progressive, preview) the call is reserved for
        them, without one (predictive) any free agent takes it when the customer answers."""
        call = Call(attempt_id, claim, run.info.id, s.info.id if s else None,
                    dialed_at=self.clock())
        self.by_attempt[attempt_id] = call
        run.in_flight.add(attempt_id)
        if s is not None:
            s.call = call
            if (s.machine.state is st.AgentState.RESERVED
                    and s.machine.call_id != str(attempt_id)):
                # a preview reservation becomes the call's reservation
                self._apply(s, st.ReservationReleased(s.machine.call_id or ""))
            if s.machine.state is st.AgentState.READY:
                self._apply(s, st.CallReserved(str(attempt_id), run.info.max_logout_delay))
            s.reserved_since = self.clock()
        self._observe(run.info.id, pc.CallLaunched(attempt_id))
        await self._originate(run, call)

    async def _originate(self, run: CampaignRun, call: Call) -> None:
        """Send the call out by the campaign's first trunk that has room and has not failed it;
        none left: the attempt fails (no trunk could carry it)."""
        attempt_id = call.attempt_id
        trunk = call.trunk = self._next_trunk(run, call)
        if trunk is None:
            why = self.trunks.describe(self.trunks.order(run.info.trunk), self._in_use(),
                                       self.clock())
            log.warning("attempt %s: no trunk can carry it (%s)", attempt_id, why)
            self._observe(run.info.id, pc.CallFailed(attempt_id, pc.FailReason.BUSY, 0.0))
            self._end_call(call, repo.finish_attempt(
                self.db, attempt_id, CallResult.FAILED, utcnow(),
                facts=CallFacts(), note=f"no trunk could carry the call: {why}"))
            return
        ring = max(15, int(run.info.ring_timeout.total_seconds()))
        try:
            await self.calls.dial_customer(attempt_id, call.claim.number, ring,
                                           self.trunks.caller_id(trunk, run.info.caller_id),
                                           trunk=trunk, amd=run.info.amd)
        except AriError as exc:
            # The PBX refused the channel at once: with qualify on, a trunk whose OPTIONS go
            # unanswered is unreachable and Asterisk will not even allocate the call ("500
            # Allocation failed"). The trunk could not carry it: the next one may.
            self.trunks.fault(trunk, TrunkFault.UNREACHABLE, self.clock())
            call.tried.append(trunk)
            nxt = self._next_trunk(run, call)
            if nxt is not None:
                log.warning("attempt %s: trunk %s refused the call (%s); dialing again through "
                            "%s", attempt_id, trunk, exc, nxt)
                await self._originate(run, call)
                return
            log.warning("attempt %s: originate through %s failed: %s", attempt_id, trunk, exc)
            self._observe(run.info.id, pc.CallFailed(attempt_id, pc.FailReason.BUSY, 0.0))
            self._end_call(call, repo.finish_attempt(
                self.db, attempt_id, CallResult.FAILED, utcnow(),
                facts=CallFacts(), note=f"originate through trunk {trunk} failed: {exc}"))
            return
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.ORIGINATED, utcnow(),
                                  channel_id=f"cust-{attempt_id}", agent_id=call.agent_id,
                                  detail={"trunk": trunk, "failed_over_from": call.tried}
                                  if call.tried else {"trunk": trunk})

    def _failover(self, call: Call, end: CustomerEnd) -> bool:
        """A call that never answered because its trunk failed: mark the trunk and dial the same
        attempt through the next trunk (True), if the campaign has one."""
        if call.trunk is None:
            return False
        fault = None if end.answered or end.hung_up_by_dialer else fault_of(end.cause,
                                                                            end.tech_cause)
        if fault is None:
            self.trunks.carried(call.trunk)
            return False
        self.trunks.fault(call.trunk, fault, self.clock())
        run = self.campaigns.get(call.campaign_id)
        if run is None:
            return False
        failed = call.trunk
        call.tried.append(failed)
        nxt = self._next_trunk(run, call)
        how = (f"{fault.value} through trunk {failed} (SIP {end.tech_cause}, cause {end.cause})")
        if nxt is None:     # with one trunk, usually the carrier's answer for this number
            log.info("attempt %s: %s; no other trunk to try", call.attempt_id, how)
            return False
        log.warning("attempt %s: %s; dialing again through %s", call.attempt_id, how, nxt)
        call.ringing = False
        self._spawn(self._originate(run, call))
        return True

    def _snapshot(self, run: CampaignRun) -> pc.Snapshot:
        """What a predictive pacer sees: the campaign's agents and its calls not yet with one."""
        agents = []
        for s in self.agents.values():
            if run.info.id not in s.campaigns or not s.leg_up or not s.machine.in_pool:
                state = pc.AgentState.PAUSED
            elif s.machine.state is st.AgentState.READY and s.call is None:
                state = pc.AgentState.READY
            elif s.machine.state in (st.AgentState.RESERVED, st.AgentState.ON_CALL):
                state = pc.AgentState.TALKING
            elif s.machine.state is st.AgentState.WRAP_UP:
                state = pc.AgentState.WRAP_UP
            else:
                state = pc.AgentState.PAUSED
            agents.append(pc.AgentView(s.info.id, state, s.state_since))
        calls = []
        for attempt_id in run.in_flight:
            call = self.by_attempt.get(attempt_id)
            if call is None or call.connected or call.abandoned:
                continue
            if call.queued and call.answered_at is not None:
                calls.append(pc.CallView(attempt_id, pc.CallState.QUEUED, call.answered_at,
                                         call.dialed_at))
            elif call.answered_at is None:
                calls.append(pc.CallView(attempt_id, pc.CallState.RINGING, call.dialed_at,
                                         call.dialed_at))
        return pc.Snapshot(agents, calls)

    def _give_queued(self, s: AgentSession) -> None:
        """An agent just became ready: the longest-waiting answered customer of their
        campaigns is theirs at once."""
        waiting = [c for c in self.by_attempt.values()
                   if c.queued and c.campaign_id in s.campaigns and c.agent_id is None]
        if not waiting or not s.leg_up or not s.machine.in_pool or s.call is not None:
            return
        call = min(waiting, key=lambda c: c.answered_at or 0.0)
        call.queued = False
        self._take(s, call)
        self._spawn(self.calls.connect_customer(call.attempt_id, s.info.id))

    def _take(self, s: AgentSession, call: Call) -> None:
        call.agent_id = s.info.id
        s.call = call
        self._apply(s, st.CallReserved(str(call.attempt_id),
                                       self._logout_delay(call.campaign_id)))

    def _connect_limit_passed(self, attempt_id: int) -> None:
        call = self.by_attempt.get(attempt_id)
        if call is not None and call.queued:
            call.queued = False
            self._spawn(self.calls.connect_customer(attempt_id, None))

    # preview and push preview: the agent's answers
    def preview_request(self, s: AgentSession, campaign_id: int | None,
                        re: str | None = None) -> None:
        if s.preview is not None or s.call is not None:
            raise repo.RepositoryError("you already have a record; dial or skip it first")
        if s.machine.state is not st.AgentState.READY:
            raise repo.RepositoryError(f"you are {s.machine.state.value}; go ready first")
        candidates = [campaign_id] if campaign_id is not None else s.campaigns
        for cid in candidates:
            run = self.campaigns.get(cid)
            if run is None or cid not in s.campaigns or run.info.mode is not DialMode.PREVIEW:
                continue
            claim = repo.claim_next_contact(self.db, cid, utcnow(), s.info.id)
            if claim is not None:
                self._offer(s, claim, push=False, re=re)
                return
        raise repo.RepositoryError("no record to preview now in your running preview campaigns")

    async def preview_dial(self, s: AgentSession, contact_id: int) -> None:
        claim = s.preview
        if claim is None or claim.contact_id != contact_id:
            raise repo.RepositoryError(f"record {contact_id} is not the one offered to you")
        run = self.campaigns.get(claim.campaign_id)
        if run is None:
            raise repo.RepositoryError("the campaign is no longer running")
        if self._trunk_room(run) <= 0:
            order = self.trunks.order(run.info.trunk)
            raise repo.RepositoryError(
                "no trunk can take the call now (" + self.trunks.describe(
                    order, self._in_use(), self.clock()) + "); try again in a moment")
        verdict = gate.check_claim(self.db, claim, utcnow())
        if not verdict.allowed:
            # checked again just before dialing: DNC or calling hours may have changed
            gate.refuse_claim(self.db, claim, utcnow(), verdict)
            s.preview = None
            self._apply(s, st.ReservationReleased(f"preview-{contact_id}"))
            raise repo.RepositoryError(f"{claim.number} cannot be dialed now: "
                                       f"{verdict.reason}")
        attempt_id = repo.create_attempt(self.db, claim, utcnow(), agent_id=s.info.id)
        s.preview = None
        await self._dial(run, s, claim, attempt_id)

    def preview_skip(self, s: AgentSession, contact_id: int) -> None:
        claim = s.preview
        if claim is None or claim.contact_id != contact_id:
            raise repo.RepositoryError(f"record {contact_id} is not the one offered to you")
        repo.release_contact(self.db, contact_id, utcnow(), delay=SKIP_DELAY)
        s.preview = None
        self._apply(s, st.ReservationReleased(f"preview-{contact_id}"))

    # ------------------------------------------------------------------ CallEvents (ARI)
    def customer_ringing(self, attempt_id: int) -> None:
        call = self.by_attempt.get(attempt_id)
        if call is not None:
            call.ringing = True
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.RINGING, utcnow())

    def customer_amd(self, attempt_id: int, status: str, cause: str, seconds: float) -> bool:
        """Answering-machine detection's verdict on an answered call: True to go on (a person,
        or not sure), False for a machine (hung up, never offered to an agent)."""
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.AMD_DONE, utcnow(),
                                  detail={"status": status, "cause": cause,
                                          "amd_ms": round(1000 * seconds)})
        call = self.by_attempt.get(attempt_id)
        if status not in ("MACHINE", "HANGUP"):
            return True
        if call is not None and status == "MACHINE":
            self._observe(call.campaign_id, pc.CallAnswered(
                attempt_id, pc.AnswerKind.MACHINE, self.clock() - call.dialed_at))
        return False

    def customer_answered(self, attempt_id: int) -> int | None:
        call = self.by_attempt.get(attempt_id)
        if call is None:
            return None
        call.answered_at = self.clock()
        self._observe(call.campaign_id, pc.CallAnswered(
            attempt_id, pc.AnswerKind.LIVE, call.answered_at - call.dialed_at))
        if call.agent_id is None:
            # predictive: any free agent of the campaign; else wait, at most the connect limit
            free = self._free_agent(call.campaign_id)
            if free is not None:
                self._take(free, call)
                return free.info.id
            call.queued = True
            asyncio.get_running_loop().call_later(CONNECT_LIMIT.total_seconds(),
                                                  self._connect_limit_passed, attempt_id)
            return QUEUE
        s = self.agents.get(call.agent_id)
        if s is None or not s.leg_up or s.call is not call:
            return None
        return s.info.id

    def customer_bridged(self, attempt_id: int, agent_id: int, answered_at: float,
                         bridged_at: float) -> None:
        self.connect_latencies.append(bridged_at - answered_at)
        call = self.by_attempt[attempt_id]
        call.connected = True
        call.talk_started = self.clock()
        self._observe(call.campaign_id, pc.CallConnected(attempt_id, agent_id,
                                                         bridged_at - answered_at))
        now = utcnow()
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.ANSWERED,
                                  now - timedelta(seconds=bridged_at - answered_at))
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.BRIDGED, now,
                                  agent_id=agent_id,
                                  detail={"connect_ms": round(1000 * (bridged_at - answered_at),
                                                              2)})
        s = self.agents[agent_id]
        self._apply(s, st.CallConnected(str(attempt_id)))
        record = repo.get_contact(self.db, call.claim.contact_id)
        s.outbox.send("call_connected", attempt=attempt_id,
                      campaign=call.campaign_id,
                      contact=self._contact_view(record, call.claim.number))

    def customer_abandoned(self, attempt_id: int, answered_at: float) -> None:
        call = self.by_attempt.get(attempt_id)
        if call is None:
            return
        call.abandoned = True
        call.queued = False
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.ANSWERED,
                                  utcnow() - timedelta(seconds=self.clock() - answered_at))
        self._observe(call.campaign_id, pc.CallAbandoned(attempt_id,
                                                         self.clock() - answered_at))
        repo.record_attempt_event(self.db, attempt_id, AttemptPhase.SAFE_HARBOR, utcnow())
        self._release_agent(call)

    def customer_ended(self, end: CustomerEnd) -> None:
        call = self.by_attempt.get(end.attempt_id)
        if call is None:
            return
        if self._failover(call, end):
            return
        dial = None
        with contextlib.suppress(ValueError):
            dial = DialStatus(end.dial_status) if end.dial_status else None
        facts = CallFacts(sip_code=end.tech_cause, hangup_cause=end.cause, dial_status=dial,
                          answered=end.answered, agent_bridged=call.connected,
                          safe_harbor_played=call.abandoned,
                          amd=AmdStatus.parse(end.amd_status))
        if end.answered and not call.connected and not call.abandoned and end.answered_at:
            repo.record_attempt_event(self.db, end.attempt_id, AttemptPhase.ANSWERED,
                                      utcnow() - timedelta(seconds=end.ended_at - end.answered_at))
        result = classify(facts)
        if not end.answered:
            reason = (pc.FailReason.NO_ANSWER if result in (CallResult.NO_ANSWER,
                                                            CallResult.HUNG_UP_RINGING)
                      else pc.FailReason.BUSY)
            self._observe(call.campaign_id, pc.CallFailed(
                end.attempt_id, reason, end.ended_at - call.dialed_at))
        elif call.connected and call.agent_id is not None and call.talk_started is not None:
            self._observe(call.campaign_id, pc.TalkEnded(call.agent_id,
                                                         self.clock() - call.talk_started))
        outcome = repo.finish_attempt(self.db, end.attempt_id, result, utcnow(), facts=facts,
                                      await_disposition=call.connected and not call.orphaned)
        self._end_call(call, outcome)

    def _end_call(self, call: Call, outcome: repo.AttemptOutcome) -> None:
        call.ended = True
        self.by_attempt.pop(call.attempt_id, None)
        run = self.campaigns.get(call.campaign_id)
        if run is not None:
            run.in_flight.discard(call.attempt_id)
        s = self.agents.get(call.agent_id) if call.agent_id is not None else None
        if s is None or s.call is not call:
            return
        if call.connected:
            s.call = None
            s.wrap_attempt = call.attempt_id
            s.wrap_contact = call.claim.contact_id
            s.wrap_since = self.clock()
            self._apply(s, st.CallEnded(str(call.attempt_id)))
            s.outbox.send("call_ended", attempt=call.attempt_id, result=outcome.result.value,
                          disposition_required=True)
        else:
            s.outbox.send("call_ended", attempt=call.attempt_id, result=outcome.result.value,
                          disposition_required=False)
            self._release_agent(call)

    def _release_agent(self, call: Call) -> None:
        s = self.agents.get(call.agent_id) if call.agent_id is not None else None
        if s is None or s.call is not call:
            return
        s.call = None
        call.agent_id = None
        if s.machine.state in (st.AgentState.RESERVED, st.AgentState.LOGOUT_PENDING):
            self._apply(s, st.ReservationReleased(str(call.attempt_id)))

    # ------------------------------------------------------------------ after the call
    def disposition(self, s: AgentSession, attempt_id: int, code: str, note: str | None,
                    callback_at: datetime | None, personal: bool) -> repo.DispositionOutcome:
        if s.wrap_attempt != attempt_id:
            raise repo.RepositoryError(f"attempt {attempt_id} is not waiting for your "
                                       "disposition")
        out = repo.save_disposition(self.db, attempt_id, code, utcnow(), agent_id=s.info.id,
                                    note=note, callback_at=callback_at,
                                    personal_callback=personal)
        s.wrap_attempt = s.wrap_contact = None
        self._apply(s, st.DispositionSaved(str(attempt_id), code))
        return out

    async def hangup(self, s: AgentSession) -> None:
        if s.call is None or not s.call.connected:
            raise repo.RepositoryError("you are not on a call")
        await self.calls.hangup_customer(s.call.attempt_id)
