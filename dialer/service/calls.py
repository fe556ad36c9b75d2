"""The dialer's telephony over ARI: agent legs kept up for a session, customer calls, bridging.

One Stasis application and one events WebSocket. Every channel and bridge the dialer makes has an
id that says what it is, so a restarted dialer recognises its own leftovers:

    agent-<agent id>-<run><n> an agent's nailed-up leg (Asterisk calls the agent's SIP endpoint);
                             <run> is new for each dialer process, so ids never repeat
    bridge-agent-<agent id>  the agent's own mixing bridge, where the leg waits between calls
    cust-<attempt id>        a customer call of attempt <attempt id>

The agent's leg waits alone in a mixing bridge of its own; connecting a customer is then one
`addChannel` of the customer's channel into that bridge (facts.md: p50 ~3 ms, p99 ~10 ms here),
and when the customer leaves, the agent is alone again, back to waiting. No ringing at the agent.
The bridge is `mixing,proxy_media`: Asterisk keeps the same technology (simple_bridge) with one
channel and with two, instead of switching to native RTP forwarding as the customer joins.

`CallControl` reports what happens through a `CallEvents` listener (the engine) and never blocks on
the database: answered customers are bridged inside the event handler before anything else is done.
The events WebSocket reconnects with backoff; after each (re)connection `reconcile()` hangs up
channels and deletes bridges of ours that the dialer no longer knows (ghosts of a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dialer.ari import AriClient, AriError

log = logging.getLogger(__name__)

AGENT_PREFIX = "agent-"
CUSTOMER_PREFIX = "cust-"
BRIDGE_PREFIX = "bridge-agent-"


@dataclass
class CustomerEnd:
    """How a customer call ended, as Asterisk reported it."""

    attempt_id: int
    answered: bool
    cause: int | None
    tech_cause: int | None
    dial_status: str
    hung_up_by_dialer: bool
    ringing_at: float | None
    answered_at: float | None
    ended_at: float
    amd_status: str | None = None       # AMDSTATUS when answering-machine detection ran


# `customer_answered` may answer QUEUE: hold the customer for the engine to settle soon.
QUEUE = -1


class CallEvents(Protocol):
    """What CallControl tells the engine. Handlers must not block (no database waits before a
    bridge decision); `customer_answered` returns the agent to bridge, None to abandon, or
    QUEUE to hold the customer until the engine calls `connect_customer`."""

    def agent_leg_up(self, agent_id: int) -> None: ...
    def agent_leg_down(self, agent_id: int, cause: int | None) -> None: ...
    def customer_ringing(self, attempt_id: int) -> None: ...
    def customer_answered(self, attempt_id: int) -> int | None: ...
    def customer_amd(self, attempt_id: int, status: str, cause: str, seconds: float) -> bool: ...
    def customer_bridged(self, attempt_id: int, agent_id: int, answered_at: float,
                         bridged_at: float) -> None: ...
    def customer_abandoned(self, attempt_id: int, answered_at: float) -> None: ...
    def customer_ended(self, end: CustomerEnd) -> None: ...


@dataclass
class _Customer:
    attempt_id: int
    channel_id: str
    originated_at: float
    dial_status: str = ""
    ringing_at: float | None = None
    answered_at: float | None = None
    agent_id: int | None = None
    hung_up_by_dialer: bool = False
    up_event: asyncio.Event = field(default_factory=asyncio.Event)
    amd: bool = False                  # run answering-machine detection when it answers
    picked_up_at: float | None = None  # the far end answered (AMD starts there)
    amd_status: str | None = None


@dataclass
class _AgentLeg:
    agent_id: int
    channel_id: str
    bridge_id: str
    up: bool = False


class CallControl:
    def __init__(self, ari: AriClient, listener: CallEvents, trunk: str = "carrier",
                 abandon_media: str = "sound:hello,sound:vm-goodbye",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ari = ari
        self.listener = listener
        self.trunk = trunk
        self.abandon_media = abandon_media
        self.clock = clock
        self.customers: dict[str, _Customer] = {}
        self.agents: dict[int, _AgentLeg] = {}
        self._leg_seq = itertools.count(1)
        self._run = uuid.uuid4().hex[:6]
        self.connected = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ events loop
    async def run(self, backoff_max: float = 5.0) -> None:
        """Consume events forever, reconnecting with backoff; reconcile after every connect."""
        delay = 0.2
        while True:
            try:
                async for ev in self.ari.events():
                    if not self.connected.is_set():
                        self.connected.set()
                        delay = 0.2
                    await self._dispatch(ev)
            except AriError as exc:
                log.warning("ARI events: %s; reconnecting in %.1f s", exc, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(backoff_max, delay * 2)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait for the events WebSocket (the Stasis application exists from then on)."""
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            try:
                await self.ari.get(f"applications/{self.ari.app}")
                await self.reconcile()
                return
            except AriError as exc:
                if exc.status != 404:
                    raise
            await asyncio.sleep(0.05)
        raise AriError(f"ARI application {self.ari.app} did not register in {timeout:.0f} s")

    async def reconcile(self) -> list[str]:
        """Hang up channels and delete bridges of ours that nobody here knows. Returns their ids."""
        known_channels = set(self.customers) | {a.channel_id for a in self.agents.values()}
        known_bridges = {a.bridge_id for a in self.agents.values()}
        removed: list[str] = []
        for ch in await self.ari.get("channels"):
            cid = ch["id"]
            if cid.startswith((AGENT_PREFIX, CUSTOMER_PREFIX)) and cid not in known_channels:
                with contextlib.suppress(AriError):
                    await self.ari.delete(f"channels/{cid}")
                removed.append(cid)
        for br in await self.ari.get("bridges"):
            bid = br["id"]
            if bid.startswith(BRIDGE_PREFIX) and bid not in known_bridges:
                with contextlib.suppress(AriError):
                    await self.ari.delete(f"bridges/{bid}")
                removed.append(bid)
        if removed:
            log.warning("reconcile: removed %d leftover channels/bridges: %s", len(removed),
                        removed)
        return removed

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type", "")
        channel = ev.get("channel") or ev.get("peer") or {}
        cid = channel.get("id", "")
        if not cid and "playback" in ev:
            cid = ev["playback"].get("target_uri", "").removeprefix("channel:")
        if cid.startswith(CUSTOMER_PREFIX) and cid in self.customers:
            await self._customer_event(self.customers[cid], kind, ev)
        elif cid.startswith(AGENT_PREFIX):
            leg = next((a for a in self.agents.values() if a.channel_id == cid), None)
            if leg is not None:
                await self._agent_event(leg, kind, ev)

    # ------------------------------------------------------------------ agents
    async def start_agent_leg(self, agent_id: int, endpoint: str, timeout: int = 20,
                              caller_id: str = "Dialer <0>") -> str:
        """Call the agent's endpoint (e.g. `PJSIP/agent1001`); it auto-answers and waits in its
        own bridge. Returns the channel id; `agent_leg_up` follows when it answered."""
        old = self.agents.get(agent_id)
        if old is not None and old.up:
            return old.channel_id
        bridge_id = f"{BRIDGE_PREFIX}{agent_id}"
        channel_id = f"{AGENT_PREFIX}{agent_id}-{self._run}{next(self._leg_seq)}"
        leg = _AgentLeg(agent_id, channel_id, bridge_id)
        self.agents[agent_id] = leg
        # proxy_media: media always passes through Asterisk (simple_bridge with one channel or
        # two), so connecting a customer never switches the bridge's technology mid-hello
        await self.ari.post(f"bridges/{bridge_id}", type="mixing,proxy_media",
                            name=f"agent {agent_id}")
        try:
            await self.ari.post("channels", endpoint=endpoint, app=self.ari.app,
                                appArgs=f"agent,{agent_id}", channelId=channel_id,
                                timeout=timeout, callerId=caller_id)
        except AriError:
            self.agents.pop(agent_id, None)
            with contextlib.suppress(AriError):
                await self.ari.delete(f"bridges/{bridge_id}")
            raise
        return channel_id

    async def stop_agent_leg(self, agent_id: int) -> None:
        leg = self.agents.pop(agent_id, None)
        if leg is None:
            return
        with contextlib.suppress(AriError):
            await self.ari.delete(f"channels/{leg.channel_id}")
        with contextlib.suppress(AriError):
            await self.ari.delete(f"bridges/{leg.bridge_id}")

    async def _agent_event(self, leg: _AgentLeg, kind: str, ev: dict[str, Any]) -> None:
        if kind == "StasisStart":
            try:
                await self.ari.post(f"bridges/{leg.bridge_id}/addChannel",
                                    channel=leg.channel_id)
            except AriError as exc:
                log.warning("agent %s: cannot put the leg in its bridge: %s", leg.agent_id, exc)
                return
            leg.up = True
            self.listener.agent_leg_up(leg.agent_id)
        elif kind == "ChannelDestroyed":
            if self.agents.get(leg.agent_id) is leg:
                del self.agents[leg.agent_id]
                with contextlib.suppress(AriError):
                    await self.ari.delete(f"bridges/{leg.bridge_id}")
            self.listener.agent_leg_down(leg.agent_id, ev.get("cause"))

    def agent_leg_up(self, agent_id: int) -> bool:
        leg = self.agents.get(agent_id)
        return leg is not None and leg.up

    # ------------------------------------------------------------------ customers
    async def dial_customer(self, attempt_id: int, number: str, ring_timeout: int,
                            caller_id: str, trunk: str | None = None, amd: bool = False) -> str:
        """Originate the customer call through `trunk` (a PJSIP endpoint; default the one given
        at construction); with `amd`, answering-machine detection runs when it answers, before
        the engine hears of the answer. Raises AriError if Asterisk refuses."""
        channel_id = f"{CUSTOMER_PREFIX}{attempt_id}"
        call = _Customer(attempt_id, channel_id, self.clock(), amd=amd)
        self.customers[channel_id] = call
        extra = {"callerId": caller_id} if caller_id else {}
        try:
            await self.ari.post("channels", endpoint=f"PJSIP/{number}@{trunk or self.trunk}",
                                app=self.ari.app, appArgs=f"customer,{attempt_id}",
                                channelId=channel_id, timeout=ring_timeout, **extra)
        except AriError:
            self.customers.pop(channel_id, None)
            raise
        return channel_id

    async def hangup_customer(self, attempt_id: int) -> None:
        call = self.customers.get(f"{CUSTOMER_PREFIX}{attempt_id}")
        if call is None:
            return
        call.hung_up_by_dialer = True
        with contextlib.suppress(AriError):
            await self.ari.delete(f"channels/{call.channel_id}")

    def customer_agent(self, attempt_id: int) -> int | None:
        call = self.customers.get(f"{CUSTOMER_PREFIX}{attempt_id}")
        return None if call is None else call.agent_id

    async def _customer_event(self, call: _Customer, kind: str, ev: dict[str, Any]) -> None:
        if kind == "Dial" and ev.get("dialstatus"):
            call.dial_status = ev["dialstatus"]
            if call.dial_status == "RINGING" and call.ringing_at is None:
                call.ringing_at = self.clock()
                self.listener.customer_ringing(call.attempt_id)
        elif kind == "ChannelStateChange" and ev["channel"].get("state") == "Ringing":
            if call.ringing_at is None:
                call.ringing_at = self.clock()
                self.listener.customer_ringing(call.attempt_id)
        elif kind == "StasisStart":
            if call.amd and call.amd_status is None:
                args = ev.get("args") or []
                if args[:1] != ["amd"]:
                    call.picked_up_at = self.clock()
                    if await self._start_amd(call):
                        return      # back in Stasis with the verdict (the [dialer-amd] context)
                    call.amd_status = "NOTSURE"     # could not run it: as for a person
                else:
                    call.amd_status = (args[1] if len(args) > 1 else "") or "NOTSURE"
                    started = call.picked_up_at or self.clock()
                    if not self.listener.customer_amd(
                            call.attempt_id, call.amd_status, args[2] if len(args) > 2 else "",
                            self.clock() - started):
                        await self.hangup_customer(call.attempt_id)   # no agent, no message
                        return
            # a person (or AMD not asked for): the agent must be there within the connect
            # limit from now, the end of the greeting when AMD ran
            call.answered_at = self.clock()
            agent_id = self.listener.customer_answered(call.attempt_id)
            if agent_id == QUEUE:
                return      # the engine connects or abandons it later (connect_customer)
            if agent_id is not None and await self._bridge(call, agent_id):
                return
            self._abandon_now(call)
        elif kind == "ChannelDestroyed":
            self.customers.pop(call.channel_id, None)
            picked_up = call.picked_up_at or call.answered_at
            self.listener.customer_ended(CustomerEnd(
                attempt_id=call.attempt_id, answered=picked_up is not None,
                cause=ev.get("cause"), tech_cause=ev.get("tech_cause"),
                dial_status=call.dial_status, hung_up_by_dialer=call.hung_up_by_dialer,
                ringing_at=call.ringing_at, answered_at=picked_up,
                ended_at=self.clock(), amd_status=call.amd_status))
        elif kind == "PlaybackFinished" and call.agent_id is None and call.answered_at:
            await self.hangup_customer(call.attempt_id)

    async def _start_amd(self, call: _Customer) -> bool:
        """Send the answered customer to the [dialer-amd] dialplan (AMD(), then back into Stasis
        with the verdict). The explicit subscription keeps its events (a hang-up during the
        detection) coming while it is out of Stasis."""
        try:
            await self.ari.post(f"applications/{self.ari.app}/subscription",
                                eventSource=f"channel:{call.channel_id}")
            await self.ari.post(f"channels/{call.channel_id}/continue", context="dialer-amd",
                                extension="s", priority=1)
        except AriError as exc:
            log.warning("attempt %s: answering-machine detection did not start (%s); the call "
                        "goes on as a person's", call.attempt_id, exc)
            return False
        return True

    async def _bridge(self, call: _Customer, agent_id: int) -> bool:
        leg = self.agents.get(agent_id)
        if leg is None or not leg.up or call.answered_at is None:
            return False
        try:
            await self.ari.post(f"bridges/{leg.bridge_id}/addChannel", channel=call.channel_id)
        except AriError as exc:
            log.warning("attempt %s: bridging to agent %s failed: %s", call.attempt_id,
                        agent_id, exc)
            return False
        call.agent_id = agent_id
        self.listener.customer_bridged(call.attempt_id, agent_id, call.answered_at, self.clock())
        return True

    def _abandon_now(self, call: _Customer) -> None:
        assert call.answered_at is not None
        self.listener.customer_abandoned(call.attempt_id, call.answered_at)
        self._spawn(self._abandon(call))

    async def connect_customer(self, attempt_id: int, agent_id: int | None) -> bool:
        """Settle a customer the engine queued: bridge to `agent_id`, or (None, or the bridge
        failed) abandon with the message. True if bridged."""
        call = self.customers.get(f"{CUSTOMER_PREFIX}{attempt_id}")
        if call is None or call.answered_at is None or call.agent_id is not None:
            return False
        if agent_id is not None and await self._bridge(call, agent_id):
            return True
        self._abandon_now(call)
        return False

    async def _abandon(self, call: _Customer) -> None:
        """No agent for an answered customer: the identification message, then hang up."""
        try:
            await self.ari.post(f"channels/{call.channel_id}/play", media=self.abandon_media)
        except AriError:
            await self.hangup_customer(call.attempt_id)
