"""Outside observers of a running dialer, and the faults, for the call floor's fault tests.

Only what an outside observer has: Asterisk itself (ARI channels and bridges), the supervisor's
status JSON, each agent's link (`dialer.service.client.AgentClient`) and the database file.

- `Watch` polls ARI (and the supervisor's status) from a thread with its own event loop, so a
  dialer that blocks the test's event loop (the engine runs in the test process) cannot blind it;
  every sample carries `time.monotonic()`, which on Linux is one clock for every process.
- `FloorAgent` is a scripted agent that keeps every message with the time it arrived, goes ready
  whenever its voice channel is up and it is not ready (as a person at the desk would), gives
  every connected call a disposition, and logs out when told to. It never logs in twice.
- `kill_pbx_asterisk` (SIGKILL to the PBX instance's Asterisk, not the carrier's) and
  `WriteLock` (another process holding the SQLite file write-locked) are the faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from dialer.ari import AriClient, AriError
from dialer.config.settings import Settings
from dialer.db.database import Database
from dialer.db.models import AttemptEvent, CallAttempt
from dialer.pbx import Backend
from dialer.service.client import AgentClient, LinkClosed

AGENT_CHANNEL = re.compile(r"PJSIP/agent(\d+)-")
CUSTOMER_CHANNEL = re.compile(r"PJSIP/carrier")      # the trunks `carrier` and `carrier-reg`

# every message type of docs/agent-protocol.md, so one wait takes whatever comes next
MESSAGES = ("welcome", "state", "channel", "campaign_started", "campaign_stopped",
            "preview_record", "push_offer", "call_connected", "call_ended", "logout_pending",
            "logout_authorized", "ok", "error", "disposition_saved", "pong", "login_ok",
            "campaigns")


# ---------------------------------------------------------------------------------- Asterisk
@dataclass(frozen=True)
class Sample:
    at: float                              # time.monotonic() when the answer came
    ok: bool                               # ARI answered
    channels: dict[str, tuple[str, str]]   # channel id -> (name, state)
    bridges: tuple[tuple[str, ...], ...]   # the channel ids of each bridge


@dataclass(frozen=True)
class StatusSample:
    sent: float
    took: float | None                     # None: no answer within the timeout
    body: dict[str, Any] | None


class Watch(threading.Thread):
    """Samples ARI every `period` s and the supervisor's status every second, until `stop()`."""

    def __init__(self, settings: Settings, status_url: str | None = None,
                 auth: tuple[str, str] | None = None, period: float = 0.2) -> None:
        super().__init__(name="floor-watch", daemon=True)
        self.settings = settings
        self.status_url = status_url
        self.auth = auth
        self.period = period
        self.samples: list[Sample] = []
        self.status: list[StatusSample] = []
        self._stop_event = threading.Event()

    def __enter__(self) -> Watch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        tasks = [asyncio.create_task(self._ari_loop())]
        if self.status_url is not None:
            tasks.append(asyncio.create_task(self._status_loop()))
        while not self._stop_event.is_set():
            await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _ari_loop(self) -> None:
        async with AriClient.from_settings(self.settings.pbx, app="floor-watch") as ari:
            while True:
                try:
                    chans = await asyncio.wait_for(ari.get("channels"), 3)
                    bridges = await asyncio.wait_for(ari.get("bridges"), 3)
                    self.samples.append(Sample(
                        time.monotonic(), True,
                        {c["id"]: (c["name"], c["state"]) for c in chans},
                        tuple(tuple(b.get("channels", ())) for b in bridges)))
                except (AriError, TimeoutError):
                    self.samples.append(Sample(time.monotonic(), False, {}, ()))
                await asyncio.sleep(self.period)

    async def _status_loop(self) -> None:
        assert self.status_url is not None and self.auth is not None
        timeout = aiohttp.ClientTimeout(total=2.0)
        async with aiohttp.ClientSession(headers=_basic(self.auth), timeout=timeout) as http:
            while True:
                sent = time.monotonic()
                try:
                    async with http.get(self.status_url) as resp:
                        body = await resp.json() if resp.status == 200 else None
                    self.status.append(StatusSample(sent, time.monotonic() - sent, body))
                except (aiohttp.ClientError, TimeoutError):
                    self.status.append(StatusSample(sent, None, None))
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))

    # ------------------------------------------------------------------ what was seen
    def between(self, since: float = 0.0, until: float = float("inf")) -> list[Sample]:
        return [s for s in list(self.samples) if s.ok and since <= s.at <= until]

    def customers_seen(self, until: float = float("inf")) -> set[str]:
        """Every customer channel (through the carrier trunks) seen up to `until`."""
        return {cid for s in self.between(until=until) for cid, (name, _) in s.channels.items()
                if CUSTOMER_CHANNEL.match(name)}

    def bridged(self, since: float = 0.0, until: float = float("inf")) -> dict[str, float]:
        """Customer channel id -> when it was first seen in one bridge with an agent's channel."""
        out: dict[str, float] = {}
        for s in self.between(since, until):
            for members in s.bridges:
                names = [s.channels.get(cid, ("", ""))[0] for cid in members]
                if not any(AGENT_CHANNEL.match(n) for n in names):
                    continue
                for cid, name in zip(members, names, strict=True):
                    if CUSTOMER_CHANNEL.match(name):
                        out.setdefault(cid, s.at)
        return out

    def answered(self) -> dict[str, float]:
        """Customer channel id -> when it was first seen Up."""
        out: dict[str, float] = {}
        for s in self.between():
            for cid, (name, state) in s.channels.items():
                if CUSTOMER_CHANNEL.match(name) and state == "Up":
                    out.setdefault(cid, s.at)
        return out

    def agent_channel_up(self, seat: int, since: float) -> float | None:
        """When a channel of agent `seat`'s phone was first seen Up at or after `since`."""
        for s in self.between(since):
            for name, state in s.channels.values():
                m = AGENT_CHANNEL.match(name)
                if m and int(m.group(1)) == seat and state == "Up":
                    return s.at
        return None

    def ringing_customers(self, since: float = 0.0) -> set[str]:
        """Customer channels seen before they were answered (dialing or ringing)."""
        return {cid for s in self.between(since) for cid, (name, state) in s.channels.items()
                if CUSTOMER_CHANNEL.match(name) and state != "Up"}

    def status_answers(self, since: float, until: float) -> list[StatusSample]:
        return [s for s in list(self.status) if since <= s.sent <= until]


def _basic(auth: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(*auth)}


def seat_of(login: str) -> int | None:
    m = re.fullmatch(r"agent(\d+)", login)
    return int(m.group(1)) if m else None


async def ghosts(settings: Settings, db: Database, status_url: str,
                 auth: tuple[str, str]) -> list[str]:
    """What the supervisor's status shows that Asterisk does not have: calls (older than 3 s,
    in two status reads around one ARI read) with no channel, and agents shown with a connected
    voice channel whose phone has no channel. An empty list: none."""
    timeout = aiohttp.ClientTimeout(total=5.0)
    async with aiohttp.ClientSession(headers=_basic(auth), timeout=timeout) as http:
        async def status() -> dict[str, Any]:
            async with http.get(status_url) as resp:
                assert resp.status == 200, f"status: HTTP {resp.status}"
                body: dict[str, Any] = await resp.json()
                return body

        first = await status()
        async with AriClient.from_settings(settings.pbx, app="floor-watch") as ari:
            chans = {c["id"]: c["name"] for c in await ari.get("channels")}
        second = await status()
    out: list[str] = []
    again = {c["attempt"] for c in second["calls"]}
    calls = [c for c in first["calls"] if c["attempt"] in again and c.get("seconds", 0) >= 3]
    with db.session() as s:
        channel_of = dict(s.execute(select(CallAttempt.id, CallAttempt.channel_id).where(
            CallAttempt.id.in_([c["attempt"] for c in calls]))).all())
    customer_channels = {cid for cid, name in chans.items() if CUSTOMER_CHANNEL.match(name)}
    unmatched = []
    for c in calls:
        ch = channel_of.get(c["attempt"])
        if ch is None:
            unmatched.append(c)
        elif ch not in chans:
            out.append(f"call of attempt {c['attempt']} ({c.get('state')}): channel {ch} is "
                       "not in Asterisk")
        else:
            customer_channels.discard(ch)
    if len(unmatched) > len(customer_channels):
        out.append(f"{len(unmatched)} calls shown but only {len(customer_channels)} customer "
                   f"channels in Asterisk: {unmatched}")
    phones = {int(m.group(1)) for name in chans.values() if (m := AGENT_CHANNEL.match(name))}
    for a in second["agents"]:
        seat = seat_of(a["agent"])
        if a.get("voice") == "connected" and seat is not None and seat not in phones:
            out.append(f"{a['agent']} shown with a connected voice channel that Asterisk does "
                       "not have")
    return out


# ---------------------------------------------------------------------------------- agents
@dataclass
class FloorAgent:
    """A scripted agent on the link that records what it is told (see the module docstring)."""

    url: str
    login: str
    password: str
    code: str = "SALE"
    go_ready: bool = True
    log: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    logins: int = 0
    state: str = "logged_out"
    voice: bool = False
    logout_sent: float | None = None
    task: asyncio.Task[None] | None = None
    _client: AgentClient | None = None
    _ready_asked: bool = False

    def start(self) -> FloorAgent:
        self.task = asyncio.create_task(self.run(), name=self.login)
        return self

    async def run(self) -> None:
        async with AgentClient(self.url) as c:
            self._client = c
            reply = await c.login(self.login, self.password)
            if reply["type"] != "login_ok":
                raise RuntimeError(f"{self.login}: login refused: {reply}")
            self.logins += 1
            while True:
                try:
                    msg = await c.expect(MESSAGES, timeout=0.5)
                except TimeoutError:
                    continue
                self.log.append((time.monotonic(), msg))
                if await self._on(c, msg):
                    return

    async def _on(self, c: AgentClient, msg: dict[str, Any]) -> bool:
        kind = msg["type"]
        if kind == "state":
            self.state = msg["state"]
            self._ready_asked = False
        elif kind == "channel":
            self.voice = msg["state"] == "connected"
            self._ready_asked = False
        elif kind == "call_ended" and msg.get("disposition_required"):
            await c.send("disposition", attempt=msg["attempt"], code=self.code,
                         note="fault test")
        elif kind == "logout_authorized":
            return True
        if (self.go_ready and self.voice and self.state == "not_ready"
                and self.logout_sent is None and not self._ready_asked):
            self._ready_asked = True          # once per change of state or channel
            await c.send("ready")
        return False

    async def logout(self) -> float:
        assert self._client is not None, f"{self.login} is not connected"
        self.logout_sent = time.monotonic()
        await self._client.send("logout")
        return self.logout_sent

    def check(self) -> None:
        """Raise what the agent's task failed with (a closed link, a refused login)."""
        if self.task is not None and self.task.done() and not self.task.cancelled():
            self.task.result()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, LinkClosed, Exception):
                await self.task

    def messages(self, kind: str, since: float = 0.0,
                 until: float = float("inf")) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.log if m["type"] == kind and since <= t <= until]

    def first(self, kind: str, since: float = 0.0) -> tuple[float, dict[str, Any]] | None:
        got = self.messages(kind, since)
        return got[0] if got else None

    def voice_back(self, since: float) -> float | None:
        """When a `channel` connected message came at or after `since`."""
        for t, m in self.messages("channel", since):
            if m["state"] == "connected":
                return t
        return None

    def types(self, since: float = 0.0) -> list[str]:
        return [m["type"] + (f"={m['state']}" if "state" in m else "")
                for t, m in self.log if t >= since]


async def wait_until(cond: Callable[[], object], seconds: float, period: float = 0.2,
                     agents: Sequence[FloorAgent] = ()) -> bool:
    """Poll `cond()` until true (True) or `seconds` pass (False); a failed agent fails it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for a in agents:
            a.check()
        if cond():
            return True
        await asyncio.sleep(period)
    return bool(cond())


# ---------------------------------------------------------------------------------- database
def wall(mono: float) -> datetime:
    """A `time.monotonic()` instant as a UTC wall-clock time (to compare with stored times)."""
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - mono)


def utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredAttempt:
    id: int
    number: str
    channel_id: str | None
    started_at: datetime
    answered_at: datetime | None
    bridged_at: datetime | None
    ended_at: datetime | None
    result: str | None
    phases: tuple[str, ...]


def stored_attempts(db: Database, campaign_id: int) -> list[StoredAttempt]:
    with db.session() as s:
        rows = s.scalars(select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
                         .order_by(CallAttempt.id)).all()
        events: dict[int, list[str]] = {}
        for ev in s.scalars(select(AttemptEvent).order_by(AttemptEvent.id)):
            events.setdefault(ev.attempt_id, []).append(ev.phase.value)
        return [StoredAttempt(a.id, a.number, a.channel_id, utc(a.started_at),  # type: ignore[arg-type]
                              utc(a.answered_at), utc(a.bridged_at), utc(a.ended_at),
                              a.result.value if a.result else None,
                              tuple(events.get(a.id, ()))) for a in rows]


# ---------------------------------------------------------------------------------- faults
def kill_pbx_asterisk(be: Backend) -> int:
    """SIGKILL the PBX instance's Asterisk (not the carrier's); returns its host pid (0 with
    Docker). Returns once it is gone."""
    from dialer.pbx.chroot import ChrootBackend, _alive

    if isinstance(be, ChrootBackend):
        pid = be._asterisk_pid("pbx")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_alive(pid) or pbx_running(be)):
            time.sleep(0.02)
        assert not _alive(pid), f"Asterisk (pid {pid}) survived SIGKILL"
        assert not pbx_running(be), "the PBX instance still counts as running after SIGKILL"
        return pid
    res = be._compose("kill", "-s", "SIGKILL", "pbx", timeout=30)  # type: ignore[attr-defined]
    assert res.returncode == 0, res.stderr
    return 0


def pbx_running(be: Backend) -> bool:
    return any(i.name == "pbx" and i.running for i in be.status().instances)


LOCKER = r"""
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
c.execute("BEGIN EXCLUSIVE")
print("locked", time.monotonic(), flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
c.close()
print("released", time.monotonic(), flush=True)
"""


class WriteLock:
    """Another process that holds the SQLite file write-locked (`BEGIN EXCLUSIVE`; in WAL mode
    readers still read) for `seconds`. `locked_at`/`released_at`: `time.monotonic()`."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.proc: subprocess.Popen[str] | None = None
        self.locked_at = 0.0
        self.released_at = 0.0

    async def __aenter__(self) -> WriteLock:
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(self.path),
                                      str(self.seconds)], stdout=subprocess.PIPE, text=True)
        line = await asyncio.to_thread(self.proc.stdout.readline)  # type: ignore[union-attr]
        assert line.startswith("locked"), f"the lock holder said {line!r}"
        self.locked_at = float(line.split()[1])
        return self

    async def wait(self) -> float:
        """Until the holder let go; returns when (monotonic)."""
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.to_thread(self.proc.stdout.readline)
        assert line.startswith("released"), f"the lock holder said {line!r}"
        self.released_at = float(line.split()[1])
        await asyncio.to_thread(self.proc.wait, 10)
        return self.released_at

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@contextlib.contextmanager
def collecting() -> Iterator[list[str]]:
    """Gather failed checks and fail once with all of them (how a test fails says more)."""
    problems: list[str] = []
    yield problems
    assert not problems, "\n - " + "\n - ".join(problems)
