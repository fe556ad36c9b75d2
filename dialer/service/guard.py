"""What the agent link's HTTP server shares to resist password guessing (docs/security.md):

- one `LoginThrottle` (`dialer.core.guard`) for every login path, keyed by the peer's address;
- password checks (scrypt, deliberately slow) on a small executor of their own, so guesses never
  take the default thread pool that reads the database for everything else;
- caps on agent-link connections, per address and in total;
- one `security` log line per refused login, in the fixed format fail2ban matches:

      security: refused login for 'agent1001' from 127.0.0.1 (agent link): wrong agent or password
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from dialer.config.settings import ServiceSettings
from dialer.core.guard import LoginThrottle, safe_login

security_log = logging.getLogger("dialer.security")
T = TypeVar("T")

# scrypt with N = 2^14 takes about 16 MiB and tens of milliseconds: two at a time is plenty
_PASSWORD_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="opendialer-password")


def refused(login: str, address: str, where: str, reason: str) -> None:
    """Log a refused login (the format is fail2ban's filter: docs/security.md)."""
    security_log.warning("security: refused login for '%s' from %s (%s): %s",
                         safe_login(login), safe_login(address), where, reason)


async def check_password(fn: Callable[..., T], *args: object) -> T:
    """Run a password check on the password executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_PASSWORD_POOL, lambda: fn(*args))


@dataclass
class Guard:
    """The login limiter and the connection counts of one server."""

    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # per account, whatever the address: 5 failures free, then 1 s, 2 s, ... at most 60 s
    accounts: LoginThrottle = field(default_factory=lambda: LoginThrottle(
        base=1.0, max_delay=60.0, free_failures=5))
    # a floor behind one NAT address, or several headless agents on one PC, is many agents from
    # one address: the cap stops one host from taking every connection, not a busy office
    max_per_address: int = 200
    max_total: int = 500
    clock: Callable[[], float] = time.monotonic
    connections: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, service: ServiceSettings) -> Guard:
        """The caps of `[service] max_connections` and `max_connections_per_address`."""
        return cls(max_per_address=service.max_connections_per_address,
                   max_total=service.max_connections)

    @property
    def total(self) -> int:
        return sum(self.connections.values())

    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`; why it is refused (not counted), or None."""
        if self.total >= self.max_total:
            return f"the dialer has {self.max_total} agent connections already; try again later"
        if self.connections.get(address, 0) >= self.max_per_address:
            return (f"too many connections from {address} (at most {self.max_per_address}); "
                    f"close one and try again")
        self.connections[address] = self.connections.get(address, 0) + 1
        return None

    def release(self, address: str) -> None:
        left = self.connections.get(address, 0) - 1
        if left > 0:
            self.connections[address] = left
        else:
            self.connections.pop(address, None)

    def held_for(self, address: str, account: str | None = None) -> float:
        """Seconds the address (or the account) is still held; under 50 ms counts as free (a
        client that waited for the answer to its failure is not refused for a timer's
        rounding)."""
        now = self.clock()
        held = self.throttle.held_for(address, now)
        if account is not None:
            held = max(held, self.accounts.held_for(_account(account), now))
        return held if held > 0.05 else 0.0

    def failed(self, address: str, account: str | None = None) -> float:
        now = self.clock()
        delay = self.throttle.failed(address, now)
        if account is not None:
            delay = max(delay, self.accounts.failed(_account(account), now))
        return delay

    def succeeded(self, address: str, account: str | None = None) -> None:
        self.throttle.succeeded(address)
        if account is not None:
            self.accounts.succeeded(_account(account))


def _account(login: str) -> str:
    return login.strip().lower()[:128]
