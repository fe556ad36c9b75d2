"""Reports straight from the tables: the campaign summary and the attempts export.

Read-only; used by the end-of-run summary, live status and ``dialer campaign export``.
Re-exported by ``dialer.db.repository``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from dialer.core.results import CallResult
from dialer.core.selection import ContactState
from dialer.db.database import Database
from dialer.db.models import CallAttempt, Campaign, Contact, Disposition, DispositionCode


@dataclass(frozen=True)
class CampaignSummary:
    """Counts for the end-of-run summary and live status, straight from the tables."""

    campaign_id: int
    contacts: int
    contacts_by_state: Mapping[ContactState, int]
    attempts: int
    attempts_by_result: Mapping[CallResult, int]
    open_attempts: int
    connected: int
    abandoned: int
    dispositions: Mapping[str, int]

    @property
    def abandon_rate(self) -> float:
        """Abandoned calls over live answers that were connected or abandoned."""
        live = self.connected + self.abandoned
        return self.abandoned / live if live else 0.0


def campaign_summary(db: Database, campaign_id: int) -> CampaignSummary:
    """Contacts by state, attempts by result, connected, abandoned and dispositions by code."""
    with db.session() as session:
        session.get_one(Campaign, campaign_id)
        by_state = {
            state: count
            for state, count in session.execute(
                select(Contact.state, func.count())
                .where(Contact.campaign_id == campaign_id)
                .group_by(Contact.state)
            )
        }
        by_result: dict[CallResult, int] = {}
        open_attempts = 0
        for result, count in session.execute(
            select(CallAttempt.result, func.count())
            .where(CallAttempt.campaign_id == campaign_id)
            .group_by(CallAttempt.result)
        ):
            if result is None:
                open_attempts = count
            else:
                by_result[result] = count
        connected = session.scalar(
            select(func.count()).where(
                CallAttempt.campaign_id == campaign_id, CallAttempt.bridged_at.is_not(None)
            )
        )
        dispositions = {
            code: count
            for code, count in session.execute(
                select(DispositionCode.code, func.count())
                .join(Disposition, Disposition.code_id == DispositionCode.id)
                .where(DispositionCode.campaign_id == campaign_id)
                .group_by(DispositionCode.code)
            )
        }
        return CampaignSummary(
            campaign_id=campaign_id,
            contacts=sum(by_state.values()),
            contacts_by_state=by_state,
            attempts=sum(by_result.values()) + open_attempts,
            attempts_by_result=by_result,
            open_attempts=open_attempts,
            connected=connected or 0,
            abandoned=by_result.get(CallResult.ABANDONED, 0),
            dispositions=dispositions,
        )


def attempt_rows(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """Every attempt of the campaign with its disposition, oldest first (for CSV export)."""
    with db.session() as session:
        query = (
            select(CallAttempt, Disposition, DispositionCode.code)
            .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
            .outerjoin(DispositionCode, DispositionCode.id == Disposition.code_id)
            .where(CallAttempt.campaign_id == campaign_id)
            .order_by(CallAttempt.id)
        )
        out: list[dict[str, Any]] = []
        for attempt, disposition, code in session.execute(query):
            out.append(
                {
                    "attempt_id": attempt.id,
                    "contact_id": attempt.contact_id,
                    "number": attempt.number,
                    "agent_id": attempt.agent_id,
                    "started_at": _iso(attempt.started_at),
                    "answered_at": _iso(attempt.answered_at),
                    "bridged_at": _iso(attempt.bridged_at),
                    "ended_at": _iso(attempt.ended_at),
                    "result": attempt.result.value if attempt.result else "",
                    "sip_code": attempt.sip_code,
                    "hangup_cause": attempt.hangup_cause,
                    "disposition": code or "",
                    "note": (disposition.note if disposition else None) or attempt.note or "",
                }
            )
        return out


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""
