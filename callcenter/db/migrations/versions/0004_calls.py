"""Call tracker records (issue 5)

Adds what the tracker knows beyond the core schema: the queue and the answering
agent's interface, whether the end time was estimated after an AMI outage, per
attempt the dialled channel's Uniqueid (so a resync never duplicates an
attempt), its queue and answer time, and one row per transfer.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=80), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("agent_interface", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("end_estimated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("uniqueid", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("queue", sa.String(length=80), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("answered_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_call_attempts_uniqueid"), ["uniqueid"], unique=False)
    op.create_table(
        "call_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_interface", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_transfers_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_transfers")),
    )
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_transfers_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_transfers_call_id"))
    op.drop_table("call_transfers")
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_attempts_uniqueid"))
        batch_op.drop_column("answered_at")
        batch_op.drop_column("queue")
        batch_op.drop_column("uniqueid")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("end_estimated")
        batch_op.drop_column("agent_interface")
        batch_op.drop_column("queue")
