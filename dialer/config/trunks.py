"""SIP trunks: described in TOML, checked, rendered into PJSIP sections, and picked per call.

`config/trunks.toml` (or the file named by OPENDIALER_TRUNKS) holds a `[[trunk]]` array. Each trunk
is either `kind = "registration"` (the PBX registers to the carrier's `server` with a user name and
password, and answers its digest challenges on calls) or `kind = "ip"` (the carrier knows the PBX by
its address; the PBX knows the carrier by `host` and `match`). String values may hold the same
`@@NAME@@` placeholders as the Asterisk templates (`@@CARRIER_HOST@@`, ...).

`load_trunks()` checks everything before anything is written or reloaded: every error names the
file, the trunk and the field (`trunks.toml: trunk "x": max_channels must be a positive integer`).
Passwords are `Secret`s: their repr and str are masked; only `pjsip_conf()` writes them out.

`TrunkSelector` is the live dialer's choice of trunk for the next call of a campaign: the first
trunk of the campaign's ordered list that is under its `max_channels` and not marked failed
(congestion, unreachable) at `now`. It holds no clock and does no I/O.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from dialer.config.asterisk_values import (
    CARRIER_CONTEXTS,
    ValueProblem,
    check_value,
    is_reserved,
)
from dialer.config.settings import REPO_ROOT, SettingsError
from dialer.core.trunk_faults import TrunkFault as TrunkFault  # re-exported
from dialer.core.trunk_faults import TrunkSelector as TrunkSelector
from dialer.core.trunk_faults import fault_of as fault_of

DEFAULT_PATH = REPO_ROOT / "config" / "trunks.toml"
ENV_PATH = "OPENDIALER_TRUNKS"

# Codec names Asterisk knows (`core show codecs audio`); the PBX transcodes ulaw, alaw and gsm.
KNOWN_CODECS = (
    "ulaw",
    "alaw",
    "gsm",
    "g722",
    "g726",
    "g729",
    "ilbc",
    "opus",
    "speex",
    "slin",
    "lpc10",
    "adpcm",
    "g723",
)
AGENT_CODECS = ("ulaw", "alaw")
DEFAULT_CODECS = ("ulaw", "alaw")
DEFAULT_CONTEXT = CARRIER_CONTEXTS[0]
DEFAULT_SIP_PORT = 5060

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
HOSTNAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]"
    r"([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# a SIP user (RFC 3261 `user`) less `;`, which starts a comment in Asterisk's files
USERNAME = re.compile(r"[A-Za-z0-9_.!~*'()&=+$,?/-]+")
CALLER_ID = re.compile(
    r'"(?P<name>[^"<>;\x00-\x1f\x7f]*)"\s*<(?P<quoted>\+?[0-9]{2,15})>|(?P<number>\+?[0-9]{2,15})'
)
PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")

COMMON_KEYS = {"name", "kind", "caller_id", "codecs", "max_channels", "context", "qualify_s"}
KIND_KEYS = {
    "registration": {"server", "username", "password", "password_env", "expiration"},
    "ip": {"host", "match"},
}


class TrunkError(SettingsError):
    """A trunk setting is wrong; the message names the file, the trunk and the field."""


class TrunkKind(Enum):
    REGISTRATION = "registration"
    IP = "ip"


class Secret:
    """A password: shown as `********` by repr() and str(); `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Trunk:
    """One trunk. `host:port` is the carrier's SIP address (the registrar for a registration
    trunk); `match` (IP trunks) are the addresses whose requests are this trunk's."""

    name: str
    kind: TrunkKind
    host: str
    port: int
    max_channels: int
    codecs: tuple[str, ...] = DEFAULT_CODECS
    caller_id: str | None = None
    context: str = DEFAULT_CONTEXT
    username: str | None = None
    password: Secret | None = None
    password_env: str | None = None
    expiration: int = 300
    match: tuple[str, ...] = ()
    qualify_s: int = 10      # OPTIONS ping every N s (0: never); an unanswered one marks it down

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def uri(self) -> str:
        return f"sip:{self.target}"

    def describe(self) -> str:
        """One line for `dialer trunk list`; never the password."""
        if self.kind is TrunkKind.REGISTRATION:
            where = f"registers as {self.username} at {self.target}"
            secret = f" (password from ${self.password_env})" if self.password_env else ""
        else:
            where = f"IP trunk to {self.target}, matched by {', '.join(self.match)}"
            secret = ""
        cid = f", caller ID {self.caller_id}" if self.caller_id else ""
        return (
            f"{self.name}: {where}{secret}; codecs {','.join(self.codecs)}; "
            f"at most {self.max_channels} channels{cid}"
        )


# ------------------------------------------------------------------------------------ loading
def trunks_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(ENV_PATH) or DEFAULT_PATH)


def load_trunks(
    path: Path | None = None,
    placeholders: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Trunk]:
    """Read and check the trunks file (default: `trunks_path(env)`)."""
    env = os.environ if env is None else env
    path = path or trunks_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrunkError(f"{path}: trunks file not found (set {ENV_PATH} or create it)") from None
    except OSError as exc:
        raise TrunkError(f"{path}: cannot read it: {exc.strerror}") from None
    return parse_trunks(text, path.name, placeholders or {}, env)


def parse_trunks(
    text: str,
    source: str = "trunks.toml",
    placeholders: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Trunk]:
    """Check the TOML text of a trunks file; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TrunkError(f"{source}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"trunk"})
    if extra:
        raise TrunkError(
            f"{source}: unknown top-level setting {extra[0]!r} (trunks are [[trunk]] tables)"
        )
    tables = data.get("trunk", [])
    if not isinstance(tables, list):
        raise TrunkError(f"{source}: trunk must be an array of tables ([[trunk]])")
    parser = _Parser(source, placeholders or {}, os.environ if env is None else env)
    trunks = [parser.trunk(i, t) for i, t in enumerate(tables, 1)]
    seen: set[str] = set()
    for t in trunks:
        if t.name.lower() in seen:
            raise TrunkError(f'{source}: trunk "{t.name}": name is used by another trunk')
        seen.add(t.name.lower())
    return trunks


class _Parser:
    def __init__(
        self, source: str, placeholders: Mapping[str, str], env: Mapping[str, str]
    ) -> None:
        self.source = source
        self.placeholders = placeholders
        self.env = env
        self.where = ""

    def fail(self, message: str) -> TrunkError:
        return TrunkError(f"{self.source}: {self.where}: {message}")

    def trunk(self, index: int, table: Any) -> Trunk:
        self.where = f"trunk #{index}"
        if not isinstance(table, dict):
            raise self.fail("must be a table ([[trunk]])")
        name = self.text(table, "name")
        if not NAME.fullmatch(name):
            raise self.fail(
                f"name {name!r} must be 1-40 letters, digits, '-' or '_' (it names PJSIP sections)"
            )
        self.where = f'trunk "{name}"'
        if is_reserved(name):
            raise self.fail(
                f"name {name!r} is reserved: Asterisk or the PBX's own configuration uses it "
                "(anonymous, global, system, agent seats, ...)"
            )
        kind_text = self.text(table, "kind")
        try:
            kind = TrunkKind(kind_text)
        except ValueError:
            raise self.fail(f'kind must be "registration" or "ip", got {kind_text!r}') from None
        allowed = COMMON_KEYS | KIND_KEYS[kind.value]
        for key in table:
            if key not in allowed:
                other = [k for k, keys in KIND_KEYS.items() if key in keys]
                if other:
                    raise self.fail(f"{key} is for {other[0]} trunks, not {kind.value} trunks")
                raise self.fail(f"unknown setting {key!r}")
        max_channels = table.get("max_channels")
        if max_channels is None:
            raise self.fail("max_channels is missing")
        if isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1:
            raise self.fail("max_channels must be a positive integer")
        qualify_s = table.get("qualify_s", 10)
        if isinstance(qualify_s, bool) or not isinstance(qualify_s, int) or not (
                qualify_s == 0 or 5 <= qualify_s <= 3600):
            raise self.fail("qualify_s must be whole seconds, 5-3600, or 0 for never")
        common: dict[str, Any] = {
            "qualify_s": qualify_s,
            "name": name,
            "kind": kind,
            "max_channels": max_channels,
            "codecs": self.codecs(table),
            "caller_id": self.caller_id(table),
            "context": self.context(table),
        }
        if kind is TrunkKind.REGISTRATION:
            host, port = self.address(table, "server")
            username = self.text(table, "username")
            if not USERNAME.fullmatch(username):
                raise self.fail(f"username {username!r} has characters a SIP user cannot have")
            password, password_env = self.password(table)
            expiration = table.get("expiration", 300)
            if (
                isinstance(expiration, bool)
                or not isinstance(expiration, int)
                or not 60 <= expiration <= 86400
            ):
                raise self.fail("expiration must be whole seconds, 60-86400")
            return Trunk(
                host=host,
                port=port,
                username=username,
                password=password,
                password_env=password_env,
                expiration=expiration,
                **common,
            )
        host, port = self.address(table, "host")
        match = self.matches(table, f"{host}:{port}")
        return Trunk(host=host, port=port, match=match, **common)

    # -------------------------------------------------------------------- fields
    def text(self, table: dict[str, Any], key: str, required: bool = True) -> str:
        if key not in table:
            if required:
                raise self.fail(f"{key} is missing")
            return ""
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, got {value!r}")
        return self.checked(self.fill(value, key).strip(), key)

    def checked(self, value: str, key: str) -> str:
        """`value` if it can be written into pjsip_trunks.conf (asterisk_values)."""
        try:
            return check_value(value)
        except ValueProblem as exc:
            raise self.fail(f"{key} {exc}") from None

    def fill(self, value: str, key: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in self.placeholders:
                raise self.fail(f"{key}: unknown placeholder @@{m.group(1)}@@")
            return self.placeholders[m.group(1)]

        return PLACEHOLDER.sub(sub, value)

    def address(self, table: dict[str, Any], key: str) -> tuple[str, int]:
        value = self.text(table, key)
        host, sep, port_text = value.rpartition(":")
        if not sep:
            host, port_text = value, str(DEFAULT_SIP_PORT)
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise self.fail(f"{key} must be HOST or HOST:PORT with a port 1-65535, got {value!r}")
        if not _is_host(host):
            raise self.fail(f"{key} must be an IPv4 address or a host name, got {host!r}")
        return host, int(port_text)

    def password(self, table: dict[str, Any]) -> tuple[Secret | None, str | None]:
        has_plain, has_env = "password" in table, "password_env" in table
        if has_plain == has_env:
            raise self.fail("give exactly one of password and password_env")
        if has_plain:
            value = table["password"]
            if not isinstance(value, str) or not value:
                raise self.fail("password must be a non-empty string")
            return Secret(self.checked(value, "password")), None
        var = self.text(table, "password_env")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise self.fail(f"password_env must name an environment variable, got {var!r}")
        if not self.env.get(var):
            raise self.fail(f"password_env names {var}, which is not set (or empty)")
        return Secret(self.checked(self.env[var], f"password (from ${var})")), var

    def codecs(self, table: dict[str, Any]) -> tuple[str, ...]:
        value = table.get("codecs", list(DEFAULT_CODECS))
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise self.fail(f"codecs must be a list of codec names, got {value!r}")
        codecs = tuple(c.strip().lower() for c in value)
        if not codecs:
            raise self.fail("codecs must name at least one codec")
        for c in codecs:
            if c not in KNOWN_CODECS:
                raise self.fail(f"codecs: unknown codec {c!r} (known: {', '.join(KNOWN_CODECS)})")
        if len(set(codecs)) != len(codecs):
            raise self.fail("codecs names a codec twice")
        if not set(codecs) & set(AGENT_CODECS):
            raise self.fail(
                f"codecs must include {' or '.join(AGENT_CODECS)}: the PBX cannot "
                f"transcode {', '.join(codecs)} to the agents' phones"
            )
        return codecs

    def caller_id(self, table: dict[str, Any]) -> str | None:
        value = self.text(table, "caller_id", required=False)
        if not value:
            return None
        m = CALLER_ID.fullmatch(value)
        if not m:
            raise self.fail(
                f'caller_id must be a number (+15550100) or "Name" <+15550100>, got {value!r}'
            )
        if m.group("quoted"):
            return f'"{m.group("name")}" <{m.group("quoted")}>'
        return m.group("number")

    def context(self, table: dict[str, Any]) -> str:
        value = self.text(table, "context", required=False) or DEFAULT_CONTEXT
        if value not in CARRIER_CONTEXTS:
            raise self.fail(
                f"context must be one of the dialplan's contexts for carriers' calls "
                f"({', '.join(CARRIER_CONTEXTS)}), got {value!r}"
            )
        return value

    def matches(self, table: dict[str, Any], default: str) -> tuple[str, ...]:
        value = table.get("match", [default])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail("match must be a list of addresses (IP, IP/prefix or IP:port)")
        out = []
        for raw in value:
            item = self.checked(self.fill(raw, "match").strip(), "match")
            if not _is_match(item):
                raise self.fail(f"match: {item!r} is not an IP address, IP/prefix or IP:port")
            out.append(item)
        return tuple(out)


def _is_host(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        return bool(HOSTNAME.fullmatch(host)) and not host.replace(".", "").isdigit()


def _is_match(item: str) -> bool:
    addr, sep, port = item.rpartition(":")
    if sep and "/" not in port:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            return False
        item = addr
    try:
        ipaddress.IPv4Network(item, strict=False)
        return True
    except ValueError:
        return False
