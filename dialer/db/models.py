"""ORM models: the dialer's tables (SQLAlchemy 2, typed ``Mapped``).

Timestamps are timezone-aware UTC datetimes in Python (``UTCDateTime``); enums are stored by
value as short strings, so the same schema works on SQLite and PostgreSQL. The schema itself is
created by the Alembic migrations in ``dialer/db/migrations``; these classes must match them
(``tests/unit/test_db.py`` checks).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from dialer.core.agent_state import AgentState
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.dnc import DncSource
from dialer.core.results import AttemptPhase, CallResult, HangupSide
from dialer.core.selection import ContactState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; naive UTC in SQLite, timestamptz elsewhere."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the data layer stores aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(cls: type[enum.Enum]) -> SAEnum:
    """Store an enum by its value in a VARCHAR (no native enum types to migrate)."""
    return SAEnum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


campaign_agents = Table(
    "campaign_agents",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
)


class Agent(Base):
    """An agent account; the password is stored as a salted scrypt hash only."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    sip_endpoint: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Campaign(Base):
    """A campaign: dialing mode and parameters, schedule (calling hours), status."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    mode: Mapped[DialMode] = mapped_column(enum_type(DialMode))
    status: Mapped[CampaignStatus] = mapped_column(enum_type(CampaignStatus))
    ratio: Mapped[float]
    ring_timeout_s: Mapped[float]
    abandon_cap: Mapped[float]
    max_logout_delay_s: Mapped[float]
    max_attempts: Mapped[int]
    retry_delay_s: Mapped[float]
    caller_id: Mapped[str] = mapped_column(String(32))
    trunk: Mapped[str] = mapped_column(String(100))
    default_region: Mapped[str] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))
    schedule: Mapped[dict[str, Any] | None]
    # Callback fallback and the no-repeat period after an abandoned call (migration 0002); the
    # safe-harbor message's digest (a row of ``sounds``), seller and callback number.
    options: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]

    dispositions: Mapped[list[DispositionCode]] = relationship(
        cascade="all, delete-orphan", order_by="DispositionCode.id"
    )
    retry_rules: Mapped[list[RetryRuleRow]] = relationship(cascade="all, delete-orphan")
    agents: Mapped[list[Agent]] = relationship(secondary=campaign_agents)


class DispositionCode(Base):
    """A disposition code of a campaign, final or retry (after ``retry_delay_s``)."""

    __tablename__ = "disposition_codes"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    final: Mapped[bool]
    retry_delay_s: Mapped[float | None]
    # "campaign" or "system": this code puts the dialed number on that Do-Not-Call list.
    dnc: Mapped[str | None] = mapped_column(String(16))


class RetryRuleRow(Base):
    """How often and how soon a contact is retried after a given call result."""

    __tablename__ = "retry_rules"
    __table_args__ = (UniqueConstraint("campaign_id", "result"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    result: Mapped[CallResult] = mapped_column(enum_type(CallResult))
    interval_s: Mapped[float]
    increment_s: Mapped[float]
    max_attempts: Mapped[int]


class Contact(Base):
    """A contact of a campaign: custom fields, time zone, attempts, where it is in the list."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_selection", "campaign_id", "state", "next_eligible_at"),
        # Fresh contacts in id order: selection stops after a few rows instead of sorting
        # every new contact of the campaign (migration 0002).
        Index("ix_contacts_fresh", "campaign_id", "state", "id"),
        # The distinct zone sets of a campaign's dialable contacts, read from the index alone.
        Index("ix_contacts_zones", "campaign_id", "state", "zones"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    state: Mapped[ContactState] = mapped_column(enum_type(ContactState))
    number_index: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    result_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_eligible_at: Mapped[datetime | None]
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Every zone calling hours must respect, "|"-separated ("" = time_zone, else the campaign's).
    zones: Mapped[str] = mapped_column(Text, default="", server_default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_result: Mapped[CallResult | None] = mapped_column(enum_type(CallResult))
    reserved_from: Mapped[ContactState | None] = mapped_column(enum_type(ContactState))
    reserved_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    reserved_at: Mapped[datetime | None]
    # The attempt that holds the reserved contact (no foreign key: attempts refer to contacts).
    in_flight_attempt_id: Mapped[int | None]
    source_line: Mapped[int | None]
    created_at: Mapped[datetime]

    numbers: Mapped[list[ContactNumber]] = relationship(
        cascade="all, delete-orphan", order_by="ContactNumber.position"
    )


class ContactNumber(Base):
    """One E.164 number of a contact, in dialing order; ``dead`` after an invalid one."""

    __tablename__ = "contact_numbers"
    __table_args__ = (
        UniqueConstraint("contact_id", "position"),
        Index("ix_contact_numbers_campaign_e164", "campaign_id", "e164"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int]
    e164: Mapped[str] = mapped_column(String(16))
    dead: Mapped[bool] = mapped_column(default=False)


class CallAttempt(Base):
    """One call placed to a contact: result, SIP code, hang-up cause, agent, times."""

    __tablename__ = "call_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    number: Mapped[str] = mapped_column(String(16))
    number_index: Mapped[int]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    channel_id: Mapped[str | None] = mapped_column(String(128), index=True)
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    bridged_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    result: Mapped[CallResult | None] = mapped_column(enum_type(CallResult))
    sip_code: Mapped[int | None]
    hangup_cause: Mapped[int | None]
    dial_status: Mapped[str | None] = mapped_column(String(32))
    amd_status: Mapped[str | None] = mapped_column(String(32))
    amd_cause: Mapped[str | None] = mapped_column(String(128))
    hung_up_by: Mapped[HangupSide | None] = mapped_column(enum_type(HangupSide))
    note: Mapped[str | None] = mapped_column(Text)

    events: Mapped[list[AttemptEvent]] = relationship(
        cascade="all, delete-orphan", order_by="AttemptEvent.id"
    )


class AttemptEvent(Base):
    """One timestamped state change of an attempt (its event log)."""

    __tablename__ = "attempt_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="CASCADE"), index=True
    )
    phase: Mapped[AttemptPhase] = mapped_column(enum_type(AttemptPhase))
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]


class Disposition(Base):
    """An agent's disposition of an attempt, with a note (and the callback it set)."""

    __tablename__ = "dispositions"
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    code_id: Mapped[int] = mapped_column(ForeignKey("disposition_codes.id"))
    note: Mapped[str | None] = mapped_column(Text)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    saved_at: Mapped[datetime]

    code: Mapped[DispositionCode] = relationship()


class Callback(Base):
    """A callback due at a time: personal when ``agent_id`` is set, else for the campaign."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_due", "campaign_id", "done", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    due_at: Mapped[datetime]
    done: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # A personal callback handed to the campaign because its agent was away (no foreign key:
    # added by migration 0002, and SQLite cannot add one without rebuilding the table).
    handed_over_from: Mapped[int | None]
    handed_over_at: Mapped[datetime | None]


class DncEntry(Base):
    """A number on a Do-Not-Call list: the system's (``campaign_id`` None) or a campaign's."""

    __tablename__ = "dnc_numbers"
    __table_args__ = (Index("ix_dnc_numbers_e164", "e164", "campaign_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(16))
    source: Mapped[DncSource] = mapped_column(enum_type(DncSource))
    reason: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime]


class AgentStateLog(Base):
    """The audit log: one row per agent state transition."""

    __tablename__ = "agent_state_log"
    __table_args__ = (Index("ix_agent_state_log_agent_at", "agent_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    old_state: Mapped[AgentState] = mapped_column(enum_type(AgentState))
    new_state: Mapped[AgentState] = mapped_column(enum_type(AgentState))
    event: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]


class Sound(Base):
    """An audio file the PBX plays (a campaign's safe-harbor message), by its SHA-256: stored
    once however many campaigns use it, and written out by ``dialer.safe_harbor``."""

    __tablename__ = "sounds"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    audio: Mapped[bytes] = mapped_column(LargeBinary)   # WAV, 16-bit PCM, mono, 8000 Hz
    seconds: Mapped[float]
    created_at: Mapped[datetime]
