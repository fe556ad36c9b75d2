"""The pre-shift audio check: call the echo extension, send tone bursts, hear them come back.

`EchoProbe` is an `AudioTap`: on the network side of the audio bridge it replaces the microphone
with a few tone bursts (or, with `inject=False`, lets the microphone through, e.g. the virtual
device's known signal) and keeps what was sent and what came back, frame by frame on the same
clock. `analyse_echo()` (pure) finds the bursts in both and gives the echo's level, how much of
it is the probe tone, and the round-trip delay. `run_echo_check()` does the call with a
`UserAgent`. The returning bursts also play in the headset, so the agent hears the beeps, and the
microphone's level during the check says whether it picks anything up.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass

from dialer.core.audio import (
    AudioFormat,
    ToneGenerator,
    onsets,
    rms_dbfs,
    samples_of,
    tone_envelope,
    tone_share,
)
from softphone.sip.api import (
    CallState,
    CallStateChanged,
    EventQueue,
    SipError,
    UserAgent,
)

PROBE_HZ = 697.0
RETURNED_MIN_DBFS = -45.0   # quieter than this, the echo did not come back
TONE_SHARE_MIN = 0.5


@dataclass(frozen=True)
class EchoCheckResult:
    ok: bool
    bursts_sent: int
    bursts_back: int
    returned_dbfs: float        # level of the returned bursts
    tone_share: float           # share of the returned energy at the probe frequency
    echo_delay_ms: float | None  # network side round trip (median over bursts)
    mic_dbfs: float             # loudest microphone frame during the check
    message: str


class EchoProbe:
    """Tone bursts out, everything back in; an `AudioTap` for the audio bridge."""

    def __init__(self, fmt: AudioFormat, freq: float = PROBE_HZ, bursts: int = 3,
                 on_ms: int = 200, off_ms: int = 400, level_dbfs: float = -12.0,
                 lead_ms: int = 200, tail_ms: int = 800, inject: bool = True) -> None:
        self.fmt = fmt
        self.freq = freq
        self.inject = inject
        self._tone = ToneGenerator(freq, fmt, level_dbfs)
        frame = fmt.frame_ms
        self._schedule = ([False] * (lead_ms // frame)
                          + ([True] * (on_ms // frame) + [False] * (off_ms // frame)) * bursts
                          + [False] * (tail_ms // frame))
        self.bursts = bursts
        self._lock = threading.Lock()
        self.sent: list[bytes] = []
        self.received: list[bytes] = []
        self.mic_dbfs = -math.inf
        self.finished = threading.Event()

    def on_tx(self, frame: bytes) -> bytes:
        level = rms_dbfs(samples_of(frame)[::4])
        with self._lock:
            i = len(self.sent)
            self.mic_dbfs = max(self.mic_dbfs, level)
            if self.inject:
                if i < len(self._schedule) and self._schedule[i]:
                    frame = self._tone.next_frame()
                else:
                    frame = self.fmt.silence()
            self.sent.append(frame)
            if len(self.sent) >= len(self._schedule) and len(self.received) >= len(self._schedule):
                self.finished.set()
        return frame

    def on_rx(self, frame: bytes) -> None:
        with self._lock:
            self.received.append(frame)

    def result(self) -> EchoCheckResult:
        with self._lock:
            sent = b"".join(self.sent)
            received = b"".join(self.received)
            mic = self.mic_dbfs
        return analyse_echo(sent, received, self.fmt, self.freq, mic)


def analyse_echo(sent: bytes, received: bytes, fmt: AudioFormat, freq: float,
                 mic_dbfs: float = -math.inf) -> EchoCheckResult:
    """Find the probe's bursts in `sent` and their echoes in `received` (same clock)."""
    rate = fmt.rate
    block = rate // 200  # 5 ms
    tx, rx = samples_of(sent), samples_of(received)
    tx_env = tone_envelope(tx, rate, freq, block)
    rx_env = tone_envelope(rx, rate, freq, block)
    gap = 100 // 5  # bursts are at least 100 ms apart
    tx_peak = max(tx_env, default=0.0)
    tx_on = onsets(tx_env, tx_peak / 4, gap) if tx_peak > 0 else []
    floor = (32768.0 * 10 ** (RETURNED_MIN_DBFS / 20)) ** 2 / 2
    rx_peak = max(rx_env, default=0.0)
    rx_on = onsets(rx_env, max(rx_peak / 4, floor), gap) if rx_peak > floor else []
    delays: list[int] = []
    for t in tx_on:
        later = [r for r in rx_on if t <= r < t + 200]  # an echo within one second
        if later:
            delays.append(later[0] - t)
    delay_ms = statistics.median(delays) * 5.0 if delays else None
    if delay_ms is not None:
        shift = int(delay_ms / 5)
        on_blocks = [i + shift for i, v in enumerate(tx_env) if v >= tx_peak / 4]
        back: list[int] = []
        for i in on_blocks:
            back.extend(rx[i * block:(i + 1) * block])
        returned = rms_dbfs(back)
        share = tone_share(back, rate, freq)
    else:
        returned, share = rms_dbfs(rx), tone_share(rx, rate, freq)
    ok = (bool(tx_on) and len(delays) == len(tx_on) and returned >= RETURNED_MIN_DBFS
          and share >= TONE_SHARE_MIN)
    if not tx_on:
        message = "nothing was sent: the microphone is silent (or muted)"
    elif not delays:
        message = (f"the {freq:g} Hz bursts did not come back (heard {returned:.1f} dBFS): "
                   "the echo extension or the network path does not carry audio")
    elif ok:
        message = (f"audio works both ways: {len(delays)}/{len(tx_on)} bursts came back at "
                   f"{returned:.1f} dBFS after {delay_ms:.0f} ms")
    else:
        message = (f"only {len(delays)}/{len(tx_on)} bursts came back clearly "
                   f"({returned:.1f} dBFS, {share:.0%} at {freq:g} Hz)")
    return EchoCheckResult(ok, len(tx_on), len(delays), returned, share, delay_ms, mic_dbfs,
                           message)


def answered_or_ended(events: EventQueue, call: int, timeout: float) -> CallStateChanged:
    """The event that says our call `call` was answered (CONFIRMED) or ended first."""
    return events.wait_for(
        CallStateChanged, timeout,
        lambda e: e.call == call and e.state in (CallState.CONFIRMED, CallState.DISCONNECTED))


def hang_up_and_wait(ua: UserAgent, call: int, seconds: float = 5.0) -> None:
    """Hang up `call` and wait (at most `seconds`) until the user agent has let go of it."""
    ua.hangup(call)
    deadline = time.monotonic() + seconds
    while call in ua.calls() and time.monotonic() < deadline:
        time.sleep(0.02)


def run_echo_check(ua: UserAgent, extension: str = "9196", inject: bool = True,
                   timeout: float = 15.0) -> EchoCheckResult:
    """Call `extension` (an echo test) with a registered `ua`, probe it, hang up, report."""
    fmt = ua.audio.fmt if ua.audio is not None else AudioFormat()
    probe = EchoProbe(fmt, inject=inject)
    events = EventQueue()
    ua.add_listener(events)
    call: int | None = None
    try:
        ua.set_audio_tap(probe)
        call = ua.make_call(extension)
        answered = answered_or_ended(events, call, timeout)
        if answered.state is CallState.DISCONNECTED:
            raise SipError(f"echo check: the call to {extension} ended: {answered.code} "
                           f"{answered.reason}")
        if not probe.finished.wait(timeout):
            raise SipError(f"echo check: the call to {extension} carried no audio in "
                           f"{timeout:g} s")
        return probe.result()
    finally:
        ua.set_audio_tap(None)
        if call is not None:
            hang_up_and_wait(ua, call)
        ua.remove_listener(events)
