"""Sounds: the audio files the PBX plays for campaigns (their safe-harbor messages).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

- ``sounds``: WAV bytes by SHA-256 (each message stored once); a campaign names its message's
  digest in ``campaigns.options["safe_harbor"]``. Campaigns stored before this revision have
  none there and play the shipped default (``dialer.safe_harbor``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the sounds table."""
    op.create_table(
        "sounds",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_sounds")),
    )


def downgrade() -> None:
    """Drop the sounds table."""
    op.drop_table("sounds")
