"""The reports' rollup of closed local days (calls, agents, tickets) and the triggers that
mark it stale: every insert, update or delete on a table a report reads appends a
``report_stale`` row (kind, from, to instant), whoever writes it — a service, a resync,
a script, psql. ``reports.rollup`` recomputes a day a newer mark overlaps.

Revision ID: 0016
Revises: 0014
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = callcenter.db.base.UTCDateTime(timezone=True)

# (kind, first instant, last instant, optional (joined table, join condition)); ``r`` is the
# changed row, ``x`` the joined one. FAR / PAST: an open state row, every day.
MARKS: dict[str, list[tuple[str, str, str, tuple[str, str] | None]]] = {
    "calls": [("calls", "r.started_at", "r.started_at", None)],
    "call_wrapups": [("calls", "x.started_at", "x.started_at", ("calls", "x.id = r.call_id"))],
    "call_transfers": [("calls", "x.started_at", "x.started_at", ("calls", "x.id = r.call_id"))],
    "call_attempts": [("agents", "r.offered_at", "r.offered_at", None)],
    "agent_state_log": [("agents", "r.started_at", "COALESCE(r.ended_at, {FAR})", None)],
    "tickets": [
        ("tickets", "r.created_at", "r.created_at", None),
        ("agents", "r.created_at", "r.created_at", None),
    ],
    "ticket_events": [
        ("tickets", "x.created_at", "x.created_at", ("tickets", "x.id = r.ticket_id")),
        ("agents", "r.at", "r.at", None),
    ],
    "survey_responses": [("agents", "r.created_at", "r.created_at", None)],
    "survey_answers": [
        ("agents", "x.created_at", "x.created_at", ("survey_responses", "x.id = r.response_id"))
    ],
    "survey_questions": [("agents", "{PAST}", "{FAR}", None)],
}
FAR = {"postgresql": "timestamptz '9000-01-01 00:00:00+00'",
       "sqlite": "'9000-01-01 00:00:00.000000'"}  # fmt: skip
PAST = {"postgresql": "timestamptz '1900-01-01 00:00:00+00'",
        "sqlite": "'1900-01-01 00:00:00.000000'"}  # fmt: skip
EVENTS = {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}


def _expr(template: str, dialect: str) -> str:
    return template.format(FAR=FAR[dialect], PAST=PAST[dialect])


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, marks in MARKS.items():
        for event, rows in EVENTS.items():
            body = []
            for row in rows:
                for kind, first, last, join in marks:
                    select = f"SELECT '{kind}', {_expr(first, 'sqlite')}, {_expr(last, 'sqlite')}"
                    if join is not None:
                        select += f" FROM {join[0]} AS x WHERE {join[1]}"
                    body.append(
                        "INSERT INTO report_stale (kind, at_from, at_to) "
                        + re.sub(r"\br\.", f"{row}.", select)
                        + ";"
                    )
            statements.append(
                f"CREATE TRIGGER report_stale_{table}_{event.lower()} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {' '.join(body)} END"
            )
    return statements


def _postgresql_triggers() -> list[str]:
    """Statement triggers over transition tables: a bulk load adds one mark per statement."""
    statements = []
    for table, marks in MARKS.items():
        for event, rows in EVENTS.items():
            name = f"report_stale_{table}_{event.lower()}"
            body = []
            for row in rows:
                for kind, first, last, join in marks:
                    source = f"{row.lower()}_rows AS r"
                    if join is not None:
                        source += f" JOIN {join[0]} AS x ON {join[1]}"
                    body.append(
                        "INSERT INTO report_stale (kind, at_from, at_to) "
                        f"SELECT '{kind}', min({_expr(first, 'postgresql')}), "
                        f"max({_expr(last, 'postgresql')}) FROM {source} HAVING count(*) > 0;"
                    )
            referencing = " ".join(f"{row} TABLE AS {row.lower()}_rows" for row in rows)
            statements.append(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"{' '.join(body)} RETURN NULL; END $$"
            )
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    return statements


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _sums(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Float(), nullable=False) for name in names]


def _day_table(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["day_id"],
            ["report_rollup_days.id"],
            name=op.f(f"fk_{name}_day_id_report_rollup_days"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_day_id"), name, ["day_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "report_stale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at_from", UTC, nullable=False),
        sa.Column("at_to", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_stale")),
        sqlite_autoincrement=True,  # ids never reused once the marks were deleted
    )
    op.create_index("ix_report_stale_kind_id", "report_stale", ["kind", "id"], unique=False)
    op.create_table(
        "report_rollup_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.String(length=80), nullable=False),
        sa.Column("day_start", UTC, nullable=False),
        sa.Column("day_end", UTC, nullable=False),
        sa.Column("horizon", sa.BigInteger(), nullable=False),
        sa.Column("valid_after", UTC, nullable=True),
        sa.Column("valid_until", UTC, nullable=True),
        sa.Column("computed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rollup_days")),
        sa.UniqueConstraint("kind", "params", "day_start", name=op.f("uq_report_rollup_days_kind")),
    )
    _day_table(
        "report_call_hours",
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("hotline", sa.Text(), nullable=False),
        sa.Column("route_group", sa.Text(), nullable=False),
        *_counts("offered", "answered", "answered_in_sl", "abandoned", "short_abandoned",
                 "transferred"),
        *_sums("wait_answered", "wait_abandoned", "talk", "hold", "wrapup"),
        *_counts("abandon_0_5", "abandon_5_20", "abandon_20_60", "abandon_60_120", "abandon_120"),
    )  # fmt: skip
    _day_table(
        "report_agent_days",
        *_counts("agent_id", "answered"),
        *_sums("talk"),
        *_counts("missed", "tickets_created", "tickets_closed", "surveys"),
        *_sums("survey_sum"),
    )
    _day_table(
        "report_agent_states",
        *_counts("agent_id"),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        *_sums("seconds"),
    )
    _day_table(
        "report_ticket_days",
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        *_counts("created", "handled", "unhandled", "cancelled", "within_sla",
                 "overdue_finished", "overdue_open", "finished", "reopened"),
        *_sums("work_closed", "waiting_closed"),
        *_counts("work_open_n"),
        *_sums("work_open_start"),
        *_counts("waiting_open_n"),
        *_sums("waiting_open_start"),
    )  # fmt: skip
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in MARKS:
        for event in EVENTS:
            name = f"report_stale_{table}_{event.lower()}"
            if dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS {name}")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for table in ("report_ticket_days", "report_agent_states", "report_agent_days",
                  "report_call_hours", "report_rollup_days", "report_stale"):  # fmt: skip
        op.drop_table(table)
