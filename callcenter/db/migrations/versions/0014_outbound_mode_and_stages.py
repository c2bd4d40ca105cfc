"""Outbound gaps: an agent's outbound mode survives a restart (``users.outbound_mode``), and
an opportunity's stage changes are kept with who and when (``opportunity_stage_changes``).

``users`` only gets ADD COLUMN (never rebuilt on SQLite).

Revision ID: 0014
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = callcenter.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("outbound_mode", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "opportunity_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_opportunity_stage_changes_opportunity_id",
        "opportunity_stage_changes",
        ["opportunity_id"],
    )


def downgrade() -> None:
    op.drop_table("opportunity_stage_changes")
    op.drop_column("users", "outbound_mode")  # native DROP COLUMN: never rebuild users
