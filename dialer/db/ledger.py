"""Loading the compliance ledger (``dialer.core.ledger``) from attempts and their event logs.

Times come from the attempt's event log where it has them (first ``originated``, ``ringing``,
``answered``, ``amd_done``, ``bridged``, ``safe_harbor`` and ``hung_up`` events), else from the
attempt row (``answered_at``, ``bridged_at``, ``ended_at``). Read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dialer.core.ledger import LIVE, WINDOW, AttemptFacts, Ledger, Rate, build_ledger, window_rate
from dialer.core.results import AttemptPhase
from dialer.core.timeutil import require_aware
from dialer.db.database import Database
from dialer.db.models import AttemptEvent, CallAttempt, Campaign

_PHASES: Final = (
    AttemptPhase.ORIGINATED,
    AttemptPhase.RINGING,
    AttemptPhase.ANSWERED,
    AttemptPhase.AMD_DONE,
    AttemptPhase.BRIDGED,
    AttemptPhase.SAFE_HARBOR,
)


def attempt_facts(
    db: Database,
    campaign_id: int,
    since: datetime | None = None,
    live_only: bool = False,
) -> list[AttemptFacts]:
    """The campaign's attempts (started after ``since``, if given) as the ledger sees them."""
    with db.session() as session:
        query = select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        if since is not None:
            query = query.where(CallAttempt.started_at > require_aware(since, "since"))
        if live_only:
            query = query.where(CallAttempt.result.in_(LIVE))
        return facts_in_session(session, query.order_by(CallAttempt.id))


def facts_in_session(session: Session, query: Select[CallAttempt]) -> list[AttemptFacts]:
    attempts = list(session.scalars(query))
    ids = [a.id for a in attempts]
    times: dict[int, dict[AttemptPhase, datetime]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        rows = session.execute(
            select(AttemptEvent.attempt_id, AttemptEvent.phase, func.min(AttemptEvent.at))
            .where(AttemptEvent.attempt_id.in_(chunk), AttemptEvent.phase.in_(_PHASES))
            .group_by(AttemptEvent.attempt_id, AttemptEvent.phase)
        )
        for attempt_id, phase, at in rows:
            times.setdefault(attempt_id, {})[phase] = at
    return [_one(a, times.get(a.id, {})) for a in attempts]


def _one(a: CallAttempt, t: Mapping[AttemptPhase, datetime]) -> AttemptFacts:
    return AttemptFacts(
        attempt_id=a.id,
        started_at=a.started_at,
        result=a.result,
        ended_at=a.ended_at,
        contact_id=a.contact_id,
        number=a.number,
        agent_id=a.agent_id,
        hung_up_by=a.hung_up_by,
        originated_at=t.get(AttemptPhase.ORIGINATED),
        ringing_at=t.get(AttemptPhase.RINGING),
        answered_at=t.get(AttemptPhase.ANSWERED) or a.answered_at,
        amd_done_at=t.get(AttemptPhase.AMD_DONE),
        bridged_at=t.get(AttemptPhase.BRIDGED) or a.bridged_at,
        safe_harbor_at=t.get(AttemptPhase.SAFE_HARBOR),
    )


def campaign_ledger(db: Database, campaign_id: int, now: datetime) -> Ledger:
    """The campaign's whole ledger at ``now`` (its zone and abandon cap from the campaign)."""
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        zone, cap = campaign.time_zone, campaign.abandon_cap
    return build_ledger(attempt_facts(db, campaign_id), now, zone, cap)


def rolling_abandon_rate(db: Database, campaign_id: int, now: datetime) -> Rate:
    """Abandoned over live answers in the 30 days ending ``now`` (loads live answers only)."""
    require_aware(now)
    return window_rate(attempt_facts(db, campaign_id, since=now - WINDOW, live_only=True), now)
