"""The last check before a call is placed: Do-Not-Call, calling hours, campaign status.

Selection already skips listed numbers and contacts outside calling hours, but time passes
between selection and dialing (a preview agent reads the record; a predictive claim waits for
its moment) and lists change, so the service asks again right before it originates:

    claim = repository.claim_next_contact(db, campaign_id, now, agent_id)
    verdict = gate.check_claim(db, claim, now)
    if not verdict.allowed:
        gate.refuse_claim(db, claim, now, verdict)   # back to the list, no attempt counted
    else:
        attempt_id = repository.create_attempt(db, claim, now)   # then originate

``claim_for_dialing`` does exactly that in one call (progressive and predictive dialing), and
``is_dialable(db, campaign_id, number, now)`` answers for a bare number (a manual dial): DNC,
and calling hours in the zones of the contact that has the number (else the number's own).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.core.calling_hours import HoursVerdict, check_hours, effective_zones, zones_from_key
from dialer.core.campaign import CampaignStatus
from dialer.core.dnc import DncHit
from dialer.core.numbers import NumberError, parse_number
from dialer.core.timeutil import require_aware
from dialer.db import repository as repo
from dialer.db.campaigns import load_rules
from dialer.db.database import Database
from dialer.db.dnc import hits_in_session
from dialer.db.models import Campaign, Contact, ContactNumber


class Block(enum.Enum):
    """Why a call may not be placed now."""

    DNC = "do-not-call"
    HOURS = "outside calling hours"
    CAMPAIGN = "campaign not started"


@dataclass(frozen=True)
class DialVerdict:
    """The answer of a dial-time check; ``retry_at`` says when hours allow the call."""

    allowed: bool
    reason: str
    block: Block | None = None
    retry_at: datetime | None = None
    dnc: DncHit | None = None
    hours: HoursVerdict | None = None


OK = DialVerdict(True, "dialable")


def check_before_dial(
    db: Database, campaign_id: int, number: str, now: datetime, contact_id: int | None = None
) -> DialVerdict:
    """May ``number`` be dialed for the campaign at ``now``? (module docstring)."""
    require_aware(now)
    with db.session() as session:
        return _check(session, campaign_id, number, now, contact_id)


def check_claim(db: Database, claim: repo.Claim, now: datetime) -> DialVerdict:
    """``check_before_dial`` for a claimed contact and its number."""
    return check_before_dial(db, claim.campaign_id, claim.number, now, claim.contact_id)


def is_dialable(db: Database, campaign_id: int, number: str, now: datetime) -> DialVerdict:
    """``check_before_dial`` for a bare number (the contact found by its number, if any)."""
    return check_before_dial(db, campaign_id, number, now)


def refuse_claim(db: Database, claim: repo.Claim, now: datetime, verdict: DialVerdict) -> None:
    """Put a refused claim back without counting an attempt.

    Outside hours it waits until they open (``verdict.retry_at``); a listed number needs no
    delay, as selection skips it (the contact goes on with its next number, if any).
    """
    delay = None
    if verdict.retry_at is not None and verdict.retry_at > now:
        delay = verdict.retry_at - now
    repo.release_contact(db, claim.contact_id, now, delay)


def claim_for_dialing(
    db: Database, campaign_id: int, now: datetime, agent_id: int | None = None
) -> tuple[repo.Claim, int] | None:
    """Claim, check and create the attempt (``repository.claim_and_create_attempt`` with the
    dial-time check); refused claims go back and the next contact is tried. None if none."""
    refused: set[tuple[int, str]] = set()
    while True:
        claim = repo.claim_next_contact(db, campaign_id, now, agent_id)
        if claim is None:
            return None
        verdict = check_claim(db, claim, now)
        if verdict.allowed:
            return claim, repo.create_attempt(db, claim, now)
        refuse_claim(db, claim, now, verdict)
        if verdict.block is Block.CAMPAIGN or (claim.contact_id, claim.number) in refused:
            return None  # not started, or selection and this check disagree: stop here
        refused.add((claim.contact_id, claim.number))


def _check(
    session: Session, campaign_id: int, number: str, now: datetime, contact_id: int | None
) -> DialVerdict:
    campaign = session.get_one(Campaign, campaign_id)
    if campaign.status is not CampaignStatus.STARTED:
        why = f"campaign {campaign.name} is {campaign.status.value}"
        return DialVerdict(False, why, Block.CAMPAIGN)
    hits = hits_in_session(session, campaign_id, number)
    if hits:
        return DialVerdict(False, hits[0].describe(), Block.DNC, dnc=hits[0])
    rules = load_rules(session, campaign_id)
    hours = rules.calling_hours
    if hours is None:
        return OK
    zones = effective_zones(_zones_of(session, campaign, number, contact_id), None, hours.time_zone)
    verdict = check_hours(hours, zones, now)
    if verdict.allowed:
        return DialVerdict(True, "dialable", hours=verdict)
    return DialVerdict(False, verdict.describe(), Block.HOURS, verdict.next_at, hours=verdict)


def _zones_of(
    session: Session, campaign: Campaign, number: str, contact_id: int | None
) -> tuple[str, ...]:
    if contact_id is None:
        contact_id = session.scalars(
            select(ContactNumber.contact_id).where(
                ContactNumber.campaign_id == campaign.id, ContactNumber.e164 == number
            )
        ).first()
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is not None:
            return zones_from_key(contact.zones) or (
                (contact.time_zone,) if contact.time_zone else ()
            )
    try:
        return parse_number(number, campaign.default_region)[1]
    except NumberError:
        return ()
