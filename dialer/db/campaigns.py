"""Campaigns and their contacts: creation from a definition, rules, agents, bulk contact insert.

Every function opens its own session and commits before returning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.config.campaign import CampaignConfig, parse_campaign
from dialer.core.callbacks import CallbackFallback, CallbackPolicy
from dialer.core.calling_hours import zones_key
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.destinations import Destinations
from dialer.core.destinations import from_json as destinations_from_json
from dialer.core.jurisdiction import DEFAULT, Jurisdiction
from dialer.core.jurisdiction import from_json as profile_from_json
from dialer.core.jurisdiction import to_json as profile_to_json
from dialer.core.selection import (
    CallingHours,
    CampaignRules,
    ContactState,
    DispositionRule,
    RetryRule,
)
from dialer.db.database import Database
from dialer.db.models import (
    Agent,
    Campaign,
    Contact,
    ContactNumber,
    DispositionCode,
    RetryRuleRow,
    Sound,
)
from dialer.lists import ListRejected, NewContact, ParsedList, RowError
from dialer.safe_harbor import SafeHarborMessage, default_message

INSERT_CHUNK = 5000


class CampaignExistsError(ValueError):
    """A campaign with that name already exists."""


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign's dialing parameters as the dialer and agents see them."""

    id: int
    name: str
    mode: DialMode
    status: CampaignStatus
    ratio: float
    ring_timeout: timedelta
    abandon_cap: float
    max_logout_delay: timedelta
    caller_id: str
    trunk: str
    default_region: str
    time_zone: str
    max_attempts: int
    dispositions: tuple[tuple[str, str, bool], ...]  # (code, label, final)
    agents: tuple[str, ...]  # logins of the assigned agents
    amd: bool = False  # answering-machine detection before a call reaches an agent
    # SHA-256 of the safe-harbor message (a row of ``sounds``; None: stored before messages
    # were, the default plays); ``dialer.safe_harbor.safe_harbor_media`` gives its media URI
    safe_harbor: str | None = None
    # the abandon rule it runs under (``[compliance]``; US TSR for campaigns stored before)
    profile: Jurisdiction = DEFAULT
    # the countries and number types it calls (``[destinations]``; defaults if stored before)
    destinations: Destinations = Destinations()


def create_campaign(
    db: Database, definition: CampaignConfig | Mapping[str, Any], now: datetime | None = None
) -> int:
    """Store a campaign (a ``CampaignConfig`` or a dict shaped like the TOML); return its id.

    Agents named in ``campaign.agents`` must exist; the campaign starts STOPPED. Its
    safe-harbor message is stored with it (``dialer.safe_harbor.install_safe_harbor`` writes it
    where the PBX reads it).
    """
    cfg = definition if isinstance(definition, CampaignConfig) else parse_campaign(definition)
    created = now or datetime.now(UTC)
    message = cfg.safe_harbor or default_message()
    with db.session() as session:
        agents = _agents_by_login(session, cfg.agents)
        if session.get(Sound, message.sha256) is None:
            session.add(Sound(sha256=message.sha256, audio=message.audio,
                              seconds=message.seconds, created_at=created))
        campaign = Campaign(
            name=cfg.name,
            mode=cfg.mode,
            status=CampaignStatus.STOPPED,
            ratio=cfg.ratio,
            ring_timeout_s=cfg.ring_timeout.total_seconds(),
            abandon_cap=cfg.abandon_cap,
            max_logout_delay_s=cfg.max_logout_delay.total_seconds(),
            max_attempts=cfg.max_attempts,
            retry_delay_s=cfg.retry_delay.total_seconds(),
            caller_id=cfg.caller_id,
            trunk=cfg.trunk,
            default_region=cfg.default_region,
            time_zone=cfg.time_zone,
            schedule=_schedule_json(cfg.calling_hours),
            options=_options_json(cfg, message),
            created_at=created,
            dispositions=[
                DispositionCode(
                    code=d.code,
                    label=d.label,
                    final=d.final,
                    retry_delay_s=None if d.retry_delay is None else d.retry_delay.total_seconds(),
                    dnc=d.dnc.value if d.dnc is not None else None,
                )
                for d in cfg.dispositions
            ],
            retry_rules=[
                RetryRuleRow(
                    result=result,
                    interval_s=rule.interval.total_seconds(),
                    increment_s=rule.increment.total_seconds(),
                    max_attempts=rule.max_attempts,
                )
                for result, rule in cfg.retry.items()
            ],
            agents=agents,
        )
        session.add(campaign)
        try:
            session.commit()
        except IntegrityError as exc:
            raise CampaignExistsError(f"campaign {cfg.name!r} already exists") from exc
        return campaign.id


def _agents_by_login(session: Session, logins: Sequence[str]) -> list[Agent]:
    if not logins:
        return []
    found = list(session.scalars(select(Agent).where(Agent.login.in_(logins))))
    missing = sorted(set(logins) - {a.login for a in found})
    if missing:
        raise ValueError(f"campaign.agents names unknown agents: {', '.join(missing)}")
    return found


def _schedule_json(hours: CallingHours | None) -> dict[str, Any] | None:
    if hours is None:
        return None
    return {
        "days": sorted(hours.days),
        "start": hours.start.isoformat("minutes"),
        "end": hours.end.isoformat("minutes"),
        "holidays": sorted(d.isoformat() for d in hours.holidays),
    }


def _options_json(cfg: CampaignConfig, message: SafeHarborMessage) -> dict[str, Any]:
    no_repeat = cfg.abandon_no_repeat
    return {
        "callback_fallback": cfg.callback_policy.fallback.value,
        "callback_grace_s": cfg.callback_policy.grace.total_seconds(),
        "abandon_no_repeat_s": None if no_repeat is None else no_repeat.total_seconds(),
        "amd": cfg.amd,
        "profile": profile_to_json(cfg.profile),
        "destinations": cfg.destinations.to_json(),
        "safe_harbor": {
            "sha256": message.sha256,
            "source": message.source,
            "seconds": message.seconds,
            "seller": message.seller,
            "callback_number": message.callback_number,
        },
    }


def campaign_id_by_name(db: Database, name: str) -> int | None:
    with db.session() as session:
        return session.scalars(select(Campaign.id).where(Campaign.name == name)).one_or_none()


def get_campaign(db: Database, campaign_id: int) -> CampaignInfo:
    """A campaign's parameters; raises ``LookupError`` if there is none with that id."""
    with db.session() as session:
        c = session.get(Campaign, campaign_id)
        if c is None:
            raise LookupError(f"no campaign with id {campaign_id}")
        return _campaign_info(c)


def list_campaigns(db: Database) -> list[CampaignInfo]:
    """Every campaign, oldest first."""
    with db.session() as session:
        return [_campaign_info(c) for c in session.scalars(select(Campaign).order_by(Campaign.id))]


def _campaign_info(c: Campaign) -> CampaignInfo:
    return CampaignInfo(
        id=c.id,
        name=c.name,
        mode=c.mode,
        status=c.status,
        ratio=c.ratio,
        ring_timeout=timedelta(seconds=c.ring_timeout_s),
        abandon_cap=c.abandon_cap,
        max_logout_delay=timedelta(seconds=c.max_logout_delay_s),
        caller_id=c.caller_id,
        trunk=c.trunk,
        default_region=c.default_region,
        time_zone=c.time_zone,
        max_attempts=c.max_attempts,
        dispositions=tuple((d.code, d.label, d.final) for d in c.dispositions),
        agents=tuple(sorted(a.login for a in c.agents)),
        amd=bool((c.options or {}).get("amd", False)),
        safe_harbor=((c.options or {}).get("safe_harbor") or {}).get("sha256"),
        profile=campaign_profile(c),
        destinations=destinations_from_json((c.options or {}).get("destinations")),
    )


def campaign_profile(c: Campaign) -> Jurisdiction:
    """A stored campaign's jurisdiction profile (US TSR at its cap when stored before)."""
    return profile_from_json((c.options or {}).get("profile"), c.abandon_cap)


def campaign_rules(db: Database, campaign_id: int) -> CampaignRules:
    with db.session() as session:
        return load_rules(session, campaign_id)


def load_rules(session: Session, campaign_id: int) -> CampaignRules:
    """The pure selection/retry rules of a campaign, inside an open session."""
    c = session.get_one(Campaign, campaign_id)
    hours = None
    if c.schedule:
        hours = CallingHours(
            start=time.fromisoformat(c.schedule["start"]),
            end=time.fromisoformat(c.schedule["end"]),
            days=frozenset(c.schedule["days"]),
            time_zone=c.time_zone,
            holidays=frozenset(date.fromisoformat(d) for d in c.schedule.get("holidays", [])),
        )
    options = c.options or {}
    no_repeat = options.get("abandon_no_repeat_s")
    return CampaignRules(
        max_attempts=c.max_attempts,
        retry={
            r.result: RetryRule(
                timedelta(seconds=r.interval_s), timedelta(seconds=r.increment_s), r.max_attempts
            )
            for r in c.retry_rules
        },
        dispositions={
            d.code: DispositionRule(
                d.code,
                d.final,
                None if d.retry_delay_s is None else timedelta(seconds=d.retry_delay_s),
            )
            for d in c.dispositions
        },
        default_retry_delay=timedelta(seconds=c.retry_delay_s),
        calling_hours=hours,
        abandon_no_repeat=None if no_repeat is None else timedelta(seconds=no_repeat),
        callbacks=CallbackPolicy(
            CallbackFallback(options.get("callback_fallback", CallbackFallback.CAMPAIGN.value)),
            timedelta(seconds=options.get("callback_grace_s", 0)),
        ),
    )


def set_campaign_status(db: Database, campaign_id: int, status: CampaignStatus) -> None:
    with db.session() as session:
        session.get_one(Campaign, campaign_id).status = status
        session.commit()


def assign_agent(db: Database, campaign_id: int, agent_id: int) -> None:
    """Assign an agent to a campaign (no-op if already assigned)."""
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        agent = session.get_one(Agent, agent_id)
        if agent not in campaign.agents:
            campaign.agents.append(agent)
        session.commit()


def agent_campaign_ids(db: Database, agent_id: int) -> list[int]:
    """Ids of the campaigns the agent is assigned to ("My Campaigns")."""
    with db.session() as session:
        agent = session.get_one(Agent, agent_id)
        query = select(Campaign.id).where(Campaign.agents.contains(agent)).order_by(Campaign.id)
        return list(session.scalars(query))


def campaign_numbers(db: Database, campaign_id: int) -> dict[str, int]:
    """Every E.164 number already in the campaign, mapped to its contact id."""
    with db.session() as session:
        rows = session.execute(
            select(ContactNumber.e164, ContactNumber.contact_id).where(
                ContactNumber.campaign_id == campaign_id
            )
        )
        return {e164: contact_id for e164, contact_id in rows}


def count_contacts(db: Database, campaign_id: int) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign_id)
        return session.scalar(query) or 0


def import_contacts(
    db: Database,
    campaign_id: int,
    parsed: ParsedList,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Store a parsed calling list, all or nothing; return the new contact ids in file order.

    Raises ``ListRejected`` (nothing stored) if the list has rejected rows, or if a number is
    already a number of another contact in the campaign. ``progress(done, total)`` is called
    after each chunk of ``INSERT_CHUNK`` contacts.
    """
    if parsed.errors:
        raise ListRejected(parsed.errors)
    return insert_contacts(db, campaign_id, parsed.contacts, now, progress)


def check_contacts(db: Database, campaign_id: int, parsed: ParsedList) -> None:
    """What ``import_contacts`` checks, storing nothing (``dialer list import --dry-run``):
    raises ``ListRejected`` for rejected rows and numbers already in the campaign."""
    if parsed.errors:
        raise ListRejected(parsed.errors)
    with db.session() as session:
        session.get_one(Campaign, campaign_id)
        _check_duplicates(session, campaign_id, parsed.contacts)


def insert_contacts(
    db: Database,
    campaign_id: int,
    contacts: Sequence[NewContact],
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Bulk-insert contacts in ONE transaction (all or nothing); return their ids in order.

    Raises ``ListRejected`` (nothing stored) when a number repeats within ``contacts`` or is
    already in the campaign.
    """
    created = now or datetime.now(UTC)
    ids: list[int] = []
    with db.session() as session:
        session.get_one(Campaign, campaign_id)
        _check_duplicates(session, campaign_id, contacts)
        for start in range(0, len(contacts), INSERT_CHUNK):
            chunk = contacts[start : start + INSERT_CHUNK]
            ids += _insert_chunk(session, campaign_id, chunk, created)
            if progress is not None:
                progress(start + len(chunk), len(contacts))
        session.commit()
    return ids


def _check_duplicates(session: Session, campaign_id: int, contacts: Sequence[NewContact]) -> None:
    query = select(ContactNumber.e164, ContactNumber.contact_id).where(
        ContactNumber.campaign_id == campaign_id
    )
    stored = {e164: contact_id for e164, contact_id in session.execute(query)}
    seen: dict[str, int] = {}
    errors: list[RowError] = []
    for contact in contacts:
        for number in contact.numbers:
            if number in stored:
                reason = f"{number} is already in the campaign (contact {stored[number]})"
                errors.append(RowError(contact.line, reason))
                break
            if number in seen:
                errors.append(RowError(contact.line, f"{number} repeats line {seen[number]}"))
                break
            seen[number] = contact.line
    if errors:
        raise ListRejected(errors)


def _insert_chunk(
    session: Session, campaign_id: int, chunk: Sequence[NewContact], created: datetime
) -> list[int]:
    rows = [
        {
            "campaign_id": campaign_id,
            "state": ContactState.NEW,
            "number_index": 0,
            "attempts": 0,
            "result_counts": {},
            "fields": dict(c.fields),
            "time_zone": c.time_zone,
            "zones": zones_key(c.zones or ((c.time_zone,) if c.time_zone else ())),
            "source_line": c.line,
            "created_at": created,
        }
        for c in chunk
    ]
    ids = _insert_returning_ids(session, rows)
    numbers = [
        {
            "contact_id": cid,
            "campaign_id": campaign_id,
            "position": pos,
            "e164": e164,
            "dead": False,
        }
        for cid, c in zip(ids, chunk, strict=True)
        for pos, e164 in enumerate(c.numbers)
    ]
    if numbers:
        _bulk_insert(session, cast(Table, ContactNumber.__table__), numbers)
    return ids


def _insert_returning_ids(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert contact rows; their ids in order.

    On SQLite one executemany without RETURNING, then the ids from the table: the transaction
    holds SQLite's single write lock from its first insert, so the chunk's rowids are the
    ``len(rows)`` largest, in order (checked). SQLite with RETURNING would insert row by row.
    Elsewhere, INSERT ... RETURNING in parameter order.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "sqlite":
        stmt = insert(Contact).returning(Contact.id, sort_by_parameter_order=True)
        return list(session.scalars(stmt, rows))
    _bulk_insert(session, cast(Table, Contact.__table__), rows)
    last = session.scalar(select(func.max(Contact.id))) or 0
    ids = list(range(last - len(rows) + 1, last + 1))
    got = session.execute(
        select(Contact.source_line).where(Contact.id.between(ids[0], last)).order_by(Contact.id)
    )
    if [line for (line,) in got] != [r["source_line"] for r in rows]:
        raise RuntimeError("contact ids were not allocated contiguously; import rolled back")
    return ids


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany of ``rows`` (dicts with the same keys), each value through its column's
    bind processor (enums, JSON, UTC datetimes) but without per-row statement compilation."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(insert(table), rows)
        return
    conn = session.connection()
    names = list(rows[0])
    procs = [table.c[n].type.bind_processor(conn.dialect) for n in names]
    columns = ", ".join(names)
    marks = ", ".join("?" for _ in names)
    params = [
        tuple(row[n] if p is None else p(row[n]) for n, p in zip(names, procs, strict=True))
        for row in rows
    ]
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", params)
