"""Packets on the loopback wire, for tests that check what travels in the clear and for
bench/softphone_audio.py's RTP timings: `dumpcap` (the Debian package tshark/wireshark's capture
tool, run as root) writes a classic pcap, read here into (protocol, source port, destination
port, payload, capture time) per IPv4 TCP or UDP packet."""

from __future__ import annotations

import signal
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Packet:
    proto: str          # "tcp" or "udp"
    sport: int
    dport: int
    payload: bytes
    t: float = 0.0      # capture time, s since the epoch


class Capture:
    """dumpcap on `lo` with a capture filter, in its own process, until `stop()`."""

    def __init__(self, bpf: str, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(["dumpcap", "-q", "-P", "-i", "lo", "-f", bpf,
                                      "-w", str(path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(10):
            self.stop()
            raise RuntimeError("dumpcap did not start capturing on lo: " + " ".join(self.log))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.strip())
            if "Capturing on" in line:
                self.ready.set()

    def stop(self) -> list[Packet]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return read_pcap(self.path) if self.path.exists() else []


def read_pcap(path: Path) -> list[Packet]:
    """IPv4 TCP/UDP packets of a classic pcap file taken on Linux loopback (micro- or
    nanosecond stamps, either byte order)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian, nano = {0xA1B2C3D4: ("<", False), 0xA1B23C4D: ("<", True),
                    0xD4C3B2A1: (">", False), 0x4D3CB2A1: (">", True)}[magic]
    link = struct.unpack(endian + "I", data[20:24])[0]
    skip = {1: 14, 0: 4, 101: 0, 113: 16, 276: 20}.get(link)
    if skip is None:
        raise ValueError(f"{path}: link type {link} is not loopback's")
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, caplen, _len = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        t = sec + frac / (1e9 if nano else 1e6)
        ip = frame[skip:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl, proto = 4 * (ip[0] & 0x0F), ip[9]
        total = struct.unpack("!H", ip[2:4])[0]
        seg = ip[ihl:total]
        if proto == 17 and len(seg) >= 8:
            sport, dport = struct.unpack("!HH", seg[:4])
            out.append(Packet("udp", sport, dport, seg[8:], t))
        elif proto == 6 and len(seg) >= 20:
            sport, dport = struct.unpack("!HH", seg[:4])
            out.append(Packet("tcp", sport, dport, seg[4 * (seg[12] >> 4):], t))
    return out
