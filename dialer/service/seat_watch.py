"""Reports a second phone registering as a logged-in agent's seat (issue 14).

The voice channel already goes to the phone beside the agent's link (`phone_at`), so a phone that
registers as the seat from elsewhere is never called; this says so, instead of leaving it
silent: a `security:` log line and a `seat_taken` error to the agent, once per intruding contact.

It listens as an ARI application of its own (`<app>-seats`) subscribed to the PJSIP endpoints:
an endpoint subscription also forwards the endpoint's channel events, which must not reach the
dialer's own application twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from dialer.ari import AriClient, AriError

log = logging.getLogger(__name__)

CONTACT = re.compile(r"^sips?:(?P<user>[^@;]+)@(?P<host>\[[^\]]+\]|[^:;>]+)(?::(?P<port>\d+))?")
PRESENT = frozenset({"Created", "NonQualified", "Reachable", "Unknown"})


@dataclass(frozen=True)
class Binding:
    """Where a logged-in agent's own phone is: the link's address and the SIP port it named."""

    agent_id: int
    login: str
    user: str            # the seat's SIP user, e.g. agent1014
    host: str
    port: int


def intruder(binding: Binding, uri: str) -> str | None:
    """`host:port` of a contact `uri` of the seat that is not the agent's own phone, else None.
    Over TLS the phone's Contact names its TLS listener, which the PBX keeps as it is
    (`rewrite_contact = no` on TLS seats), and the binding's port is that listener's."""
    m = CONTACT.match(uri)
    if m is None:
        return None
    host, port = m["host"].strip("[]"), int(m["port"] or 5060)
    if (host, port) == (binding.host.strip("[]"), binding.port):
        return None
    return f"{m['host']}:{port}"


class SeatWatch:
    def __init__(self, ari: AriClient, lookup: Callable[[str], Binding | None],
                 report: Callable[[Binding, str], None]) -> None:
        self.ari = ari.for_app(f"{ari.app}-seats")
        self.lookup = lookup          # seat user -> the logged-in agent's binding, if any
        self.report = report          # (binding, "host:port" of the other phone)
        self._told: set[tuple[int, str]] = set()

    async def run(self) -> None:
        delay = 0.5
        async with self.ari:
            while True:
                try:
                    async for ev in self.ari.events():
                        if ev.get("type") == "WebSocketConnected":
                            await self.ari.post(f"applications/{self.ari.app}/subscription",
                                                eventSource="endpoint:PJSIP")
                            delay = 0.5
                        elif ev.get("type") == "ContactStatusChange":
                            self.contact(ev.get("contact_info") or {})
                except AriError as exc:
                    log.debug("seat watch: %s; again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    def contact(self, info: dict[str, str]) -> None:
        log.debug("seat watch: contact %s", info)
        binding = self.lookup(str(info.get("aor", "")))
        if binding is None or info.get("contact_status") not in PRESENT:
            return
        other = intruder(binding, str(info.get("uri", "")))
        if other is None or (binding.agent_id, other) in self._told:
            return
        self._told.add((binding.agent_id, other))
        log.warning("security: a second phone registered as %s from %s while agent %s is "
                    "logged in with the phone at %s:%d; the voice channel stays with the agent's "
                    "phone", binding.user, other, binding.login, binding.host, binding.port)
        self.report(binding, other)
