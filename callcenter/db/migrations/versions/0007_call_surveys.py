"""After-call survey answers (issue 11): one score per caller channel, tied by linkedid

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_call_surveys_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_surveys")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_call_surveys_uniqueid")),
    )  # fmt: skip
    with op.batch_alter_table("call_surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_surveys_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_call_surveys_answered_at"), ["answered_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_call_surveys_linkedid"), ["linkedid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_surveys_linkedid"))
        batch_op.drop_index(batch_op.f("ix_call_surveys_answered_at"))
        batch_op.drop_index(batch_op.f("ix_call_surveys_agent_id"))
    op.drop_table("call_surveys")
