"""Initial schema: campaigns, agents, contacts, call attempts, dispositions, callbacks, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Timestamps are stored as UTC (naive on SQLite, timestamptz on PostgreSQL); enums as their
values in VARCHAR(32) without CHECK constraints, so adding an enum value needs no migration.
``tests/unit/test_db.py`` checks that this schema matches ``dialer.db.models``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum() -> sa.String:
    return sa.String(length=32)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "agents",
        _id(),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("sip_endpoint", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("login", name=op.f("uq_agents_login")),
    )
    op.create_table(
        "campaigns",
        _id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", _enum(), nullable=False),
        sa.Column("status", _enum(), nullable=False),
        sa.Column("ratio", sa.Double(), nullable=False),
        sa.Column("ring_timeout_s", sa.Double(), nullable=False),
        sa.Column("abandon_cap", sa.Double(), nullable=False),
        sa.Column("max_logout_delay_s", sa.Double(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delay_s", sa.Double(), nullable=False),
        sa.Column("caller_id", sa.String(length=32), nullable=False),
        sa.Column("trunk", sa.String(length=100), nullable=False),
        sa.Column("default_region", sa.String(length=2), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "campaign_agents",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        _fk("campaign_agents", "agent_id", "agents", "CASCADE"),
        _fk("campaign_agents", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "agent_id", name=op.f("pk_campaign_agents")),
    )
    op.create_table(
        "disposition_codes",
        _id(),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("retry_delay_s", sa.Double(), nullable=True),
        _fk("disposition_codes", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_codes")),
        sa.UniqueConstraint("campaign_id", "code", name=op.f("uq_disposition_codes_campaign_id")),
    )
    op.create_table(
        "retry_rules",
        _id(),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("result", _enum(), nullable=False),
        sa.Column("interval_s", sa.Double(), nullable=False),
        sa.Column("increment_s", sa.Double(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        _fk("retry_rules", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retry_rules")),
        sa.UniqueConstraint("campaign_id", "result", name=op.f("uq_retry_rules_campaign_id")),
    )
    op.create_table(
        "contacts",
        _id(),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("state", _enum(), nullable=False),
        sa.Column("number_index", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result_counts", sa.JSON(), nullable=False),
        sa.Column("next_eligible_at", _ts(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("last_result", _enum(), nullable=True),
        sa.Column("reserved_from", _enum(), nullable=True),
        sa.Column("reserved_by", sa.Integer(), nullable=True),
        sa.Column("reserved_at", _ts(), nullable=True),
        sa.Column("in_flight_attempt_id", sa.Integer(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        _fk("contacts", "campaign_id", "campaigns", "CASCADE"),
        _fk("contacts", "reserved_by", "agents", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(
        "ix_contacts_selection", "contacts", ["campaign_id", "state", "next_eligible_at"]
    )
    op.create_table(
        "contact_numbers",
        _id(),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("dead", sa.Boolean(), nullable=False),
        _fk("contact_numbers", "campaign_id", "campaigns", "CASCADE"),
        _fk("contact_numbers", "contact_id", "contacts", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_numbers")),
        sa.UniqueConstraint("contact_id", "position", name=op.f("uq_contact_numbers_contact_id")),
    )
    op.create_index("ix_contact_numbers_campaign_e164", "contact_numbers", ["campaign_id", "e164"])
    op.create_table(
        "callbacks",
        _id(),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("due_at", _ts(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        _fk("callbacks", "agent_id", "agents", "SET NULL"),
        _fk("callbacks", "campaign_id", "campaigns", "CASCADE"),
        _fk("callbacks", "contact_id", "contacts", "CASCADE"),
        _fk("callbacks", "created_by", "agents", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    op.create_index("ix_callbacks_due", "callbacks", ["campaign_id", "done", "due_at"])
    op.create_table(
        "call_attempts",
        _id(),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("number_index", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(length=128), nullable=True),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("answered_at", _ts(), nullable=True),
        sa.Column("bridged_at", _ts(), nullable=True),
        sa.Column("ended_at", _ts(), nullable=True),
        sa.Column("result", _enum(), nullable=True),
        sa.Column("sip_code", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("dial_status", sa.String(length=32), nullable=True),
        sa.Column("amd_status", sa.String(length=32), nullable=True),
        sa.Column("amd_cause", sa.String(length=128), nullable=True),
        sa.Column("hung_up_by", _enum(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _fk("call_attempts", "agent_id", "agents"),
        _fk("call_attempts", "callback_id", "callbacks"),
        _fk("call_attempts", "campaign_id", "campaigns"),
        _fk("call_attempts", "contact_id", "contacts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempts")),
    )
    for column in ("campaign_id", "channel_id", "contact_id"):
        op.create_index(op.f(f"ix_call_attempts_{column}"), "call_attempts", [column])
    op.create_table(
        "attempt_events",
        _id(),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("phase", _enum(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        _fk("attempt_events", "attempt_id", "call_attempts", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt_events")),
    )
    op.create_index(op.f("ix_attempt_events_attempt_id"), "attempt_events", ["attempt_id"])
    op.create_table(
        "dispositions",
        _id(),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("saved_at", _ts(), nullable=False),
        _fk("dispositions", "agent_id", "agents"),
        _fk("dispositions", "attempt_id", "call_attempts"),
        _fk("dispositions", "callback_id", "callbacks"),
        _fk("dispositions", "code_id", "disposition_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispositions")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_dispositions_attempt_id")),
    )
    op.create_table(
        "agent_state_log",
        _id(),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("old_state", _enum(), nullable=False),
        sa.Column("new_state", _enum(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        _fk("agent_state_log", "agent_id", "agents", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_log")),
    )
    op.create_index("ix_agent_state_log_agent_at", "agent_state_log", ["agent_id", "at"])


def downgrade() -> None:
    """Drop every table (children first)."""
    for table in (
        "agent_state_log",
        "dispositions",
        "attempt_events",
        "call_attempts",
        "callbacks",
        "contact_numbers",
        "contacts",
        "retry_rules",
        "disposition_codes",
        "campaign_agents",
        "campaigns",
        "agents",
    ):
        op.drop_table(table)
