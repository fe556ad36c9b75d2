"""Headless softphone: scripted agents for the demo, tests and load, without Qt.

Agent mode (the default) registers one or more agent seats and auto-answers incoming calls (the
dialer's nailed-up agent leg). Each agent's "voice" is a tone, a WAV file or silence, and what it
hears can be recorded to one WAV file per call:

    softphone --headless --agent 1001-1004 --voice tone:440 --record var/agents

Call mode places one call and reports what came back (tone frequency by Goertzel, echo delay of
tone bursts, DTMF digits), e.g. the pre-shift echo check or the milliwatt tone:

    softphone --headless --agent 1015 --call 9196 --dtmf 123#
    softphone --headless --agent 1015 --call 9197

One process holds up to 4 agents (this PJSIP build handles 4 calls per process, one per agent's
leg); run several processes for more, each gets its own SIP port. Every line printed is an
event (`--json` for JSON lines).
Exit status: 0 done, 1 the call failed or was not answered, 2 bad options or registration
refused, 3 an agent never registered.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
import time
import wave
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from dialer.core.audio import AudioFormat, dominant_frequency, rms_dbfs, samples_of
from softphone.audio.bridge import AudioBridge
from softphone.audio.check import EchoProbe
from softphone.audio.virtual import Signal, Silence, VirtualAudioDevice, WavSignal, tone
from softphone.sip.api import (
    AUTO_ANSWER,
    UNTRUSTED,
    AnswerPolicy,
    CallMediaChanged,
    CallState,
    CallStateChanged,
    DtmfReceived,
    EventQueue,
    RegistrationChanged,
    RegState,
    SipAccount,
    SipError,
    UaEvent,
)


# ---------------------------------------------------------------------------- options
def parse_agents(specs: list[str]) -> list[int]:
    """'1015', '1015-1018', '1015,1017' (repeatable) -> agent numbers, in order, no repeats."""
    numbers: list[int] = []
    for spec in specs:
        for part in spec.split(","):
            part = part.strip().removeprefix("agent")
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise ValueError(f"not an agent number or range: {part!r}")
            lo, hi = int(m[1]), int(m[2] or m[1])
            if hi < lo:
                raise ValueError(f"empty agent range: {part!r}")
            numbers += [n for n in range(lo, hi + 1) if n not in numbers]
    return numbers


def parse_voice(spec: str, fmt: AudioFormat) -> Signal:
    """'silence', 'tone:440', 'tone:440@-20' (level in dBFS) or 'wav:PATH'."""
    kind, _, arg = spec.partition(":")
    if kind == "silence" and not arg:
        return Silence(fmt)
    if kind == "tone":
        freq, _, level = arg.partition("@")
        try:
            return tone(float(freq), fmt, float(level) if level else -12.0)
        except ValueError:
            raise ValueError(f"--voice tone:HZ[@DBFS], got {spec!r}") from None
    if kind == "wav":
        path = Path(arg)
        if not path.is_file():
            raise ValueError(f"--voice {spec!r}: no such file")
        return WavSignal(path, fmt)
    raise ValueError(f"--voice must be silence, tone:HZ[@DBFS] or wav:PATH, got {spec!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="softphone --headless", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", action="append", required=True, metavar="N[-M]",
                   help="agent seat number(s): SIP user agent<N>; repeatable, ranges allowed")
    p.add_argument("--registrar", default="127.0.0.1:5060",
                   help="PBX SIP host:port (with --transport tls: its TLS port)")
    p.add_argument("--transport", choices=("udp", "tls"), default="udp",
                   help="SIP over UDP, or over TLS with SRTP required (the PBX's [agents] "
                   "sip_transport)")
    p.add_argument("--ca", metavar="FILE", default=None,
                   help="with --transport tls: the CA the PBX's certificate must chain to "
                   "(default: env OPENDIALER_CA_FILE)")
    p.add_argument("--tls-port", type=int, default=0,
                   help="with --transport tls: local port to take SIP over TLS on (default: any)")
    p.add_argument("--password", help="SIP password (one agent only; default: the seat's own "
                   "password, from env OPENDIALER_SEAT_KEY or this installation's secrets)")
    p.add_argument("--expires", type=int, default=120, help="registration lifetime, s")
    p.add_argument("--manual-answer", action="store_true",
                   help="let incoming calls ring instead of answering them")
    p.add_argument("--voice", default="silence",
                   help="what the agent says: silence, tone:HZ[@DBFS] or wav:PATH")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="write what each agent hears to DIR/<agent>-call<id>.wav")
    p.add_argument("--for", dest="run_for", type=float, metavar="SECONDS",
                   help="stop after this long (default: until SIGINT/SIGTERM)")
    p.add_argument("--call", metavar="EXTENSION", help="place one call and report, then exit")
    p.add_argument("--talk", type=float, default=3.0, help="with --call: seconds to stay on")
    p.add_argument("--dtmf", default="", help="with --call: RFC 4733 digits to send")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--bind", default=None, help="local address for SIP and RTP")
    p.add_argument("--sip-port", type=int, default=0, help="local SIP port (default: any)")
    p.add_argument("--register-timeout", type=float, default=10.0)
    p.add_argument("--pjsip-log", type=int, default=0, metavar="LEVEL",
                   help="PJSIP log level to stderr (0-6)")
    return p


# ---------------------------------------------------------------------------- output
class Reporter:
    """Prints one line per fact, as text or JSON, from any thread."""

    def __init__(self, as_json: bool, out: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self._lock = threading.Lock()

    def __call__(self, agent: str, event: str, **fields: Any) -> None:
        if self.as_json:
            plain = {k: _plain(v) for k, v in fields.items()}
            line = json.dumps({"agent": agent, "event": event, **plain})
        else:
            plain = {k: _plain(v) for k, v in fields.items()}
            extra = " ".join(f"{k}={v}" for k, v in plain.items() if v not in ("", None))
            line = f"{agent} {event}" + (f" {extra}" if extra else "")
        with self._lock:
            print(line, file=self.out, flush=True)


def _plain(v: Any) -> Any:
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, float):
        return None if math.isinf(v) or math.isnan(v) else round(v, 1)
    return v


class WavRecorder:
    """One WAV file per call, fed by the virtual device's thread."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.fmt = fmt
        self._lock = threading.Lock()
        self._wav: Any = None
        self.path: Path | None = None

    def open(self, path: Path) -> None:
        with self._lock:
            self._close()
            path.parent.mkdir(parents=True, exist_ok=True)
            w = wave.open(str(path), "wb")
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.fmt.rate)
            self._wav, self.path = w, path

    def __call__(self, frame: bytes) -> None:
        with self._lock:
            if self._wav is not None:
                self._wav.writeframes(frame)

    def close(self) -> Path | None:
        with self._lock:
            path = self.path
            self._close()
            return path

    def _close(self) -> None:
        if self._wav is not None:
            self._wav.close()
        self._wav, self.path = None, None


# ---------------------------------------------------------------------------- one agent
@dataclass
class CallReport:
    call: int
    answered: bool = False
    code: int = 0
    reason: str = ""
    codec: str = ""
    heard_hz: float | None = None
    heard_dbfs: float = -math.inf
    echo_delay_ms: float | None = None
    dtmf_back: str = ""
    recording: str = ""
    events: list[str] = field(default_factory=list)


def seat_sip_password(number: int) -> str:
    """Seat `number`'s own SIP password: from OPENDIALER_SEAT_KEY, else from the settings of the
    installation this runs in (a scripted agent runs beside the dialer)."""
    from dialer.config.secrets import seat_password

    key = os.environ.get("OPENDIALER_SEAT_KEY")
    if key:
        return seat_password(key, number)
    from dialer.config.settings import load_settings

    return load_settings().agents.sip_password(number)


class ScriptedAgent:
    """An agent seat: a user agent on a virtual sound card with a scripted voice."""

    def __init__(self, number: int, args: argparse.Namespace, events: EventQueue,
                 report: Reporter, fmt: AudioFormat, stack: Any) -> None:
        from softphone.sip.pjsua2_ua import PjsuaUserAgent

        self.user = f"agent{number}"
        password = args.password or seat_sip_password(number)
        self.account = SipAccount(self.user, password, args.registrar, expires_s=args.expires,
                                  transport=args.transport, ca_file=args.ca or "")
        self.device = VirtualAudioDevice(fmt, parse_voice(args.voice, fmt), keep_seconds=60)
        self.bridge = AudioBridge(self.device, fmt)
        self.recorder = WavRecorder(fmt)
        self.device.set_recorder(self.recorder)
        self.record_dir: Path | None = args.record
        self.report = report
        policy = AnswerPolicy() if args.manual_answer else AUTO_ANSWER
        self.ua = PjsuaUserAgent(self.account, self.bridge, policy, stack=stack)
        self.ua.add_listener(events)
        self.calls: dict[int, CallReport] = {}

    def handle(self, ev: UaEvent) -> None:
        """React to one of this agent's events (on the main thread)."""
        if isinstance(ev, RegistrationChanged):
            if ev.code:
                self.report(self.user, f"registration {ev.state.value}", code=ev.code,
                            detail=ev.reason)
            return
        rep = self.calls.setdefault(ev.call, CallReport(ev.call))
        if isinstance(ev, CallStateChanged):
            rep.events.append(ev.state.value)
            if ev.state is CallState.INCOMING:
                self.report(self.user, "call incoming", call=ev.call, remote=ev.remote)
            elif ev.state is CallState.CONFIRMED:
                rep.answered = True
                self.device.clear_capture()
                if self.record_dir is not None:
                    self.recorder.open(self.record_dir / f"{self.user}-call{ev.call}.wav")
                self.report(self.user, "call answered", call=ev.call, remote=ev.remote,
                            direction=ev.direction)
            elif ev.state is CallState.DISCONNECTED:
                rep.code, rep.reason = ev.code, ev.reason
                recorded = self.recorder.close()
                rep.recording = str(recorded or "")
                heard = samples_of(self.device.captured())
                rep.heard_dbfs = rms_dbfs(heard)
                rep.heard_hz = dominant_frequency(heard, self.device.fmt.rate)
                self.report(self.user, "call ended", call=ev.call, code=ev.code,
                            reason=ev.reason, heard_hz=rep.heard_hz, heard_dbfs=rep.heard_dbfs,
                            recording=rep.recording)
        elif isinstance(ev, CallMediaChanged):
            rep.codec = ev.codec or rep.codec
            self.report(self.user, f"media {ev.state.value}", call=ev.call, codec=ev.codec)
        elif isinstance(ev, DtmfReceived):
            rep.dtmf_back += ev.digit
            self.report(self.user, "dtmf received", call=ev.call, digit=ev.digit)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = out or sys.stdout
    try:
        numbers = parse_agents(args.agent)
        fmt = AudioFormat()
        parse_voice(args.voice, fmt)
    except ValueError as exc:
        parser.error(str(exc))
    if args.password and len(numbers) > 1:
        parser.error("--password is for one agent; several agents use their seats' own "
                     "passwords (OPENDIALER_SEAT_KEY or this installation's secrets)")
    if args.call and len(numbers) > 1:
        parser.error("--call places one call: give one --agent")
    from softphone.sip.pjsua2_ua import MAX_ACCOUNTS, PjsuaStack, local_address_towards

    if len(numbers) > MAX_ACCOUNTS:
        parser.error(f"one process runs at most {MAX_ACCOUNTS} agents (PJSIP's call limit: one "
                     "call per agent); start one process per group of agents")
    host, _, port = args.registrar.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--registrar must be HOST:PORT, got {args.registrar!r}")
    report = Reporter(args.json, out)
    stop = threading.Event()
    previous = _install_signals(stop)
    bind = args.bind if args.bind is not None else local_address_towards(host, int(port))
    owns_stack = PjsuaStack.current() is None  # a test may run us inside its own process
    try:
        stack = PjsuaStack.shared(bind=bind, sip_port=args.sip_port, log_level=args.pjsip_log)
    except SipError as exc:
        report("-", "error", detail=str(exc))
        return 2
    args.ca = args.ca or os.environ.get("OPENDIALER_CA_FILE", "")
    tls = ""
    if args.transport == "tls":
        try:
            if not args.ca:
                raise SipError("--transport tls needs the PBX's CA: --ca FILE or env "
                               "OPENDIALER_CA_FILE")
            listener = stack.tls_transport(args.ca, args.tls_port)
        except SipError as exc:
            report("-", "error", detail=str(exc))
            if owns_stack:
                stack.shutdown()
            return 2
        tls = f"{stack.local_address[0]}:{listener.port}"
    report("-", "started", sip=f"{stack.local_address[0]}:{stack.local_address[1]}",
           agents=len(numbers), pid=os.getpid(), **({"sip_tls": tls} if tls else {}))
    events = EventQueue()
    agents: dict[str, ScriptedAgent] = {}
    try:
        for n in numbers:
            agent = ScriptedAgent(n, args, events, report, fmt, stack)
            agents[agent.user] = agent
            agent.ua.register()
        status = _wait_registered(agents, events, args.register_timeout, report)
        if status:
            return status
        if args.call:
            return _place_call(next(iter(agents.values())), args, events, report)
        deadline = None if args.run_for is None else time.monotonic() + args.run_for
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            ev = events.get(0.2)
            if ev is not None and ev.account in agents:
                agents[ev.account].handle(ev)
        return 0
    except SipError as exc:
        report("-", "error", detail=str(exc))
        return 1
    finally:
        for agent in agents.values():
            agent.ua.close()
            agent.recorder.close()
        if owns_stack:
            stack.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        report("-", "stopped")


def _install_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM end the run; returns the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, lambda *_a: stop.set())
    return previous


def _wait_registered(agents: dict[str, ScriptedAgent], events: EventQueue, timeout: float,
                     report: Reporter) -> int:
    pending = set(agents)
    deadline = time.monotonic() + timeout
    while pending and (left := deadline - time.monotonic()) > 0:
        ev = events.get(left)
        if ev is None or ev.account not in agents:
            continue
        agents[ev.account].handle(ev)
        if isinstance(ev, RegistrationChanged) and ev.code:
            if ev.state is RegState.REGISTERED:
                pending.discard(ev.account)
            elif ev.code in (401, 403, 404, 407) or UNTRUSTED in ev.reason:
                report(ev.account, "error", detail=ev.reason)
                return 2
    if pending:
        report("-", "error", detail="not registered in time: " + ", ".join(sorted(pending)))
        return 3
    return 0


def _place_call(agent: ScriptedAgent, args: argparse.Namespace, events: EventQueue,
                report: Reporter) -> int:
    fmt = agent.device.fmt
    probe = EchoProbe(fmt, inject=args.voice == "silence")
    agent.ua.set_audio_tap(probe)
    call = agent.ua.make_call(args.call)
    report(agent.user, "calling", call=call, target=agent.account.target_uri(args.call))
    rep = agent.calls.setdefault(call, CallReport(call))
    talk_until: float | None = None
    dtmf_at: float | None = None
    hung_up = False
    while True:
        now = time.monotonic()
        if talk_until is not None and now >= talk_until and not hung_up:
            agent.ua.hangup(call)
            hung_up = True
        if dtmf_at is not None and now >= dtmf_at:
            agent.ua.send_dtmf(call, args.dtmf)
            report(agent.user, "dtmf sent", call=call, digits=args.dtmf)
            dtmf_at = None
        ev = events.get(0.05)
        if ev is None or ev.account != agent.user:
            continue
        agent.handle(ev)
        if isinstance(ev, CallStateChanged) and ev.call == call:
            if ev.state is CallState.CONFIRMED:
                talk_until = time.monotonic() + args.talk
                if args.dtmf:
                    dtmf_at = time.monotonic() + min(0.5, args.talk / 2)
            elif ev.state is CallState.DISCONNECTED:
                break
    # DTMF echoed back may trail the BYE by a moment
    while (ev := events.get(0.2)) is not None:
        if ev.account == agent.user:
            agent.handle(ev)
    agent.ua.set_audio_tap(None)
    received = b"".join(probe.received)
    heard = samples_of(received)
    rep.heard_hz = dominant_frequency(heard, fmt.rate)
    rep.heard_dbfs = rms_dbfs(heard)
    echo = probe.result()
    rep.echo_delay_ms = echo.echo_delay_ms
    summary = asdict(rep)
    summary.pop("events")
    report(agent.user, "call report", target=args.call, **summary)
    return 0 if rep.answered else 1
