"""What a call and the agent's disposition leave behind: the attempt's events and result, the
disposition (with its do-not-call mark or callback), and where the contact goes next."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from dialer.core.callbacks import handovers
from dialer.core.dnc import DncScope, DncSource
from dialer.core.results import AttemptPhase, CallFacts, CallResult
from dialer.core.timeutil import require_aware
from dialer.db.campaigns import load_rules
from dialer.db.database import Database
from dialer.db.decisions import decide_after_attempt, open_callbacks, redecide
from dialer.db.models import (
    AttemptEvent,
    CallAttempt,
    Callback,
    Contact,
    Disposition,
    DispositionCode,
    DncEntry,
)
from dialer.db.records import (
    AttemptClosedError,
    AttemptOutcome,
    DispositionError,
    DispositionOutcome,
)


def record_attempt_event(
    db: Database,
    attempt_id: int,
    phase: AttemptPhase,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
    *,
    channel_id: str | None = None,
    agent_id: int | None = None,
) -> None:
    """Append one timestamped step to the attempt's log (and commit).

    ``answered``/``bridged`` also set ``answered_at``/``bridged_at`` (the first time);
    ``channel_id`` and ``agent_id`` (a call rerouted to another agent) update the attempt.
    """
    require_aware(at, "at")
    with db.session() as session:
        attempt = session.get_one(CallAttempt, attempt_id)
        if phase is AttemptPhase.ANSWERED and attempt.answered_at is None:
            attempt.answered_at = at
        if phase is AttemptPhase.BRIDGED and attempt.bridged_at is None:
            attempt.bridged_at = at
        if channel_id is not None:
            attempt.channel_id = channel_id
        if agent_id is not None:
            attempt.agent_id = agent_id
        session.add(
            AttemptEvent(
                attempt_id=attempt_id,
                phase=phase,
                at=at,
                detail=dict(detail) if detail is not None else None,
            )
        )
        session.commit()


def finish_attempt(
    db: Database,
    attempt_id: int,
    result: CallResult,
    now: datetime,
    *,
    facts: CallFacts | None = None,
    amd_cause: str | None = None,
    note: str | None = None,
    await_disposition: bool | None = None,
) -> AttemptOutcome:
    """Store how the attempt ended, then decide the contact unless a disposition is awaited.

    A disposition is awaited when ``await_disposition`` says so, by default when an agent was
    bridged to the customer; the contact stays reserved until ``save_disposition``. Raises
    ``AttemptClosedError`` if the attempt already ended.
    """
    require_aware(now)
    with db.session() as session:
        attempt = session.get_one(CallAttempt, attempt_id)
        if attempt.ended_at is not None:
            raise AttemptClosedError(f"attempt {attempt_id} already ended ({attempt.result})")
        attempt.result = result
        attempt.ended_at = now
        attempt.amd_cause = amd_cause
        attempt.note = note
        if facts is not None:
            attempt.sip_code = facts.sip_code
            attempt.hangup_cause = facts.hangup_cause
            attempt.dial_status = facts.dial_status.value if facts.dial_status else None
            attempt.amd_status = facts.amd.value if facts.amd else None
            attempt.hung_up_by = facts.hung_up_by
        detail: dict[str, Any] = {"result": result.value}
        if facts is not None:
            detail.update(sip_code=facts.sip_code, hangup_cause=facts.hangup_cause)
        session.add(
            AttemptEvent(attempt_id=attempt_id, phase=AttemptPhase.ENDED, at=now, detail=detail)
        )
        if attempt.callback_id is not None and result is not CallResult.INTERRUPTED:
            session.get_one(Callback, attempt.callback_id).done = True
        wait = attempt.bridged_at is not None if await_disposition is None else await_disposition
        outcome = None
        if not wait:
            outcome = decide_after_attempt(session, attempt, now)
        session.commit()
        return AttemptOutcome(attempt_id, result, outcome)


def save_disposition(
    db: Database,
    attempt_id: int,
    code: str,
    now: datetime,
    *,
    agent_id: int | None = None,
    note: str | None = None,
    callback_at: datetime | None = None,
    personal_callback: bool = False,
    fields: Mapping[str, Any] | None = None,
) -> DispositionOutcome:
    """Store the agent's disposition of an ended attempt, with its note, callback and retry.

    ``callback_at`` schedules a callback at that time: personal to ``agent_id`` (default: the
    attempt's agent) when ``personal_callback``, else for any agent of the campaign; it
    replaces the contact's open callbacks. ``fields`` updates the contact's record. Raises
    ``DispositionError`` (nothing stored) for an unknown code, an attempt still in progress or
    already dispositioned, or a callback in the past or personal without an agent.
    """
    require_aware(now)
    with db.session() as session:
        attempt = session.get_one(CallAttempt, attempt_id)
        if attempt.result is None:
            raise DispositionError(f"attempt {attempt_id} is still in progress")
        existing = session.scalars(
            select(Disposition.id).where(Disposition.attempt_id == attempt_id)
        ).first()
        if existing is not None:
            raise DispositionError(f"attempt {attempt_id} already has a disposition")
        code_row = session.scalars(
            select(DispositionCode).where(
                DispositionCode.campaign_id == attempt.campaign_id, DispositionCode.code == code
            )
        ).one_or_none()
        if code_row is None:
            raise DispositionError(f"unknown disposition code {code!r} for this campaign")
        who = agent_id if agent_id is not None else attempt.agent_id
        callback = None
        if callback_at is not None:
            callback = _new_callback(session, attempt, callback_at, now, who, personal_callback)
            callback.note = note
        if fields:
            row = session.get_one(Contact, attempt.contact_id)
            row.fields = {**(row.fields or {}), **fields}
        disposition = Disposition(
            attempt_id=attempt_id,
            agent_id=who,
            code_id=code_row.id,
            note=note,
            callback_id=callback.id if callback is not None else None,
            saved_at=now,
        )
        session.add(disposition)
        if code_row.dnc is not None:
            _mark_dnc(session, attempt, DncScope(code_row.dnc), who, code, now)
        detail = {"code": code, "callback_id": disposition.callback_id}
        session.add(
            AttemptEvent(
                attempt_id=attempt_id, phase=AttemptPhase.DISPOSITIONED, at=now, detail=detail
            )
        )
        outcome = decide_after_attempt(session, attempt, now, code, callback_at)
        if outcome is None:
            outcome = redecide(session, attempt, code, now, callback_at)
        session.commit()
        return DispositionOutcome(disposition.id, disposition.callback_id, outcome)


def _mark_dnc(
    session: Session,
    attempt: CallAttempt,
    scope: DncScope,
    agent_id: int | None,
    code: str,
    now: datetime,
) -> None:
    """An agent's disposition puts the dialed number on a Do-Not-Call list (once)."""
    campaign_id = attempt.campaign_id if scope is DncScope.CAMPAIGN else None
    where = (
        DncEntry.campaign_id.is_(None)
        if campaign_id is None
        else (DncEntry.campaign_id == campaign_id)
    )
    listed = session.scalars(
        select(DncEntry.id).where(DncEntry.e164 == attempt.number, where)
    ).first()
    if listed is not None:
        return
    session.add(
        DncEntry(
            campaign_id=campaign_id,
            e164=attempt.number,
            source=DncSource.AGENT,
            reason=f"disposition {code}",
            agent_id=agent_id,
            attempt_id=attempt.id,
            added_at=now,
        )
    )


def _new_callback(
    session: Session,
    attempt: CallAttempt,
    due: datetime,
    now: datetime,
    agent_id: int | None,
    personal: bool,
) -> Callback:
    require_aware(due, "callback_at")
    if due < now:
        raise DispositionError(f"callback time {due.isoformat()} is in the past")
    if personal and agent_id is None:
        raise DispositionError("a personal callback needs an agent")
    for old in open_callbacks(session, attempt.contact_id):
        old.done = True
    callback = Callback(
        campaign_id=attempt.campaign_id,
        contact_id=attempt.contact_id,
        agent_id=agent_id if personal else None,
        due_at=due,
        done=False,
        created_by=agent_id,
        created_at=now,
    )
    session.add(callback)
    session.flush()
    return callback


def hand_over_personal_callbacks(
    db: Database, campaign_id: int, now: datetime, logged_in: Iterable[int]
) -> list[int]:
    """Give due personal callbacks whose agent is away to any agent, by the campaign's policy.

    ``logged_in``: ids of the agents logged in now. Applies ``dialer.core.callbacks`` (fallback
    ``campaign`` after ``fallback_after``; ``wait`` never hands over); a handed-over callback
    keeps who it was for in ``handed_over_from``. Returns the ids handed over (committed).
    Call it before claiming (each pacing tick is fine: it is one indexed query).
    """
    require_aware(now)
    agents = frozenset(logged_in)
    with db.session() as session:
        policy = load_rules(session, campaign_id).callbacks
        due = session.execute(
            select(Callback.id, Callback.due_at, Callback.agent_id).where(
                Callback.campaign_id == campaign_id,
                Callback.done == false(),
                Callback.agent_id.is_not(None),
                Callback.due_at <= now,
            )
        )
        ids = handovers(((i, d, a) for i, d, a in due), now, agents, policy)
        for callback in session.scalars(select(Callback).where(Callback.id.in_(ids))):
            callback.handed_over_from = callback.agent_id
            callback.handed_over_at = now
            callback.agent_id = None
        session.commit()
        return ids
