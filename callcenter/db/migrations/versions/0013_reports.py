"""Reports (issue 15): the group each call was routed to, scheduled report runs, and the
indexes the reports' date-range queries use

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("route_group", sa.String(length=32), nullable=False, server_default="")
        )
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_attempts_offered_at"), ["offered_at"], unique=False
        )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_events_kind_at", ["kind", "at"], unique=False)
    with op.batch_alter_table("agent_state_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_state_log_ended_at"), ["ended_at"], unique=False
        )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_runs")),
        sa.UniqueConstraint("kind", "day", name=op.f("uq_report_runs_kind")),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
    with op.batch_alter_table("agent_state_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_state_log_ended_at"))
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_events_kind_at")
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_attempts_offered_at"))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("route_group")
