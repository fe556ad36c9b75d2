"""Do-Not-Call lists: scopes, where an entry came from, and the answer of a check (pure).

A number is not dialed when it is on the system list (every campaign) or on the campaign's
own list. Entries come from a CSV import, a supervisor's command, or an agent's disposition
whose code is flagged ``dnc`` in the campaign definition. Checks happen at selection (a
contact is dialed on its first number that is not listed, and skipped when all are) and again
just before dialing (``dialer.db.dnc.check_before_dial``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class DncScope(enum.Enum):
    """Which list: the system's (every campaign) or one campaign's."""

    SYSTEM = "system"
    CAMPAIGN = "campaign"


class DncSource(enum.Enum):
    """How a number got on a list."""

    IMPORT = "import"
    MANUAL = "manual"
    AGENT = "agent"


@dataclass(frozen=True)
class DncHit:
    """A number found on a list."""

    e164: str
    scope: DncScope
    source: DncSource
    added_at: datetime
    reason: str | None = None

    def describe(self) -> str:
        where = "the system" if self.scope is DncScope.SYSTEM else "the campaign's"
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.e164} is on {where} Do-Not-Call list since {self.added_at:%Y-%m-%d}{why}"


def first_hit(hits: Iterable[DncHit]) -> DncHit | None:
    """The hit to report: the system list first, then the oldest entry."""
    ordered = sorted(hits, key=lambda h: (h.scope is not DncScope.SYSTEM, h.added_at))
    return ordered[0] if ordered else None
