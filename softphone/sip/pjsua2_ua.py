"""`UserAgent` on PJSIP's pjsua2 (pjsua2-python): why and how, see docs/sip-ua.md. The stack the
user agents share (`PjsuaStack`) is in `softphone.sip.pjsua2_stack`.

Threading, after the pitfalls found on this machine (../shared/facts.md):
- One `PjsuaStack` per process (pjsua2 allows one Endpoint): it owns a thread, "pjsua", that
  creates the Endpoint (`threadCnt=0`, `mainThreadOnly=True`), pumps `libHandleEvents()`, runs
  every command given to `run()`, delivers every SIP callback, and is the only thread that ever
  creates or drops a pjsua2 object (dropped calls wait in a graveyard emptied by that thread, so
  Python never frees one from another thread).
- PJSIP's media thread receives RTP into its jitter buffer; the conference bridge is clocked by
  the null sound device's thread, which calls each account's `AudioMediaPort`, which hands 16-bit
  frames to and from our `AudioPort` (the bridge to the headset). No sound card is opened by PJSIP.
- Up to `MAX_ACCOUNTS` (4) user agents (agents) share one stack: one account each, one UDP
  transport; this build of PJSIP handles 4 calls per process, one per agent's leg.

PJSIP's own checks are compiled into this build and abort the whole process (SIGABRT) on a bad
argument or on a call from a thread pjlib does not know (each case was reproduced on this machine).
So this module never hands PJSIP an id it has not just checked: a call's operations need a valid
call id (`_valid`), audio is connected only between conference slots that exist, stream info is
read only while the call has a stream. And pjsua2's destructors act on the pjsua *slot* the
object had (`~Call` clears that slot's callbacks and hangs up whatever call is in it, `~Account`
deletes whatever account is in it): slots are reused, so a buried object's C++ half is destroyed
at once on the stack thread (`_destroy_now`), whoever still holds its Python shell.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Callable
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped]

from softphone.audio.bridge import AudioPort, AudioTap
from softphone.sip.api import (
    AnswerDecision,
    AnswerPolicy,
    CallIncoming,
    CallMediaChanged,
    CallState,
    CallStateChanged,
    Direction,
    DtmfReceived,
    Listener,
    MediaState,
    RegistrationChanged,
    RegistrationError,
    RegState,
    SipAccount,
    SipError,
    UaEvent,
)
from softphone.sip.pjsua2_stack import CODEC_PRIORITY as CODEC_PRIORITY  # re-exported
from softphone.sip.pjsua2_stack import DEFAULT_JB as DEFAULT_JB
from softphone.sip.pjsua2_stack import DEFAULT_RESAMPLE_QUALITY as DEFAULT_RESAMPLE_QUALITY
from softphone.sip.pjsua2_stack import DTMF_DIGITS, _pj_reason, _valid
from softphone.sip.pjsua2_stack import MAX_ACCOUNTS as MAX_ACCOUNTS
from softphone.sip.pjsua2_stack import MAX_CALLS as MAX_CALLS
from softphone.sip.pjsua2_stack import JitterBufferConfig as JitterBufferConfig
from softphone.sip.pjsua2_stack import PjsuaStack as PjsuaStack
from softphone.sip.pjsua2_stack import local_address_towards as local_address_towards
from softphone.sip.secure import secure_media, tls_failure
from softphone.sip.states import CallTracker, IllegalTransition, registration_outcome

log = logging.getLogger(__name__)

_CALL_STATES = {
    pj.PJSIP_INV_STATE_CALLING: CallState.CALLING,
    pj.PJSIP_INV_STATE_INCOMING: CallState.INCOMING,
    pj.PJSIP_INV_STATE_EARLY: CallState.RINGING,
    pj.PJSIP_INV_STATE_CONNECTING: CallState.CONNECTING,
    pj.PJSIP_INV_STATE_CONFIRMED: CallState.CONFIRMED,
    pj.PJSIP_INV_STATE_DISCONNECTED: CallState.DISCONNECTED,
}
_MEDIA_STATES = {
    pj.PJSUA_CALL_MEDIA_NONE: MediaState.NONE,
    pj.PJSUA_CALL_MEDIA_ACTIVE: MediaState.ACTIVE,
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: MediaState.LOCAL_HOLD,
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: MediaState.REMOTE_HOLD,
    pj.PJSUA_CALL_MEDIA_ERROR: MediaState.ERROR,
}


# ------------------------------------------------------------------------------ frame bytes
def _slow_bytes(vector: Any) -> bytes:
    return bytes(vector)


def _make_vector_reader() -> Callable[[Any], bytes]:
    """Read a pjsua2 ByteVector's bytes in ~4 us instead of ~300 us (SWIG iterates per byte).

    Reads libstdc++'s std::vector {begin, end} pointers through ctypes, after checking on a
    known vector that this gives the same bytes; otherwise falls back to `bytes(vector)`.
    """
    probe = bytes(range(1, 251)) * 2

    def fast(vector: Any) -> bytes:
        ptrs = ctypes.cast(int(vector.this), ctypes.POINTER(ctypes.c_void_p))
        begin, end = ptrs[0], ptrs[1]
        if not begin or not end or end <= begin:
            return b""
        return ctypes.string_at(begin, end - begin)

    try:
        if fast(pj.ByteVector(probe)) == probe and fast(pj.ByteVector()) == b"":
            return fast
    except Exception:  # noqa: BLE001 - any surprise means: use the slow, safe way
        pass
    return _slow_bytes


vector_bytes = _make_vector_reader()


# ------------------------------------------------------------------------------ pjsua2 subclasses
class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, agent: PjsuaUserAgent) -> None:
        super().__init__()
        self.agent = agent

    def onRegStarted(self, prm: Any) -> None:  # noqa: N802 - pjsua2's name
        self.agent._on_reg_started(bool(prm.renew))

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self.agent._on_reg_state(int(prm.code), str(prm.reason), int(prm.expiration))

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        self.agent._on_incoming(int(prm.callId))


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, agent: PjsuaUserAgent, our_id: int, direction: Direction,
                 pj_call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(agent._acc, pj_call_id)
        self.agent = agent
        self.our_id = our_id
        self.direction = direction
        self.tracker = CallTracker()
        self.remote = ""
        self.media: list[Any] = []
        self.media_state: tuple[MediaState, str] | None = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        self.agent._on_call_state(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        self.agent._on_call_media(self)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        self.agent._emit(DtmfReceived(self.agent.account.user, self.our_id, str(prm.digit)))

    def onStreamCreated(self, prm: Any) -> None:  # noqa: N802
        self.agent._on_stream(self, prm.stream, created=True)

    def onStreamDestroyed(self, prm: Any) -> None:  # noqa: N802
        self.agent._on_stream(self, prm.stream, created=False)


class _MediaPort(pj.AudioMediaPort):  # type: ignore[misc]
    """The account's conference port: called by the conference clock's thread every frame."""

    def __init__(self, audio: AudioPort) -> None:
        super().__init__()
        self.audio = audio
        self.frame_bytes = audio.fmt.frame_bytes

    def onFrameRequested(self, frame: Any) -> None:  # noqa: N802
        try:
            data = self.audio.read_tx_frame()
        except Exception:  # noqa: BLE001 - never raise into PJSIP's clock thread
            log.exception("audio: reading the microphone side failed")
            data = bytes(self.frame_bytes)
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802
        try:
            data = vector_bytes(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b""
            self.audio.write_rx_frame(data or bytes(self.frame_bytes))
        except Exception:  # noqa: BLE001
            log.exception("audio: writing the speaker side failed")


# ------------------------------------------------------------------------------ the user agent
class PjsuaUserAgent:
    """One agent's account on a `PjsuaStack`; implements `softphone.sip.api.UserAgent`."""

    _next_call_id = 1
    _ids_lock = threading.Lock()

    def __init__(self, account: SipAccount, audio: AudioPort | None = None,
                 policy: AnswerPolicy | None = None, stack: PjsuaStack | None = None) -> None:
        self._account = account
        self._audio = audio
        self._policy = policy or AnswerPolicy()
        host, _, port = account.registrar.partition(":")
        self._stack = stack or PjsuaStack.shared(
            bind=local_address_towards(host, int(port or 5060)))
        self._listeners: list[Listener] = []
        self._reg_state = RegState.UNREGISTERED
        self.last_registration: RegistrationChanged | None = None
        self._acc: Any = None
        self._port: _MediaPort | None = None
        self._calls: dict[int, _Call] = {}
        self._closed = False
        self._stack.run(self._attach)

    # -------------------------------------------------------------- properties
    @property
    def account(self) -> SipAccount:
        return self._account

    @property
    def registration(self) -> RegState:
        return self._reg_state

    @property
    def stack(self) -> PjsuaStack:
        return self._stack

    @property
    def audio(self) -> AudioPort | None:
        return self._audio

    def calls(self) -> dict[int, CallState | None]:
        """Our calls that are not over yet, with their state."""
        return self._stack.run(lambda: {i: c.tracker.state for i, c in self._calls.items()})

    # -------------------------------------------------------------- commands
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def set_answer_policy(self, policy: AnswerPolicy) -> None:
        self._policy = policy

    def register(self) -> None:
        self._stack.run(self._register)

    def unregister(self) -> None:
        def go() -> None:
            if self._acc is not None and self._reg_state is RegState.REGISTERED:
                self._acc.setRegistration(False)
        self._stack.run(go)

    def make_call(self, target: str) -> int:
        return self._stack.run(lambda: self._make_call(target))

    def answer(self, call: int) -> None:
        self._stack.run(lambda: self._answer(self._call(call), 200))

    def hangup(self, call: int) -> None:
        self._stack.run(lambda: self._hangup(call))

    def hold(self, call: int) -> None:
        def go() -> None:
            self._guard(call, "hold", lambda c: c.setHold(pj.CallOpParam(True)))
        self._stack.run(go)

    def unhold(self, call: int) -> None:
        def go() -> None:
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            self._guard(call, "unhold", lambda c: c.reinvite(prm))
        self._stack.run(go)

    def set_mute(self, muted: bool) -> None:
        if self._audio is None:
            raise SipError(f"{self._account.user}: no audio to mute")
        self._audio.set_mic_muted(muted)

    def send_dtmf(self, call: int, digits: str) -> None:
        bad = set(digits.upper()) - DTMF_DIGITS
        if bad or not digits:
            raise SipError(f"not DTMF digits: {digits!r}")

        def go() -> None:
            prm = pj.CallSendDtmfParam()
            prm.digits = digits.upper()
            prm.method = pj.PJSUA_DTMF_METHOD_RFC2833
            prm.duration = 160
            self._guard(call, "send DTMF", lambda c: c.sendDtmf(prm))
        self._stack.run(go)

    def call_dump(self, call: int) -> str:
        """PJSIP's own description of call `call`: its media, codec and SRTP state, as text."""
        def go() -> str:
            c = self._call(call)
            return str(c.dump(True, "  ")) if _valid(c) else ""
        return self._stack.run(go)

    def set_audio_tap(self, tap: AudioTap | None) -> None:
        if self._audio is None:
            raise SipError(f"{self._account.user}: no audio to tap")
        self._audio.set_tap(tap)

    def close(self) -> None:
        """Hang up, unregister (PJSIP sends it as the account goes) and leave the stack."""
        if self._closed:
            return
        self._closed = True
        if self._stack.alive:
            self._stack.run(self._detach)
        if self._audio is not None:
            self._audio.stop()

    # -------------------------------------------------------------- on the stack thread
    def _emit(self, event: UaEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the stack
                log.exception("listener %r failed on %s", listener, event)

    def _attach(self) -> None:
        if len(self._stack.agents) >= MAX_ACCOUNTS:
            raise SipError(f"one SIP stack holds at most {MAX_ACCOUNTS} agents; run another "
                           "process for more")
        self._stack.agents.append(self)

    def _account_config(self) -> Any:
        a = self._account
        cfg = pj.AccountConfig()
        name = f'"{a.display_name}" ' if a.display_name else ""
        cfg.idUri = f"{name}<{a.aor}>"
        cfg.regConfig.registrarUri = a.registrar_uri
        cfg.regConfig.timeoutSec = a.expires_s
        cfg.regConfig.delayBeforeRefreshSec = a.refresh_margin_s
        cfg.regConfig.retryIntervalSec = a.retry_s
        cfg.regConfig.firstRetryIntervalSec = min(a.retry_s, 2)
        cfg.regConfig.randomRetryIntervalSec = 1
        cfg.regConfig.dropCallsOnFail = False
        cfg.regConfig.registerOnAdd = True
        cfg.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", a.auth_user or a.user, 0, a.password))
        cfg.sipConfig.transportId = self._stack.transport_id
        if a.tls:
            cfg.sipConfig.transportId = self._stack.tls.get(self._stack.ep, a.ca_file).transport_id
            secure_media(cfg)
            # the Contact names the TLS listener (the port the login named), not the
            # connection's source port: that is where the dialer calls this phone
            cfg.natConfig.contactUseSrcPort = False
            cfg.natConfig.contactRewriteUse = 0
            cfg.natConfig.sipOutboundUse = 0
        cfg.natConfig.sdpNatRewriteUse = 0
        cfg.natConfig.viaRewriteUse = 1
        cfg.natConfig.contactRewriteUse = 1
        cfg.natConfig.udpKaIntervalSec = 15
        cfg.mediaConfig.transportConfig.port = 0
        if self._stack.bind:
            cfg.mediaConfig.transportConfig.boundAddress = self._stack.bind
        return cfg

    def _register(self) -> None:
        if self._acc is None:
            acc = self._stack.track(_Account(self))
            try:
                acc.create(self._account_config())
            except pj.Error as exc:
                self._stack.bury(acc)
                raise RegistrationError(
                    f"{self._account.user}: cannot create the account: {_pj_reason(exc)}"
                ) from None
            self._acc = acc
        else:
            self._acc.setRegistration(True)

    def _set_reg(self, state: RegState, code: int, reason: str, expires: int) -> None:
        if state is not self._reg_state:
            log.info("%s: registration %s -> %s (%s %s)", self._account.user,
                     self._reg_state.value, state.value, code, reason)
        self._reg_state = state
        ev = RegistrationChanged(self._account.user, state, code, reason, expires)
        self.last_registration = ev
        self._emit(ev)

    def _on_reg_started(self, renew: bool) -> None:
        if renew and self._reg_state is not RegState.REGISTERED:
            self._set_reg(RegState.REGISTERING, 0, "REGISTER sent", 0)

    def _on_reg_state(self, code: int, reason: str, expires: int) -> None:
        a = self._account
        outcome = registration_outcome(code, reason, expires, a.registrar, a.user, a.retry_s)
        untrusted = tls_failure(code, reason, a.ca_file, a.registrar) if a.tls else None
        if untrusted:
            log.error("%s: %s", a.user, untrusted)
        self._set_reg(outcome.state, code, untrusted or outcome.message, expires)
        if outcome.state is RegState.FAILED and (untrusted or not outcome.retry):
            # retrying a refused password would only get the agent's IP banned: stop here
            with contextlib.suppress(pj.Error):
                self._acc.setRegistration(False)

    def _new_id(self) -> int:
        with PjsuaUserAgent._ids_lock:
            n = PjsuaUserAgent._next_call_id
            PjsuaUserAgent._next_call_id += 1
        return n

    def _calls_up(self) -> int:
        return sum(1 for c in self._calls.values() if not c.tracker.ended)

    def _on_incoming(self, pj_call_id: int) -> None:
        decision = self._policy.decide(self._calls_up())
        call = self._stack.track(_Call(self, self._new_id(), Direction.INBOUND, pj_call_id))
        ci = call.getInfo()
        call.remote = str(ci.remoteUri)
        self._calls[call.our_id] = call
        self._advance(call, CallState.INCOMING, 0, "")
        self._emit(CallIncoming(self._account.user, call.our_id, call.remote))
        if decision is AnswerDecision.ANSWER:
            self._answer(call, 200)
        elif decision is AnswerDecision.BUSY:
            self._answer(call, 486)
        else:
            self._answer(call, 180)

    def _answer(self, call: _Call, code: int) -> None:
        if not _valid(call):
            raise SipError(f"{self._account.user}: call {call.our_id} has ended")
        prm = pj.CallOpParam(True)
        prm.statusCode = code
        try:
            if code >= 300:
                call.hangup(prm)
            else:
                call.answer(prm)
        except pj.Error as exc:
            raise SipError(f"{self._account.user}: cannot answer call {call.our_id} with "
                           f"{code}: {_pj_reason(exc)}") from None

    def _make_call(self, target: str) -> int:
        if self._acc is None:
            raise SipError(f"{self._account.user}: register before placing calls")
        uri = self._account.target_uri(target)
        call = self._stack.track(_Call(self, self._new_id(), Direction.OUTBOUND))
        call.remote = uri
        try:
            call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            self._stack.bury(call)
            raise SipError(f"{self._account.user}: cannot call {uri}: {_pj_reason(exc)}") from None
        self._calls[call.our_id] = call
        return call.our_id

    def _call(self, our_id: int) -> _Call:
        try:
            return self._calls[our_id]
        except KeyError:
            raise SipError(f"{self._account.user}: no call {our_id}") from None

    def _guard(self, our_id: int, what: str, fn: Callable[[_Call], object]) -> None:
        call = self._call(our_id)
        if not _valid(call):
            raise SipError(f"{self._account.user}: cannot {what} call {our_id}: it has ended")
        try:
            fn(call)
        except pj.Error as exc:
            raise SipError(f"{self._account.user}: cannot {what} call {our_id}: "
                           f"{_pj_reason(exc)}") from None

    def _hangup(self, our_id: int) -> None:
        call = self._calls.get(our_id)
        if call is None or call.tracker.ended:
            return
        if not _valid(call):
            log.warning("%s call %d: not hung up: pjsua no longer knows it (id %d)",
                        self._account.user, our_id, call.getId())
            return
        try:
            call.hangup(pj.CallOpParam(True))
        except pj.Error as exc:
            log.warning("%s call %d: hang-up refused: %s", self._account.user, our_id,
                        _pj_reason(exc))

    def _advance(self, call: _Call, state: CallState, code: int, reason: str) -> None:
        try:
            changed = call.tracker.advance(state)
        except IllegalTransition as exc:
            log.warning("%s call %d: %s", self._account.user, call.our_id, exc)
            if state is not CallState.DISCONNECTED:
                return
            call.tracker.state = state
            changed = True
        if changed:
            self._emit(CallStateChanged(self._account.user, call.our_id, state, call.direction,
                                        call.remote, code, reason))

    def _on_call_state(self, call: _Call) -> None:
        if _valid(call):
            ci = call.getInfo()
            state = _CALL_STATES.get(ci.state)
            if state is None:
                return
            if ci.remoteUri:
                call.remote = str(ci.remoteUri)
            code, reason = int(ci.lastStatusCode), str(ci.lastReason)
        else:   # pjsua let go of the call: nothing more can be asked of it
            state, code, reason = CallState.DISCONNECTED, 0, "call ended"
        self._advance(call, state, code, reason)
        if state is CallState.DISCONNECTED:
            self._calls.pop(call.our_id, None)
            call.media.clear()
            self._stack.bury(call)
            if not self._calls and self._audio is not None:
                self._audio.stop()

    def _on_call_media(self, call: _Call) -> None:
        if not _valid(call):
            return
        ci = call.getInfo()  # keep `ci` alive while its media list is read
        for mi in ci.media:
            if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            state = _MEDIA_STATES.get(mi.status, MediaState.ERROR)
            codec = ""
            if state in (MediaState.ACTIVE, MediaState.REMOTE_HOLD, MediaState.LOCAL_HOLD):
                # an inactive stream (both sides on hold) has no stream object to ask
                if mi.dir != pj.PJMEDIA_DIR_NONE and call.hasMedia():
                    with contextlib.suppress(pj.Error):
                        si = call.getStreamInfo(mi.index)
                        codec = f"{si.codecName}/{si.codecClockRate}"
                if state is MediaState.ACTIVE and int(mi.audioConfSlot) >= 0:
                    self._connect_audio(call, mi.index)
            if call.media_state != (state, codec):  # pjsua reports some changes twice
                call.media_state = (state, codec)
                self._emit(CallMediaChanged(self._account.user, call.our_id, state, codec))

    def _on_stream(self, call: _Call, stream: Any, created: bool) -> None:
        """A call's audio stream came or goes: the device clock trims its jitter buffer."""
        clock = self._stack.clock
        if clock is None or self._stack.clock_owner not in (None, self._audio):
            return
        try:
            pointer = int(stream) if stream is not None else 0
        except (TypeError, ValueError):
            pointer = 0
        if created:
            clock.watch_stream(pointer)
        elif not pointer or clock.watched_stream == pointer:
            clock.watch_stream(None)

    def _connect_audio(self, call: _Call, index: int) -> None:
        if self._audio is None:
            return
        if self._port is None:
            port = self._stack.track(_MediaPort(self._audio))
            fmt = pj.MediaFormatAudio()
            fmt.init(pj.PJMEDIA_FORMAT_PCM, self._audio.fmt.rate, 1,
                     self._audio.fmt.frame_ms * 1000, 16)
            port.createPort(f"{self._account.user}-audio", fmt)
            self._port = port
        media = call.getAudioMedia(index)
        if media.getPortId() < 0 or self._port.getPortId() < 0:
            # connecting a missing conference slot fails an assertion in PJSIP (SIGABRT)
            log.warning("%s call %d: no audio slot to connect (call %d, ours %d)",
                        self._account.user, call.our_id, media.getPortId(),
                        self._port.getPortId())
            return
        call.media = [media]
        media.startTransmit(self._port)
        self._port.startTransmit(media)
        clock = self._stack.clock
        set_clock = getattr(self._audio, "set_clock", None)
        if clock is not None and set_clock is not None and \
                self._stack.clock_owner in (None, self._audio):
            self._stack.clock_owner = self._audio       # one headset drives the clock
            set_clock(clock.tick)
        self._audio.start()

    def _detach(self) -> None:
        for call in list(self._calls.values()):
            if _valid(call):
                with contextlib.suppress(pj.Error):
                    call.hangup(pj.CallOpParam(True))
        # the calls' DISCONNECTED callbacks run in the next polls
        for _ in range(100):
            if not self._calls:
                break
            self._stack.ep.libHandleEvents(10)
        for call in self._calls.values():
            self._stack.bury(call)
        self._calls.clear()
        if self._acc is not None:
            with contextlib.suppress(pj.Error):
                self._acc.shutdown()
            self._stack.bury(self._acc)
            self._acc = None
        if self._port is not None:
            self._stack.bury(self._port)
            self._port = None
        if self in self._stack.agents:
            self._stack.agents.remove(self)
        self._reg_state = RegState.UNREGISTERED
