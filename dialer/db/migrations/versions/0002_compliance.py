"""Compliance: Do-Not-Call lists, contact zones, agent-marked DNC codes, callback hand-over.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

- ``dnc_numbers``: the system list (``campaign_id`` NULL) and each campaign's list;
- ``contacts.zones``: every zone calling hours must respect ("|"-separated), filled from
  ``time_zone`` for existing contacts; ``ix_contacts_fresh`` lets selection read new contacts
  in id order and stop early (with the Do-Not-Call condition it no longer sorts them all),
  ``ix_contacts_zones`` gives the calling-hours filter its distinct zone sets from the index;
- ``disposition_codes.dnc``: a code that puts the dialed number on a list ("campaign"/"system");
- ``callbacks.handed_over_from`` / ``handed_over_at``: a personal callback given to the campaign
  because its agent was away when it fell due (plain integer: SQLite cannot add a foreign key
  to an existing table without rebuilding it);
- ``campaigns.options``: callback fallback and the no-repeat period after an abandoned call.

Columns are added with plain ALTER TABLE ADD COLUMN (no table rebuilds), so upgrading a live
SQLite database is quick and keeps its rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the DNC table and the new columns."""
    op.create_table(
        "dnc_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_dnc_numbers_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_dnc_numbers_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_dnc_numbers_attempt_id_call_attempts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_numbers")),
    )
    op.create_index("ix_dnc_numbers_e164", "dnc_numbers", ["e164", "campaign_id"])
    op.add_column("contacts", sa.Column("zones", sa.Text(), nullable=False, server_default=""))
    op.execute("UPDATE contacts SET zones = time_zone WHERE time_zone IS NOT NULL")
    op.create_index("ix_contacts_fresh", "contacts", ["campaign_id", "state", "id"])
    op.create_index("ix_contacts_zones", "contacts", ["campaign_id", "state", "zones"])
    op.add_column("disposition_codes", sa.Column("dnc", sa.String(length=16), nullable=True))
    op.add_column("callbacks", sa.Column("handed_over_from", sa.Integer(), nullable=True))
    op.add_column(
        "callbacks", sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("campaigns", sa.Column("options", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added (plain DROP COLUMN: SQLite >= 3.35, no table rebuilds,
    which on SQLite would cascade-delete the rows referring to a rebuilt table)."""
    op.drop_column("campaigns", "options")
    op.drop_column("callbacks", "handed_over_at")
    op.drop_column("callbacks", "handed_over_from")
    op.drop_column("disposition_codes", "dnc")
    op.drop_index("ix_contacts_zones", table_name="contacts")
    op.drop_index("ix_contacts_fresh", table_name="contacts")
    op.drop_column("contacts", "zones")
    op.drop_index("ix_dnc_numbers_e164", table_name="dnc_numbers")
    op.drop_table("dnc_numbers")
