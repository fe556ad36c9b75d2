"""The softphone's SIP user agent, as an interface of ours so the SIP library can be replaced.

A `UserAgent` is one agent's SIP account on the PBX: it registers (digest auth) and keeps the
registration fresh, answers OPTIONS, applies an `AnswerPolicy` to incoming calls (the dialer's
nailed-up agent leg is auto-answered), places calls, hangs up, holds, mutes, sends RFC 4733 DTMF,
and moves audio through an `AudioPort` (see `softphone.audio.bridge`).

Commands are methods (imperatives); what happens comes back as events (past facts, small frozen
dataclasses) to the listeners given to `add_listener`. Listeners run on the user agent's own
thread and must not block: a GUI re-posts them to its own thread, headless code puts them on a
queue (`EventQueue`).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeVar

from softphone.audio.bridge import AudioPort, AudioTap


class SipError(Exception):
    """A SIP command failed (the message names the account, the call and the reason)."""


class RegistrationError(SipError):
    """Registration was refused or did not complete."""


class RegState(Enum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"


class CallState(Enum):
    INCOMING = "incoming"        # an INVITE arrived, not answered yet
    CALLING = "calling"          # our INVITE is out
    RINGING = "ringing"          # provisional response (18x) either way
    CONNECTING = "connecting"    # 200 OK sent/received, waiting for ACK
    CONFIRMED = "confirmed"      # the call is up
    DISCONNECTED = "disconnected"


class Direction(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MediaState(Enum):
    NONE = "none"
    ACTIVE = "active"
    LOCAL_HOLD = "local_hold"    # we put the call on hold
    REMOTE_HOLD = "remote_hold"  # the far end did
    ERROR = "error"


SIP_TRANSPORTS = ("udp", "tls")
UNTRUSTED = "is not trusted"     # in a registration's reason when the PBX's certificate failed


@dataclass(frozen=True)
class SipAccount:
    """One agent seat on the PBX. `registrar` is "host:port"; the domain is its host.

    `transport` "tls": SIP goes over TLS to the registrar (its TLS port), whose certificate must
    chain to `ca_file`, and every call's media must be SRTP (keyed by SDES over that TLS).
    """

    user: str
    password: str
    registrar: str
    auth_user: str | None = None
    display_name: str = ""
    expires_s: int = 120          # REGISTER Expires; refreshed `refresh_margin_s` before it ends
    refresh_margin_s: int = 5
    retry_s: int = 10             # after a failed REGISTER, try again this often
    transport: str = "udp"
    ca_file: str = ""             # with tls: the CA the PBX's certificate chains to

    def __post_init__(self) -> None:
        if self.transport not in SIP_TRANSPORTS:
            raise SipError(f"{self.user}: SIP transport must be udp or tls, "
                           f"got {self.transport!r}")
        if self.tls and not self.ca_file:
            raise SipError(f"{self.user}: SIP over TLS needs the PBX's CA certificate (softphone "
                           "--ca FILE or env OPENDIALER_CA_FILE) to verify the PBX")

    @property
    def tls(self) -> bool:
        return self.transport == "tls"

    @property
    def host(self) -> str:
        return self.registrar.rsplit(":", 1)[0] if ":" in self.registrar else self.registrar

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.host}"

    @property
    def registrar_uri(self) -> str:
        return f"sip:{self.registrar}" + (";transport=tls" if self.tls else "")

    def target_uri(self, target: str) -> str:
        """A full SIP URI for `target`: an extension is dialled at the registrar."""
        if target.startswith(("sip:", "sips:", "tel:")):
            return target
        return f"sip:{target}@{self.registrar}" + (";transport=tls" if self.tls else "")


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class RegistrationChanged:
    account: str
    state: RegState
    code: int
    reason: str
    expires_s: int = 0


@dataclass(frozen=True)
class CallIncoming:
    account: str
    call: int
    remote: str


@dataclass(frozen=True)
class CallStateChanged:
    account: str
    call: int
    state: CallState
    direction: Direction
    remote: str
    code: int = 0
    reason: str = ""


@dataclass(frozen=True)
class CallMediaChanged:
    account: str
    call: int
    state: MediaState
    codec: str = ""


@dataclass(frozen=True)
class DtmfReceived:
    account: str
    call: int
    digit: str


UaEvent = RegistrationChanged | CallIncoming | CallStateChanged | CallMediaChanged | DtmfReceived
Listener = Callable[[UaEvent], None]


# ---------------------------------------------------------------------------- the interface
class UserAgent(Protocol):
    @property
    def account(self) -> SipAccount: ...
    @property
    def registration(self) -> RegState: ...
    @property
    def audio(self) -> AudioPort | None: ...

    def calls(self) -> dict[int, CallState | None]:
        """Our calls that are not over yet, with their state."""
        ...

    def add_listener(self, listener: Listener) -> None: ...
    def remove_listener(self, listener: Listener) -> None: ...
    def register(self) -> None:
        """Start registering (and keep the registration fresh); the outcome comes as events."""
        ...
    def unregister(self) -> None: ...
    def set_answer_policy(self, policy: AnswerPolicy) -> None: ...
    def make_call(self, target: str) -> int:
        """Call `target` (an extension or a SIP URI); returns our call id."""
        ...
    def answer(self, call: int) -> None: ...
    def hangup(self, call: int) -> None: ...
    def hold(self, call: int) -> None: ...
    def unhold(self, call: int) -> None: ...
    def set_mute(self, muted: bool) -> None: ...
    def send_dtmf(self, call: int, digits: str) -> None:
        """Send `digits` (0-9, *, #, A-D) as RFC 4733 telephone events."""
        ...
    def set_audio_tap(self, tap: AudioTap | None) -> None: ...
    def close(self) -> None:
        """Hang up every call, unregister and release the account."""
        ...


# ---------------------------------------------------------------------------- answer policy
class AnswerMode(Enum):
    MANUAL = "manual"    # ring; the agent answers
    AUTO = "auto"        # answer at once (the dialer's nailed-up agent leg)
    REJECT = "reject"    # refuse with 486 Busy Here


class AnswerDecision(Enum):
    RING = "ring"
    ANSWER = "answer"
    BUSY = "busy"


@dataclass(frozen=True)
class AnswerPolicy:
    """What to do with an incoming call. With `only_when_idle`, a call that arrives while
    another is up is refused busy rather than answered over it."""

    mode: AnswerMode = AnswerMode.MANUAL
    only_when_idle: bool = True

    def decide(self, calls_up: int) -> AnswerDecision:
        if self.mode is AnswerMode.REJECT:
            return AnswerDecision.BUSY
        if self.only_when_idle and calls_up > 0:
            return AnswerDecision.BUSY
        if self.mode is AnswerMode.AUTO:
            return AnswerDecision.ANSWER
        return AnswerDecision.RING


AUTO_ANSWER = AnswerPolicy(AnswerMode.AUTO)


# ---------------------------------------------------------------------------- waiting on events
E = TypeVar("E")


class EventQueue:
    """A listener that queues events for a thread that waits on them (headless mode, tests)."""

    def __init__(self) -> None:
        self._q: queue.Queue[UaEvent] = queue.Queue()
        self.seen: list[UaEvent] = []

    def __call__(self, event: UaEvent) -> None:
        self._q.put(event)

    def get(self, timeout: float | None = None) -> UaEvent | None:
        try:
            ev = self._q.get(timeout=timeout)
        except queue.Empty:
            return None
        self.seen.append(ev)
        return ev

    def wait_for(self, kind: type[E], timeout: float,
                 where: Callable[[E], bool] = lambda _e: True) -> E:
        """The next event of `kind` matching `where`; `SipError` if none came in `timeout` s."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ev = self.get(left)
            if isinstance(ev, kind) and where(ev):
                return ev
        raise SipError(f"no {kind.__name__} within {timeout:g} s; last events: "
                       + "; ".join(map(str, self.seen[-5:])))
