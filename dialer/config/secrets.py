"""The installation's own secrets: made once, kept in `<runtime>/secrets.toml` (0600).

Nothing secret ships with the project. The first command that reads the settings on a new
installation draws the ARI password, the supervisor's password and the seat key from the system's
random source and writes them, readable by their owner only, into the runtime directory; every
later command reads the same file. Two processes starting at once agree on one file (it appears
whole, by a hard link, or not at all).

An agent seat's SIP password is HMAC-SHA256(seat key, "agent<N>"): random per seat and per
installation, so knowing one seat's password tells nothing about another's. The dialer hands it
to the agent's softphone over the authenticated agent link at login; agents never type it.

The environment overrides each value (OPENDIALER_ARI_PASSWORD, OPENDIALER_SUPERVISOR_PASSWORD,
OPENDIALER_SEAT_KEY), as does a value set in the configuration file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

SECRETS_NAME = "secrets.toml"
FIELDS = ("ari_password", "supervisor_password", "seat_key")
# values that shipped in earlier versions' config/opendialer.toml: known to the world
KNOWN_DEFAULTS = frozenset({"dev-only-ari-secret", "dev-only-supervisor", "dev-only-sip-"})


class SecretsError(Exception):
    """The secrets file cannot be read or written (the message names it)."""


@dataclass(frozen=True)
class InstallationSecrets:
    ari_password: str
    supervisor_password: str
    seat_key: str
    path: Path


def seat_password(seat_key: str, number: int) -> str:
    """The SIP password of seat `number` (24 URL-safe characters)."""
    mac = hmac.new(seat_key.encode(), f"agent{number}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:24]


def is_known_default(value: str) -> bool:
    """True for a value anyone can know: empty, or a development default shipped before."""
    return not value or value in KNOWN_DEFAULTS or value.startswith("dev-only-")


def load_secrets(runtime_dir: Path) -> InstallationSecrets:
    """Read the installation's secrets, making them first if this installation has none."""
    path = runtime_dir / SECRETS_NAME
    if not path.exists():
        _create(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SecretsError(f"{path}: cannot read the installation's secrets: {exc}") from None
    missing = [f for f in FIELDS if not isinstance(data.get(f), str) or not data[f]]
    if missing:
        raise SecretsError(f"{path}: {', '.join(missing)} missing; move the file away and a "
                           f"new one is made (agents' phones then get new SIP passwords)")
    return InstallationSecrets(data["ari_password"], data["supervisor_password"],
                               data["seat_key"], path)


def _create(path: Path) -> None:
    text = ("# This installation's own secrets, made by opendialer. Keep this file private.\n"
            + "".join(f'{f} = "{secrets.token_urlsafe(24)}"\n' for f in FIELDS))
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            os.link(staging, path)        # whole or not at all; the first writer wins
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(OSError):
                staging.unlink()
    except OSError as exc:
        raise SecretsError(f"{path}: cannot write the installation's secrets: {exc}") from None
