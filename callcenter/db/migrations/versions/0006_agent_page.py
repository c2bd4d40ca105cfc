"""Agent page and after-call work (issue 8): one wrap-up row per handled call

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_wrapups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=12), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("timed_out", sa.Boolean(), nullable=False),
        sa.Column("saved_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_call_wrapups_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_wrapups_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"],
            name=op.f("fk_call_wrapups_category_id_categories"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"],
            name=op.f("fk_call_wrapups_department_id_departments"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_call_wrapups_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_wrapups")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_wrapups_call_id")),
    )
    with op.batch_alter_table("call_wrapups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_wrapups_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_call_wrapups_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_call_wrapups_saved_at"), ["saved_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_wrapups_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_wrapups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_wrapups_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_call_wrapups_saved_at"))
        batch_op.drop_index(batch_op.f("ix_call_wrapups_category_id"))
        batch_op.drop_index(batch_op.f("ix_call_wrapups_agent_id"))
    op.drop_table("call_wrapups")
