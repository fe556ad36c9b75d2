""" "Why isn't it dialing?" from the database: every contact classified, plus the campaign.

``diagnose(db, campaign_id, now)`` reads the campaign, all its contacts with their numbers,
Do-Not-Call entries and open callbacks, and the agents' last states from the audit log, and
returns ``dialer.core.why.Diagnosis``. How many agents are ready comes from the audit log
(agents assigned to the campaign whose last logged state is ``ready``; right while the dialer
runs, since it logs every transition) unless the caller knows better (``ready_agents``, e.g.
from the running service's status). Whether predictive pacing is held back is
``dialer.db.ledger.compliance_hold``'s answer, the one the service dials by. Read-only; about a
second for 100,000 contacts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dialer.core.agent_state import AgentState
from dialer.core.calling_hours import HoursVerdict, check_hours, effective_zones, zones_from_key
from dialer.core.selection import CampaignRules, ContactState
from dialer.core.timeutil import require_aware
from dialer.core.why import CampaignFacts, ContactFacts, Diagnosis, Tally, classify, explain
from dialer.db.campaigns import campaign_profile, load_rules
from dialer.db.database import Database
from dialer.db.ledger import compliance_hold, rolling_abandon_rate
from dialer.db.models import (
    AgentStateLog,
    CallAttempt,
    Callback,
    Campaign,
    Contact,
    ContactNumber,
    DncEntry,
)
from dialer.lists import locate_contact

AUDIT_SOURCE = "from the agent audit log"


def agent_states(session: Session) -> dict[int, AgentState]:
    """Every agent's last logged state (agents never logged are absent)."""
    latest = (
        select(AgentStateLog.agent_id, func.max(AgentStateLog.id).label("last_id"))
        .group_by(AgentStateLog.agent_id)
        .subquery()
    )
    rows = session.execute(
        select(AgentStateLog.agent_id, AgentStateLog.new_state).join(
            latest, AgentStateLog.id == latest.c.last_id
        )
    )
    return {agent_id: state for agent_id, state in rows}


def diagnose(
    db: Database,
    campaign_id: int,
    now: datetime,
    *,
    ready_agents: int | None = None,
    ready_source: str = "",
    logged_in: Collection[int] | None = None,
) -> Diagnosis:
    """Why the campaign's records are (not) dialed at ``now`` (module docstring)."""
    require_aware(now)
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        rules = load_rules(session, campaign_id)
        assigned = {a.id for a in campaign.agents}
        states = agent_states(session)
        if logged_in is None:
            logged_in = {a for a, s in states.items() if s is not AgentState.LOGGED_OUT}
        if ready_agents is None:
            ready_agents = sum(states.get(a) is AgentState.READY for a in assigned)
            ready_source = AUDIT_SOURCE
        tally = _tally(session, campaign_id, now, rules, logged_in)
        open_attempts = session.scalar(
            select(func.count()).where(
                CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_(None)
            )
        )
        facts = CampaignFacts(
            name=campaign.name,
            status=campaign.status,
            mode=campaign.mode,
            agents_assigned=len(assigned),
            ready_agents=ready_agents,
            ready_source=ready_source,
            abandon_cap=campaign_profile(campaign).cap,
            abandon_window=campaign_profile(campaign).window_label,
            open_attempts=open_attempts or 0,
        )
        zone = campaign.time_zone
        rule = (campaign_profile(campaign), zone)
    abandon = rolling_abandon_rate(db, campaign_id, now, rule)
    hold = compliance_hold(db, campaign_id, now)
    return explain(replace(facts, abandon=abandon, hold=hold), tally, now, display_zone=zone)


def _tally(
    session: Session,
    campaign_id: int,
    now: datetime,
    rules: CampaignRules,
    logged_in: Collection[int],
) -> Tally:
    numbers: dict[int, list[tuple[str, bool]]] = {}
    for contact_id, e164, dead in session.execute(
        select(ContactNumber.contact_id, ContactNumber.e164, ContactNumber.dead)
        .where(ContactNumber.campaign_id == campaign_id)
        .order_by(ContactNumber.contact_id, ContactNumber.position)
    ):
        numbers.setdefault(contact_id, []).append((e164, dead))
    listed = set(
        session.scalars(
            select(ContactNumber.e164)
            .join(DncEntry, DncEntry.e164 == ContactNumber.e164)
            .where(
                ContactNumber.campaign_id == campaign_id,
                or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
            )
        )
    )
    callbacks: dict[int, tuple[datetime, int | None]] = {}
    for contact_id, due_at, agent_id in session.execute(
        select(Callback.contact_id, Callback.due_at, Callback.agent_id)
        .where(Callback.campaign_id == campaign_id, Callback.done.is_(False))
        .order_by(Callback.id)
    ):
        callbacks[contact_id] = (due_at, agent_id)
    hours = rules.calling_hours
    verdicts: dict[str, HoursVerdict] = {}

    def hours_check(key: str) -> HoursVerdict:
        if key not in verdicts:
            assert hours is not None
            zones = effective_zones(zones_from_key(key), None, hours.time_zone)
            verdicts[key] = check_hours(hours, zones, now)
        return verdicts[key]

    tally = Tally()
    query = select(
        Contact.id,
        Contact.state,
        Contact.attempts,
        Contact.next_eligible_at,
        Contact.last_result,
        Contact.zones,
    ).where(Contact.campaign_id == campaign_id)
    for cid, state, attempts, next_at, last, zones in session.execute(query):
        nums = numbers.get(cid, [])
        due, agent = callbacks.get(cid, (None, None))
        facts = ContactFacts(
            state=state,
            attempts=attempts,
            numbers=tuple(n for n, _ in nums),
            dead=frozenset(i for i, (_, dead) in enumerate(nums) if dead),
            listed=frozenset(n for n, _ in nums if n in listed),
            next_eligible_at=next_at,
            last_result=last,
            zones_key=zones,
            callback_due=due if state is ContactState.CALLBACK else None,
            callback_agent=agent if state is ContactState.CALLBACK else None,
        )
        tally.add(*classify(facts, now, rules, hours_check if hours else None, logged_in))
    return tally


class ContactNotFound(LookupError):
    """No contact of the campaign with that id or number."""


def explain_contact(db: Database, campaign_id: int, key: str, now: datetime) -> list[str]:
    """For ``dialer why --contact``: one contact's zones, the evidence that gave each
    (``dialer.core.locate``, recomputed from its numbers and the list's state, postal code and
    country columns kept as its fields) and whether calling hours allow it at ``now``.

    ``key`` is the contact's id or one of its numbers (E.164).
    """
    require_aware(now)
    with db.session() as session:
        query = select(Contact).where(Contact.campaign_id == campaign_id)
        if key.strip().isdigit():
            query = query.where(Contact.id == int(key))
        else:
            number = key.replace(" ", "")
            query = query.join(ContactNumber, ContactNumber.contact_id == Contact.id).where(
                ContactNumber.e164 == number
            )
        contact = session.scalars(query).first()
        if contact is None:
            raise ContactNotFound(f"no contact {key!r} in this campaign (give its id or an "
                                  "E.164 number like +34612345678)")
        numbers = tuple(n.e164 for n in contact.numbers)
        fields = {k: str(v) for k, v in (contact.fields or {}).items()}
        stored = zones_from_key(contact.zones) or (
            (contact.time_zone,) if contact.time_zone else ())
        line = contact.source_line
        rules = load_rules(session, campaign_id)
        campaign_zone = session.get_one(Campaign, campaign_id).time_zone
    located = locate_contact(numbers, fields)
    note = ""
    if located.zones != stored and len(stored) == 1:
        explicit = locate_contact(numbers, fields, explicit=stored[0])
        if explicit.zones == stored:
            located = explicit
    if located.zones != stored:
        note = ("  (the list's columns give " + (", ".join(located.zones) or "no zone")
                + " now; the stored zones came from an import by other rules)")
    lines = [f"Contact {contact.id}" + (f" (line {line} of its list)" if line else "")
             + f": {', '.join(numbers)}",
             "Time zones: " + (", ".join(stored) or f"none known: the campaign's, {campaign_zone}")
             + note]
    lines += [f"  {text}" for text in located.lines()]
    hours = rules.calling_hours
    if hours is None:
        lines.append("Calling hours: none set (the campaign has no [schedule])")
    else:
        verdict = check_hours(hours, effective_zones(stored, None, hours.time_zone), now)
        lines.append(f"Calling hours now: {verdict.describe()}")
    return lines
