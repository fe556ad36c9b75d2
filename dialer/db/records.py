"""What the repository (`dialer.db.repository`) hands out: its errors, a claimed contact, where a
contact went after an attempt or a disposition, a contact as an agent sees it, a recovery's
report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.core.results import CallResult
from dialer.core.selection import ContactState


class RepositoryError(Exception):
    """A request the stored data does not allow (nothing was changed)."""


class ClaimLostError(RepositoryError):
    """The contact is no longer reserved for this claim (released, recovered, or attempted)."""


class AttemptClosedError(RepositoryError):
    """The attempt already ended."""


class DispositionError(RepositoryError):
    """A disposition that cannot be saved (unknown code, call not ended, already saved...)."""


@dataclass(frozen=True)
class Claim:
    """A contact reserved for dialing: what the dialer (and a preview agent) needs."""

    contact_id: int
    campaign_id: int
    number: str
    number_index: int
    agent_id: int | None
    callback_id: int | None
    previous_state: ContactState
    attempts: int
    fields: Mapping[str, Any]
    time_zone: str | None
    claimed_at: datetime


@dataclass(frozen=True)
class ContactOutcome:
    """Where a contact went after an attempt or a disposition."""

    contact_id: int
    state: ContactState
    next_eligible_at: datetime | None
    reason: str


@dataclass(frozen=True)
class AttemptOutcome:
    """What ``finish_attempt`` stored; ``contact`` is None while a disposition is awaited."""

    attempt_id: int
    result: CallResult
    contact: ContactOutcome | None


@dataclass(frozen=True)
class DispositionOutcome:
    """What ``save_disposition`` stored; ``contact`` None if the contact had moved on."""

    disposition_id: int
    callback_id: int | None
    contact: ContactOutcome | None


@dataclass(frozen=True)
class ContactRecord:
    """A contact as shown to an agent."""

    id: int
    campaign_id: int
    numbers: tuple[str, ...]
    fields: Mapping[str, Any]
    time_zone: str | None
    state: ContactState
    attempts: int
    last_result: CallResult | None


@dataclass(frozen=True)
class RecoveryReport:
    """What ``recover_after_crash`` repaired."""

    interrupted_attempts: tuple[int, ...]
    undispositioned_attempts: tuple[int, ...]
    released_contacts: tuple[int, ...]
    agents_logged_out: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return bool(
            self.interrupted_attempts
            or self.undispositioned_attempts
            or self.released_contacts
            or self.agents_logged_out
        )
