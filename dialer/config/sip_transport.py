"""How agents' phones talk SIP to the PBX: UDP in the clear (the default) or TLS with SRTP.

`[agents] sip_transport = "tls"` gives the PBX a `transport-tls` on `[pbx] sip_tls_port`, with the
certificate `[pbx] tls_cert`/`tls_key` (or else the service's own `[service] tls_cert`/`tls_key`),
and every agent seat's endpoint uses it with SRTP keyed by SDES (`media_encryption = sdes`, no
fallback to plain RTP). The dialer then calls the agent's phone over TLS at the link's address and
the TLS port the softphone named at login; the softphone learns the transport and the PBX's TLS
port from `login_ok.sip`, verifies the PBX's certificate and refuses calls without SRTP.

Pure: reads the settings' tables, checks every combination that cannot work and says why.
Whether the certificate files load is checked when the PBX's files are rendered
(`dialer.pbx.render`), where they are copied beside the rest of its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRANSPORTS = ("udp", "tls")


class TransportProblem(ValueError):
    """A SIP transport setting cannot work (the message names the setting and why)."""


@dataclass(frozen=True)
class SipTransport:
    """The agents' SIP transport. With `tls`: the PBX's TLS port and its certificate pair."""

    name: str = "udp"
    tls_port: int = 0
    cert: str = ""
    key: str = ""
    cert_setting: str = ""     # where the pair came from, for errors ("[pbx] tls_cert", ...)

    @property
    def tls(self) -> bool:
        return self.name == "tls"

    def port(self, udp_port: int) -> int:
        """The PBX port agents' phones register to."""
        return self.tls_port if self.tls else udp_port


def _port(value: Any, setting: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise TransportProblem(f"{setting} must be a port 1-65535, got {value!r}")
    return value


def cert_pair(table: dict[str, Any], section: str, base: Path) -> tuple[str, str]:
    """`[section] tls_cert`/`tls_key`: both or neither ("", ""); relative paths are `base`'s."""
    cert, key = table.get("tls_cert", ""), table.get("tls_key", "")
    for name, value in (("tls_cert", cert), ("tls_key", key)):
        if not isinstance(value, str):
            raise TransportProblem(f"[{section}] {name} must be a string (a file), got {value!r}")
    if bool(cert) != bool(key):
        raise TransportProblem(f"[{section}] tls_cert and tls_key go together (one is set)")
    return tuple(  # type: ignore[return-value]
        str(base / v) if v and not Path(v).is_absolute() else v for v in (cert, key))


def sip_transport(agents: dict[str, Any], pbx: dict[str, Any], service_pair: tuple[str, str],
                  base: Path, taken: dict[str, int]) -> SipTransport:
    """The agents' SIP transport from the `[agents]` and `[pbx]` tables.

    `service_pair`: the service's own certificate and key (`cert_pair` of `[service]`), which
    the PBX shares when `[pbx]` names none; `base`: the configuration file's directory (relative
    certificate paths are its neighbours); `taken`: TCP ports the PBX host already uses, by
    setting (ARI, the agent link when it is on the same host), which the TLS port must not be.
    """
    name = agents.get("sip_transport", "udp")
    if name not in TRANSPORTS:
        raise TransportProblem(f'[agents] sip_transport must be "udp" or "tls", got {name!r}')
    pbx_cert, pbx_key = cert_pair(pbx, "pbx", base)
    if name == "udp":
        return SipTransport()
    if "sip_tls_port" not in pbx:
        raise TransportProblem('[agents] sip_transport = "tls" needs [pbx] sip_tls_port, the '
                               "port the PBX takes agents' SIP over TLS on (e.g. 5061)")
    port = _port(pbx["sip_tls_port"], "[pbx] sip_tls_port")
    for setting, used in taken.items():
        if used == port:
            raise TransportProblem(f"[pbx] sip_tls_port {port} is {setting}'s port already")
    if pbx_cert:
        return SipTransport("tls", port, pbx_cert, pbx_key, "[pbx] tls_cert")
    sv_cert, sv_key = service_pair
    if sv_cert:
        return SipTransport("tls", port, sv_cert, sv_key, "[service] tls_cert")
    raise TransportProblem(
        '[agents] sip_transport = "tls" needs a certificate for the PBX: set [pbx] tls_cert '
        "and tls_key (or [service] tls_cert and tls_key, which the PBX then shares); "
        "`dialer security dev-cert` makes a development one")


def describe(transport: SipTransport, udp_port: int) -> str:
    """One line for `dialer security check`."""
    if transport.tls:
        return (f"agents' SIP over TLS on port {transport.tls_port} ({transport.cert_setting} "
                f"{transport.cert}) with SRTP (SDES) required; the PBX's UDP port {udp_port} "
                f"still takes the carrier's trunks")
    return (f"agents' SIP over UDP (port {udp_port}) without TLS or SRTP: keep phones on "
            f'loopback, the dialer\'s LAN or a VPN, or set [agents] sip_transport = "tls"')
