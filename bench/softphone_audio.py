"""Benchmark (not a test): the delay the softphone adds to audio, each way, and its CPU per call.

Runs the real softphone path: our `UserAgent` on pjsua2 registered as seat agent1018 on the real
Asterisk, its `AudioBridge`, and a headset on a private PulseAudio server (`PulseServer`: null
sinks clocked in real time, opened by name through sounddevice as a USB headset would be; the
agent's voice is played into its microphone by `Mouth`), calling the PBX's echo extension 9196
(what we send comes back). By default the headset ticks PJSIP's conference (`--clock device`, as
the GUI softphone does; `--clock pjsip` for PJSIP's null-device clock). Parts:

1. **idle**: registered, no call, for `--idle` seconds: the process's CPU time (all threads:
   pjsua's event pump, its media and clock threads, ours) over the wall time.
2. **CPU per call**: one call to 9196 for `--call` seconds, the microphone playing a steady tone
   (audio flows both ways all the time, as in a conversation through a headset). CPU% is process
   CPU time (`time.process_time()`) over wall time, x100: percent of one core, not a share of a
   busy machine (other jobs at nice 19 do not count). `per_call` = call% - idle%.
3. **added delay**: a second call to 9196, with the microphone playing tone bursts (1 kHz,
   100 ms every 500 ms). Each burst's onset is timed where it passes four points:
     - the **device** side: the sound card's input callback handing a frame in, and its output
       callback taking a frame out (a wrapper around the device stamps each frame);
     - the **network** side: RTP packets on the loopback wire, captured by `dumpcap` (kernel
       timestamps, in another process) for the call's RTP port, decoded from G.711;
     - the bridge's **port** to pjsua (an `AudioTap` stamps each frame there), to split each way
       into the bridge's FIFO and PJSIP's part (conference clock, codec, jitter buffer).
   A frame of N samples handed on at time T counts as carrying sample j at T + j/rate. All frames
   here are 20 ms (device, port and ptime), so a softphone that handed every frame on the moment
   it got it would add 0 ms; what is measured is what ours adds:
     - `mic_to_net`: input callback -> RTP packet leaving for the PBX;
     - `net_to_speaker`: RTP packet arriving from the PBX -> output callback taking the frame
       (the sound card's own output buffer comes on top, as for any application).
   Both are medians over the bursts (p95 and max too); `added` = their sum (what the softphone
   adds to a conversation's round trip). PJSIP's jitter buffer's own view (its average delay,
   from the stream's statistics at the end of the call) is printed alongside.

4. **underruns**: a call of `--minutes` with a steady voice both ways; the bridge's FIFO
   underruns (each a gap heard), the callbacks the sound device itself flagged (`device_xruns`:
   PortAudio's under/overflow flags) and PJSIP's jitter buffer's counters (with `trims`, the
   stale frames the device clock dropped: softphone/sip/jb_trim.py); the microphone FIFO's lead
   at the end; and what the machine did meanwhile (bench/audio_stalls.py): how often the whole
   process stopped for more than 20 ms, the CPU time the virtual machine's host took (steal),
   and how many of the underruns came within 100 ms after such a stop.
5. **speech quality**: `--speech-runs` customer calls at each `--loss` (default 0 and 3 %): PESQ
   narrowband both ways (tests/integration/speech_path.py). Run i loses the packets of loss
   pattern 17 + i (a function of the place in the speech, each way), so the mean over N runs
   averages N fixed patterns, the same for every build; `--same-seed` gives every run pattern 17
   (how reproducible one run is). To the customer, two figures: the customer's phone concealing
   as G.711 Appendix I (`pesq_to_customer`, what the target is judged on) and as a simple phone
   (`pesq_to_customer_simple`: half-level repeat, then silence). `--speech-only` skips parts 1-4.
   With loss, each run is also scored against the same lost packets through G.711 + App. I
   alone (no network, PBX or softphone: `concealment_ceiling`), and `speech_quality_estimate`
   adds the mean of (measured - that) to the mean of G.711 + App. I alone over
   `--ceiling-patterns` patterns: the mean over many loss patterns, which 8 calls cannot give
   directly (one pattern's score spreads by +-0.25 around it).

Prints
    softphone_audio_ms added=<x> mic_to_net=<a> net_to_speaker=<b> ...
    softphone_cpu_pct per_call=<y> call=<c> idle=<i>
    softphone_underruns total=<n> mic=<m> speaker=<s> minutes=<t> ...
    speech_quality pesq_to_agent=<a> pesq_to_customer=<b> pesq_to_customer_simple=<c> loss=<p> ...
and the split of each way on `detail:` lines, each part as soon as it is measured. Needs the
PBX (`.venv/bin/dialer pbx up`) and `dumpcap` (Debian's wireshark/tshark), run as root
(loopback capture). Exit status: 0 measured, 1 the measurement failed, 2 the PBX or a tool is
missing.

Usage: .venv/bin/python bench/softphone_audio.py [--idle 20] [--call 40] [--bursts 40]
           [--minutes 10] [--speech-runs 8] [--loss 0 --loss 0.03] [--clock device|pjsip]
           [--jb init,min_pre,max_pre,max] [--frame-ms 20|10] [--quality 1..10]
           [--jb-trim on|off] [--mic-block-ms 5|20] [--mic-lead-ms 5] [--steady on|off]
           [--speech-only] [--same-seed]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pjsua2 as pj  # type: ignore[import-untyped]  # noqa: E402

from bench.audio_speech_report import print_speech  # noqa: E402
from bench.audio_stalls import StallWatch  # noqa: E402
from bench.audio_wire import (  # noqa: E402
    Stamped,
    delays,
    next_after,
    onsets,
    pcm_frames,
    pct,
    read_rtp,
    summary,
)
from dialer.ari import AriClient  # noqa: E402
from dialer.config.settings import load_settings  # noqa: E402
from dialer.core.audio import AudioFormat, ToneGenerator  # noqa: E402
from dialer.pbx import backend  # noqa: E402
from softphone.audio.bridge import AudioBridge  # noqa: E402
from softphone.audio.device import (  # noqa: E402
    AudioDevice,
    AudioStream,
    DeviceInfo,
    FrameSink,
    FrameSource,
)
from softphone.audio.pulse_server import HEADSET, Ear, Mouth, PulseError, PulseServer  # noqa: E402
from softphone.audio.sd_device import SounddeviceAudio  # noqa: E402
from softphone.audio.steady import steady_interpreter  # noqa: E402
from softphone.audio.virtual import Silence, tone  # noqa: E402
from softphone.sip.api import (  # noqa: E402
    AUTO_ANSWER,
    CallState,
    CallStateChanged,
    EventQueue,
    RegistrationChanged,
    RegState,
    SipAccount,
    SipError,
)
from softphone.sip.pjsua2_ua import (  # noqa: E402
    DEFAULT_RESAMPLE_QUALITY,
    JitterBufferConfig,
    PjsuaStack,
    PjsuaUserAgent,
    local_address_towards,
)
from tests.integration.ari_probe import AriProbe  # noqa: E402
from tests.integration.loopback_capture import Capture  # noqa: E402
from tests.integration.speech_path import (  # noqa: E402
    SpeechScore,
    concealment_ceiling,
    prompts_dir,
    score_speech,
)

SEAT = 1018
ECHO = "9196"
FMT = AudioFormat()            # 16 kHz, 20 ms: the softphone's own format
BURST_HZ = 1000.0


class Unavailable(Exception):
    """The PBX or a tool is missing (exit status 2)."""


# ---------------------------------------------------------------------------- stamping


class StampedDevice:
    """An `AudioDevice` that stamps (time.time(), frame) at its input and output callbacks."""

    def __init__(self, device: AudioDevice) -> None:
        self.device = device
        self.recording = False
        self.mic: Stamped = []
        self.speaker: Stamped = []

    def list_devices(self) -> list[DeviceInfo]:
        return self.device.list_devices()

    def open_input(self, device: str | None, fmt: AudioFormat,
                   on_frame: FrameSink) -> AudioStream:
        # (set_on_lost passes through: the stream is the device's own)
        return self.device.open_input(device, fmt, self._stamp_frame(on_frame))

    def open_output(self, device: str | None, fmt: AudioFormat,
                    pull: FrameSource) -> AudioStream:
        return self.device.open_output(device, fmt, self._stamp_pull(pull))

    def _stamp_frame(self, on_frame: FrameSink) -> FrameSink:
        # A block of n samples handed in at T is stamped T + frame - n/rate: its last sample
        # counts as the last of a frame handed in at T (so a 20 ms block is stamped T, and a
        # frame of four 5 ms blocks sent the moment its last block came in adds 0 ms).
        def stamped(frame: bytes) -> None:
            if self.recording:
                n = len(frame) // 2
                self.mic.append((time.time() + FMT.frame_ms / 1000 - n / FMT.rate, frame))
            on_frame(frame)
        return stamped

    def _stamp_pull(self, pull: FrameSource) -> FrameSource:
        def stamped() -> bytes:
            frame = pull()
            if self.recording:
                self.speaker.append((time.time(), frame))
            return frame
        return stamped


class StampTap:
    """An `AudioTap` at the bridge's port to pjsua: stamps what goes out and what comes in."""

    def __init__(self) -> None:
        self.tx: Stamped = []
        self.rx: Stamped = []

    def on_tx(self, frame: bytes) -> bytes:
        self.tx.append((time.time(), frame))
        return frame

    def on_rx(self, frame: bytes) -> None:
        self.rx.append((time.time(), frame))


class TapEar:
    """An `AudioTap` that records what the bridge receives for the speaker (like `Ear`, which
    records the headset's earpiece): the speech calls score both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: list[bytes] = []

    def on_tx(self, frame: bytes) -> bytes:
        return frame

    def on_rx(self, frame: bytes) -> None:
        with self._lock:
            self._frames.append(frame)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def heard(self) -> bytes:
        with self._lock:
            return b"".join(self._frames)


class Bursts:
    """The microphone: `count` times `on_ms` of a 1 kHz tone every `period_ms`, then silence."""

    def __init__(self, fmt: AudioFormat, count: int, on_ms: int = 100,
                 period_ms: int = 500) -> None:
        self.fmt = fmt
        self.count = count
        self.on = on_ms // fmt.frame_ms
        self.period = period_ms // fmt.frame_ms
        self.n = 0
        self.tone: ToneGenerator | None = None
        self.finished = threading.Event()

    def next_frame(self) -> bytes:
        i = self.n % self.period
        if self.n // self.period >= self.count:
            self.finished.set()
            return self.fmt.silence()
        self.n += 1
        if i == 0:
            self.tone = ToneGenerator(BURST_HZ, self.fmt, -12.0)   # each burst starts at phase 0
        if i < self.on and self.tone is not None:
            return self.tone.next_frame()
        return self.fmt.silence()


def capture_rtp(port: int, folder: Path) -> Capture:
    """dumpcap on loopback for one UDP port, in its own process (its CPU is not ours)."""
    try:
        return Capture(f"udp port {port}", folder / "rtp.pcap")
    except RuntimeError as exc:
        raise Unavailable(str(exc)) from None


# ---------------------------------------------------------------------------- the phone
class Bench:
    def __init__(self, seat: int, folder: Path, registrar: str | None = None,
                 jb: JitterBufferConfig | None = None, device_clock: bool = False,
                 quality: int = DEFAULT_RESAMPLE_QUALITY, mic_block_ms: int = 5,
                 mic_lead_ms: float = 5.0, steady: bool = True, rt_io: bool = True) -> None:
        self.steady = steady
        self.settings = load_settings()
        s = self.settings
        status = backend(s, log=lambda _m: None).status()
        if not status.running:
            raise Unavailable("the PBX is not running: start it with `.venv/bin/dialer pbx up`")
        self.registrar = registrar or f"{s.pbx.bind}:{s.pbx.sip_port}"
        try:
            self.server: PulseServer | None = PulseServer(folder / "pulse").start()
        except PulseError as exc:
            raise Unavailable(str(exc)) from None
        self.server.use()
        self.headset = SounddeviceAudio(input_block_ms=mic_block_ms, realtime=steady,
                                        realtime_io=steady and rt_io)
        self.stamped = StampedDevice(self.headset)
        self.mouth = Mouth(FMT, Silence(FMT))
        self.virtual = self.mouth             # (set_signal: what the agent says)
        self.bridge = AudioBridge(self.headset, FMT, HEADSET, HEADSET, mic_lead_ms=mic_lead_ms)
        host, _, port = self.registrar.partition(":")
        stack = PjsuaStack.shared(bind=local_address_towards(host, int(port or 5060)),
                                  jitter_buffer=jb or JitterBufferConfig(),
                                  frame_ms=FMT.frame_ms, device_clock=device_clock,
                                  resample_quality=quality)
        self.ua = PjsuaUserAgent(SipAccount(f"agent{seat}", s.agents.sip_password(seat),
                                            self.registrar), self.bridge, AUTO_ANSWER,
                                 stack=stack)
        self.events = EventQueue()
        self.ua.add_listener(self.events)

    def register(self, timeout: float = 8.0) -> None:
        user = self.ua.account.user
        if self._seat_state(user) == "online":
            raise Unavailable(f"seat {user} is already registered at the PBX (another benchmark "
                              "or softphone on it?): the PBX keeps one contact a seat, so the "
                              "two would take each other's calls; give another --seat")
        self.ua.register()
        try:
            ev = self.events.wait_for(RegistrationChanged, timeout, lambda e: e.code > 0)
        except SipError:
            raise Unavailable(f"no answer to REGISTER from the PBX at {self.registrar} within "
                              f"{timeout:g} s: is it running? (`.venv/bin/dialer pbx up`)"
                              ) from None
        if ev.state is not RegState.REGISTERED:
            raise Unavailable(f"the PBX at {self.registrar} refused {self.ua.account.user}: "
                              f"{ev.code} {ev.reason}")
        if self.steady:
            steady_interpreter()          # as the agent window does once its phone is up

    def _seat_state(self, user: str) -> str | None:
        """The PBX's state of the seat's endpoint ("online": a phone is registered on it); None
        if ARI does not say (a PBX that is not up is reported by the REGISTER that follows)."""
        async def look() -> str | None:
            async with AriClient.from_settings(self.settings.pbx) as ari:
                return str((await ari.get(f"endpoints/PJSIP/{user}")).get("state"))
        try:
            return asyncio.run(look())
        except Exception:  # noqa: BLE001 - any failure to ask: REGISTER tells what is wrong
            return None

    def call(self) -> int:
        call = self.ua.make_call(ECHO)
        ev = self.events.wait_for(
            CallStateChanged, 10,
            lambda e: e.call == call and e.state in (CallState.CONFIRMED, CallState.DISCONNECTED))
        if ev.state is CallState.DISCONNECTED:
            raise Unavailable(f"the echo extension {ECHO} did not answer: {ev.code} {ev.reason}")
        deadline = time.monotonic() + 5
        while not self.bridge.running and time.monotonic() < deadline:
            time.sleep(0.01)
        return call

    def hangup(self, call: int) -> None:
        self.ua.hangup(call)
        deadline = time.monotonic() + 5
        while call in self.ua.calls() and time.monotonic() < deadline:
            time.sleep(0.02)

    def pj(self, call: int, fn: Callable[[Any, int], Any]) -> Any:
        """Run `fn(pjsua2 call, audio media index)` on the stack thread. Reads the user agent's
        private call table: a benchmark's licence, not an interface."""
        def go() -> Any:
            pj_call = self.ua._calls[call]
            ci = pj_call.getInfo()
            index = next(mi.index for mi in ci.media if mi.type == pj.PJMEDIA_TYPE_AUDIO)
            return fn(pj_call, index)
        return self.ua.stack.run(go)

    def close(self) -> None:
        self.ua.close()
        stack = PjsuaStack.current()
        if stack is not None:
            stack.shutdown()
        self.mouth.close()
        if self.server is not None:
            self.server.stop()


def cpu_pct(seconds: float) -> float:
    c0, w0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return 100 * (time.process_time() - c0) / (time.monotonic() - w0)


def measure_cpu(b: Bench, idle_s: float, call_s: float) -> tuple[float, float]:
    time.sleep(2)                            # registration traffic settles
    idle = cpu_pct(idle_s)
    b.virtual.set_signal(tone(440, FMT))     # a steady voice both ways
    call = b.call()
    time.sleep(2)                            # media and FIFOs settle
    busy = cpu_pct(call_s)
    b.hangup(call)
    return idle, busy


@dataclass
class Latency:
    mic_to_net: list[float]
    net_to_speaker: list[float]
    mic_to_port: list[float]
    port_to_net: list[float]
    net_to_port: list[float]
    net_to_tick: list[float]
    port_to_speaker: list[float]
    jbuf: str
    codec: str
    mic_fifo: str = ""


def measure_latency(b: Bench, bursts: int, folder: Path) -> Latency:
    b.bridge.device = b.stamped              # the same bridge, now with stamped callbacks
    b.virtual.set_signal(Silence(FMT))
    call = b.call()
    remote = b.pj(call, lambda c, i: str(c.getStreamInfo(i).remoteRtpAddress))
    codec = b.pj(call, lambda c, i: f"{c.getStreamInfo(i).codecName}")
    port = int(remote.rsplit(":", 1)[1])
    cap = capture_rtp(port, folder)
    tap = StampTap()
    try:
        time.sleep(1.0)                      # capture running, jitter buffer settled
        b.ua.set_audio_tap(tap)
        b.stamped.recording = True
        signal_ = Bursts(FMT, bursts)
        b.virtual.set_signal(signal_)
        if not signal_.finished.wait(bursts * 0.5 + 10):
            raise RuntimeError("the sound server's headset stopped playing the bursts")
        time.sleep(0.5)                      # the last echo comes back and plays
        b.stamped.recording = False
        b.ua.set_audio_tap(None)

        def jb(c: Any, i: int) -> str:
            j = c.getStreamStat(i).jbuf
            clock = b.ua.stack.clock
            trims = "-" if clock is None else str(clock.trim.trims)
            return (f"avg={j.avgDelayMsec} min={j.minDelayMsec} max={j.maxDelayMsec} "
                    f"prefetch={j.prefetch} frame_bytes={j.frameSize} lost={j.lost} "
                    f"discard={j.discard} empty={j.empty} size_now={j.size} trims_so_far={trims}")
        jbuf = b.pj(call, jb)
        m = b.bridge.stats().mic
        mic_fifo = (f"lead_ms={m.lead_ms:g} underruns={m.underruns} startup={m.startup_underruns} "
                    f"trimmed_ms={m.trimmed_ms:g} dropped_frames={m.dropped}")
    finally:
        captured = cap.stop()
        b.hangup(call)
    packets = read_rtp(captured, port)
    rate = 8000
    out_net = onsets([(p.t, p.samples) for p in packets if p.outbound], rate)
    in_net = onsets([(p.t, p.samples) for p in packets if not p.outbound], rate)
    mic = onsets(pcm_frames(b.stamped.mic), FMT.rate)
    speaker = onsets(pcm_frames(b.stamped.speaker), FMT.rate)
    port_tx = onsets(pcm_frames(tap.tx), FMT.rate)
    port_rx = onsets(pcm_frames(tap.rx), FMT.rate)
    if not (out_net and in_net and mic and speaker):
        raise RuntimeError(f"bursts not found: {len(mic)} at the microphone, {len(out_net)} "
                           f"sent, {len(in_net)} received back, {len(speaker)} played "
                           f"({len(packets)} RTP packets captured)")
    ticks = [t for t, _f in tap.rx]
    arrivals = [p.t for p in packets if not p.outbound and ticks and ticks[0] <= p.t <= ticks[-1]]
    return Latency(delays(mic, out_net), delays(in_net, speaker), delays(mic, port_tx),
                   delays(port_tx, out_net), delays(in_net, port_rx), next_after(arrivals, ticks),
                   delays(port_rx, speaker),
                   jbuf, codec, mic_fifo)


@dataclass
class LongCall:
    minutes: float
    mic_underruns: int
    speaker_underruns: int
    startup_underruns: int
    dropped: tuple[int, int]      # frames: microphone, speaker
    targets: tuple[float, int]
    mic_trimmed_ms: float
    losses: int
    device_xruns: int
    jbuf: str
    machine: str


def measure_long_call(b: Bench, minutes: float) -> LongCall:
    """One call to 9196 for `minutes`, a steady voice both ways; counts the bridge's underruns
    (each one a gap the agent or the customer hears) and PJSIP's jitter buffer's."""
    b.bridge.device = b.headset
    b.virtual.set_signal(tone(440, FMT))
    # the bridge's counters run over its life: the calls before this one each ended with an
    # underrun (the conference stops feeding the speaker a tick before the bridge stops)
    base = b.bridge.stats()
    clock = b.ua.stack.clock
    fallback0 = clock.fallback_ticks if clock is not None else 0
    call = b.call()

    def jb(c: Any, i: int) -> str:
        j = c.getStreamStat(i).jbuf
        clock = b.ua.stack.clock
        trims = "-" if clock is None else str(clock.trim.trims)
        return (f"avg={j.avgDelayMsec} max={j.maxDelayMsec} lost={j.lost} "
                f"discard={j.discard} empty={j.empty} trims_so_far={trims}")

    # snapshots every 5 s: the PBX hangs test calls up at 10 minutes (qa-limit), maybe just
    # before the last one, and the bridge's device counters go with its streams
    st, jbuf = b.bridge.stats(), ""
    started = time.monotonic()
    watch = StallWatch()
    watch.watch(b.bridge._mic, "mic")
    watch.watch(b.bridge._speaker, "speaker")
    try:
        end = started + 60 * minutes
        while time.monotonic() < end and call in b.ua.calls():
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            if call in b.ua.calls() and b.bridge.running:
                st = b.bridge.stats()
                with contextlib.suppress(KeyError, StopIteration, SipError):
                    jbuf = b.pj(call, jb)
    finally:
        lasted = time.monotonic() - started
        machine = watch.stop()
        if clock is not None:
            machine += (f" fallback_ticks={clock.fallback_ticks - fallback0} (the conference "
                        "ticked by PJSIP's thread: the headset gave no tick for 60 ms)")
        machine += "".join(f"\ndetail: long call, {line}" for line in watch.detail())
        if call in b.ua.calls():
            b.hangup(call)
    if lasted < 60 * minutes - 6:
        raise RuntimeError(f"the long call ended after {lasted:.0f} s of {60 * minutes:g} min")
    return LongCall(minutes, st.mic.underruns - base.mic.underruns,
                    st.speaker.underruns - base.speaker.underruns,
                    st.mic.startup_underruns + st.speaker.startup_underruns
                    - base.mic.startup_underruns - base.speaker.startup_underruns,
                    (st.mic.dropped - base.mic.dropped, st.speaker.dropped - base.speaker.dropped),
                    (st.mic.lead_ms, st.speaker.target * st.frame_ms),
                    round(st.mic.trimmed_ms - base.mic.trimmed_ms, 2),
                    b.bridge.losses, st.device_xruns, jbuf, machine)


def measure_speech(b: Bench, loss: float, runs: int, folder: Path,
                   same_seed: bool = False, customer_jb: str | None = None
                   ) -> list[SpeechScore]:
    """`runs` customer calls (loss patterns 17, 18, ...; all 17 with `same_seed`): PESQ both
    ways at `loss` (tests/integration/speech_path.py: our own RTP leg with seeded loss, bridged
    with the agent over ARI)."""
    b.bridge.device = b.headset

    async def go() -> list[SpeechScore]:
        scores = []
        async with AriProbe(b.settings, app=f"bench-speech-{int(time.time())}") as probe:
            ear, tap_ear = Ear(FMT), TapEar()
            b.bridge.set_tap(tap_ear)
            try:
                for i in range(runs):
                    scores.append(await score_speech(probe, f"PJSIP/{b.ua.account.user}",
                                                     b.mouth, ear, folder, FMT, loss,
                                                     17 if same_seed else 17 + i,
                                                     customer_jb, tap_ear=tap_ear))
            finally:
                b.bridge.set_tap(None)
                ear.close()
        return scores
    return asyncio.run(go())


def _med(v: list[float]) -> float:
    return statistics.median(v) if v else math.nan


def print_latency(lat: Latency, idle: float, busy: float, args: argparse.Namespace) -> None:
    m2n, n2s = _med(lat.mic_to_net), _med(lat.net_to_speaker)
    print(f"softphone_audio_ms added={m2n + n2s:.1f} mic_to_net={m2n:.1f} "
          f"net_to_speaker={n2s:.1f} mic_to_net_p95={pct(lat.mic_to_net, 95):.1f} "
          f"net_to_speaker_p95={pct(lat.net_to_speaker, 95):.1f} bursts={args.bursts} "
          f"codec={lat.codec}")
    print(f"softphone_cpu_pct per_call={busy - idle:.2f} call={busy:.2f} idle={idle:.2f} "
          f"call_s={args.call:g} idle_s={args.idle:g}")
    print(f"detail: mic_to_net      {summary(lat.mic_to_net)}")
    print(f"detail:   device->port  {summary(lat.mic_to_port)}  (the bridge's microphone FIFO)")
    print(f"detail:   port->network {summary(lat.port_to_net)}  (PJSIP: conference clock, "
          "resampler, encoder, send)")
    print(f"detail: net_to_speaker  {summary(lat.net_to_speaker)}")
    print(f"detail:   network->port {summary(lat.net_to_port)}  (PJSIP: jitter buffer, decoder, "
          "resampler, conference clock)")
    print(f"detail:     of which network->tick {summary(lat.net_to_tick)}  (an RTP packet's wait "
          "for the next conference tick)")
    wait = _med(lat.net_to_tick)
    print(f"detail:     the echo's packet comes back just after the tick that sent it and waits "
          f"~a frame; a customer's arrive at any phase ({FMT.frame_ms / 2:g} ms on average): "
          f"net_to_speaker would be ~{n2s - wait + FMT.frame_ms / 2:.1f}, "
          f"added ~{m2n + n2s - wait + FMT.frame_ms / 2:.1f} (an estimate, not measured)")
    print(f"detail:   port->device  {summary(lat.port_to_speaker)}  (the bridge's speaker FIFO)")
    print(f"detail: pjsua jitter buffer (ms): {lat.jbuf}")
    print(f"detail: microphone FIFO (softphone/audio/mic_fifo.py): {lat.mic_fifo}")


def print_long_call(long: LongCall) -> None:
    print(f"softphone_underruns total={long.mic_underruns + long.speaker_underruns} "
          f"mic={long.mic_underruns} speaker={long.speaker_underruns} "
          f"minutes={long.minutes:g} startup={long.startup_underruns} "
          f"dropped_frames={long.dropped[0]},{long.dropped[1]} mic_lead_ms={long.targets[0]:g} "
          f"mic_trimmed_ms={long.mic_trimmed_ms:g} speaker_target_ms={long.targets[1]} "
          f"device_losses={long.losses} device_xruns={long.device_xruns}")
    print(f"detail: long call pjsua jitter buffer (ms): {long.jbuf}")
    print(f"detail: long call, the machine: {long.machine}")


def main(argv: list[str] | None = None) -> int:
    global FMT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=20.0, help="idle baseline, s")
    parser.add_argument("--call", type=float, default=40.0, help="call for the CPU figure, s")
    parser.add_argument("--bursts", type=int, default=40, help="tone bursts for the delay")
    parser.add_argument("--seat", type=int, default=SEAT, help="agent seat (default 1018)")
    parser.add_argument("--registrar", help="host:port of the PBX (default: from the settings)")
    parser.add_argument("--minutes", type=float, default=1.0,
                        help="length of the long call whose underruns are counted (0: none)")
    parser.add_argument("--jb", default="",
                        help="PJSIP jitter buffer init,min_pre,max_pre,max in ms "
                             "(-1: PJSIP's default; default: the softphone's own)")
    parser.add_argument("--speech-runs", type=int, default=8,
                        help="customer calls scored with PESQ at each loss (0: none)")
    parser.add_argument("--loss", type=float, action="append",
                        help="customer-side packet loss for the speech calls, 0..1 "
                             "(repeatable; default 0 and 0.03)")
    parser.add_argument("--clock", choices=("device", "pjsip"), default="device",
                        help="what ticks PJSIP's conference: the headset (device_clock.py) "
                             "or PJSIP's null sound device")
    parser.add_argument("--frame-ms", type=int, default=20, choices=(10, 20),
                        help="audio frame (conference tick, device block, FIFO frame), ms")
    parser.add_argument("--quality", type=int, default=DEFAULT_RESAMPLE_QUALITY,
                        help="pjsua's media quality 1..10: the conference's resampler "
                             "(<=2 linear, 3-4 small filter, else large filter; "
                             "default: the softphone's own)")
    parser.add_argument("--jb-trim", choices=("on", "off"), default="on",
                        help="with the device clock: drop the jitter buffer's stale frames "
                             "(softphone/sip/jb_trim.py) or leave them, as before")
    parser.add_argument("--mic-block-ms", type=int, default=5,
                        help="the headset's microphone block, ms (5: the softphone's own; 20: "
                             "one frame per callback, as before softphone/audio/mic_fifo.py)")
    parser.add_argument("--steady", choices=("on", "off"), default="on",
                        help="softphone/audio/steady.py: freeze the start-up objects for the "
                             "garbage collector, 1 ms switch interval, real-time audio threads "
                             "(on, as the agent window does) or none of it")
    parser.add_argument("--rt-io", choices=("on", "off"), default="on",
                        help="with --steady on: real-time scheduling for the sound server's "
                             "client threads too (steady.realtime_io_threads), or only for "
                             "the callback threads, as before")
    parser.add_argument("--mic-lead-ms", type=float, default=5.0,
                        help="the microphone FIFO's starting lead over a frame, ms")
    parser.add_argument("--speech-only", action="store_true",
                        help="only the speech calls (part 5): no CPU, delay or long call")
    parser.add_argument("--customer-jb", choices=("none", "fixed", "adaptive"), default="none",
                        help="speech calls: a jitter buffer on the customer's channel "
                             "(JITTERBUFFER(<kind>)=default; with the PBX's generic PLC)")
    parser.add_argument("--ceiling-patterns", type=int, default=100,
                        help="speech with loss: loss patterns over which G.711 + App. I alone "
                             "is averaged, for the estimate (0: none; ~0.25 s of CPU each)")
    parser.add_argument("--same-seed", action="store_true",
                        help="every speech call loses the same packets (pattern 17): the "
                             "spread is then the measurement's own")
    args = parser.parse_args(argv)
    FMT = AudioFormat(FMT.rate, args.frame_ms)
    jb = None
    if args.jb:
        try:
            jb = JitterBufferConfig(*(int(x) for x in args.jb.split(",")))
        except (TypeError, ValueError):
            parser.error(f"--jb {args.jb!r}: give up to four integers, e.g. 0,20,60,500")
    if shutil.which("dumpcap") is None:
        print("softphone_audio: dumpcap is missing (Debian package tshark)", file=sys.stderr)
        return 2
    b: Bench | None = None
    tmp = tempfile.TemporaryDirectory(prefix="bench-softphone-audio-")
    speech: dict[float, list[SpeechScore]] = {}
    ceiling: dict[float, list[tuple[float, float]]] = {}
    population: dict[float, tuple[float, float]] = {}
    loads: dict[float, tuple[float, float]] = {}
    try:
        b = Bench(args.seat, Path(tmp.name), args.registrar, jb, args.clock == "device",
                  args.quality, args.mic_block_ms, args.mic_lead_ms, args.steady == "on",
                  args.rt_io == "on")
        if b.ua.stack.clock is not None:
            b.ua.stack.clock.trim_enabled = args.jb_trim == "on"
        b.register()
        if args.speech_only:
            args.minutes = 0
        else:
            # each part's figures are printed as soon as they are measured: a later part that
            # fails (a 10-minute call first) does not take them along
            idle, busy = measure_cpu(b, args.idle, args.call)
            print_latency(measure_latency(b, args.bursts, Path(tmp.name)), idle, busy, args)
        if args.minutes > 0:
            print_long_call(measure_long_call(b, args.minutes))
        for loss in args.loss or [0.0, 0.03]:
            if args.speech_runs > 0:
                load_before = os.getloadavg()[0]
                speech[loss] = measure_speech(b, loss, args.speech_runs, Path(tmp.name),
                                              args.same_seed,
                                              None if args.customer_jb == "none"
                                              else args.customer_jb)
                loads[loss] = (load_before, os.getloadavg()[0])
                if loss > 0 and prompts_dir(b.settings) is not None:
                    ceiling[loss] = [concealment_ceiling(b.settings, Path(tmp.name), sc.seed,
                                                         loss) for sc in speech[loss]]
                    if args.ceiling_patterns > 1:
                        many = [concealment_ceiling(b.settings, Path(tmp.name), seed, loss)
                                for seed in range(17, 17 + args.ceiling_patterns)]
                        population[loss] = (statistics.mean(a for a, _ in many),
                                            statistics.mean(c for _, c in many))
    except Unavailable as exc:
        print(f"softphone_audio: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, SipError, AssertionError, ValueError) as exc:
        print(f"softphone_audio: measurement failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if b is not None:
            b.close()
        tmp.cleanup()
    print_speech(speech, ceiling, population, args.ceiling_patterns, loads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
