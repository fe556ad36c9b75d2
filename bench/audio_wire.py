"""The audio benchmark's analysis (bench/softphone_audio.py), pure: RTP packets read from a
loopback capture and decoded from G.711, tone-burst onsets in stamped frames, the delays between
two lists of onsets, and the figures printed."""

from __future__ import annotations

import bisect
import statistics
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from dialer.core.audio import samples_of
from tests.integration.loopback_capture import Packet
from tests.integration.speech_path import ULAW_DECODE

ONSET_THRESHOLD = 2000         # |sample| above this is "sound" (the bursts peak at ~8200)
QUIET_S = 0.15                 # an onset follows at least this much quiet
Stamped = list[tuple[float, bytes]]


def _alaw(b: int) -> int:
    b ^= 0x55
    t = (b & 0x0F) << 4
    seg = (b & 0x70) >> 4
    t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1)
    return t if b & 0x80 else -t


ULAW = [int(x) for x in ULAW_DECODE]      # (the speech tests' table)
ALAW = [_alaw(i) for i in range(256)]
PAYLOAD_TABLES = {0: ULAW, 8: ALAW}


@dataclass
class RtpPacket:
    t: float
    outbound: bool        # from the softphone to the PBX
    seq: int
    samples: array[int]


def read_rtp(captured: list[Packet], pbx_port: int) -> list[RtpPacket]:
    """The G.711 RTP packets to and from the PBX's `pbx_port` among the captured packets."""
    out: list[RtpPacket] = []
    seen: set[tuple[bool, int]] = set()
    for p in captured:
        rtp = p.payload
        if p.proto != "udp" or len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        pt = rtp[1] & 0x7F
        table = PAYLOAD_TABLES.get(pt)
        if table is None:
            continue
        outbound = p.dport == pbx_port
        if not outbound and p.sport != pbx_port:
            continue
        seq = struct.unpack("!H", rtp[2:4])[0]
        if (outbound, seq) in seen:   # a loopback packet seen twice
            continue
        seen.add((outbound, seq))
        head = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10:
            head += 4 + 4 * struct.unpack("!H", rtp[head + 2:head + 4])[0]
        out.append(RtpPacket(p.t, outbound, seq, array("h", (table[b] for b in rtp[head:]))))
    return out


Frames = list[tuple[float, Sequence[int]]]


def onsets(frames: Frames, rate: int) -> list[float]:
    """Times of the samples that rise above the threshold after at least QUIET_S of quiet."""
    need = int(QUIET_S * rate)
    quiet = need
    found: list[float] = []
    for t, samples in frames:
        if max(map(abs, samples), default=0) < ONSET_THRESHOLD:
            quiet += len(samples)
            continue
        for j, x in enumerate(samples):
            if abs(x) >= ONSET_THRESHOLD:
                if quiet >= need:
                    found.append(t + j / rate)
                quiet = 0
            else:
                quiet += 1
    return found


def delays(src: list[float], dst: list[float], hi: float = 0.4) -> list[float]:
    """For each onset in `src`, ms until the first onset in `dst` at most `hi` s later."""
    out = []
    for a in src:
        later = [b - a for b in dst if -0.005 <= b - a <= hi]
        if later:
            out.append(1000 * min(later))
    return out


def next_after(events: list[float], ticks: list[float]) -> list[float]:
    """For each event, ms until the first tick at or after it (ticks sorted)."""
    out = []
    for t in events:
        i = bisect.bisect_left(ticks, t)
        if i < len(ticks):
            out.append(1000 * (ticks[i] - t))
    return out


def pcm_frames(stamped: Stamped) -> Frames:
    return [(t, samples_of(f)) for t, f in stamped]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (f"p50={statistics.median(values):.1f} p95={pct(values, 95):.1f} "
            f"max={max(values):.1f} n={len(values)}")


