"""Tickets: every call ends as one; each change is kept in the ticket's event log.

A ticket's calls are the one it came from (``call_id``) and every later call wrapped up
onto it (``call_wrapups.ticket_id``). Statuses and event kinds are the codes of
:mod:`callcenter.core.tickets`; the transition table there is the only way to change them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.core.tickets import format_code
from callcenter.db.base import Base
from callcenter.db.models._common import utcnow
from callcenter.localtime import DEFAULT_ZONE, to_local


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # The department inbox: a department's open tickets, overdue first.
        Index("ix_tickets_department_status_due", "department_id", "status", "due_at"),
        # "My tickets".
        Index("ix_tickets_assignee_status_due", "assignee_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(
        String(20), unique=True, index=True, doc="Readable code, TK-<year>-<number of the year>"
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(24), default="unassigned", index=True)
    needs_review: Mapped[bool] = mapped_column(
        default=False, doc="Wrap-up timed out: a supervisor must categorise it"
    )
    priority: Mapped[str] = mapped_column(String(12), default="normal")
    subject: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketEvent.id"
    )


class TicketEvent(Base):
    """Append-only history of a ticket: who, when, from what to what (status, person,
    department), with a note (the comment, the transfer's reason)."""

    __tablename__ = "ticket_events"
    # Reports: status moves, reopenings and closings in a date range.
    __table_args__ = (Index("ix_ticket_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str] = mapped_column(String(24), default="")
    to_status: Mapped[str] = mapped_column(String(24), default="")
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    to_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketCodeCounter(Base):
    """SQLite: the last number handed out per year, bumped in the creating transaction
    (PostgreSQL uses a sequence per year: ``allocate_code``)."""

    __tablename__ = "ticket_code_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class TicketAttachment(Base):
    """A file attached to a ticket; the bytes live under the attachments folder."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    stored_path: Mapped[str] = mapped_column(String(300), doc="Relative to the attachments folder")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketEscalation(Base):
    """An SLA threshold already handled for a ticket: each is announced once."""

    __tablename__ = "ticket_escalations"
    __table_args__ = (UniqueConstraint("ticket_id", "threshold"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    threshold: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]


#: PostgreSQL: one sequence per year hands the numbers out (``ticket_codes_2026``)
SEQUENCE_PREFIX = "ticket_codes_"


def allocate_code(connection: Connection, year: int) -> str:
    """The next code of ``year``, unique under concurrent creation on both databases.

    PostgreSQL: ``nextval`` of the year's sequence, which locks nothing until commit. A
    counter row bumped in the creating transaction stays locked until that transaction
    commits, across all its round trips: on a busy daemon (40 tickets/s) creations queued
    behind each other for 0.3-0.5 s, and the caller lookups of new calls behind them. A
    creation that rolls back leaves its number unused. The sequence is created on the
    year's first ticket, starting after the highest code of that year already stored (so a
    restored or migrated database goes on from its tickets), under a lock that makes
    concurrent first tickets create it once.
    SQLite: one writer at a time, so the year's counter row is bumped in the creating
    transaction, without gaps."""
    if connection.dialect.name == "postgresql":
        return format_code(year, _next_in_sequence(connection, year))
    connection.execute(
        sqlite.insert(TicketCodeCounter)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    number = connection.execute(
        update(TicketCodeCounter)
        .where(TicketCodeCounter.year == year)
        .values(last=TicketCodeCounter.last + 1)
        .returning(TicketCodeCounter.last)
    ).scalar_one()
    return format_code(year, number)


def _next_in_sequence(connection: Connection, year: int) -> int:
    name = f"{SEQUENCE_PREFIX}{year:04d}"
    next_value = text("SELECT nextval(to_regclass(:name))")  # NULL while it does not exist
    number = connection.execute(next_value, {"name": name}).scalar()
    if number is None:
        # self-exclusive, held to commit; a table lock (not an advisory one) also makes this
        # transaction see a sequence another one created meanwhile
        connection.execute(text("LOCK TABLE ticket_code_counters IN SHARE ROW EXCLUSIVE MODE"))
        number = connection.execute(next_value, {"name": name}).scalar()
        if number is None:  # first of the year: go on after the codes already stored
            prefix = format_code(year, 0)[:-6]
            highest = connection.execute(
                select(func.max(Ticket.code)).where(Ticket.code.like(f"{prefix}%"))
            ).scalar()
            start = int(highest[len(prefix) :]) + 1 if highest else 1
            connection.execute(text(f"CREATE SEQUENCE {name} START WITH {start}"))
            number = connection.execute(next_value, {"name": name}).scalar_one()
    return int(number)


def drop_code_sequences(connection: Connection) -> None:
    """PostgreSQL, after a restore: forget the years' sequences; each is created again on
    its year's next ticket, after the highest code then stored."""
    names = connection.execute(
        text("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE :prefix"),
        {"prefix": f"{SEQUENCE_PREFIX}%"},
    ).scalars()
    for name in list(names):
        connection.execute(text(f'DROP SEQUENCE IF EXISTS "{name}"'))


@event.listens_for(Ticket, "before_insert")
def _give_code(_mapper: Any, connection: Connection, target: Ticket) -> None:
    """Every ticket gets its code in the inserting transaction, whichever path creates it;
    the year is the local year of its creation (the default zone, unless the caller set
    the code already with the configured one)."""
    if not target.code:
        target.code = allocate_code(
            connection, to_local(target.created_at or utcnow(), DEFAULT_ZONE).year
        )
