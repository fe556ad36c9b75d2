"""Auto-answering SIP phones for scripted agents.

Two kinds, both real SIP user agents that register to the PBX with digest auth, answer the
dialer's agent-session call at once and send a tone as the agent's voice:

- `start_softphones`: the project's own softphone in headless mode (`python -m softphone
  --headless`, up to 4 agents per process), used by the demo;
- `start_phones`: one baresip process per seat, used by the integration tests as "any standard
  SIP phone set to auto-answer" (it writes what it hears to `heard.wav` in its directory).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dialer.config.settings import Settings
from dialer.pbx.base import PbxError

MODULE_DIR = Path("/usr/lib/baresip/modules")


@dataclass
class Phone:
    seat: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def heard(self) -> Path:
        return self.directory / "heard.wav"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _config(sip_port: int, rtp_port: int, directory: Path, tone_hz: int) -> str:
    return "\n".join([
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{sip_port}",
        f"audio_player aufile,{directory / 'heard.wav'}",
        f"audio_source ausine,{tone_hz}",
        "ausrc_srate 48000",  # ausine makes 48 kHz stereo only; baresip resamples
        "ausrc_channels 2",
        "audio_alert aufile,/dev/null",
        f"rtp_ports {rtp_port}-{rtp_port + 9}",
        f"module_path {MODULE_DIR}",
        "module g711.so",
        "module ausine.so",
        "module aufile.so",
        "module_app account.so",
        "module_app menu.so",
        "",
    ])


def start_phones(settings: Settings, seats: list[int], base: Path, tone_hz: int = 440,
                 first_sip_port: int = 5300, first_rtp_port: int = 13000,
                 timeout: float = 10.0) -> list[Phone]:
    """Start one auto-answering phone per agent seat; returns when all are registered."""
    if shutil.which("baresip") is None:
        raise PbxError("baresip is not installed (Debian package baresip-core); "
                       "run scripts/setup")
    phones: list[Phone] = []
    try:
        for i, seat in enumerate(seats):
            d = base / f"phone-{seat}"
            d.mkdir(parents=True, exist_ok=True)
            # (baresip also opens TLS on the SIP port + 1)
            (d / "config").write_text(_config(first_sip_port + 2 * i, first_rtp_port + 10 * i, d,
                                              tone_hz))
            (d / "accounts").write_text(
                f"<sip:agent{seat}@{settings.pbx.bind}:{settings.pbx.sip_port}>"
                f";auth_pass={settings.agents.sip_password(seat)};answermode=auto;regint=60\n")
            log = (d / "baresip.log").open("wb")
            proc = subprocess.Popen(["baresip", "-f", str(d)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
            log.close()
            phones.append(Phone(seat, d, proc))
        deadline = time.monotonic() + timeout
        for phone in phones:
            while "200 OK" not in (phone.directory / "baresip.log").read_text(errors="replace"):
                if phone.process.poll() is not None or time.monotonic() > deadline:
                    tail = (phone.directory / "baresip.log").read_text(errors="replace")[-400:]
                    raise PbxError(f"phone for agent{phone.seat} did not register:\n{tail}")
                time.sleep(0.05)
    except BaseException:
        for phone in phones:
            phone.stop()
        raise
    return phones


@dataclass
class Softphones:
    """Headless softphone processes; `stop()` ends them (SIGTERM, they unregister)."""

    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]
    sip_ports: dict[int, int] = field(default_factory=dict)   # seat -> its phone's SIP port
    sip_tls_ports: dict[int, int] = field(default_factory=dict)   # seat -> its TLS port, if any

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


PER_PROCESS = 4   # softphone.sip.pjsua2_ua.MAX_ACCOUNTS (not imported: no pjsua2 in the dialer)


def start_softphones(settings: Settings, seats: list[int], base: Path, tone_hz: int = 440,
                     timeout: float = 15.0) -> Softphones:
    """Start headless softphones for `seats` (4 per process: the softphone's limit, one call per
    agent); returns once all registered."""
    base.mkdir(parents=True, exist_ok=True)
    tr = settings.agents.transport
    registrar = f"{settings.pbx.bind}:{tr.port(settings.pbx.sip_port)}"
    # over TLS the phones trust the site's CA, else the PBX's (self-signed) certificate itself
    secure = (["--transport", "tls", "--ca", os.environ.get("OPENDIALER_CA_FILE") or tr.cert]
              if tr.tls else [])
    phones = Softphones([], [])
    try:
        for i in range(0, len(seats), PER_PROCESS):
            group = seats[i:i + PER_PROCESS]
            log = base / f"softphone-{group[0]}.jsonl"
            cmd = [sys.executable, "-m", "softphone", "--headless", "--json",
                   "--registrar", registrar, "--voice", f"tone:{tone_hz}", *secure]
            for seat in group:
                cmd += ["--agent", str(seat)]
            with log.open("wb") as out:
                phones.processes.append(subprocess.Popen(   # the key by environment, not argv
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env=dict(os.environ, OPENDIALER_SEAT_KEY=settings.agents.seat_key)))
            phones.logs.append(log)
        want = {f"agent{seat}" for seat in seats}
        deadline = time.monotonic() + timeout
        while True:
            registered = set()
            for i, log in enumerate(phones.logs):
                for line in log.read_text(errors="replace").splitlines():
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("event") == "registration registered":
                        registered.add(ev.get("agent"))
                    elif ev.get("event") == "started":      # one SIP port per process
                        port = int(str(ev.get("sip", ":0")).rpartition(":")[2])
                        tls = int(str(ev.get("sip_tls", ":0")).rpartition(":")[2])
                        for seat in seats[i * PER_PROCESS:(i + 1) * PER_PROCESS]:
                            phones.sip_ports[seat] = port
                            if tls:
                                phones.sip_tls_ports[seat] = tls
            if want <= registered:
                return phones
            dead = [p for p in phones.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tails = "\n".join(log.read_text(errors="replace")[-300:] for log in phones.logs)
                raise PbxError(f"softphones did not register ({sorted(want - registered)}):"
                               f"\n{tails}")
            time.sleep(0.1)
    except BaseException:
        phones.stop()
        raise
