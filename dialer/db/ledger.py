"""Loading the compliance ledger (``dialer.core.ledger``) from attempts and their event logs.

Times come from the attempt's event log where it has them (first ``originated``, ``ringing``,
``answered``, ``amd_done``, ``bridged``, ``safe_harbor`` and ``hung_up`` events), else from the
attempt row (``answered_at``, ``bridged_at``, ``ended_at``). Read-only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from weakref import WeakKeyDictionary

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from dialer.core.campaign import DialMode
from dialer.core.jurisdiction import Jurisdiction
from dialer.core.ledger import (
    LIVE,
    AttemptFacts,
    Ledger,
    Rate,
    build_ledger,
    hold_reason,
    judge,
)
from dialer.core.results import AttemptPhase, CallResult
from dialer.core.timeutil import require_aware
from dialer.db.campaigns import campaign_profile
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


_COLUMNS: Final = (
    CallAttempt.id,
    CallAttempt.started_at,
    CallAttempt.result,
    CallAttempt.ended_at,
    CallAttempt.contact_id,
    CallAttempt.number,
    CallAttempt.agent_id,
    CallAttempt.hung_up_by,
    CallAttempt.answered_at,
    CallAttempt.bridged_at,
)


def facts_in_session(session: Session, query: Select[Any]) -> list[AttemptFacts]:
    """The attempts ``query`` (a ``select(CallAttempt)...``) selects, as the ledger sees them.

    Reads columns, not ORM objects (a few times faster on tens of thousands of attempts).
    """
    rows = session.execute(query.with_only_columns(*_COLUMNS)).all()
    ids = [r.id for r in rows]
    times: dict[int, dict[AttemptPhase, datetime]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for attempt_id, phase, at in session.execute(
            select(AttemptEvent.attempt_id, AttemptEvent.phase, func.min(AttemptEvent.at))
            .where(AttemptEvent.attempt_id.in_(chunk), AttemptEvent.phase.in_(_PHASES))
            .group_by(AttemptEvent.attempt_id, AttemptEvent.phase)
        ):
            times.setdefault(attempt_id, {})[phase] = at
    return [_one(r, times.get(r.id, {})) for r in rows]


def _one(a: Any, t: Mapping[AttemptPhase, datetime]) -> AttemptFacts:  # a row of _COLUMNS
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
    """The campaign's whole ledger at ``now`` (its zone and jurisdiction profile from the
    campaign)."""
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        zone, profile = campaign.time_zone, campaign_profile(campaign)
    return build_ledger(attempt_facts(db, campaign_id), now, zone, profile=profile)


def rule_of(db: Database, campaign_id: int) -> tuple[Jurisdiction, str]:
    """The campaign's jurisdiction profile and time zone."""
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        return campaign_profile(campaign), campaign.time_zone


def rolling_abandon_rate(
    db: Database,
    campaign_id: int,
    now: datetime,
    rule: tuple[Jurisdiction, str] | None = None,
) -> Rate:
    """The abandon rate over the campaign's profile window ending ``now`` (US: the 30 days
    ending ``now``; UK: 24 h; Canada: the calendar month), each attempt judged by the ledger
    with the profile's limits; ``rule`` is ``rule_of(db, campaign_id)`` when already known.

    Asked again and again (the service's compliance hold, the live view), it reads only what
    changed: attempts judged once they are settled (ended ``SETTLE`` before ``now``) are kept
    per database and campaign, and each call reads the attempts after the last settled one
    (live answers, machine verdicts when the profile counts AMD false positives, and open
    attempts only). A ``now`` earlier than the last one starts over.
    """
    require_aware(now)
    profile, zone = rule or rule_of(db, campaign_id)
    since = profile.window_start(now, zone)
    counted = set(LIVE) | ({CallResult.MACHINE} if profile.amd_false_positives else set())
    with _lock:
        per_db = _judged.setdefault(db, {})
        judged = per_db.get(campaign_id)
        if judged is None or now < judged.now or judged.profile != profile:
            judged = per_db[campaign_id] = _Judged(now, profile)
        judged.now = now
        query = select(CallAttempt).where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.id > judged.upto,
            CallAttempt.started_at >= since,
            or_(CallAttempt.result.in_(counted), CallAttempt.ended_at.is_(None)),
        )
        with db.session() as session:
            facts = facts_in_session(session, query.order_by(CallAttempt.id))
        settled_before = now - SETTLE
        recent: dict[int, tuple[datetime, int]] = {}
        blocked = False
        for f in facts:
            settled = f.ended_at is not None and f.ended_at <= settled_before
            blocked = blocked or not settled
            if not blocked:
                judged.upto = f.attempt_id
            if f.result in counted:
                kind = _MACHINE if f.result is CallResult.MACHINE else (
                    _ABANDONED if judge(f, zone, profile).abandoned else _LIVE)
                (judged.entries if settled else recent)[f.attempt_id] = (f.started_at, kind)
        for attempt_id in [a for a, (t, _) in judged.entries.items() if t < since]:
            del judged.entries[attempt_id]
        live = abandoned = machines = 0
        for started_at, kind in (*judged.entries.values(), *recent.values()):
            if profile.contains(started_at, now, zone):
                live += kind != _MACHINE
                abandoned += kind == _ABANDONED
                machines += kind == _MACHINE
    if profile.amd_false_positives:
        return Rate(live, abandoned, machines, profile.amd_false_positive_rate)
    return Rate(live, abandoned)


_LIVE, _ABANDONED, _MACHINE = range(3)
SETTLE: Final = timedelta(minutes=2)


@dataclass
class _Judged:
    """A campaign's settled counted attempts: attempt id -> (started at, _LIVE, _ABANDONED or
    _MACHINE)."""

    now: datetime
    profile: Jurisdiction
    upto: int = 0  # every attempt up to this id is settled (or not a live answer)
    entries: dict[int, tuple[datetime, int]] = field(default_factory=dict)


_judged: WeakKeyDictionary[Database, dict[int, _Judged]] = WeakKeyDictionary()
_lock = threading.Lock()


def compliance_hold(db: Database, campaign_id: int, now: datetime) -> str | None:
    """Why the predictive campaign must dial progressively now, or None.

    None for a campaign that does not pace predictively, and while its abandon rate over its
    profile's window (``rolling_abandon_rate``: the ledger's count, late connects and customers
    who hung up waiting included; US: 30 days, UK: 24 h, Canada: the calendar month) is under
    its cap; else the sentence for the supervisor
    (``dialer.core.ledger.hold_reason``). The service asks every few seconds per predictive
    campaign and, while it gets a sentence, dials one call per free agent, reserved for them;
    ``dialer why`` shows the same sentence.
    """
    require_aware(now)
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        mode, profile, zone = campaign.mode, campaign_profile(campaign), campaign.time_zone
    if mode is not DialMode.PREDICTIVE:
        return None
    rate = rolling_abandon_rate(db, campaign_id, now, (profile, zone))
    return hold_reason(rate, profile.cap, profile.short_label)
