"""Ending attempts outside the usual path: settled without a disposition, cancelled before the
call left, and everything a crash left open (`recover_after_crash`): open attempts become
`interrupted`, reserved contacts are released, agents' sessions are closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dialer.core.agent_state import AgentState
from dialer.core.results import AttemptPhase, CallResult
from dialer.core.selection import ContactState
from dialer.core.timeutil import require_aware
from dialer.db.database import Database
from dialer.db.decisions import clear_reservation, decide_after_attempt
from dialer.db.models import AgentStateLog, AttemptEvent, CallAttempt, Contact
from dialer.db.records import RecoveryReport

INTERRUPTED_NOTE = "dialer stopped while the attempt was in progress (recovered at restart)"
NO_DISPOSITION_NOTE = "no disposition: dialer stopped during wrap-up (recovered at restart)"


def settle_without_disposition(db: Database, attempt_id: int, now: datetime, note: str) -> bool:
    """An attempt that waits for a disposition that will not come (the agent's session was
    lost): the contact moves on by the call's result, and the note says why. False if the
    attempt was not waiting."""
    require_aware(now)
    with db.session() as session:
        held = session.get(CallAttempt, attempt_id)
        if held is None or held.result is None:
            return False
        row = session.get(Contact, held.contact_id)
        if row is None or row.in_flight_attempt_id != attempt_id:
            return False
        held.note = note
        session.add(
            AttemptEvent(attempt_id=held.id, phase=AttemptPhase.NOTE, at=now, detail={"note": note})
        )
        decide_after_attempt(session, held, now)
        session.commit()
    return True


def cancel_attempt(db: Database, attempt_id: int, now: datetime) -> bool:
    """Undo an attempt that was stored but never dialed (the agent it was claimed for left
    before the dial): the attempt and its events go, the contact goes back where it was
    claimed from, and no attempt is counted. False (nothing changed) if it was dialed."""
    require_aware(now)
    with db.session() as session:
        attempt = session.get(CallAttempt, attempt_id)
        if attempt is None or attempt.result is not None:
            return False
        phases = set(session.scalars(select(AttemptEvent.phase).where(
            AttemptEvent.attempt_id == attempt_id)))
        if phases - {AttemptPhase.CREATED}:
            return False
        row = session.get(Contact, attempt.contact_id)
        if row is not None and row.in_flight_attempt_id == attempt_id:
            clear_reservation(row, row.reserved_from or ContactState.NEW)
        session.execute(delete(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id))
        session.delete(attempt)
        session.commit()
    return True


def recover_after_crash(db: Database, now: datetime) -> RecoveryReport:
    """Repair what a dialer that stopped without warning left behind (run before dialing).

    Open attempts become ``interrupted`` (with a note; counted as attempts; a callback being
    dialed stays due); attempts that ended but waited for a disposition settle on their
    result; contacts reserved without an attempt go back where they were; agents whose last
    logged state is not ``logged_out`` get a closing audit row. One transaction.
    """
    require_aware(now)
    interrupted: list[int] = []
    undispositioned: list[int] = []
    released: list[int] = []
    with db.session() as session:
        open_query = select(CallAttempt).where(CallAttempt.ended_at.is_(None))
        for attempt in session.scalars(open_query.order_by(CallAttempt.id)):
            attempt.result = CallResult.INTERRUPTED
            attempt.ended_at = now
            attempt.note = INTERRUPTED_NOTE
            session.add(
                AttemptEvent(
                    attempt_id=attempt.id,
                    phase=AttemptPhase.INTERRUPTED,
                    at=now,
                    detail={"note": INTERRUPTED_NOTE},
                )
            )
            if decide_after_attempt(session, attempt, now) is not None:
                released.append(attempt.contact_id)
            interrupted.append(attempt.id)
        reserved = select(Contact).where(Contact.state == ContactState.RESERVED)
        for row in session.scalars(reserved.order_by(Contact.id)):
            attempt_id = row.in_flight_attempt_id
            held = session.get(CallAttempt, attempt_id) if attempt_id is not None else None
            if held is not None and held.result is not None:
                held.note = NO_DISPOSITION_NOTE
                session.add(
                    AttemptEvent(
                        attempt_id=held.id,
                        phase=AttemptPhase.NOTE,
                        at=now,
                        detail={"note": NO_DISPOSITION_NOTE},
                    )
                )
                decide_after_attempt(session, held, now)
                undispositioned.append(held.id)
            else:
                clear_reservation(row, row.reserved_from or ContactState.NEW)
            released.append(row.id)
        agents = _close_agent_sessions(session, now)
        session.commit()
    return RecoveryReport(tuple(interrupted), tuple(undispositioned), tuple(released), agents)


def _close_agent_sessions(session: Session, now: datetime) -> tuple[int, ...]:
    latest = (
        select(AgentStateLog.agent_id, func.max(AgentStateLog.id).label("last_id"))
        .group_by(AgentStateLog.agent_id)
        .subquery()
    )
    query = select(AgentStateLog).join(latest, AgentStateLog.id == latest.c.last_id)
    closed: list[int] = []
    for last in session.scalars(query.order_by(AgentStateLog.agent_id)):
        if last.new_state is AgentState.LOGGED_OUT:
            continue
        session.add(
            AgentStateLog(
                agent_id=last.agent_id,
                old_state=last.new_state,
                new_state=AgentState.LOGGED_OUT,
                event="DialerRestarted",
                at=now,
                detail={"note": "session ended by a dialer restart"},
            )
        )
        closed.append(last.agent_id)
    return tuple(closed)
