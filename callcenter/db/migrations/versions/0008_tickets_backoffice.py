"""Tickets back office (issue 13): readable codes, the new statuses, event log with people
and departments, attachments, SLA escalations, the notification outbox

Statuses before → after: new/forwarded → unassigned (assigned when the row has an
assignee), uncategorized → unassigned with ``needs_review``, in_progress → in_progress,
resolved → done, closed → closed; the same map is applied to the event log. Existing
tickets get codes TK-<year>-<n> in creation order, the year taken in Asia/Ho_Chi_Minh
(the default zone; migrations do not read the configuration).

SQLite: ``tickets`` and ``departments`` are never rebuilt (a batch "move and copy" would drop the table, and
with foreign keys on, that deletes every ticket's events and unlinks its calls): only
ADD COLUMN, CREATE INDEX and, going down, native DROP COLUMN (SQLite 3.35+) touch it.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS_UP = {
    "new": "unassigned",
    "forwarded": "unassigned",
    "uncategorized": "unassigned",
    "resolved": "done",
}
STATUS_DOWN = {
    "unassigned": "forwarded",
    "assigned": "forwarded",
    "waiting": "in_progress",
    "done": "resolved",
    "cancelled": "closed",
}
tickets = sa.table(
    "tickets",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("status", sa.String),
    sa.column("needs_review", sa.Boolean),
    sa.column("assignee_id", sa.Integer),
    sa.column("created_at", callcenter.db.base.UTCDateTime(timezone=True)),
)
events = sa.table("ticket_events", sa.column("from_status", sa.String), sa.column("to_status", sa.String))
counters = sa.table("ticket_code_counters", sa.column("year", sa.Integer), sa.column("last", sa.Integer))


def _map_statuses(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(sa.update(tickets).where(tickets.c.status == old).values(status=new))
        op.execute(sa.update(events).where(events.c.from_status == old).values(from_status=new))
        op.execute(sa.update(events).where(events.c.to_status == old).values(to_status=new))


def upgrade() -> None:
    op.create_table(
        "ticket_code_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_ticket_code_counters")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_notifications_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notifications_message_id")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_state_next", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(length=300), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_attachments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"],
            name=op.f("fk_ticket_attachments_uploaded_by_id_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_attachments_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.String(length=16), nullable=False),
        sa.Column("sent_at", callcenter.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_escalations_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_escalations")),
        sa.UniqueConstraint("ticket_id", "threshold", name=op.f("uq_ticket_escalations_ticket_id")),
    )
    # departments too is a parent table: plain ADD COLUMN, never a rebuild.
    op.add_column(
        "departments",
        sa.Column("notify_channels", sa.String(length=64), nullable=False, server_default="inbox,email"),
    )
    op.add_column("departments", sa.Column("sms_number", sa.String(length=20), nullable=False, server_default=""))

    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("to_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("from_department_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("to_department_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_events_from_user_id_users"), "users", ["from_user_id"], ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_events_to_user_id_users"), "users", ["to_user_id"], ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_events_from_department_id_departments"), "departments",
            ["from_department_id"], ["id"], ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_events_to_department_id_departments"), "departments",
            ["to_department_id"], ["id"], ondelete="SET NULL",
        )

    # The code starts as '' (NOT NULL with a default is an ADD COLUMN SQLite can do in place)
    # and becomes unique once every row has its own.
    op.add_column("tickets", sa.Column("code", sa.String(length=20), nullable=False, server_default=""))
    op.add_column("tickets", sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false()))

    # Data: statuses, the review flag, codes.
    op.execute(sa.update(tickets).where(tickets.c.status == "uncategorized").values(needs_review=True))
    op.execute(
        sa.update(tickets)
        .where(tickets.c.status.in_(["new", "forwarded"]), tickets.c.assignee_id.is_not(None))
        .values(status="assigned")
    )
    _map_statuses(STATUS_UP)
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(tickets.c.id, tickets.c.created_at).order_by(tickets.c.created_at, tickets.c.id)
    ).all()
    last: dict[int, int] = {}
    for ticket_id, created_at in rows:
        year = created_at.astimezone(ZONE).year
        last[year] = last.get(year, 0) + 1
        connection.execute(
            sa.update(tickets).where(tickets.c.id == ticket_id).values(code=f"TK-{year:04d}-{last[year]:06d}")
        )
    if last:
        connection.execute(sa.insert(counters), [{"year": y, "last": n} for y, n in last.items()])

    op.create_index("ix_tickets_code", "tickets", ["code"], unique=True)
    op.create_index("ix_tickets_assignee_status_due", "tickets", ["assignee_id", "status", "due_at"])
    op.create_index("ix_tickets_department_status_due", "tickets", ["department_id", "status", "due_at"])


def downgrade() -> None:
    op.execute(sa.update(tickets).where(tickets.c.needs_review.is_(True)).values(status="uncategorized"))
    _map_statuses(STATUS_DOWN)
    op.drop_index("ix_tickets_department_status_due", table_name="tickets")
    op.drop_index("ix_tickets_assignee_status_due", table_name="tickets")
    op.drop_index("ix_tickets_code", table_name="tickets")
    op.execute("ALTER TABLE tickets DROP COLUMN needs_review")
    op.execute("ALTER TABLE tickets DROP COLUMN code")

    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_ticket_events_to_department_id_departments"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_ticket_events_from_department_id_departments"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_ticket_events_to_user_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_ticket_events_from_user_id_users"), type_="foreignkey")
        batch_op.drop_column("to_department_id")
        batch_op.drop_column("from_department_id")
        batch_op.drop_column("to_user_id")
        batch_op.drop_column("from_user_id")

    op.execute("ALTER TABLE departments DROP COLUMN sms_number")
    op.execute("ALTER TABLE departments DROP COLUMN notify_channels")

    op.drop_table("ticket_escalations")
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_attachments_ticket_id"))
    op.drop_table("ticket_attachments")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_ticket_id"))
        batch_op.drop_index("ix_notifications_state_next")
    op.drop_table("notifications")
    op.drop_table("ticket_code_counters")
