"""Claiming a contact to dial (a compare-and-set, safe with several claimers on SQLite and
PostgreSQL), releasing it, committing its attempt before the call is placed; and a contact as
an agent sees and edits it. The life of a contact is told in `dialer.db.repository`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, exists, false, or_, select, update
from sqlalchemy.orm import Session, aliased

from dialer.core import selection as rules_mod
from dialer.core.calling_hours import effective_zones, zones_from_key
from dialer.core.results import AttemptPhase
from dialer.core.selection import ContactState
from dialer.core.timeutil import require_aware
from dialer.db.campaigns import load_rules
from dialer.db.database import Database
from dialer.db.decisions import clear_reservation, numbers_of, open_callbacks, pure_contact
from dialer.db.models import AttemptEvent, CallAttempt, Callback, Contact, ContactNumber, DncEntry
from dialer.db.records import Claim, ClaimLostError, ContactRecord

CANDIDATES_PER_KIND = 50
CLAIM_ROUNDS = 5
_DIALABLE = (ContactState.NEW, ContactState.RETRY, ContactState.CALLBACK)


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
    numbers = numbers_of(session, rows.values())
    contacts = [pure_contact(row, numbers.get(row.id, [])) for row in rows.values()]
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
        clear_reservation(row, back)
        if delay is not None:
            row.next_eligible_at = now + delay
            if back is ContactState.CALLBACK:
                for cb in open_callbacks(session, contact_id):
                    cb.due_at = max(cb.due_at, now + delay)
        session.commit()


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


def get_contact(db: Database, contact_id: int) -> ContactRecord:
    """A contact's record; raises ``LookupError`` if there is none."""
    with db.session() as session:
        row = session.get(Contact, contact_id)
        if row is None:
            raise LookupError(f"no contact with id {contact_id}")
        numbers = numbers_of(session, [row]).get(row.id, [])
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
