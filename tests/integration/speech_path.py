"""Speech from a simulated customer to the agent's headset and back, scored with PESQ.

The customer is an RTP leg of our own: an ARI `externalMedia` channel on the PBX (G.711 u-law)
whose far end is `LossyRtpLeg`, a paced RTP sender and receiver in this process that loses a
share `loss` of the packets each way: packet loss on the customer's side of the call. (Netem
would be the usual tool, but this kernel has no `sch_netem`: `tc qdisc add ... netem` says
"Specified qdisc kind is unknown".)

Which packets are lost is a function of their place in the speech, each way (`loss_pattern`:
packet k of the speech, counted from its first packet, is lost if the seeded pattern says so), so
a seed always hits the same syllables: the customer's speech starts on a packet of its own, and
what comes back is lined up with the agent's speech (cross-correlation) before the pattern is
applied to it. Run i of a benchmark uses seed 17 + i: a mean over N runs averages N fixed loss
patterns, the same for every build compared.

The customer's phone conceals what it lost two ways, both scored: as a simple phone does (the
previous packet again at half level, then silence) and as ITU-T G.711 Appendix I does
(`g711_plc`: pitch-period repetition with overlap-add and a fade), which a real phone does at
least as well; the targets are judged on the second.

The agent is the softphone (pjsua2 + `AudioBridge`) on the sound server's virtual headset: the
customer's speech is recorded at the earpiece (`Ear`), and the agent's speech is played into the
microphone (`Mouth`). Both directions run at once, in one mixing bridge with the agent's leg, as
a customer call does; each is scored with PESQ (ITU-T P.862, narrowband, `pesq` package) against
what was sent, after aligning the two by cross-correlation.

Speech is a human voice: Asterisk's stock prompts (Allison Smith's recordings, CC BY-SA, GSM in
the PBX's root filesystem; decoded by sox, what is decoded is the reference), a different text
each way, so a leak from one direction into the other could not score well. Where that root
filesystem is not on this machine (a Docker PBX), espeak-ng speaks instead; its synthetic voice
scores lower through G.711 alone (3.93-4.0 against 4.29 for the prompts, measured here), so its
figures are not comparable with the targets.

Used by `tests/integration/test_softphone_speech.py` and `bench/softphone_audio.py`.
"""

from __future__ import annotations

import asyncio
import math
import random
import socket
import struct
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dialer.ari import AriError
from dialer.config.settings import Settings
from dialer.core.audio import AudioFormat
from dialer.pbx.rootfs import rootfs_path
from tests.integration import g711_plc
from tests.integration.speech_loss import (
    TO_AGENT,
    TO_CUSTOMER,
    conceal_simple,
    lose_from,
    loss_pattern,
)

CUSTOMER_SAYS = ("Hello, this is Maria Lopez. I am calling about the parcel that was meant to "
                 "arrive on Tuesday. The tracking page still says it is at the depot in Denver, "
                 "and nobody has called me back.")
AGENT_SAYS = ("Good afternoon, and thank you for your patience. I can see your order on my "
              "screen. The driver will bring it tomorrow morning between nine and eleven, and "
              "you will get a text message an hour before.")


CUSTOMER_PROMPTS = ("tt-monkeysintro", "vm-nobodyavail", "vm-leavemsg")   # 7.6 s
AGENT_PROMPTS = ("demo-thanks", "tt-weasels")                             # 7.9 s


def prompts_dir(settings: Settings) -> Path | None:
    """The stock prompts in the Docker-less PBX's root filesystem, if it is on this machine."""
    folder = rootfs_path(settings.cache_dir) / "usr/share/asterisk/sounds/en_US_f_Allison"
    return folder if all((folder / f"{p}.gsm").exists()
                         for p in CUSTOMER_PROMPTS + AGENT_PROMPTS) else None


def speech(folder: Path, what: str | tuple[Path, ...], rate: int) -> np.ndarray:
    """Recorded prompts (GSM files, concatenated) or a text spoken by espeak-ng, at `rate` Hz."""
    key = abs(hash(what))
    out = folder / f"speech-{rate}-{key}.wav"
    if not out.exists():
        if isinstance(what, str):
            raw = folder / f"espeak-{key}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), what],
                           check=True, capture_output=True)
            inputs, effects = [str(raw)], ["norm", "-3"]
        else:
            inputs, effects = [str(p) for p in what], []
        subprocess.run(["sox", *inputs, "-r", str(rate), "-c", "1", "-b", "16", str(out),
                        *effects], check=True, capture_output=True)
    data = out.read_bytes()
    pos = data.index(b"data") + 8
    return np.frombuffer(data[pos:], dtype="<i2").astype(np.int16)


# ------------------------------------------------------------------------------ G.711 u-law
def _ulaw_decode_table() -> np.ndarray:
    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        b = ~i & 0xFF
        t = ((b & 0x0F) << 3) + 0x84
        t <<= (b & 0x70) >> 4
        out[i] = (0x84 - t) if b & 0x80 else (t - 0x84)
    return out


ULAW_DECODE = _ulaw_decode_table()


def ulaw_encode(pcm: np.ndarray) -> bytes:
    x = pcm.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


# ------------------------------------------------------------------------------ the customer
@dataclass(frozen=True)
class Heard:
    """What the customer heard: concealed by a simple phone and by G.711 Appendix I."""

    simple: np.ndarray
    g711_appendix_i: np.ndarray
    dropped: int
    arrived: np.ndarray     # everything that arrived, before the loss pattern (a diagnosis)


class LossyRtpLeg:
    """The customer's phone: sends `pcm` (8 kHz) as paced 20 ms u-law RTP, then silence, and
    keeps what arrives; loses a share `loss` of the packets each way, by their place in the
    speech (`loss_pattern` with `seed`). Before the speech starts, packets are lost at random
    (seeded) at the same rate."""

    def __init__(self, loss: float, seed: int = 17) -> None:
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss {loss} is outside 0.0..1.0")
        self.loss = loss
        self._tx_lost = loss_pattern(seed, TO_AGENT, loss)
        self._rx_lost = loss_pattern(seed, TO_CUSTOMER, loss)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._pre_rng = random.Random(seed)      # before the speech: not scored
        self._stop = threading.Event()
        self._pcm = np.zeros(0, dtype=np.int16)
        self._pos = 0
        self._speaking = False
        self._lock = threading.Lock()
        self.received: dict[int, bytes] = {}   # RTP timestamp -> payload
        self.sent = 0
        self.dropped_tx = 0        # packets of the speech (and the silence after it) lost
        self._threads: list[threading.Thread] = []
        self.remote: tuple[str, int] | None = None

    def start(self, remote: tuple[str, int]) -> None:
        self.remote = remote
        for fn in (self._send, self._receive):
            t = threading.Thread(target=fn, daemon=True, name=f"rtp-leg-{fn.__name__}")
            t.start()
            self._threads.append(t)

    def say(self, pcm: np.ndarray) -> None:
        with self._lock:
            self._pcm, self._pos, self._speaking = pcm, 0, True

    def clear_received(self) -> None:
        with self._lock:
            self.received.clear()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.sock.close()

    def _next_payload(self) -> tuple[bytes, bool]:
        """The next packet's payload, and whether it is lost (counted from the speech on)."""
        with self._lock:
            chunk = self._pcm[self._pos:self._pos + 160]
            k = self._pos // 160 if self._speaking else None
            self._pos += 160
        if len(chunk) < 160:
            chunk = np.concatenate([chunk, np.zeros(160 - len(chunk), dtype=np.int16)])
        if k is None:
            lost = self._pre_rng.random() < self.loss
        else:
            lost = bool(k < len(self._tx_lost) and self._tx_lost[k])
            self.dropped_tx += lost
        return ulaw_encode(chunk), lost

    def _send(self) -> None:
        ssrc = random.Random(self.port).getrandbits(32)
        seq, ts = 0, 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            payload, lost = self._next_payload()
            if not lost:
                head = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                assert self.remote is not None
                self.sock.sendto(head + payload, self.remote)
                self.sent += 1
            seq, ts = seq + 1, ts + 160
            next_at += 0.02
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except (TimeoutError, OSError):
                continue
            if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F != 0:
                continue
            ts = struct.unpack("!I", data[4:8])[0]
            head = 12 + 4 * (data[0] & 0x0F)
            with self._lock:
                self.received[ts] = data[head:]

    def heard(self, reference: np.ndarray) -> Heard:
        """What arrived, on the sender's timeline, with the packets the loss pattern takes
        away from `reference` (the agent's speech, 8 kHz: found in what arrived by
        cross-correlation) lost, and concealed. (Every packet is kept on arrival, so that the
        pattern can follow the speech.)"""
        with self._lock:
            got = dict(self.received)
        if not got:
            empty = np.zeros(0, dtype=np.int16)
            return Heard(empty, empty, 0, empty)
        first, last = min(got), max(got)
        packets: list[np.ndarray | None] = []
        for ts in range(first, last + 1, 160):
            payload = got.get(ts)
            packets.append(ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]
                           if payload is not None and len(payload) == 160 else None)
        clean = np.concatenate([np.zeros(160, dtype=np.int16) if p is None else p
                                for p in packets])
        packets, dropped = lose_from(packets, lag_of(reference, clean), self._rx_lost)
        return Heard(conceal_simple(packets), g711_plc.conceal(packets), dropped, clean)


# ------------------------------------------------------------------------------ scoring
def _padded(ref: np.ndarray, deg: np.ndarray) -> np.ndarray:
    if len(deg) < len(ref):
        deg = np.concatenate([deg, np.zeros(len(ref) - len(deg), dtype=deg.dtype)])
    return deg


def lag_of(ref: np.ndarray, deg: np.ndarray) -> int:
    """Where `ref` starts in `deg` (samples), by cross-correlation."""
    deg = _padded(ref, deg)
    n = 1 << int(np.ceil(np.log2(len(deg) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(deg.astype(float), n) *
                        np.conj(np.fft.rfft(ref.astype(float), n)), n)
    return int(np.argmax(corr[:len(deg) - len(ref) + 1]))


def align(ref: np.ndarray, deg: np.ndarray) -> np.ndarray:
    """The stretch of `deg` that lines up with `ref` (by cross-correlation), as long as `ref`."""
    deg = _padded(ref, deg)
    lag = lag_of(ref, deg)
    return deg[lag:lag + len(ref)]


def pesq_nb(ref: np.ndarray, deg: np.ndarray, rate: int = 8000) -> float:
    from pesq import pesq  # type: ignore[import-untyped]
    return float(pesq(rate, ref, align(ref, deg), "nb"))


def to_8k(pcm16k: np.ndarray) -> np.ndarray:
    """16 kHz -> 8 kHz (a short low-pass, then every other sample)."""
    taps = np.array([-0.0106, 0.0, 0.0557, 0.0, -0.1326, 0.0, 0.3875, 0.5, 0.3875, 0.0,
                     -0.1326, 0.0, 0.0557, 0.0, -0.0106])
    filtered = np.convolve(pcm16k.astype(float), taps / taps.sum(), mode="same")
    return np.clip(filtered[::2], -32768, 32767).astype(np.int16)


class PcmSignal:
    """A `Signal` that plays 16-bit `pcm` once (in the stream's frames), then silence."""

    def __init__(self, pcm: np.ndarray, fmt: AudioFormat) -> None:
        self._bytes = pcm.astype("<i2").tobytes()
        self._fmt = fmt
        self._pos = 0

    def next_frame(self) -> bytes:
        size = self._fmt.frame_bytes
        chunk = self._bytes[self._pos:self._pos + size]
        self._pos += size
        return chunk + bytes(size - len(chunk))


@dataclass(frozen=True)
class SpeechScore:
    voice: str            # "prompts" (recorded) or "espeak-ng"
    loss: float
    seed: int
    to_agent: float
    to_customer: float    # the customer's phone conceals as G.711 Appendix I (the target's)
    to_customer_simple: float   # ... as a simple phone (half-level repeat, then silence)
    to_customer_arrived: float  # what arrived, before the loss pattern (the path's own harm)
    dropped_tx: int
    dropped_rx: int
    to_agent_at_bridge: float = math.nan   # what the softphone handed its headset (`tap_ear`)


async def score_speech(probe: Any, agent_endpoint: str, mouth: Any, ear: Any, folder: Path,
                       fmt: AudioFormat, loss: float, seed: int = 17,
                       customer_jb: str | None = None, save_to: Path | None = None,
                       tap_ear: Any = None) -> SpeechScore:
    """One customer call: `probe` (an `AriProbe`) calls the agent (whose softphone must answer by
    itself) and bridges it with our lossy RTP leg; both sides speak at once; PESQ both ways.
    `customer_jb`: a jitter buffer on the customer's channel (`JITTERBUFFER(<kind>)=default`,
    kind "fixed" or "adaptive"), set as the dialer sets it on a customer's channel. `save_to`:
    a folder for what was sent and heard each way (8 kHz .npy files, to look at). `tap_ear`:
    like `ear` (clear(), heard()), recording what the softphone's bridge received for the
    speaker, before the headset's stream: scored too, it tells the softphone's harm from the
    sound device's."""
    prompts = prompts_dir(probe.settings)
    customer: str | tuple[Path, ...] = CUSTOMER_SAYS
    agent_voice: str | tuple[Path, ...] = AGENT_SAYS
    if prompts is not None:
        customer = tuple(prompts / f"{p}.gsm" for p in CUSTOMER_PROMPTS)
        agent_voice = tuple(prompts / f"{p}.gsm" for p in AGENT_PROMPTS)
    to_agent_8k = speech(folder, customer, 8000)
    agent_16k = speech(folder, agent_voice, fmt.rate)
    agent_8k = speech(folder, agent_voice, 8000)
    leg = LossyRtpLeg(loss, seed)
    ari = probe.ari
    bridge = f"speech-{uuid.uuid4().hex[:10]}"
    ext = f"customer-{uuid.uuid4().hex[:10]}"
    agent = await probe.call_agent(agent_endpoint)
    try:
        since = len(probe.events)
        await ari.post("channels/externalMedia", app=probe.app, channelId=ext,
                       external_host=f"127.0.0.1:{leg.port}", format="ulaw")
        probe.channels.append(ext)
        # (it enters the application just after the answer: on a busy machine, adding it to
        # the bridge before that failed with 422 "Channel not in Stasis application")
        await probe.wait_event("StasisStart", ext, since=since)
        host = (await ari.get(f"channels/{ext}/variable",
                              variable="UNICASTRTP_LOCAL_ADDRESS"))["value"]
        port = int((await ari.get(f"channels/{ext}/variable",
                                  variable="UNICASTRTP_LOCAL_PORT"))["value"])
        leg.start((host, port))
        if customer_jb:
            try:
                await ari.post(f"channels/{ext}/variable",
                               variable=f"JITTERBUFFER({customer_jb})", value="default")
            except AriError as exc:
                raise RuntimeError(f"JITTERBUFFER({customer_jb}) on the customer's channel "
                                   f"failed ({exc}): the PBX needs func_jitterbuffer.so "
                                   "(config/asterisk/modules.conf)") from exc
        # as the dialer's agent bridges (service/engine.py): media always through Asterisk
        await ari.post("bridges", type="mixing,proxy_media", bridgeId=bridge)
        await ari.post(f"bridges/{bridge}/addChannel", channel=f"{agent},{ext}")
        await asyncio.sleep(2.0)                      # media flowing, FIFOs and buffers settled
        ear.clear()
        if tap_ear is not None:
            tap_ear.clear()
        leg.clear_received()
        leg.say(to_agent_8k)
        mouth.set_signal(PcmSignal(agent_16k, fmt))
        talk = max(len(to_agent_8k) / 8000, len(agent_16k) / fmt.rate)
        await asyncio.sleep(talk + 1.5)
        heard_by_agent = to_8k(np.frombuffer(ear.heard(), dtype="<i2"))
        at_bridge = (None if tap_ear is None
                     else to_8k(np.frombuffer(tap_ear.heard(), dtype="<i2")))
        heard_by_customer = leg.heard(agent_8k)
    finally:
        mouth.set_signal(None)
        leg.stop()
        for ch in (ext, agent):
            await probe.hangup(ch)
        try:
            await ari.delete(f"bridges/{bridge}")
        except Exception:  # noqa: BLE001 - already gone
            pass
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        for name, pcm in (("to_agent_sent", to_agent_8k), ("to_agent_heard", heard_by_agent),
                          ("to_customer_sent", agent_8k),
                          ("to_customer_arrived", heard_by_customer.arrived),
                          ("to_customer_g711i", heard_by_customer.g711_appendix_i)):
            np.save(save_to / f"{name}.npy", pcm)
        np.save(save_to / "to_agent_lost.npy", loss_pattern(seed, TO_AGENT, loss))
    return SpeechScore("prompts" if prompts else "espeak-ng", loss, seed,
                       pesq_nb(to_agent_8k, heard_by_agent),
                       pesq_nb(agent_8k, heard_by_customer.g711_appendix_i),
                       pesq_nb(agent_8k, heard_by_customer.simple),
                       pesq_nb(agent_8k, heard_by_customer.arrived),
                       leg.dropped_tx, heard_by_customer.dropped,
                       math.nan if at_bridge is None else pesq_nb(to_agent_8k, at_bridge))


def concealment_ceiling(settings: Settings, folder: Path, seed: int, loss: float
                        ) -> tuple[float, float]:
    """PESQ (to the agent, to the customer) of the same speech with loss pattern `seed` through
    G.711 and G.711 Appendix I concealment alone: no network, no PBX, no softphone. What a
    receiver with the standard concealment would score on these lost packets (a reference for
    the measured figures; the prompts only)."""
    prompts = prompts_dir(settings)
    if prompts is None:
        raise ValueError("the stock prompts are not on this machine: no concealment ceiling")
    out = []
    for names, direction in ((CUSTOMER_PROMPTS, TO_AGENT), (AGENT_PROMPTS, TO_CUSTOMER)):
        ref = speech(folder, tuple(prompts / f"{p}.gsm" for p in names), 8000)
        ref = np.concatenate([ref, np.zeros(160 - len(ref) % 160, dtype=np.int16)])
        lost = loss_pattern(seed, direction, loss)
        packets: list[np.ndarray | None] = [
            None if lost[k] else
            ULAW_DECODE[np.frombuffer(ulaw_encode(ref[160 * k:160 * k + 160]), dtype=np.uint8)]
            for k in range(len(ref) // 160)]
        out.append(pesq_nb(ref, g711_plc.conceal(packets)))
    return out[0], out[1]
