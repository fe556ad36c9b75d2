"""QA calls: a real SIP phone calls a test extension of the PBX, and what came back is judged.

The phone is the softphone's own user agent (`softphone.sip`, pjsua2) on a virtual sound card,
registered as an agent seat; the call goes over SIP and RTP to Asterisk like a headset's would.
`EXTENSIONS` lists the PBX's test extensions (config/asterisk/extensions.conf, context `agents`;
docs/qa.md) with what each must do; `judge()` (pure) turns what the phone saw (`Observation`)
into a verdict with one finding per check, in plain words.

    echo       9196  tone bursts sent come back; the round trip is measured
    busy       9195  486 Busy Here, never answered
    ring       9194  rings (180) and never answers; we cancel after `ring_for` s (487)
    milliwatt  9197  a 1004 Hz tone, loud
    recording  9198  the stock prompt "hello-world" (1.42 s of speech), then the PBX hangs up
    dtmf       9199  digits sent (RFC 4733, ending with #) come back as DTMF, and are spoken
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from dialer.config.settings import Settings
from dialer.core.audio import AudioFormat, dominant_frequency, rms_dbfs, samples_of, tone_share


class Check(Enum):
    ECHO = "echo"
    BUSY = "busy"
    RINGING = "ringing"
    TONE = "tone"
    RECORDING = "recording"
    DTMF = "dtmf"
    ANSWER = "answer"       # any other extension: it must answer


@dataclass(frozen=True)
class QaExtension:
    number: str
    name: str
    check: Check
    description: str
    listen: float = 3.0     # seconds to stay on an answered call (safety limit for the others)


EXTENSIONS = {e.number: e for e in [
    QaExtension("9194", "ring", Check.RINGING, "rings and never answers (10 minutes at most)"),
    QaExtension("9195", "busy", Check.BUSY, "486 Busy Here at once"),
    QaExtension("9196", "echo", Check.ECHO, "echo: what you say (and DTMF) comes back", 6.0),
    QaExtension("9197", "milliwatt", Check.TONE, "a 1004 Hz tone at 0 dBm0 (1 kHz test tone)",
                  2.0),
    QaExtension("9198", "recording", Check.RECORDING, 'plays the stock prompt "hello-world" '
                  "(1.42 s) and hangs up", 8.0),
    QaExtension("9199", "dtmf", Check.DTMF, "a beep, then reads digits ending with #, says "
                  "them back and sends them back as DTMF, and hangs up", 15.0),
]}

TONE_HZ = 1004.0            # Milliwatt(m)
TONE_TOLERANCE_HZ = 10.0
TONE_MIN_DBFS = -20.0
TONE_SHARE_MIN = 0.8        # a clean tone: most of the energy at one frequency
SPEECH_TONE_SHARE_MAX = 0.5  # speech spreads its energy
RECORDING_SECONDS = 1.42    # hello-world.gsm: 71 GSM frames of 20 ms
RECORDING_TOLERANCE = 0.4
SPEECH_MIN_DBFS = -45.0     # a 20 ms frame louder than this is sound
DEFAULT_DTMF = "2580"
ECHO_MAX_DELAY_MS = 500.0


@dataclass
class Observation:
    """What the phone saw on one call (filled by `qa_call`, or by a test)."""

    extension: str
    agent: str = ""
    registered: bool = False
    registration: str = ""
    answered: bool = False
    code: int = 0
    reason: str = ""
    codec: str = ""
    ringing_ms: float | None = None
    answered_ms: float | None = None
    ended_ms: float | None = None
    hung_up_by: str = ""            # "us" or "the PBX"
    heard_hz: float | None = None   # the strongest frequency heard
    tone_share: float = 0.0         # share of the sound's energy at that frequency
    heard_dbfs: float = -math.inf
    sound_s: float = 0.0            # seconds of sound heard after the answer
    echo_delay_ms: float | None = None
    echo_ok: bool = False
    echo_message: str = ""
    dtmf_sent: str = ""
    dtmf_back: str = ""
    error: str = ""


@dataclass
class QaReport:
    extension: QaExtension
    observation: Observation
    passed: bool
    findings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        e, o = self.extension, self.observation
        head = f"{e.number} ({e.name}) from {o.agent or 'a phone'}: "
        head += "PASS" if self.passed else "FAIL"
        return "\n".join([head] + [f"  {f}" for f in self.findings])

    def as_dict(self) -> dict[str, Any]:
        obs = {k: (None if isinstance(v, float) and math.isinf(v) else v)
               for k, v in asdict(self.observation).items()}
        return {"extension": self.extension.number, "name": self.extension.name,
                "passed": self.passed, "findings": self.findings, **obs}


def extension_for(number: str) -> QaExtension:
    return EXTENSIONS.get(number) or QaExtension(number, "other", Check.ANSWER,
                                                  "not a known test extension: must answer")


# ------------------------------------------------------------------------------ judging (pure)
def judge(ext: QaExtension, obs: Observation) -> QaReport:
    """The verdict on one call: every check's finding in plain words, and pass/fail."""
    findings: list[str] = []
    ok = True

    def check(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        findings.append(("ok: " if passed else "FAILED: ") + text)

    if obs.error:
        check(False, obs.error)
        return QaReport(ext, obs, False, findings)
    answer = f"{obs.code} {obs.reason}".strip()
    if ext.check is Check.BUSY:
        check(not obs.answered and obs.code == 486, f"the PBX answered {answer or 'nothing'}"
              + (" (busy)" if obs.code == 486 else ", expected 486 Busy Here"))
        return QaReport(ext, obs, ok, findings)
    if ext.check is Check.RINGING:
        rang = obs.ringing_ms is not None
        check(rang, f"ringing after {obs.ringing_ms:.0f} ms" if rang else "it never rang")
        check(not obs.answered, "never answered" if not obs.answered else "it was answered")
        if not obs.answered:
            check(obs.hung_up_by == "us", f"we gave up and cancelled ({answer})"
                  if obs.hung_up_by == "us" else f"the PBX ended it first ({answer})")
        return QaReport(ext, obs, ok, findings)
    if not obs.answered:
        check(False, f"not answered: {answer or 'no answer'}")
        return QaReport(ext, obs, False, findings)
    findings.append(f"answered after {obs.answered_ms or 0:.0f} ms ({obs.codec or 'codec ?'})")
    if ext.check is Check.ECHO:
        delay = obs.echo_delay_ms
        check(obs.echo_ok and delay is not None and delay <= ECHO_MAX_DELAY_MS,
              f"echo: {obs.echo_message}")
    elif ext.check is Check.TONE:
        hz = obs.heard_hz
        check(hz is not None and abs(hz - TONE_HZ) <= TONE_TOLERANCE_HZ
              and obs.tone_share >= TONE_SHARE_MIN,
              (f"heard a {hz:.0f} Hz tone ({obs.tone_share:.0%} of the sound)" if hz
               else "heard no tone") + f"; expected {TONE_HZ:.0f} Hz")
        check(obs.heard_dbfs >= TONE_MIN_DBFS, f"at {obs.heard_dbfs:.1f} dBFS (at least "
              f"{TONE_MIN_DBFS:.0f})")
    elif ext.check is Check.RECORDING:
        near = abs(obs.sound_s - RECORDING_SECONDS) <= RECORDING_TOLERANCE
        check(near, f"heard {obs.sound_s:.2f} s of sound at {obs.heard_dbfs:.1f} dBFS "
              f"(the recording lasts {RECORDING_SECONDS} s)")
        check(obs.tone_share < SPEECH_TONE_SHARE_MAX,
              f"it is speech, not a tone ({obs.tone_share:.0%} of it at one frequency)")
        check(obs.hung_up_by == "the PBX", "the PBX hung up after it"
              if obs.hung_up_by == "the PBX" else "the PBX did not hang up after it")
    elif ext.check is Check.DTMF:
        sent = obs.dtmf_sent.rstrip("#")
        check(bool(sent) and obs.dtmf_back == sent,
              f"sent {sent or 'nothing'}#, read back as DTMF: {obs.dtmf_back or 'nothing'}")
        check(obs.sound_s >= 0.3 * len(sent), f"heard {obs.sound_s:.1f} s of sound (the digits "
              "said back)")
    else:
        check(True, f"heard {obs.heard_dbfs:.1f} dBFS")
    return QaReport(ext, obs, ok, findings)


def sound_seconds(levels_dbfs: list[float], frame_ms: int,
                  threshold: float = SPEECH_MIN_DBFS) -> float:
    """Seconds of frames louder than `threshold` (short gaps in speech count as sound)."""
    loud = [i for i, v in enumerate(levels_dbfs) if v > threshold]
    if not loud:
        return 0.0
    gap = 300 // frame_ms
    frames = 1
    for prev, cur in zip(loud, loud[1:], strict=False):
        frames += cur - prev if cur - prev <= gap else 1
    return frames * frame_ms / 1000


# ------------------------------------------------------------------------------ the call
def qa_call(settings: Settings, extension: str, agent: int, dtmf: str = "", talk: float = 0.0,
            ring_for: float = 3.0) -> QaReport:
    """Register agent seat `agent`, call `extension`, observe, hang up, judge."""
    return list(qa_calls(settings, [extension], agent, dtmf, talk, ring_for))[0]


def qa_calls(settings: Settings, extensions: list[str], agent: int, dtmf: str = "",
             talk: float = 0.0, ring_for: float = 3.0,
             register_timeout: float = 10.0) -> Iterator[QaReport]:
    """One registration of agent seat `agent`, then one judged call per extension in turn,
    each report as soon as its call is over."""
    from softphone.audio.bridge import AudioBridge
    from softphone.audio.virtual import Silence, VirtualAudioDevice
    from softphone.sip.api import EventQueue, RegistrationChanged, RegState, SipAccount, SipError
    from softphone.sip.pjsua2_ua import PjsuaStack, PjsuaUserAgent, local_address_towards

    user = f"agent{agent}"
    fmt = AudioFormat()
    registrar = f"{settings.pbx.bind}:{settings.pbx.sip_port}"
    account = SipAccount(user, settings.agents.sip_password(agent), registrar, expires_s=60)
    owns_stack = PjsuaStack.current() is None
    stack = None
    ua = None

    def failed(message: str) -> Iterator[QaReport]:
        for e in extensions:
            yield judge(extension_for(e), Observation(e, agent=user, error=message))

    try:
        stack = PjsuaStack.shared(bind=local_address_towards(settings.pbx.bind,
                                                             settings.pbx.sip_port))
        ua = PjsuaUserAgent(account, AudioBridge(VirtualAudioDevice(fmt, Silence(fmt)), fmt),
                            stack=stack)
        events = EventQueue()
        ua.add_listener(events)
        ua.register()
        try:
            reg = events.wait_for(RegistrationChanged, register_timeout,
                                  lambda e: e.code >= 200)
        except SipError as exc:
            yield from failed(f"{user} did not register: {exc}")
            return
        if reg.state is not RegState.REGISTERED:
            yield from failed(f"{user} could not register: {reg.reason}")
            return
        for extension in extensions:
            obs = Observation(extension, agent=user, registered=True, registration=reg.reason)
            ext = extension_for(extension)
            try:
                _call(ua, events, fmt, ext, obs, dtmf, talk, ring_for)
            except SipError as exc:
                obs.error = str(exc)
            yield judge(ext, obs)
    except SipError as exc:
        yield from failed(str(exc))
    finally:
        if ua is not None:
            ua.close()
        if owns_stack and stack is not None:
            stack.shutdown()


def _call(ua: Any, events: Any, fmt: Any, ext: QaExtension, obs: Observation, dtmf: str,
          talk: float, ring_for: float) -> None:
    """Place one call with a registered `ua` and fill `obs` with what came back."""
    from softphone.audio.check import EchoProbe
    from softphone.sip.api import CallMediaChanged, CallState, CallStateChanged, DtmfReceived

    probe = EchoProbe(fmt, inject=ext.check is Check.ECHO)
    ua.set_audio_tap(probe)
    digits = (dtmf or DEFAULT_DTMF) if ext.check is Check.DTMF else ""
    listen = talk or ext.listen
    started = time.monotonic()
    call = ua.make_call(ext.number)
    rx_at_answer = 0
    ring_started: float | None = None
    answered_at: float | None = None
    dtmf_at: float | None = None
    hung_up = False
    try:
        while True:
            now = time.monotonic()
            if not hung_up:
                give_up = (
                    (answered_at is not None and now - answered_at >= listen)
                    or (ext.check is Check.ECHO and answered_at is not None
                        and probe.finished.is_set())
                    or (ext.check is Check.RINGING and ring_started is not None
                        and answered_at is None and now - ring_started >= ring_for)
                    or now - started > listen + ring_for + 20)
                if give_up:
                    ua.hangup(call)
                    hung_up = True
                    obs.hung_up_by = "us"
            if dtmf_at is not None and now >= dtmf_at:
                ua.send_dtmf(call, digits + "#")
                obs.dtmf_sent = digits + "#"
                dtmf_at = None
            ev = events.get(0.02)
            if isinstance(ev, DtmfReceived) and ev.call == call:
                obs.dtmf_back += ev.digit
            elif isinstance(ev, CallMediaChanged) and ev.call == call and ev.codec:
                obs.codec = ev.codec
            elif isinstance(ev, CallStateChanged) and ev.call == call:
                ms = (time.monotonic() - started) * 1000
                if ev.state is CallState.RINGING and obs.ringing_ms is None:
                    obs.ringing_ms = ms
                    ring_started = time.monotonic()
                elif ev.state is CallState.CONFIRMED:
                    obs.answered, obs.answered_ms = True, ms
                    answered_at = time.monotonic()
                    rx_at_answer = len(probe.received)
                    if digits:
                        dtmf_at = answered_at + 1.0   # after the beep
                elif ev.state is CallState.DISCONNECTED:
                    obs.ended_ms = ms
                    obs.code, obs.reason = ev.code, ev.reason
                    if not hung_up:
                        obs.hung_up_by = "the PBX"
                    break
    finally:
        if not hung_up and obs.ended_ms is None:
            ua.hangup(call)
        ua.set_audio_tap(None)
    if digits:
        # DTMF sent back may trail the BYE by a moment
        while (ev := events.get(0.2)) is not None:
            if isinstance(ev, DtmfReceived) and ev.call == call:
                obs.dtmf_back += ev.digit
    heard = probe.received[rx_at_answer:] if obs.answered else []
    samples = samples_of(b"".join(heard))
    obs.heard_dbfs = rms_dbfs(samples)
    obs.heard_hz = dominant_frequency(samples, fmt.rate)
    if obs.heard_hz is not None:
        obs.tone_share = tone_share(samples, fmt.rate, obs.heard_hz)
    obs.sound_s = sound_seconds([rms_dbfs(samples_of(f)) for f in heard], fmt.frame_ms)
    if ext.check is Check.ECHO and obs.answered:
        echo = probe.result()
        obs.echo_ok, obs.echo_delay_ms, obs.echo_message = (
            echo.ok, echo.echo_delay_ms, echo.message)
