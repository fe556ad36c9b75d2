"""SIP over TLS and SRTP for the pjsua2 user agent (`[agents] sip_transport = "tls"` on the dialer).

A `PjsuaStack` makes one TLS transport per CA file it is asked to trust (`TlsTransports`): it
verifies the PBX's certificate (chain to the CA file, and the name or address the phone dialed)
on every connection it opens, and it listens, since the dialer calls the agent's phone at the
address of the agent's link and the port the login named. A TLS listener needs a certificate of
its own: each stack makes a self-signed one for itself, in a private temporary directory, deleted
when the stack stops. The PBX does not verify it (the phone is bound by the link's address and
the seat's password; see docs/security.md).

The account side (`secure_media`): SRTP is mandatory, keyed by SDES, and only over secure
signalling, so a call offering plain RTP, or arriving over plain UDP, is refused by PJSIP itself.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped]

from softphone.sip.api import UNTRUSTED, SipError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsListener:
    transport_id: int
    port: int
    ca_file: str


def _phone_cert(directory: Path) -> tuple[Path, Path]:
    from dialer.service.tls import TlsError, make_dev_cert

    try:
        return make_dev_cert(directory, [], days=30)
    except TlsError as exc:
        raise SipError(f"cannot make the phone's TLS certificate: {exc}") from None


class TlsTransports:
    """The TLS transports of one pjsua2 Endpoint, by CA file (used on the stack thread only)."""

    def __init__(self, bind: str) -> None:
        self.bind = bind
        self.by_ca: dict[str, TlsListener] = {}
        self._dir: Path | None = None

    def get(self, ep: Any, ca_file: str, port: int = 0) -> TlsListener:
        """The transport trusting `ca_file`, listening on `port` (0: any) if it is made now."""
        ca = str(Path(ca_file).resolve())
        if ca in self.by_ca:
            return self.by_ca[ca]
        if not Path(ca).is_file():
            raise SipError(f"the PBX's CA file {ca_file} is not there (softphone --ca / "
                           "OPENDIALER_CA_FILE)")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="softphone-tls-"))
        cert, key = _phone_cert(self._dir)
        cfg = pj.TransportConfig()
        cfg.port = port
        if self.bind:
            cfg.boundAddress = self.bind
        tls = cfg.tlsConfig
        tls.CaListFile = ca
        tls.certFile = str(cert)
        tls.privKeyFile = str(key)
        tls.method = pj.PJSIP_TLSV1_2_METHOD
        tls.verifyServer = True         # the PBX's certificate, checked on every connection
        tls.verifyClient = False
        tls.requireClientCert = False
        try:
            tid = int(ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, cfg))
        except pj.Error as exc:
            raise SipError(f"cannot listen for SIP over TLS on port {port or 'any'}: "
                           f"{exc.reason}") from None
        info = ep.transportGetInfo(tid)
        listener = TlsListener(tid, int(str(info.localName).rpartition(":")[2]), ca)
        self.by_ca[ca] = listener
        log.info("SIP over TLS: listening on %s, trusting %s", info.localName, ca)
        return listener

    def close(self) -> None:
        if self._dir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._dir)
            self._dir = None


def secure_media(cfg: Any) -> None:
    """An `AccountConfig` whose calls need SRTP (SDES) over secure (TLS) signalling."""
    med = cfg.mediaConfig
    med.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
    med.srtpSecureSignaling = 1       # SDES keys only over TLS: refuse them in the clear
    opt = pj.SrtpOpt()
    opt.keyings.clear()
    opt.keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
    med.srtpOpt = opt


def tls_failure(code: int, reason: str, ca_file: str, registrar: str) -> str | None:
    """A plain sentence when a registration failed on the PBX's certificate, else None."""
    lowered = reason.lower()
    # PJSIP: 503 "SSL certificate verification error (PJSIP_TLS_ECERTVERIF)" and its kin
    if "certificate" in lowered or "pjsip_tls_ecert" in lowered:
        return (f"the PBX at {registrar} {UNTRUSTED}: its TLS certificate did not verify "
                f"against {ca_file or 'the CA file'} (it must chain to it and name the address "
                f"or host dialed) ({code} {reason}); give the PBX's CA with softphone --ca or "
                "OPENDIALER_CA_FILE, and its name or address as the SIP server")
    return None
