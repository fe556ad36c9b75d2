"""TLS for the agent link (`wss://`) and the supervisor's page (`https://`), optional.

The admin names a certificate and its key (`[service] tls_cert`, `tls_key`); the service then
takes only TLS (1.2 or newer) on its port. Clients trust the certificate's issuer given by
OPENDIALER_CA_FILE, or, on the dialer's own machine, the certificate itself (a self-signed one is
its own issuer). `dialer security dev-cert` makes a self-signed development certificate for
loopback and the names given; a real site uses one from its own CA.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path


class TlsError(Exception):
    """A certificate or key cannot be used (the message names the file and why)."""


def server_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsError(f"[service] tls_cert/tls_key: {exc.filename} not found") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"[service] tls_cert {cert} with tls_key {key} cannot be used: "
                       f"{exc}") from None
    return ctx


def client_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifies the server against `ca_file` (or the system's CAs when None)."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def make_dev_cert(directory: Path, names: list[str], days: int = 825) -> tuple[Path, Path]:
    """A self-signed certificate (EC P-256) for 127.0.0.1, ::1, localhost and `names`;
    returns (certificate, key), the key 0600."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert, key = directory / "dev.crt", directory / "dev.key"
    sans = ["IP:127.0.0.1", "IP:::1", "DNS:localhost"]
    for name in names:
        sans.append(f"IP:{name}" if name.replace(".", "").isdigit() or ":" in name
                    else f"DNS:{name}")
    old = os.umask(0o077)
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", str(days), "-subj", "/CN=opendialer development",
             "-addext", "subjectAltName=" + ",".join(sans),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise TlsError("openssl is not installed (Debian package openssl)") from None
    except subprocess.CalledProcessError as exc:
        raise TlsError(f"openssl could not make the certificate: {exc.stderr.strip()}") from None
    finally:
        os.umask(old)
    key.chmod(0o600)
    cert.chmod(0o644)
    return cert, key
