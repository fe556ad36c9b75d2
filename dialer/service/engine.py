"""The dialer service around the call floor: it feeds events and carries out commands.

`dialer.core.floor.Floor` decides everything (agents, calls, pacing, limits, resync); `Engine`
only moves facts in and commands out:

    ARI events WebSocket --(ARI event -> floor event, `AriEvents`)---> floor.handle(event, now)
    agent link requests  --(`request`)------------------------------> floor.handle(event, now)
    the floor's timer    --(`loop.call_at(floor.next_timer())`)-------> floor.handle_timer(now)
    database answers     --(claims, campaigns read: `DbWriter` futures)--> floor.handle(...)

and each answer's commands run in order (`_execute`): ARI requests go out at once, each as its
own task; database calls go to the one writer thread (`dialer.service.writer`), in order, so a
bridge never waits for a write; a message to an agent leaves only once every write before it is
committed (nothing is acknowledged before it is stored).

Reliability (design.md, "What the call floor must survive"):
- a handler error is logged with the event that caused it, and the next event is handled;
- every (re)connection of the events WebSocket lists Asterisk's channels and bridges and hands
  them to the floor (`PbxConnected`), which ends vanished calls, calls agents again and removes
  leftovers: an Asterisk restart costs the calls it carried, never the agents' sessions;
- a supervised task that ends unexpectedly stops the service with a message (`fatal`), so that
  its supervisor (systemd, Docker) restarts it; the restart recovers from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from dialer.ari import AriClient, AriError
from dialer.core import agent_state as st
from dialer.core.floor import CallPhaseError, Floor, FloorRefused, Limits
from dialer.core.floor import messages as m
from dialer.db import repository as repo
from dialer.db.database import Database
from dialer.db.ledger import compliance_hold
from dialer.safe_harbor import default_message, safe_harbor_media
from dialer.service import engine_db
from dialer.service.ari_events import AriEvents
from dialer.service.engine_db import utcnow
from dialer.service.fax import fax_detect_variables, fax_detection_available
from dialer.service.writer import DbWriter

log = logging.getLogger(__name__)


class Outbox:
    """Where an agent's messages go (the WebSocket session); tests and bots may plug in."""

    def send(self, kind: str, re: str | None = None, **fields: Any) -> None:
        raise NotImplementedError


class Engine:
    def __init__(self, db: Database, ari: AriClient, trunks: Any,
                 limits: Limits | None = None,
                 message_for: Callable[[Any], str] | None = None,
                 holds: Callable[[Database, Any, datetime], str | None] | None = None) -> None:
        """`holds(db, campaign, now)`: why a predictive campaign must dial progressively now
        (default: its abandon rate over its jurisdiction profile's window, US 30 days, UK 24 h,
        Canada the calendar month, at or over the profile's cap: `dialer.db.ledger`)."""
        self.db = db
        self.ari = ari
        self.trunks = trunks
        default_message()       # read once here, not on a customer's answer
        self.floor = Floor(trunks, uuid.uuid4().hex[:6], limits,
                           message_for=message_for or safe_harbor_media)
        self.holds = holds or (lambda db, info, now: compliance_hold(db, info.id, now))
        self.outboxes: dict[int, Outbox] = {}
        self.writer: DbWriter | None = None
        self.recovery: repo.RecoveryReport | None = None
        self.fatal: str | None = None             # why the service must stop (and be restarted)
        self.stopped = asyncio.Event()
        self.stopping = False
        self.fax_detection = False              # res_tonedetect answers (checked at each resync)
        self.connected = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervised: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.ari_events = AriEvents()         # ARI events -> floor events (ari_events.py)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        self.writer = DbWriter(loop)
        self.recovery = await self.writer.submit(repo.recover_after_crash, self.db, utcnow())
        if self.recovery.changed:
            log.warning("recovered after a stop: %s", self.recovery)
        self._spawn(self._events_loop(), "ARI events")
        self._spawn(self._watch(), "watchdog")
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            raise AriError(f"ARI application {self.ari.app} did not register in "
                           f"{timeout:.0f} s") from None
        self._arm_timer()

    async def stop(self) -> None:
        self.stopping = True        # no more events in, no more commands out
        if self._timer is not None:
            self._timer.cancel()
        commands = [t for t in self._tasks if t not in self._supervised]
        if commands:                # ARI requests on their way (a logged-out agent's bridge)
            await asyncio.wait(commands, timeout=2)
        for seat in list(self.floor.seats.values()):
            if seat.leg_channel:
                with contextlib.suppress(AriError):
                    await self.ari.delete(f"channels/{seat.leg_channel}")
            with contextlib.suppress(AriError):
                await self.ari.delete(f"bridges/{seat.bridge_id}")
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.writer is not None:
            with contextlib.suppress(Exception):
                await self.writer.drain(timeout=10)
            self.writer.stop()
        self.stopped.set()

    async def _watch(self, every: float = 1.0) -> None:
        """The database writer is a thread, not a task: if it dies, the service must stop."""
        assert self.writer is not None
        while True:
            await asyncio.sleep(every)
            if not self.writer.alive:
                raise RuntimeError("the database writer thread is gone")

    def _spawn(self, coro: Coroutine[Any, Any, Any], supervised: str | None = None) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if supervised:
            self._supervised.add(task)
        task.add_done_callback(lambda t: self._task_done(t, supervised))

    def _task_done(self, task: asyncio.Task[Any], supervised: str | None) -> None:
        self._tasks.discard(task)
        self._supervised.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if supervised:
            self.fatal = (f"the {supervised} task ended ({exc!r}); stopping so that the "
                          "service's supervisor restarts it")
            log.critical(self.fatal, exc_info=exc)
            self.stopped.set()
        elif exc is not None:
            log.error("task failed", exc_info=exc)

    # ------------------------------------------------------------------ feeding the floor
    def feed(self, event: m.Event) -> None:
        """Hand one event to the floor and carry out its commands. An error is logged with
        the event; nothing else is disturbed."""
        if self.stopping:
            return
        try:
            commands = self.floor.handle(event, utcnow())
        except (CallPhaseError, st.AgentStateError, FloorRefused) as exc:
            log.warning("ignored %r: %s", event, exc)
            return
        except Exception:
            log.exception("the floor failed on %r; going on with the next event", event)
            return
        self._execute(commands)

    def request(self, event: m.Event) -> None:
        """An agent's request: FloorRefused / AgentStateError go back to the caller (the link
        answers them as errors); nothing changed then."""
        commands = self.floor.handle(event, utcnow())
        self._execute(commands)

    def login(self, event: m.AgentLogin, outbox: Outbox) -> None:
        if event.agent_id in self.floor.seats:
            raise FloorRefused(f"agent {event.login} is already logged in elsewhere")
        self.outboxes[event.agent_id] = outbox
        try:
            self.request(event)
        except Exception:
            self.outboxes.pop(event.agent_id, None)
            raise

    def after_writes(self, callback: Callable[[], None]) -> None:
        assert self.writer is not None
        self.writer.after_writes(callback)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        try:
            commands = self.floor.handle_timer(utcnow())
        except Exception:
            log.exception("the floor's timer failed; going on")
            commands = []
        self._execute(commands)

    def _arm_timer(self) -> None:
        if self.stopping or self.stopped.is_set():
            return
        loop = asyncio.get_running_loop()
        due = self.floor.next_timer()
        delay = 0.0 if due is None else max(0.0, (due - utcnow()).total_seconds())
        at = loop.time() + delay
        if self._timer is not None and self._timer_at is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(at, self._on_timer), at

    # ------------------------------------------------------------------ carrying out commands
    def _execute(self, commands: list[m.Command]) -> None:
        for cmd in commands:
            try:
                self._run_command(cmd)
            except Exception:
                log.exception("command %r failed", cmd)
        self._arm_timer()

    def _run_command(self, cmd: m.Command) -> None:
        assert self.writer is not None
        if isinstance(cmd, m.Store):
            self._store(cmd.write)
        elif isinstance(cmd, m.Notify):
            self.writer.after_writes(lambda: self._send(cmd))
        elif isinstance(cmd, m.Claim):
            self.writer.submit(self._claim_db, cmd, then=self._answer(
                lambda exc: m.Claimed(cmd.ticket, None, why=f"database error: {exc}")))
        elif isinstance(cmd, m.CreateAttempt):
            self.writer.submit(self._create_attempt_db, cmd, then=self._answer(
                lambda exc: m.AttemptCreated(cmd.agent_id, cmd.claim.contact_id, None,
                                             f"database error: {exc}", cmd.re)))
        elif isinstance(cmd, m.ReadCampaigns):
            self.trunks.reload_if_changed()
            self.writer.submit(self._read_campaigns_db, cmd.running,
                               then=self._answer(lambda exc: m.CampaignsRead(())))
        else:
            self._spawn(self._ari_command(cmd))

    def _answer(self, on_error: Callable[[BaseException], m.Event]
                ) -> Callable[[Any, BaseException | None], None]:
        """A database answer goes to the floor as its event (or `on_error`'s)."""
        def then(result: Any, error: BaseException | None) -> None:
            self.feed(on_error(error) if error is not None else result)
        return then

    def _send(self, cmd: m.Notify) -> None:
        outbox = self.outboxes.get(cmd.agent_id)
        if outbox is None:
            return
        outbox.send(cmd.kind, re=cmd.re, **cmd.fields)
        if cmd.kind == "logout_authorized":
            self.outboxes.pop(cmd.agent_id, None)

    async def _ari_command(self, cmd: m.Command) -> None:
        ari = self.ari
        if isinstance(cmd, m.Bridge):
            try:
                await ari.post(f"bridges/{cmd.bridge_id}/addChannel", channel=cmd.channel_id)
            except AriError as exc:
                self.feed(m.BridgeFailed(cmd.attempt_id, cmd.agent_id, str(exc)))
                return
            self.feed(m.CustomerBridged(cmd.attempt_id, cmd.agent_id))
        elif isinstance(cmd, m.Originate):
            self.ari_events.placing(cmd.channel_id)
            try:
                # the fax detector rides on the originate: nothing waits for it on the answer
                body = {"variables": fax_detect_variables()} if self.fax_detection else None
                await ari.post("channels", body, endpoint=f"PJSIP/{cmd.number}@{cmd.trunk}",
                               app=ari.app, appArgs=f"customer,{cmd.attempt_id}",
                               channelId=cmd.channel_id, timeout=cmd.ring_timeout,
                               **({"callerId": cmd.caller_id} if cmd.caller_id else {}))
            except AriError as exc:
                self.ari_events.not_placed(cmd.channel_id)
                self.feed(m.OriginateFailed(cmd.attempt_id, str(exc)))
                return
            self.feed(m.Originated(cmd.attempt_id))
        elif isinstance(cmd, m.CallAgent):
            try:
                # proxy_media: media always passes through Asterisk (simple_bridge with one
                # channel or two), so a customer joining never switches the bridge's technology
                try:
                    await ari.post(f"bridges/{cmd.bridge_id}", type="mixing,proxy_media",
                                   name=f"agent {cmd.agent_id}")
                except AriError as exc:
                    if exc.status != 409:      # 409: it is there already (a new leg)
                        raise
                await ari.post("channels", endpoint=cmd.endpoint, app=ari.app,
                               appArgs=f"agent,{cmd.agent_id}", channelId=cmd.channel_id,
                               timeout=20, callerId="Dialer <0>")
            except AriError as exc:
                self.feed(m.LegGone(cmd.agent_id, cmd.channel_id,
                                    f"the dialer cannot call the phone {cmd.endpoint}: {exc}"))
        elif isinstance(cmd, m.JoinBridge):
            try:
                await ari.post(f"bridges/{cmd.bridge_id}/addChannel", channel=cmd.channel_id)
            except AriError as exc:
                with contextlib.suppress(AriError):
                    await ari.delete(f"channels/{cmd.channel_id}")
                self.feed(m.LegGone(cmd.agent_id, cmd.channel_id,
                                    f"cannot join its bridge: {exc}"))
        elif isinstance(cmd, m.DetectMachine):
            try:
                # the subscription keeps its events coming while it is out of Stasis
                await ari.post(f"applications/{ari.app}/subscription",
                               eventSource=f"channel:{cmd.channel_id}")
                await ari.post(f"channels/{cmd.channel_id}/continue", context="dialer-amd",
                               extension="s", priority=1)
            except AriError as exc:
                self.feed(m.MachineVerdict(cmd.attempt_id, "NOTSURE",
                                           f"detection did not start: {exc}"))
        elif isinstance(cmd, m.PlayMessage):
            try:
                await ari.post(f"channels/{cmd.channel_id}/play", media=cmd.media)
            except AriError as exc:
                self.feed(m.MessageFailed(cmd.attempt_id, str(exc)))
        elif isinstance(cmd, m.Hangup):
            self.ari_events.hanging_up(cmd.channel_id)
            with contextlib.suppress(AriError):
                await ari.delete(f"channels/{cmd.channel_id}")
        elif isinstance(cmd, m.DropBridge):
            with contextlib.suppress(AriError):
                await ari.delete(f"bridges/{cmd.bridge_id}")

    # the database (dialer/service/engine_db.py)
    _store = engine_db._store
    _disposition_saved = engine_db._disposition_saved
    _claim_db = engine_db._claim_db
    _create_attempt_db = engine_db._create_attempt_db
    _read_campaigns_db = engine_db._read_campaigns_db

    # ------------------------------------------------------------------ ARI events
    async def _events_loop(self, backoff_max: float = 5.0) -> None:
        """Consume events forever; every (re)connection resyncs the floor with Asterisk."""
        delay = 0.2
        while True:
            reason = "closed"
            try:
                async for ev in self.ari.events():
                    if ev.get("type") == "WebSocketConnected":
                        delay = 0.2
                        self._spawn(self._resync())
                        continue
                    self._ari_event(ev)
            except AriError as exc:
                reason = str(exc)
            except Exception as exc:      # never deaf: log, reconnect, resync
                log.exception("ARI events loop error; reconnecting")
                reason = repr(exc)
            self.connected.clear()
            self.feed(m.PbxLost(reason))
            log.warning("ARI events: %s; reconnecting in %.1f s", reason, delay)
            await asyncio.sleep(delay)
            delay = min(backoff_max, delay * 2)

    async def _resync(self) -> None:
        """List what Asterisk has and hand it to the floor (after the app is registered)."""
        try:
            app: dict[str, Any] = {}
            for _ in range(100):
                try:
                    app = await self.ari.get(f"applications/{self.ari.app}")
                    break
                except AriError as exc:
                    if exc.status != 404:
                        raise
                await asyncio.sleep(0.05)
            listed = await self.ari.get("channels")
            channels = frozenset(c["id"] for c in listed)
            up = frozenset(c["id"] for c in listed if c.get("state") == "Up")
            bridges = frozenset(b["id"] for b in await self.ari.get("bridges"))
            self.fax_detection = await fax_detection_available(self.ari)
        except AriError as exc:
            log.warning("resync: cannot list Asterisk's channels (%s); it runs again at the "
                        "next connection", exc)
            return
        ours = frozenset(app.get("channel_ids", ())) | frozenset(app.get("bridge_ids", ()))
        log.info("resync with Asterisk: %d channels and %d bridges in application %s",
                 len(app.get("channel_ids", ())), len(app.get("bridge_ids", ())), self.ari.app)
        self.ari_events.keep_only(channels)       # calls whose ChannelDestroyed was missed
        self.feed(m.PbxConnected(channels, bridges, up, ours))
        self.connected.set()

    def _ari_event(self, ev: dict[str, Any]) -> None:
        for event in self.ari_events.translate(ev):
            self.feed(event)


def _consume(fut: asyncio.Future[Any]) -> None:
    """Writes nobody waits for: their errors are logged by the writer already."""
    if not fut.cancelled():
        fut.exception()

