"""What may be written into an Asterisk configuration file, checked before anything is rendered.

Asterisk's config parser reads one `key = value` a line, starts a comment at `;` and a section at
`[`: a value holding a newline writes a line of its own choosing (a guest `[anonymous]` endpoint,
say), and a `;` silently cuts a password short. Every value the dialer renders into `var/etc/`
goes through `check_value()`; the callers name the file and field in the error they raise.
Asterisk would read `\\;` as a literal `;`, but a refusal is plainer than an escape that every
writer has to remember: no value we render needs one.

Also here: names Asterisk gives a meaning of its own (refused as trunk names), the dialplan
contexts that calls from a carrier may land in, and the seats an agent's phone may be.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

# Names with a meaning in Asterisk's PJSIP or dialplan configuration, or taken by the sections of
# our own pjsip.conf: a trunk with one of these names would be (or shadow) something else. The
# `anonymous` endpoint takes every unidentified request (a guest endpoint); `global` and `system`
# are the singleton sections; `default` and `general` are reserved dialplan/config sections.
RESERVED_NAMES = frozenset({
    "anonymous", "artificial", "global", "system", "default", "general", "globals", "guest",
    "transport-udp", "agent-endpoint", "agent-auth", "agent-aor",
})

# The dialplan contexts (config/asterisk/extensions.conf) written for calls from a carrier. A
# trunk's `context` must be one of them: `agents` or `dialer-amd` would let a carrier's call do
# what only an agent's phone or the dialer may do.
CARRIER_CONTEXTS = ("from-carrier",)

SEAT_ENDPOINT = re.compile(r"PJSIP/agent(?P<seat>[0-9]{1,9})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ValueProblem(ValueError):
    """A value cannot be written into an Asterisk file; the message says why (not where)."""


def check_value(value: str, *, semicolon: bool = False) -> str:
    """`value`, unchanged, if it can be written as one Asterisk config value; else ValueProblem.

    Control characters (newline, CR, NUL, tab, ...) are always refused; `;` too, unless
    `semicolon` (for text that is never read back as a value, none today).
    """
    m = _CONTROL.search(value)
    if m:
        raise ValueProblem(
            f"has a control character ({m.group()!r}): it would break the line it is written on"
        )
    if not semicolon and ";" in value:
        raise ValueProblem("has a ';', which starts a comment in Asterisk's configuration files")
    if value != value.strip():
        raise ValueProblem("starts or ends with a space, which Asterisk would drop")
    return value


def is_reserved(name: str) -> bool:
    """Whether a section name is Asterisk's own or our pjsip.conf's (or an agent seat's)."""
    lowered = name.lower()
    return lowered in RESERVED_NAMES or re.fullmatch(r"agent[0-9]+", lowered) is not None


def seat_endpoint(sip: str, seats: Iterable[int]) -> str:
    """`sip` if it is `PJSIP/agent<N>` for one of the configured `seats`; else ValueProblem."""
    numbers = list(seats)
    m = SEAT_ENDPOINT.fullmatch(sip)
    if not m or int(m.group("seat")) not in numbers:
        where = (f"PJSIP/agent{numbers[0]} to PJSIP/agent{numbers[-1]}" if numbers
                 else "none: [agents] count is 0")
        raise ValueProblem(f"{sip!r} is not an agent seat's phone (the seats are {where})")
    return sip


SIP_PORT_RANGE = range(1, 65536)


def phone_at(endpoint: str, peer: str, sip_port: int, tls: bool = False) -> str:
    """The dial string that reaches the phone of a logged-in agent at the link's own address:
    `PJSIP/agent1001/sip:agent1001@<peer>:<sip_port>` (with `tls`, `...;transport=tls`: the
    port is then the phone's TLS listening port).

    The voice channel then goes to the phone beside the agent's link, never to whatever last
    registered as the seat (anyone who learnt the seat's password and registered from elsewhere
    replaces the contact, but is not called). `peer` is the address the authenticated link comes
    from, as the server saw it; `sip_port` is the port the agent's softphone said it listens on.
    ValueProblem if either cannot go into a dial string.
    """
    m = re.fullmatch(r"PJSIP/(?P<user>[A-Za-z0-9_.-]+)", endpoint)
    if not m:
        raise ValueProblem(f"{endpoint!r} is not a PJSIP endpoint the dialer can address")
    if isinstance(sip_port, bool) or not isinstance(sip_port, int) \
            or sip_port not in SIP_PORT_RANGE:
        raise ValueProblem(f"sip_port {sip_port!r} is not a port 1-65535")
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        raise ValueProblem(f"the link's peer {peer!r} is not an IP address") from None
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return (f"{endpoint}/sip:{m.group('user')}@{host}:{sip_port}"
            + (";transport=tls" if tls else ""))
