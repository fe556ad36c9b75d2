"""The live dialer's persistence: claims, attempts, dispositions, callbacks, summary, recovery.

Every function opens its own session and COMMITS before it returns, so whatever it reports
(an attempt id, a saved disposition) is stored before the dialer acknowledges it to anyone.

Life of a contact (``contacts.state``), with the pure rules of ``dialer.core.selection``:

    new/retry/callback --claim_next_contact--> reserved (in flight, ``reserved_from`` kept)
    reserved --release_contact--> back where it came from (preview skip; no attempt counted)
    reserved --create_attempt--> reserved, held by that attempt (``in_flight_attempt_id``)
    held --finish_attempt--> decided by the result (retry/done/exhausted/...), or still held
         while the agent who talked to the customer picks a disposition
    held --save_disposition--> decided by the disposition (final, retry, callback)

A claim is a compare-and-set (``UPDATE ... WHERE state = <seen state>``), so two claimers never
get the same contact, on SQLite and PostgreSQL alike; and an attempt row is committed before
the call is originated, so after a crash ``recover_after_crash`` finds every call that may have
been placed: it marks the open ones ``interrupted`` (counted as attempts) and releases every
reserved contact. A restarted dialer therefore never dials a contact twice for one attempt.

``campaign_summary`` and ``attempt_rows`` live in ``dialer.db.reports`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from dialer.core import selection as rules_mod
from dialer.core.agent_state import AgentState
from dialer.core.callbacks import handovers
from dialer.core.calling_hours import effective_zones, zones_from_key
from dialer.core.dnc import DncScope, DncSource
from dialer.core.results import AttemptPhase, CallFacts, CallResult
from dialer.core.selection import ContactState, Decision
from dialer.core.timeutil import require_aware
from dialer.db.campaigns import load_rules
from dialer.db.database import Database
from dialer.db.models import (
    AgentStateLog,
    AttemptEvent,
    CallAttempt,
    Callback,
    Contact,
    ContactNumber,
    Disposition,
    DispositionCode,
    DncEntry,
)
from dialer.db.reports import CampaignSummary as CampaignSummary  # re-exported
from dialer.db.reports import attempt_rows as attempt_rows
from dialer.db.reports import campaign_summary as campaign_summary

CANDIDATES_PER_KIND = 50
CLAIM_ROUNDS = 5
INTERRUPTED_NOTE = "dialer stopped while the attempt was in progress (recovered at restart)"
NO_DISPOSITION_NOTE = "no disposition: dialer stopped during wrap-up (recovered at restart)"
_DIALABLE = (ContactState.NEW, ContactState.RETRY, ContactState.CALLBACK)


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


# -- claiming -----------------------------------------------------------------------------


def claim_next_contact(
    db: Database, campaign_id: int, now: datetime, agent_id: int | None = None
) -> Claim | None:
    """Reserve the next dialable contact of the campaign (for ``agent_id`` if known).

    Order and eligibility come from ``dialer.core.selection``: due callbacks first (personal
    ones only for their agent), then new contacts, then due retries, inside calling hours in
    every zone of the contact, on the first number that is not on a Do-Not-Call list (the
    system's or the campaign's); a contact whose numbers are all listed is skipped. None when
    nothing is dialable now. The reservation is committed before returning.
    """
    require_aware(now)
    for _ in range(CLAIM_ROUNDS):
        with db.session() as session:
            rules = load_rules(session, campaign_id)
            contacts, callbacks = _load_candidates(session, campaign_id, now, agent_id, rules)
            blocked = listed_numbers(session, campaign_id, {n for c in contacts for n in c.numbers})
            raced = False
            for choice in rules_mod.candidates(contacts, callbacks, now, agent_id, rules, blocked):
                claim = _try_claim(session, campaign_id, choice, now, agent_id)
                if claim is not None:
                    session.commit()
                    return claim
                raced = True
            if not raced:
                return None
    return None


def _load_candidates(
    session: Session,
    campaign_id: int,
    now: datetime,
    agent_id: int | None,
    rules: rules_mod.CampaignRules,
) -> tuple[list[rules_mod.Contact], list[rules_mod.Callback]]:
    zone_filter = _zone_filter(session, campaign_id, now, rules)
    if zone_filter is None:
        return [], []  # no contact of the campaign is inside calling hours now
    has_number = _has_unlisted_number(campaign_id)

    def in_hours(query: Select[Any]) -> Select[Any]:
        return zone_filter(query).where(has_number)

    due_cb = (
        select(Callback)
        .join(Contact, Contact.id == Callback.contact_id)
        .where(
            Callback.campaign_id == campaign_id,
            Callback.done == false(),
            Callback.due_at <= now,
            Contact.state == ContactState.CALLBACK,
            or_(Callback.agent_id.is_(None), Callback.agent_id == agent_id)
            if agent_id is not None
            else Callback.agent_id.is_(None),
        )
        .order_by(Callback.due_at, Callback.id)
        .limit(CANDIDATES_PER_KIND)
    )
    callbacks = list(session.scalars(in_hours(due_cb)))
    base = select(Contact).where(Contact.campaign_id == campaign_id)
    due = or_(Contact.next_eligible_at.is_(None), Contact.next_eligible_at <= now)
    fresh = base.where(Contact.state == ContactState.NEW, due).order_by(Contact.id)
    retry = base.where(Contact.state == ContactState.RETRY, due).order_by(
        Contact.next_eligible_at, Contact.id
    )
    rows: dict[int, Contact] = {}
    for query in (fresh, retry):
        for row in session.scalars(in_hours(query).limit(CANDIDATES_PER_KIND)):
            rows[row.id] = row
    for cb_contact in session.scalars(
        select(Contact).where(Contact.id.in_([cb.contact_id for cb in callbacks]))
    ):
        rows[cb_contact.id] = cb_contact
    numbers = _numbers_of(session, rows.values())
    contacts = [_pure_contact(row, numbers.get(row.id, [])) for row in rows.values()]
    pure_callbacks = [
        rules_mod.Callback(cb.id, cb.contact_id, cb.due_at, cb.agent_id) for cb in callbacks
    ]
    return contacts, pure_callbacks


def _zone_filter(
    session: Session, campaign_id: int, now: datetime, rules: rules_mod.CampaignRules
) -> Callable[[Select[Any]], Select[Any]] | None:
    """A function adding "inside calling hours in every zone of the contact" to a query, or
    None when no contact of the campaign is inside calling hours.

    The zones are read per distinct ``contacts.zones`` value ("" = the campaign's zone), so the
    rule is evaluated once per zone combination, not per contact.
    """
    hours = rules.calling_hours
    if hours is None:
        return lambda query: query
    keys = session.scalars(
        select(Contact.zones)
        .where(Contact.campaign_id == campaign_id, Contact.state.in_(_DIALABLE))
        .distinct()
    )
    allowed = [
        key
        for key in keys
        if hours.allows_zones(now, effective_zones(zones_from_key(key), None, hours.time_zone))
    ]
    if not allowed:
        return None
    condition: ColumnElement[bool] = Contact.zones.in_(allowed)

    def add(query: Select[Any]) -> Select[Any]:
        return query.where(condition)

    return add


def _has_unlisted_number(campaign_id: int) -> ColumnElement[bool]:
    """SQL: the contact has a live number on neither the system's nor the campaign's DNC list."""
    number = aliased(ContactNumber)
    listed = exists().where(
        DncEntry.e164 == number.e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
    )
    return exists().where(number.contact_id == Contact.id, number.dead == false(), ~listed)


def listed_numbers(session: Session, campaign_id: int, numbers: Iterable[str]) -> frozenset[str]:
    """Which of ``numbers`` are on the system's or the campaign's Do-Not-Call list."""
    wanted = sorted(set(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            session.scalars(
                select(DncEntry.e164).where(
                    DncEntry.e164.in_(wanted[start : start + 500]),
                    or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
                )
            )
        )
    return frozenset(found)


def _numbers_of(session: Session, rows: Iterable[Contact]) -> dict[int, list[ContactNumber]]:
    ids = [row.id for row in rows]
    out: dict[int, list[ContactNumber]] = {}
    query = select(ContactNumber).where(ContactNumber.contact_id.in_(ids))
    for number in session.scalars(query.order_by(ContactNumber.position)):
        out.setdefault(number.contact_id, []).append(number)
    return out


def _pure_contact(row: Contact, numbers: Sequence[ContactNumber]) -> rules_mod.Contact:
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


def _try_claim(
    session: Session,
    campaign_id: int,
    choice: rules_mod.Selection,
    now: datetime,
    agent_id: int | None,
) -> Claim | None:
    seen = choice.contact.state
    result = session.execute(
        update(Contact)
        .where(Contact.id == choice.contact.id, Contact.state == seen)
        .values(
            state=ContactState.RESERVED,
            reserved_from=seen,
            reserved_by=agent_id,
            reserved_at=now,
            number_index=choice.number_index,
            in_flight_attempt_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return None
    row = session.get_one(Contact, choice.contact.id)
    session.refresh(row)
    return Claim(
        contact_id=row.id,
        campaign_id=campaign_id,
        number=choice.number,
        number_index=choice.number_index,
        agent_id=agent_id,
        callback_id=choice.callback.id if choice.callback else None,
        previous_state=seen,
        attempts=row.attempts,
        fields=dict(row.fields or {}),
        time_zone=row.time_zone,
        claimed_at=now,
    )


def release_contact(
    db: Database, contact_id: int, now: datetime, delay: timedelta | None = None
) -> None:
    """Undo a claim that was never dialed (preview skip, push-preview reject): no attempt counted.

    The contact goes back to the state it was claimed from; with ``delay`` it (and its
    callback, if it was one) becomes eligible only ``delay`` after ``now``. Raises
    ``ClaimLostError`` if the contact is not reserved, or an attempt already holds it.
    """
    require_aware(now)
    with db.session() as session:
        row = session.get_one(Contact, contact_id)
        if row.state is not ContactState.RESERVED or row.in_flight_attempt_id is not None:
            raise ClaimLostError(f"contact {contact_id} is not reserved without an attempt")
        back = row.reserved_from or ContactState.NEW
        _clear_reservation(row, back)
        if delay is not None:
            row.next_eligible_at = now + delay
            if back is ContactState.CALLBACK:
                for cb in _open_callbacks(session, contact_id):
                    cb.due_at = max(cb.due_at, now + delay)
        session.commit()


# -- attempts -----------------------------------------------------------------------------


def create_attempt(
    db: Database,
    claim: Claim,
    now: datetime,
    agent_id: int | None = None,
    channel_id: str | None = None,
) -> int:
    """Store the attempt for a claim BEFORE originating the call; return its id.

    One claim gives at most one attempt: a second call, or a claim lost to a restart, raises
    ``ClaimLostError`` and stores nothing.
    """
    require_aware(now)
    with db.session() as session:
        attempt = CallAttempt(
            campaign_id=claim.campaign_id,
            contact_id=claim.contact_id,
            number=claim.number,
            number_index=claim.number_index,
            agent_id=agent_id if agent_id is not None else claim.agent_id,
            callback_id=claim.callback_id,
            channel_id=channel_id,
            started_at=now,
        )
        session.add(attempt)
        session.flush()
        held = session.execute(
            update(Contact)
            .where(
                Contact.id == claim.contact_id,
                Contact.state == ContactState.RESERVED,
                Contact.reserved_at == claim.claimed_at,
                Contact.in_flight_attempt_id.is_(None),
            )
            .values(in_flight_attempt_id=attempt.id)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], held).rowcount != 1:
            session.rollback()
            raise ClaimLostError(f"contact {claim.contact_id} is no longer reserved for this claim")
        detail = {"number": claim.number, "agent_id": attempt.agent_id}
        session.add(
            AttemptEvent(attempt_id=attempt.id, phase=AttemptPhase.CREATED, at=now, detail=detail)
        )
        session.commit()
        return attempt.id


def claim_and_create_attempt(
    db: Database, campaign_id: int, now: datetime, agent_id: int | None = None
) -> tuple[Claim, int] | None:
    """``claim_next_contact`` then ``create_attempt`` (progressive dialing); None if no contact."""
    claim = claim_next_contact(db, campaign_id, now, agent_id)
    if claim is None:
        return None
    return claim, create_attempt(db, claim, now)


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
            outcome = _decide_after_attempt(session, attempt, now)
        session.commit()
        return AttemptOutcome(attempt_id, result, outcome)


def _decide_after_attempt(
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
        callback_at = _callback_due(session, attempt)  # a callback being dialed stays due
    rules = load_rules(session, row.campaign_id)
    numbers = _numbers_of(session, [row]).get(row.id, [])
    pure = _pure_contact(row, numbers)
    decision = rules_mod.next_state(pure, attempt.result, now, rules, code, callback_at)
    return _store_decision(session, row, numbers, decision, attempt.result)


def _store_decision(
    session: Session,
    row: Contact,
    numbers: Sequence[ContactNumber],
    decision: Decision,
    result: CallResult | None,
) -> ContactOutcome:
    after = decision.contact
    _clear_reservation(row, after.state)
    row.number_index = after.number_index
    row.attempts = after.attempts
    row.result_counts = {r.value: n for r, n in after.result_counts.items()}
    row.next_eligible_at = after.next_eligible_at
    if result is not None:
        row.last_result = result
    for number in numbers:
        number.dead = number.position in after.dead_numbers
    return ContactOutcome(row.id, after.state, after.next_eligible_at, decision.reason)


def _clear_reservation(row: Contact, state: ContactState) -> None:
    row.state = state
    row.reserved_from = None
    row.reserved_by = None
    row.reserved_at = None
    row.in_flight_attempt_id = None


def _open_callbacks(session: Session, contact_id: int) -> list[Callback]:
    query = select(Callback).where(Callback.contact_id == contact_id, Callback.done == false())
    return list(session.scalars(query))


# -- dispositions -------------------------------------------------------------------------


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
        outcome = _decide_after_attempt(session, attempt, now, code, callback_at)
        if outcome is None:
            outcome = _redecide(session, attempt, code, now, callback_at)
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
    for old in _open_callbacks(session, attempt.contact_id):
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


def _redecide(
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
    numbers = _numbers_of(session, [row]).get(row.id, [])
    decision = rules_mod.after_disposition(
        _pure_contact(row, numbers), code, now, rules, callback_at
    )
    return _store_decision(session, row, numbers, decision, None)


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


# -- contacts as agents see them ----------------------------------------------------------


def get_contact(db: Database, contact_id: int) -> ContactRecord:
    """A contact's record; raises ``LookupError`` if there is none."""
    with db.session() as session:
        row = session.get(Contact, contact_id)
        if row is None:
            raise LookupError(f"no contact with id {contact_id}")
        numbers = _numbers_of(session, [row]).get(row.id, [])
        return ContactRecord(
            id=row.id,
            campaign_id=row.campaign_id,
            numbers=tuple(n.e164 for n in numbers),
            fields=dict(row.fields or {}),
            time_zone=row.time_zone,
            state=row.state,
            attempts=row.attempts,
            last_result=row.last_result,
        )


def update_contact_fields(
    db: Database, contact_id: int, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge ``fields`` into the contact's custom fields (an agent's record update)."""
    with db.session() as session:
        row = session.get_one(Contact, contact_id)
        row.fields = {**(row.fields or {}), **fields}
        session.commit()
        return dict(row.fields)


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
        _decide_after_attempt(session, held, now)
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
            _clear_reservation(row, row.reserved_from or ContactState.NEW)
        session.execute(delete(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id))
        session.delete(attempt)
        session.commit()
    return True


# -- recovery -----------------------------------------------------------------------------


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
            if _decide_after_attempt(session, attempt, now) is not None:
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
                _decide_after_attempt(session, held, now)
                undispositioned.append(held.id)
            else:
                _clear_reservation(row, row.reserved_from or ContactState.NEW)
            released.append(row.id)
        agents = _close_agent_sessions(session, now)
        session.commit()
    return RecoveryReport(tuple(interrupted), tuple(undispositioned), tuple(released), agents)


def _callback_due(session: Session, attempt: CallAttempt) -> datetime | None:
    if attempt.callback_id is None:
        return None
    callback = session.get_one(Callback, attempt.callback_id)
    return None if callback.done else callback.due_at


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
