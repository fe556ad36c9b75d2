"""Service settings: `config/opendialer.toml`, overridden by the environment.

Owns where the project's files are (repository root, runtime directory, cache) and the PBX,
carrier and agent-seat settings every command shares. No secret ships in the file: each
installation makes its own (`dialer.config.secrets`), and the environment or the file may set them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.config.secrets import SecretsError, load_secrets, seat_password
from dialer.config.sip_transport import (
    SipTransport,
    TransportProblem,
    cert_pair,
    sip_transport,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


class SettingsError(Exception):
    """The configuration file is missing, unreadable or has a bad value (the message names it)."""


@dataclass(frozen=True)
class PbxSettings:
    bind: str
    sip_port: int
    http_port: int
    rtp_start: int
    rtp_end: int
    ari_user: str
    ari_password: str
    ari_app: str
    ari_bind: str = "127.0.0.1"   # ARI's own address: loopback unless configured otherwise

    @property
    def ari_url(self) -> str:
        host = f"[{self.ari_bind}]" if ":" in self.ari_bind else self.ari_bind
        return f"http://{host}:{self.http_port}/ari"


@dataclass(frozen=True)
class CarrierSettings:
    host: str
    sip_port: int
    rtp_start: int
    rtp_end: int


@dataclass(frozen=True)
class AgentSeats:
    first: int
    count: int
    seat_key: str = field(repr=False)
    # how the seats' phones talk SIP to the PBX ([agents] sip_transport; TLS: [pbx] sip_tls_port)
    transport: SipTransport = SipTransport()

    def numbers(self) -> range:
        return range(self.first, self.first + self.count)

    def sip_password(self, number: int) -> str:
        """Seat `number`'s own SIP password (random per seat and per installation)."""
        return seat_password(self.seat_key, number)


@dataclass(frozen=True)
class ServiceSettings:
    database: str          # SQLAlchemy URL or SQLite file path
    link_host: str
    link_port: int
    supervisor_user: str = "supervisor"
    supervisor_password: str = field(default="", repr=False)
    tls_cert: str = ""     # with tls_key: the agent link is wss:// and the page https://
    tls_key: str = ""
    ca_file: str = ""      # what clients here trust for it (OPENDIALER_CA_FILE; else tls_cert)
    # agent-link connections: in all, and from one address (a floor behind one NAT address)
    max_connections: int = 500
    max_connections_per_address: int = 200

    @property
    def web_url(self) -> str:
        return f"{'https' if self.tls_cert else 'http'}://{self.link_host}:{self.link_port}/"

    @property
    def link_url(self) -> str:
        return f"{'wss' if self.tls_cert else 'ws'}://{self.link_host}:{self.link_port}/agent"


@dataclass(frozen=True)
class Settings:
    pbx: PbxSettings
    carrier: CarrierSettings
    agents: AgentSeats
    config_path: Path
    runtime_dir: Path
    cache_dir: Path
    service: ServiceSettings


def _field(table: dict[str, Any], section: str, key: str, kind: type, path: Path) -> Any:
    if key not in table:
        raise SettingsError(f"{path}: [{section}] {key} is missing")
    value = table[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingsError(f"{path}: [{section}] {key} must be an integer, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise SettingsError(f"{path}: [{section}] {key} must be a string, got {value!r}")
    return value


def _port(table: dict[str, Any], section: str, key: str, path: Path) -> int:
    value: int = _field(table, section, key, int, path)
    if not 1 <= value <= 65535:
        raise SettingsError(f"{path}: [{section}] {key} must be a port 1-65535, got {value}")
    return value


def _tls(sv: dict[str, Any], path: Path, env: dict[str, str]) -> dict[str, str]:
    try:
        cert, key = cert_pair(sv, "service", path.parent)
    except TransportProblem as exc:
        raise SettingsError(f"{path}: {exc}") from None
    return {"tls_cert": cert, "tls_key": key, "ca_file": env.get("OPENDIALER_CA_FILE") or cert}


def _limits(sv: dict[str, Any], path: Path) -> tuple[int, int]:
    """The agent link's connection caps (docs/security.md)."""
    out = {"max_connections": 500, "max_connections_per_address": 200}
    for key in out:
        if key in sv:
            value = _field(sv, "service", key, int, path)
            if not 1 <= value <= 100_000:
                raise SettingsError(f"{path}: [service] {key} must be 1-100000, got {value}")
            out[key] = value
    if out["max_connections_per_address"] > out["max_connections"]:
        raise SettingsError(f"{path}: [service] max_connections_per_address "
                            f"({out['max_connections_per_address']}) cannot exceed "
                            f"max_connections ({out['max_connections']})")
    return out["max_connections"], out["max_connections_per_address"]


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the configuration file named by OPENDIALER_CONFIG (default config/opendialer.toml)."""
    env = dict(os.environ) if env is None else env
    path = Path(env.get("OPENDIALER_CONFIG", REPO_ROOT / "config" / "opendialer.toml"))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    for section in ("pbx", "carrier", "agents"):
        if not isinstance(data.get(section), dict):
            raise SettingsError(f"{path}: section [{section}] is missing")
    p, c, a = data["pbx"], data["carrier"], data["agents"]
    if "sip_password_prefix" in a:
        raise SettingsError(f"{path}: [agents] sip_password_prefix is gone: each seat now has its "
                            f"own random SIP password, which the dialer gives the agent's "
                            f"softphone at login; remove the line")
    runtime = Path(env.get("OPENDIALER_RUNTIME_DIR", REPO_ROOT / "var"))
    try:
        own = load_secrets(runtime)
    except SecretsError as exc:
        raise SettingsError(str(exc)) from None
    pbx = PbxSettings(
        bind=_field(p, "pbx", "bind", str, path),
        sip_port=_port(p, "pbx", "sip_port", path),
        http_port=_port(p, "pbx", "http_port", path),
        rtp_start=_port(p, "pbx", "rtp_start", path),
        rtp_end=_port(p, "pbx", "rtp_end", path),
        ari_user=_field(p, "pbx", "ari_user", str, path),
        ari_password=env.get("OPENDIALER_ARI_PASSWORD")
        or (_field(p, "pbx", "ari_password", str, path) if "ari_password" in p
            else own.ari_password),
        ari_app=_field(p, "pbx", "ari_app", str, path),
        ari_bind=_field(p, "pbx", "ari_bind", str, path) if "ari_bind" in p else "127.0.0.1",
    )
    carrier = CarrierSettings(
        host=_field(c, "carrier", "host", str, path),
        sip_port=_port(c, "carrier", "sip_port", path),
        rtp_start=_port(c, "carrier", "rtp_start", path),
        rtp_end=_port(c, "carrier", "rtp_end", path),
    )
    sv = data.get("service", {})
    if not isinstance(sv, dict):
        raise SettingsError(f"{path}: [service] must be a table")
    link_port = (int(env["OPENDIALER_LINK_PORT"]) if env.get("OPENDIALER_LINK_PORT", "").isdigit()
                 else _port(sv, "service", "link_port", path) if "link_port" in sv else 8765)
    tls = _tls(sv, path, env)
    try:
        # TCP ports on this machine (the dialer and its PBX share a host)
        taken = {"[pbx] http_port (ARI)": pbx.http_port, "[service] link_port": link_port}
        transport = sip_transport(a, p, (tls["tls_cert"], tls["tls_key"]), path.parent, taken)
    except TransportProblem as exc:
        raise SettingsError(f"{path}: {exc}") from None
    agents = AgentSeats(
        first=_field(a, "agents", "first", int, path),
        count=_field(a, "agents", "count", int, path),
        seat_key=env.get("OPENDIALER_SEAT_KEY") or own.seat_key,
        transport=transport,
    )
    for name, lo, hi in (("pbx", pbx.rtp_start, pbx.rtp_end),
                         ("carrier", carrier.rtp_start, carrier.rtp_end)):
        if lo >= hi:
            raise SettingsError(f"{path}: [{name}] rtp_start ({lo}) must be below rtp_end ({hi})")
    if pbx.sip_port == carrier.sip_port and pbx.bind == carrier.host:
        raise SettingsError(f"{path}: [pbx] and [carrier] cannot share SIP port {pbx.sip_port}")
    cache = Path(env.get("OPENDIALER_CACHE_DIR", "/var/cache/opendialer"))
    total, per_address = _limits(sv, path)
    service = ServiceSettings(
        database=env.get("OPENDIALER_DATABASE")
        or (_field(sv, "service", "database", str, path) if "database" in sv
            else str(runtime / "dialer.sqlite3")),
        link_host=_field(sv, "service", "link_host", str, path) if "link_host" in sv
        else "127.0.0.1",
        supervisor_user=str(sv.get("supervisor_user", "supervisor")),
        supervisor_password=env.get("OPENDIALER_SUPERVISOR_PASSWORD")
        or (_field(sv, "service", "supervisor_password", str, path)
            if "supervisor_password" in sv else own.supervisor_password),
        link_port=link_port,
        tls_cert=tls["tls_cert"], tls_key=tls["tls_key"], ca_file=tls["ca_file"],
        max_connections=total, max_connections_per_address=per_address,
    )
    return Settings(pbx, carrier, agents, path, runtime, cache, service)
