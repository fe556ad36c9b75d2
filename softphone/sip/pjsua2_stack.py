"""The process's one pjsua2 Endpoint (`PjsuaStack`), on a thread of its own, with what it is
configured from (jitter buffer, resampler quality, codec order) and the rules for destroying
pjsua2 objects safely; the user agents on it are `softphone.sip.pjsua2_ua`. The threading and
the pitfalls it avoids are told in that module's docstring and docs/sip-ua.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import queue
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakSet

import pjsua2 as pj  # type: ignore[import-untyped]
from pjsua2 import pjsua2 as _bindings

from softphone.sip.api import (
    SipError,
)
from softphone.sip.device_clock import ConferenceClock
from softphone.sip.secure import TlsListener, TlsTransports

if TYPE_CHECKING:
    from softphone.sip.pjsua2_ua import PjsuaUserAgent

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CALLS = 4          # this build's PJSUA_MAX_CALLS (pjsua_call_get_max_count() says 4)
MAX_ACCOUNTS = MAX_CALLS  # each agent keeps one call up (the dialer's agent leg); PJSIP's
                          # account limit (8) is not the binding one
DTMF_DIGITS = set("0123456789*#ABCD")
CODEC_PRIORITY = {"PCMU/8000/1": 255, "PCMA/8000/1": 254, "G722/16000/1": 200}


@dataclass(frozen=True)
class JitterBufferConfig:
    """PJSIP's network jitter buffer (pjsua_media_config jb_*), in ms; -1 is PJSIP's default.

    Measured with bench/softphone_audio.py (docs/sip-ua.md): the defaults (no initial prefetch,
    minimum prefetch of one frame) cost 20-30 ms on a clean network; see there for the choice.
    """

    init_ms: int = -1
    min_pre_ms: int = -1
    max_pre_ms: int = -1
    max_ms: int = -1


DEFAULT_JB = JitterBufferConfig()


# pjsua's media `quality` (1..10) picks the conference's resampler between the 16 kHz bridge and
# an 8 kHz codec: <= 2 linear, 3-4 a small filter (~1 ms each way), 5+ the large filter (~4.4 ms
# each way, PJSIP's default 8). Measured with bench/softphone_audio.py (docs/sip-ua.md): the small
# filter saves ~6.6 ms a round trip; PESQ on G.711 showed no difference beyond run-to-run spread.
DEFAULT_RESAMPLE_QUALITY = 4


def _pj_reason(exc: BaseException) -> str:
    if isinstance(exc, pj.Error):
        return f"{exc.reason} ({exc.title})" if exc.title else str(exc.reason)
    return str(exc)


def _quiet_pjlib() -> None:
    """pjlib logs its start-up to stdout before any config applies; lower its level first."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(_bindings._pjsua2.__file__).pj_log_set_level(0)


class _StderrLog(pj.LogWriter):  # type: ignore[misc]
    """PJSIP's log lines to stderr (stdout belongs to the headless mode's events)."""

    def write(self, entry: Any) -> None:
        sys.stderr.write(str(entry.msg) if str(entry.msg).endswith("\n") else f"{entry.msg}\n")


class PjsuaStack:
    """The process's one pjsua2 Endpoint, on its own thread.

    `run(fn)` runs `fn` on that thread and returns its result (or raises its exception); called
    from that thread (a listener), it runs `fn` at once.
    """

    _shared: PjsuaStack | None = None
    _shared_lock = threading.Lock()

    def __init__(self, bind: str = "", sip_port: int = 0, log_level: int = 0,
                 log_file: str = "", clock_rate: int = 16000, user_agent: str = "",
                 jitter_buffer: JitterBufferConfig = DEFAULT_JB, frame_ms: int = 20,
                 device_clock: bool = False,
                 resample_quality: int = DEFAULT_RESAMPLE_QUALITY) -> None:
        if not 1 <= resample_quality <= 10:
            raise ValueError(f"resample_quality {resample_quality} is outside 1..10")
        self.bind = bind
        self.resample_quality = resample_quality   # DEFAULT_RESAMPLE_QUALITY's comment
        self.device_clock = device_clock   # the headset ticks the conference (device_clock.py)
        self.clock: ConferenceClock | None = None
        self.clock_owner: object | None = None
        self.jitter_buffer = jitter_buffer
        self.frame_ms = frame_ms   # the conference bridge's tick; the agents' AudioPorts match it
        self.requested_port = sip_port
        self.clock_rate = clock_rate
        self._log_level = log_level
        self._log_file = log_file
        self._user_agent = user_agent or f"opendialer-softphone (pjsua2 {pj.__version__})"
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = \
            queue.SimpleQueue()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._init_error: BaseException | None = None
        self._graveyard: list[Any] = []
        self._objects: WeakSet[Any] = WeakSet()   # every pjsua2 object made for this stack
        self._log_writer: Any = None
        self.agents: list[PjsuaUserAgent] = []
        self.ep: Any = None
        self.transport_id = -1
        self.local_address = ("", 0)
        self.tls = TlsTransports(bind)     # SIP over TLS, one transport per trusted CA file
        self._thread = threading.Thread(target=self._main, name="pjsua", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._init_error is not None:
            self._thread.join()
            raise SipError(f"cannot start the SIP stack: {_pj_reason(self._init_error)}")

    @classmethod
    def shared(cls, **kwargs: Any) -> PjsuaStack:
        """The process's stack, started on first use with `kwargs`."""
        with cls._shared_lock:
            if cls._shared is None or not cls._shared.alive:
                cls._shared = cls(**kwargs)
            return cls._shared

    @classmethod
    def current(cls) -> PjsuaStack | None:
        """The process's running stack, if any."""
        with cls._shared_lock:
            return cls._shared if cls._shared is not None and cls._shared.alive else None

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    @property
    def on_stack_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        if self.on_stack_thread:
            return fn()
        if not self.alive:
            raise SipError("the SIP stack is shut down")
        fut: Future[T] = Future()
        self._commands.put((fn, fut))
        return fut.result(timeout)

    def tls_transport(self, ca_file: str, port: int = 0) -> TlsListener:
        """The TLS transport that trusts `ca_file` (made now, on `port`, if there is none)."""
        return self.run(lambda: self.tls.get(self.ep, ca_file, port))

    def bury(self, obj: Any) -> None:
        """Drop `obj` (a pjsua2 object) on the stack thread, after the current callback."""
        self._graveyard.append(obj)

    def track(self, obj: T) -> T:
        """Remember `obj` (a pjsua2 object of this stack) so the stack can settle it at the end."""
        self._objects.add(obj)
        return obj

    def _empty_graveyard(self) -> None:
        while self._graveyard:
            _destroy_now(self._graveyard.pop())

    def shutdown(self, timeout: float = 10.0) -> None:
        """Close every user agent (hang up, unregister), then destroy the Endpoint."""
        if not self._thread.is_alive():
            return
        for agent in list(self.agents):
            with contextlib.suppress(SipError, TimeoutError):
                agent.close()
        self._stopping.set()
        self._thread.join(timeout)
        with PjsuaStack._shared_lock:
            if PjsuaStack._shared is self:
                PjsuaStack._shared = None

    # -------------------------------------------------------------- stack thread
    def _main(self) -> None:
        try:
            self._start_endpoint()
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._init_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stopping.is_set():
                self._run_commands()
                self.ep.libHandleEvents(10)
                self._empty_graveyard()
            self._run_commands()
            # let BYEs and un-REGISTERs go out before the Endpoint goes
            for _ in range(50):
                self.ep.libHandleEvents(10)
            self._empty_graveyard()
        finally:
            self._destroy_endpoint()

    def _run_commands(self) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
            self._empty_graveyard()

    def _start_endpoint(self) -> None:
        _quiet_pjlib()
        ep = pj.Endpoint()
        ep.libCreate()
        self.ep = ep
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = MAX_CALLS
        cfg.uaConfig.userAgent = self._user_agent
        cfg.logConfig.level = self._log_level
        cfg.logConfig.consoleLevel = self._log_level
        if self._log_file:
            cfg.logConfig.filename = self._log_file
        elif self._log_level > 0:
            self._log_writer = _StderrLog()
            cfg.logConfig.writer = self._log_writer
        med = cfg.medConfig
        med.clockRate = self.clock_rate
        med.sndClockRate = self.clock_rate
        med.audioFramePtime = self.frame_ms
        med.ptime = 20
        med.quality = self.resample_quality
        med.noVad = True          # steady RTP: silence is sent, not suppressed
        med.ecTailLen = 0         # no echo canceller: the agent wears a headset
        med.threadCnt = 1         # the media thread receives RTP
        jb = self.jitter_buffer
        med.jbInit, med.jbMinPre, med.jbMaxPre, med.jbMax = (
            jb.init_ms, jb.min_pre_ms, jb.max_pre_ms, jb.max_ms)
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = self.requested_port
        if self.bind:
            tcfg.boundAddress = self.bind
        self.transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.libStart()
        if self.device_clock:
            self.clock = ConferenceClock(ep, 2 * self.clock_rate * self.frame_ms // 1000,
                                         self.frame_ms)
        else:
            ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, CODEC_PRIORITY.get(codec.codecId, 0))
        info = ep.transportGetInfo(self.transport_id)
        host, _, port = str(info.localName).rpartition(":")
        self.local_address = (host, int(port))

    def _destroy_endpoint(self) -> None:
        if self.clock is not None:
            self.clock.close()
        self.agents.clear()
        self._empty_graveyard()
        # what a user agent left open (calls, then audio ports, then accounts) goes before the
        # Endpoint: after libDestroy() their destructors would fail PJSIP's checks
        order = (pj.Call, pj.AudioMediaPort, pj.Account)
        for obj in sorted(self._objects, key=lambda o: next(
                (i for i, kind in enumerate(order) if isinstance(o, kind)), len(order))):
            _destroy_now(obj)
        if self.ep is not None:
            with contextlib.suppress(Exception):
                self.ep.libDestroy()
            self.ep = None
        self.tls.close()


def _destroy_now(obj: Any) -> None:
    """Run the C++ destructor of `obj` (a pjsua2 object) now, on the calling (stack) thread.

    Whoever still holds the Python object afterwards holds an empty shell; nothing here uses a
    buried object again. Python would otherwise destroy it whenever, and wherever, the last
    reference goes: after its pjsua slot went to another call or account, or on a thread pjlib
    does not know (both abort or break the process; see the module docstring).
    """
    this = getattr(obj, "this", None)
    if this is not None and this.own():
        try:
            type(obj).__swig_destroy__(obj)
        except Exception:  # noqa: BLE001 - a failed destructor must not stop the stack thread
            log.exception("destroying %s failed", type(obj).__name__)


def _valid(call: Any) -> bool:
    """Does `call` hold a pjsua call id? pjsua's call functions abort the process on any other."""
    return 0 <= int(call.getId()) < MAX_CALLS


def local_address_towards(host: str, port: int) -> str:
    """The local IP address this machine would use to reach `host` (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((host, port))
        return str(s.getsockname()[0])
    except OSError:
        return ""
    finally:
        s.close()
