"""Do-Not-Call lists in the database: add, remove, import, export, look up.

The system list has ``campaign_id`` NULL and applies to every campaign; a campaign's list
applies to that campaign only. A number is listed at most once per list (adding it again is
a no-op). Selection skips listed numbers (``dialer.db.repository.claim_next_contact``), and the
dialer checks again just before dialing (``dialer.db.gate.check_before_dial``). Every function
opens its own session and commits before returning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from dialer.core.dnc import DncHit, DncScope, DncSource, first_hit
from dialer.db.database import Database
from dialer.db.models import Agent, Campaign, DncEntry
from dialer.dnc_lists import ParsedDnc
from dialer.lists import ListRejected

CHUNK = 500


@dataclass(frozen=True)
class DncImport:
    """What ``import_dnc`` stored: numbers added, and those already on the list."""

    added: int
    already_listed: int


def _on_list(campaign_id: int | None) -> ColumnElement[bool]:
    if campaign_id is None:
        return DncEntry.campaign_id.is_(None)
    return DncEntry.campaign_id == campaign_id


def add_number(
    db: Database,
    e164: str,
    campaign_id: int | None = None,
    *,
    source: DncSource = DncSource.MANUAL,
    reason: str | None = None,
    agent_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """List ``e164`` (system list when ``campaign_id`` is None); False if it already was."""
    with db.session() as session:
        if campaign_id is not None:
            session.get_one(Campaign, campaign_id)
        listed = session.scalars(
            select(DncEntry.id).where(DncEntry.e164 == e164, _on_list(campaign_id))
        ).first()
        if listed is not None:
            return False
        session.add(
            DncEntry(
                campaign_id=campaign_id,
                e164=e164,
                source=source,
                reason=reason,
                agent_id=agent_id,
                added_at=now or datetime.now(UTC),
            )
        )
        session.commit()
        return True


def remove_number(db: Database, e164: str, campaign_id: int | None = None) -> bool:
    """Take ``e164`` off one list; False if it was not on it."""
    with db.session() as session:
        result = session.execute(
            delete(DncEntry).where(DncEntry.e164 == e164, _on_list(campaign_id))
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def import_dnc(
    db: Database, parsed: ParsedDnc, campaign_id: int | None = None, now: datetime | None = None
) -> DncImport:
    """Store a parsed DNC file on one list, all or nothing (``ListRejected`` if it has errors)."""
    if parsed.errors:
        raise ListRejected(parsed.errors)
    added_at = now or datetime.now(UTC)
    with db.session() as session:
        if campaign_id is not None:
            session.get_one(Campaign, campaign_id)
        numbers = [row.e164 for row in parsed.rows]
        listed = _listed(session, campaign_id, numbers)
        new = [row for row in parsed.rows if row.e164 not in listed]
        session.add_all(
            DncEntry(
                campaign_id=campaign_id,
                e164=row.e164,
                source=DncSource.IMPORT,
                reason=row.reason,
                added_at=added_at,
            )
            for row in new
        )
        session.commit()
        return DncImport(len(new), len(parsed.rows) - len(new))


def _listed(session: Session, campaign_id: int | None, numbers: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        found.update(
            session.scalars(
                select(DncEntry.e164).where(DncEntry.e164.in_(chunk), _on_list(campaign_id))
            )
        )
    return found


def dnc_hits(db: Database, campaign_id: int | None, e164: str) -> list[DncHit]:
    """Every list entry that stops ``e164`` being dialed in the campaign (system first)."""
    with db.session() as session:
        return hits_in_session(session, campaign_id, e164)


def hits_in_session(session: Session, campaign_id: int | None, e164: str) -> list[DncHit]:
    scope: ColumnElement[bool] = DncEntry.campaign_id.is_(None)
    if campaign_id is not None:
        scope = or_(scope, DncEntry.campaign_id == campaign_id)
    rows = session.scalars(select(DncEntry).where(DncEntry.e164 == e164, scope))
    hits = [
        DncHit(
            e164=row.e164,
            scope=DncScope.SYSTEM if row.campaign_id is None else DncScope.CAMPAIGN,
            source=row.source,
            added_at=row.added_at,
            reason=row.reason,
        )
        for row in rows
    ]
    first = first_hit(hits)
    return [] if first is None else [first, *(h for h in hits if h is not first)]


def dnc_rows(db: Database, campaign_id: int | None = None) -> list[dict[str, Any]]:
    """One list's entries for CSV export, oldest first (system list when ``campaign_id`` None).

    Columns: ``e164, list, source, reason, added_at, agent, attempt_id``; ``dialer.dnc_lists``
    reads the file back.
    """
    with db.session() as session:
        name = "system"
        if campaign_id is not None:
            name = session.get_one(Campaign, campaign_id).name
        query = (
            select(DncEntry, Agent.login)
            .outerjoin(Agent, Agent.id == DncEntry.agent_id)
            .where(_on_list(campaign_id))
            .order_by(DncEntry.added_at, DncEntry.id)
        )
        return [
            {
                "e164": entry.e164,
                "list": name,
                "source": entry.source.value,
                "reason": entry.reason or "",
                "added_at": entry.added_at.isoformat(),
                "agent": login or "",
                "attempt_id": entry.attempt_id or "",
            }
            for entry, login in session.execute(query)
        ]


def count_listed(db: Database, campaign_id: int | None = None) -> int:
    """How many numbers one list holds."""
    with db.session() as session:
        query = select(func.count()).select_from(DncEntry).where(_on_list(campaign_id))
        return session.scalar(query) or 0
