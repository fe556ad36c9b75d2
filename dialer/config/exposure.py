"""What listens where, and which secrets anyone could know: the facts `dialer security check`
prints and the rule `dialer serve` and `dialer pbx up` enforce.

The rule: a secret that is a known default (empty, or a development default shipped by an earlier
version) is refused as soon as what it guards listens beyond loopback. On loopback it is only
reported, since whoever reaches loopback is already on the machine.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from dialer.config.secrets import SECRETS_NAME, is_known_default
from dialer.config.settings import Settings, SettingsError


@dataclass(frozen=True)
class Listener:
    what: str
    setting: str
    address: str
    port: int
    secret_setting: str     # the secret that guards it
    secret: str

    @property
    def loopback(self) -> bool:
        return is_loopback(self.address)

    @property
    def default_secret(self) -> bool:
        return is_known_default(self.secret)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def listeners(settings: Settings) -> list[Listener]:
    pbx, sv = settings.pbx, settings.service
    tls = settings.agents.transport
    secure = ([Listener("SIP over TLS for agents' phones", "[pbx] bind", pbx.bind, tls.tls_port,
                        "seat key (OPENDIALER_SEAT_KEY)", settings.agents.seat_key)]
              if tls.tls else [])
    return secure + [
        Listener("ARI (controls every call and trunk)", "[pbx] ari_bind", pbx.ari_bind,
                 pbx.http_port, "[pbx] ari_password (OPENDIALER_ARI_PASSWORD)", pbx.ari_password),
        Listener("SIP for agents' phones", "[pbx] bind", pbx.bind, pbx.sip_port,
                 "seat key (OPENDIALER_SEAT_KEY)", settings.agents.seat_key),
        Listener("agent link and supervisor page", "[service] link_host", sv.link_host,
                 sv.link_port, "[service] supervisor_password (OPENDIALER_SUPERVISOR_PASSWORD)",
                 sv.supervisor_password),
    ]


def exposed_defaults(settings: Settings) -> list[str]:
    """One sentence per known-default secret that guards something listening beyond loopback."""
    return [f"{lst.secret_setting} is a known default while {lst.what} listens on "
            f"{lst.address}:{lst.port} ({lst.setting}); set a secret of your own or remove it "
            f"so this installation's own is used"
            for lst in listeners(settings) if lst.default_secret and not lst.loopback]


def refuse_exposed_defaults(settings: Settings) -> None:
    """SettingsError naming every known-default secret exposed beyond loopback."""
    problems = exposed_defaults(settings)
    if problems:
        raise SettingsError("refusing to start: " + "; ".join(problems))


def loose_files(settings: Settings) -> list[str]:
    """Secret-holding files or directories that others than their owner may read."""
    runtime = settings.runtime_dir
    candidates = [runtime, runtime / SECRETS_NAME, runtime / "etc"]
    etc = runtime / "etc"
    if etc.is_dir():
        candidates += sorted(p for p in etc.rglob("*") if p.is_file() or p.is_dir())
    db = Path(settings.service.database)
    if "://" not in settings.service.database:
        candidates.append(db)
    out = []
    for path in candidates:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            out.append(f"{path} is mode {stat.S_IMODE(mode):04o} (others can read it)")
    return out
