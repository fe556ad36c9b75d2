"""Where a contact goes next, shared by attempts, dispositions and recovery: its rows turned into
the pure rules' `Contact` (`dialer.core.selection`), the decision stored on the row, the
reservation cleared. Callers hold the session and commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from dialer.core import selection as rules_mod
from dialer.core.calling_hours import zones_from_key
from dialer.core.results import CallResult
from dialer.core.selection import ContactState, Decision
from dialer.db.campaigns import load_rules
from dialer.db.models import CallAttempt, Callback, Contact, ContactNumber
from dialer.db.records import ContactOutcome


def numbers_of(session: Session, rows: Iterable[Contact]) -> dict[int, list[ContactNumber]]:
    ids = [row.id for row in rows]
    out: dict[int, list[ContactNumber]] = {}
    query = select(ContactNumber).where(ContactNumber.contact_id.in_(ids))
    for number in session.scalars(query.order_by(ContactNumber.position)):
        out.setdefault(number.contact_id, []).append(number)
    return out


def pure_contact(row: Contact, numbers: Sequence[ContactNumber]) -> rules_mod.Contact:
    counts: dict[CallResult, int] = {}
    for name, count in (row.result_counts or {}).items():
        try:
            counts[CallResult(name)] = int(count)
        except ValueError:
            continue
    return rules_mod.Contact(
        id=row.id,
        numbers=tuple(n.e164 for n in numbers),
        state=row.state,
        number_index=row.number_index,
        attempts=row.attempts,
        result_counts=counts,
        dead_numbers=frozenset(n.position for n in numbers if n.dead),
        next_eligible_at=row.next_eligible_at,
        time_zone=row.time_zone,
        zones=zones_from_key(row.zones),
    )


def decide_after_attempt(
    session: Session,
    attempt: CallAttempt,
    now: datetime,
    code: str | None = None,
    callback_at: datetime | None = None,
) -> ContactOutcome | None:
    """Apply the attempt's result (and a disposition) to its contact, if it holds it."""
    row = session.get_one(Contact, attempt.contact_id)
    if row.state is not ContactState.RESERVED or row.in_flight_attempt_id != attempt.id:
        return None
    assert attempt.result is not None
    if attempt.result is CallResult.INTERRUPTED and code is None and callback_at is None:
        callback_at = callback_due(session, attempt)  # a callback being dialed stays due
    rules = load_rules(session, row.campaign_id)
    numbers = numbers_of(session, [row]).get(row.id, [])
    pure = pure_contact(row, numbers)
    decision = rules_mod.next_state(pure, attempt.result, now, rules, code, callback_at)
    return store_decision(session, row, numbers, decision, attempt.result)


def redecide(
    session: Session,
    attempt: CallAttempt,
    code: str,
    now: datetime,
    callback_at: datetime | None,
) -> ContactOutcome | None:
    """A disposition for an attempt whose result already decided the contact.

    It still applies (the agent knows better), unless the contact was claimed again since.
    """
    row = session.get_one(Contact, attempt.contact_id)
    if row.state is ContactState.RESERVED:
        return None
    later = session.scalars(
        select(CallAttempt.id).where(CallAttempt.contact_id == row.id, CallAttempt.id > attempt.id)
    ).first()
    if later is not None:
        return None
    rules = load_rules(session, row.campaign_id)
    numbers = numbers_of(session, [row]).get(row.id, [])
    decision = rules_mod.after_disposition(
        pure_contact(row, numbers), code, now, rules, callback_at
    )
    return store_decision(session, row, numbers, decision, None)


def store_decision(
    session: Session,
    row: Contact,
    numbers: Sequence[ContactNumber],
    decision: Decision,
    result: CallResult | None,
) -> ContactOutcome:
    after = decision.contact
    clear_reservation(row, after.state)
    row.number_index = after.number_index
    row.attempts = after.attempts
    row.result_counts = {r.value: n for r, n in after.result_counts.items()}
    row.next_eligible_at = after.next_eligible_at
    if result is not None:
        row.last_result = result
    for number in numbers:
        number.dead = number.position in after.dead_numbers
    return ContactOutcome(row.id, after.state, after.next_eligible_at, decision.reason)


def clear_reservation(row: Contact, state: ContactState) -> None:
    row.state = state
    row.reserved_from = None
    row.reserved_by = None
    row.reserved_at = None
    row.in_flight_attempt_id = None


def open_callbacks(session: Session, contact_id: int) -> list[Callback]:
    query = select(Callback).where(Callback.contact_id == contact_id, Callback.done == false())
    return list(session.scalars(query))


def callback_due(session: Session, attempt: CallAttempt) -> datetime | None:
    if attempt.callback_id is None:
        return None
    callback = session.get_one(Callback, attempt.callback_id)
    return None if callback.done else callback.due_at
