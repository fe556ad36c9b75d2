"""Login throttling and web sessions, as plain objects fed the time (`now`, in seconds). Pure.

`LoginThrottle` is the one limiter of every login path (the agent link's `login`, the supervisor
page's form and its HTTP Basic auth), keyed by the peer's address:

- each failed login from an address makes it wait longer: after the n-th failure in a row the
  address is *held* for `base * 2 ** (n - 1)` seconds (at most `max_delay`); a login from a held
  address is refused at once, without checking the password (so parallel connections gain
  nothing, and a guess costs no scrypt time);
- a good login clears the address; an address with no failure for `forget_after` seconds is
  forgotten;
- the table is bounded: at most `max_entries` addresses; when full, forgotten entries go first,
  then the oldest.

The same limiter also counts failures per *account* (`Guard.accounts`, keyed by the login name):
guesses at one agent's password spread over many addresses are held too, after a few free
failures (so nobody locks an agent out with three wrong tries), at most a minute at a time.

`Sessions` holds the supervisor page's session tokens: each expires `ttl` seconds after login,
expired ones are pruned on every call, and at most `max_sessions` live at once (the oldest go).

`safe_login(text)` is a login name as a log line may show it (fail2ban reads those lines).
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float          # time of the last failure
    held_until: float


class LoginThrottle:
    def __init__(self, base: float = 0.25, max_delay: float = 8.0, forget_after: float = 900.0,
                 max_entries: int = 4096, free_failures: int = 0) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.free_failures = free_failures   # failures in a row that hold nothing yet
        self.base = base
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_entries = max_entries
        self._table: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def held_for(self, address: str, now: float) -> float:
        """Seconds before a login from `address` is looked at again (0: it may try now)."""
        entry = self._table.get(address)
        if entry is None:
            return 0.0
        if now - entry.last >= self.forget_after:
            del self._table[address]
            return 0.0
        return max(0.0, entry.held_until - now)

    def failed(self, address: str, now: float) -> float:
        """Count a failed login; the seconds the address is now held (the answer waits as long)."""
        entry = self._table.pop(address, None)
        if entry is None or now - entry.last >= self.forget_after:
            entry = _Failures(0, now, now)
        entry.count += 1
        over = entry.count - self.free_failures
        delay = 0.0 if over <= 0 else min(self.max_delay, self.base * 2.0 ** min(over - 1, 32))
        entry.last, entry.held_until = now, now + delay
        self._table[address] = entry            # the most recent at the end
        self._bound(now)
        return delay

    def succeeded(self, address: str) -> None:
        self._table.pop(address, None)

    def failures(self, address: str) -> int:
        entry = self._table.get(address)
        return entry.count if entry else 0

    def _bound(self, now: float) -> None:
        if len(self._table) <= self.max_entries:
            return
        for key in [k for k, e in self._table.items() if now - e.last >= self.forget_after]:
            del self._table[key]
        while len(self._table) > self.max_entries:
            self._table.popitem(last=False)


class Sessions:
    def __init__(self, ttl: float = 8 * 3600.0, max_sessions: int = 64) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._expires: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    def open(self, now: float) -> str:
        """A new session's token."""
        self.prune(now)
        token = secrets.token_urlsafe(32)
        self._expires[token] = now + self.ttl
        while len(self._expires) > self.max_sessions:
            self._expires.popitem(last=False)
        return token

    def valid(self, token: str | None, now: float) -> bool:
        self.prune(now)
        return bool(token) and token in self._expires

    def close(self, token: str | None) -> None:
        if token:
            self._expires.pop(token, None)

    def prune(self, now: float) -> None:
        for token in [t for t, at in self._expires.items() if at <= now]:
            del self._expires[token]


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def safe_login(text: str, limit: int = 64) -> str:
    """A login name for a log line: letters, digits and `._@+-` kept, anything else (quotes,
    spaces, control characters, which could forge a line or an address) shown as `?`."""
    cut = text[:limit]
    return _UNSAFE.sub("?", cut) + ("..." if len(text) > limit else "")
