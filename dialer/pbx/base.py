"""What a PBX back end does, and the checks both back ends share.

A back end runs two Asterisk instances from the same image: `pbx` (agents, trunk, ARI) and
`carrier` (the simulated PSTN). `up` is idempotent and returns when ARI answers and the carrier is
fully booted; `down` stops exactly what `up` started; `status` says what runs and where logs are.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dialer.config.settings import Settings

INSTANCES = ("pbx", "carrier")


class PbxError(Exception):
    """The PBX could not be started, stopped or asked (the message says why)."""


@dataclass
class InstanceStatus:
    name: str
    running: bool
    detail: str = ""
    log: Path | None = None


@dataclass
class Status:
    backend: str
    instances: list[InstanceStatus] = field(default_factory=list)
    version: str = ""
    endpoints: str = ""
    location: str = ""

    @property
    def running(self) -> bool:
        return bool(self.instances) and all(i.running for i in self.instances)


class Backend(Protocol):
    name: str

    def build(self) -> str: ...
    def up(self) -> Status: ...
    def down(self) -> list[str]: ...
    def status(self) -> Status: ...
    def rx(self, instance: str, command: str, timeout: float = 10) -> str: ...
    def log_files(self) -> dict[str, Path]: ...


def ari_info(settings: Settings, timeout: float = 2.0) -> dict[str, Any] | None:
    """GET /ari/asterisk/info, or None when ARI does not answer."""
    pbx = settings.pbx
    req = urllib.request.Request(f"{pbx.ari_url}/asterisk/info")
    token = base64.b64encode(f"{pbx.ari_user}:{pbx.ari_password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise PbxError(f"ARI at {pbx.ari_url} refused user {pbx.ari_user!r}: wrong "
                           "password (OPENDIALER_ARI_PASSWORD / config)") from None
        return None
    except (OSError, ValueError):
        return None


def wait_for_ari(settings: Settings, deadline: float, alive: Any) -> dict[str, Any]:
    """Poll ARI until it answers; `alive()` returning False means the PBX died meanwhile."""
    while time.monotonic() < deadline:
        info = ari_info(settings)
        if info is not None:
            return info
        if not alive():
            raise PbxError("the PBX exited while starting")
        time.sleep(0.2)
    raise PbxError(f"ARI did not answer at {settings.pbx.ari_url} in time")


def check_ports_free(settings: Settings) -> None:
    """Fail with the port's name when something else already listens where we would."""
    checks = [
        (socket.SOCK_DGRAM, settings.pbx.bind, settings.pbx.sip_port, "PBX SIP (udp)"),
        (socket.SOCK_STREAM, settings.pbx.bind, settings.pbx.http_port, "PBX ARI/HTTP (tcp)"),
        (socket.SOCK_DGRAM, settings.carrier.host, settings.carrier.sip_port, "carrier SIP (udp)"),
    ]
    if settings.agents.transport.tls:
        checks.append((socket.SOCK_STREAM, settings.pbx.bind, settings.agents.transport.tls_port,
                       "PBX SIP over TLS (tcp)"))
    for kind, host, port, what in checks:
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError as exc:
            raise PbxError(f"port {host}:{port} for the {what} is taken ({exc.strerror}); "
                           "stop what uses it (`ss -lunpt`) or change it in "
                           f"{settings.config_path}") from None
        finally:
            s.close()


def endpoint_summary(pjsip_show_endpoints: str) -> str:
    """The `Endpoint:` lines of `pjsip show endpoints`, one per endpoint, state included."""
    lines = [ln.strip() for ln in pjsip_show_endpoints.splitlines()]
    rows = [ln for ln in lines if ln.startswith("Endpoint:") and "<Endpoint/CID" not in ln]
    return "\n".join(rows)
