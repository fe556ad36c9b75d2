"""The pre-shift headset check: does the agent's headset work both ways? Said in plain words.

One call to the PBX's echo extension (9196), in two parts, seen from the network side of the
audio bridge by one `AudioTap`:

1. **beeps**: the echo check of `softphone.audio.check` (three 697 Hz bursts replace the
   microphone; they come back from the PBX and play in the earpiece). Proves the line to the PBX
   and back, and feeds the earpiece something the agent hears.
2. **voice**: the microphone goes out as it is (after mute and gain) for a few seconds while the
   agent says a few words; the PBX sends it back. Proves the microphone picks up sound, and that
   this sound reaches the PBX and comes back.

The device side is read from the bridge's counters: frames the output device took (the earpiece
plays) and frames the input device delivered (the microphone runs). `judge_headset()` (pure) turns
all of it into a `HeadsetReport`: one verdict for the line, the earpiece and the microphone, each
with what to do when it failed. `run_headset_check()` places the call with a `UserAgent`; it blocks
for about 8 s, so a window runs it on a worker thread (`softphone.audio_control`).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from dialer.core.audio import AudioFormat, rms_dbfs, samples_of
from softphone.audio.bridge import AudioBridge, AudioTap
from softphone.audio.check import (
    EchoCheckResult,
    EchoProbe,
    answered_or_ended,
    hang_up_and_wait,
)
from softphone.sip.api import CallState, EventQueue, SipError, UserAgent

ECHO_EXTENSION = "9196"
MIC_SILENT_DBFS = -50.0   # the loudest 20 ms of the voice part below this: nothing picked up
MIC_QUIET_DBFS = -35.0    # below this the agent's voice is hard to hear: suggest more level
VOICE_BACK_DB = 15.0      # the echoed voice may come back this much quieter (codec, PBX)
PLAYED_SHARE = 0.5        # the earpiece must have taken at least this share of the frames


class Phase(Enum):
    BEEPS = "beeps"
    VOICE = "voice"
    DONE = "done"


class HeadsetProbe:
    """The `AudioTap` of the check: an `EchoProbe` for the beeps, then the microphone as is."""

    def __init__(self, fmt: AudioFormat, voice_ms: int = 3000, tail_ms: int = 600,
                 on_phase: Callable[[Phase], None] | None = None) -> None:
        self.fmt = fmt
        # beeps after 600 ms: the PBX's echo may start a little after it answered
        self.echo = EchoProbe(fmt, inject=True, lead_ms=600)
        self._voice_frames = voice_ms // fmt.frame_ms
        self._tail_frames = tail_ms // fmt.frame_ms
        self._on_phase = on_phase
        self._lock = threading.Lock()
        self.phase = Phase.BEEPS
        self.voice_sent: list[bytes] = []
        self.voice_received: list[bytes] = []
        self.finished = threading.Event()

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        if phase is Phase.DONE:
            self.finished.set()
        if self._on_phase is not None:
            self._on_phase(phase)

    def on_tx(self, frame: bytes) -> bytes:
        if self.phase is Phase.BEEPS:
            out = self.echo.on_tx(frame)
            if self.echo.finished.is_set():
                self._enter(Phase.VOICE)
            return out
        with self._lock:
            if len(self.voice_sent) < self._voice_frames:
                self.voice_sent.append(frame)
                return frame
        return self.fmt.silence()   # the tail: wait for the last of the voice to come back

    def on_rx(self, frame: bytes) -> None:
        if self.phase is Phase.BEEPS:
            self.echo.on_rx(frame)
            return
        with self._lock:
            self.voice_received.append(frame)
            done = len(self.voice_received) >= self._voice_frames + self._tail_frames
        if done and self.phase is Phase.VOICE:
            self._enter(Phase.DONE)

    def voice(self) -> tuple[bytes, bytes]:
        with self._lock:
            return b"".join(self.voice_sent), b"".join(self.voice_received)


def loudest_frame_dbfs(pcm: bytes, fmt: AudioFormat) -> float:
    """The level of the loudest frame of `pcm` (a voice's peaks, not its pauses)."""
    size = fmt.frame_bytes
    levels = [rms_dbfs(samples_of(pcm[i:i + size])) for i in range(0, len(pcm) - size + 1, size)]
    return max(levels, default=-math.inf)


@dataclass(frozen=True)
class DeviceCounts:
    """What the bridge's devices did during the check (frames delivered / taken)."""

    mic_frames: int | None      # None: not observable (not an `AudioBridge`)
    speaker_frames: int | None
    expected_frames: int
    muted: bool = False
    input_name: str = "system default"
    output_name: str = "system default"


@dataclass(frozen=True)
class HeadsetReport:
    ok: bool
    line_ok: bool
    earpiece_ok: bool
    microphone_ok: bool
    headline: str
    details: list[str] = field(default_factory=list)
    echo_delay_ms: float | None = None
    voice_dbfs: float = -math.inf

    @property
    def text(self) -> str:
        return "\n".join([self.headline, *self.details])


def _db(x: float) -> str:
    return "nothing" if x == -math.inf else f"{x:.0f} dBFS"


def judge_headset(echo: EchoCheckResult, voice_sent: bytes, voice_received: bytes,
                  fmt: AudioFormat, counts: DeviceCounts) -> HeadsetReport:
    """The check's verdicts, in the agent's words. Pure."""
    details: list[str] = []
    line_ok = echo.ok
    if line_ok:
        details.append(f"Line to the PBX: works ({echo.bursts_back}/{echo.bursts_sent} beeps came "
                       f"back after {echo.echo_delay_ms:.0f} ms).")
    else:
        details.append("Line to the PBX: the test call brought no sound back, so the fault is "
                       f"the PBX or the network, not your headset ({echo.message}). Tell your "
                       "supervisor.")

    # the earpiece: did the output device take the frames we had for it?
    out = counts.output_name
    if counts.speaker_frames is None:
        earpiece_ok = True
        details.append("Earpiece: cannot be observed on this sound card; you should have heard "
                       "three beeps.")
    elif counts.speaker_frames >= PLAYED_SHARE * counts.expected_frames:
        earpiece_ok = True
        if line_ok:
            details.append(f"Earpiece (output: {out}): played the three beeps; you should have "
                           "heard them. If you did not, check the headset's volume and that it "
                           "is the output chosen in Audio settings.")
        else:
            details.append(f"Earpiece (output: {out}): the output device runs, but there were "
                           "no beeps to play.")
    else:
        earpiece_ok = False
        details.append(f"Earpiece (output: {out}): nothing was played, the output device is not "
                       "running. Plug the headset in again or choose another output in Audio "
                       "settings.")

    # the microphone: running, picking up sound, and that sound reached the PBX and came back
    inp = counts.input_name
    voice = loudest_frame_dbfs(voice_sent, fmt)
    back = loudest_frame_dbfs(voice_received, fmt)
    if counts.muted:
        microphone_ok = False
        details.append("Microphone: you are muted. Unmute in the call panel and check again.")
    elif counts.mic_frames is not None and counts.mic_frames < PLAYED_SHARE * \
            counts.expected_frames:
        microphone_ok = False
        details.append(f"Microphone (input: {inp}): the input device delivers no sound at all. "
                       "Plug the headset in again or choose another input in Audio settings.")
    elif voice < MIC_SILENT_DBFS:
        microphone_ok = False
        details.append(f"Microphone (input: {inp}): silent, it picked up {_db(voice)} while you "
                       "were asked to speak. Check that it is plugged in, not muted on the "
                       "headset's cable, and turned towards your mouth; or raise the microphone "
                       "level in Audio settings.")
    elif line_ok and back < voice - VOICE_BACK_DB:
        microphone_ok = False
        details.append(f"Microphone (input: {inp}): picks up sound ({_db(voice)}), but your "
                       f"voice did not come back from the PBX ({_db(back)}).")
    else:
        microphone_ok = True
        quiet = (" It is quiet: raise the microphone level in Audio settings."
                 if voice < MIC_QUIET_DBFS else "")
        came_back = f", and the PBX sent it back ({_db(back)})" if line_ok else ""
        details.append(f"Microphone (input: {inp}): works, it picked up your voice (loudest "
                       f"{_db(voice)}){came_back}.{quiet}")

    ok = line_ok and earpiece_ok and microphone_ok
    if ok:
        headline = "Your headset works both ways."
    elif not line_ok:
        headline = "The check could not test your headset: the line to the PBX carried no sound."
    else:
        broken = [name for name, good in (("earpiece", earpiece_ok),
                                          ("microphone", microphone_ok)) if not good]
        headline = f"Your headset does not work both ways: the {' and the '.join(broken)} failed."
    return HeadsetReport(ok, line_ok, earpiece_ok, microphone_ok, headline, details,
                         echo.echo_delay_ms, voice)


def failed_report(reason: str) -> HeadsetReport:
    """The report when the check could not run at all (not registered, call refused...)."""
    return HeadsetReport(False, False, False, False,
                         "The headset check could not run.", [reason])


def _device_name(bridge: AudioBridge, device: str | None, want_input: bool) -> str:
    if device is None:
        return "system default"
    try:
        for d in bridge.device.list_devices():
            if d.id == device and (d.inputs if want_input else d.outputs):
                return d.name
    except Exception:  # noqa: BLE001 - a name is only for the message
        pass
    return device


def run_headset_check(ua: UserAgent, extension: str = ECHO_EXTENSION, voice_ms: int = 3000,
                      timeout: float = 15.0,
                      on_phase: Callable[[Phase], None] | None = None) -> HeadsetReport:
    """Call `extension` (an echo test) with a registered `ua`, run both parts, hang up, judge.

    Blocks for the length of the call (about 8 s): run it off the GUI thread. `on_phase` is
    told when the beeps start (the call is up), when the agent should speak (VOICE) and when it
    is over (DONE); it is called on this or the media thread and must not block.
    Never raises for a failed check: the report says what went wrong.
    """
    audio = ua.audio
    if audio is None:
        return failed_report("This phone has no audio device.")
    bridge = audio if isinstance(audio, AudioBridge) else None
    probe = HeadsetProbe(audio.fmt, voice_ms=voice_ms, on_phase=on_phase)
    tap: AudioTap = probe
    events = EventQueue()
    ua.add_listener(events)
    call: int | None = None
    before = bridge.stats() if bridge is not None else None
    started = time.monotonic()
    try:
        ua.set_audio_tap(tap)
        call = ua.make_call(extension)
        answered = answered_or_ended(events, call, timeout)
        if answered.state is CallState.DISCONNECTED:
            return failed_report(f"The echo test ({extension}) did not answer: {answered.code} "
                                 f"{answered.reason}.")
        started = time.monotonic()
        if on_phase is not None:
            on_phase(Phase.BEEPS)
        if not probe.finished.wait(timeout):
            return failed_report(f"The call to the echo test ({extension}) carried no sound for "
                                 f"{timeout:g} s.")
    except SipError as exc:
        return failed_report(f"The call to the echo test ({extension}) failed: {exc}")
    finally:
        ua.set_audio_tap(None)
        if call is not None:
            with contextlib.suppress(SipError, TimeoutError):
                hang_up_and_wait(ua, call)
        ua.remove_listener(events)
    elapsed_frames = int((time.monotonic() - started) * 1000 / audio.fmt.frame_ms)
    if bridge is not None and before is not None:
        after = bridge.stats()
        counts = DeviceCounts(after.mic.pushed - before.mic.pushed,
                              after.speaker.popped - before.speaker.popped,
                              elapsed_frames, bridge.mic_muted,
                              _device_name(bridge, bridge.input_device, True),
                              _device_name(bridge, bridge.output_device, False))
    else:
        counts = DeviceCounts(None, None, elapsed_frames)
    sent, received = probe.voice()
    return judge_headset(probe.echo.result(), sent, received, audio.fmt, counts)
