"""Reading tickets for people: the department inbox and the supervisors' list.

Every query here is made on behalf of a user and ANDs ``auth.scope.ticket_filter(user)``,
so no page built on it can show a ticket the user may not read. Overdue = still open
(unassigned, assigned, in progress, waiting) and past its due time, at ``now``.
The inbox is shaped for the indexes ``ix_tickets_assignee_status_due`` ("my tickets")
and ``ix_tickets_department_status_due`` (the department's unassigned ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.auth.scope import Reader, ticket_filter
from callcenter.core.tickets import OPEN_STATUSES, Priority, TicketStatus
from callcenter.db.models import Category, Customer, Department, Ticket, User

MAX_PAGE = 200
Q = TypeVar("Q", bound=Select[Any])
_OPEN = [str(s) for s in OPEN_STATUSES]


@dataclass(frozen=True, slots=True)
class TicketRow:
    """One line of a list: enough to show, sort and link it (``/tickets/<code>``)."""

    id: int
    code: str
    subject: str
    status: str
    priority: str
    needs_review: bool
    overdue: bool
    due_at: datetime | None
    created_at: datetime
    department_id: int | None
    department_name: str
    category_id: int | None
    category_name: str
    assignee_id: int | None
    assignee_name: str
    customer_id: int | None
    customer_name: str


@dataclass(frozen=True, slots=True)
class TicketFilters:
    statuses: Sequence[str] = ()
    department_id: int | None = None
    category_id: int | None = None
    assignee_id: int | None = None
    created_by_id: int | None = None
    priority: str | None = None
    created_from: datetime | None = None  # UTC bounds of local days (localtime.day_bounds)
    created_to: datetime | None = None
    overdue: bool | None = None
    needs_review: bool | None = None
    text: str = ""  # a code, or words of the subject


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[TicketRow]
    total: int
    filters: TicketFilters = field(default_factory=TicketFilters)


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    return and_(Ticket.status.in_(_OPEN), Ticket.due_at.is_not(None), Ticket.due_at <= now)


_PRIORITY_ORDER = case(
    {str(Priority.URGENT): 0, str(Priority.HIGH): 1, str(Priority.NORMAL): 2},
    value=Ticket.priority,
    else_=3,
)


def _rows_query(now: datetime) -> Select[tuple[object, ...]]:
    assignee = aliased(User)
    overdue = overdue_condition(now)
    return (
        select(
            Ticket.id,
            Ticket.code,
            Ticket.subject,
            Ticket.status,
            Ticket.priority,
            Ticket.needs_review,
            case((overdue, True), else_=False),
            Ticket.due_at,
            Ticket.created_at,
            Ticket.department_id,
            func.coalesce(Department.name, ""),
            Ticket.category_id,
            func.coalesce(Category.name, ""),
            Ticket.assignee_id,
            func.coalesce(func.nullif(assignee.full_name, ""), assignee.username, ""),
            Ticket.customer_id,
            func.coalesce(Customer.name, ""),
        )
        .outerjoin(Department, Department.id == Ticket.department_id)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
    )


def _row(values: Sequence[object]) -> TicketRow:
    return TicketRow(*values)  # type: ignore[arg-type]


def _filtered(query: Q, filters: TicketFilters, now: datetime) -> Q:
    if filters.statuses:
        query = query.where(Ticket.status.in_([str(TicketStatus(s)) for s in filters.statuses]))
    if filters.department_id is not None:
        query = query.where(Ticket.department_id == filters.department_id)
    if filters.category_id is not None:
        query = query.where(Ticket.category_id == filters.category_id)
    if filters.assignee_id is not None:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    if filters.created_by_id is not None:
        query = query.where(Ticket.created_by_id == filters.created_by_id)
    if filters.priority:
        query = query.where(Ticket.priority == str(Priority(filters.priority)))
    if filters.created_from is not None:
        query = query.where(Ticket.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(Ticket.created_at < filters.created_to)
    if filters.overdue is True:
        query = query.where(overdue_condition(now))
    elif filters.overdue is False:
        query = query.where(~overdue_condition(now))
    if filters.needs_review is not None:
        query = query.where(Ticket.needs_review.is_(filters.needs_review))
    text = filters.text.strip()
    if text:
        code = text.upper().replace(" ", "")
        query = query.where(
            or_(Ticket.code == code, Ticket.subject.icontains(text[:100], autoescape=True))
        )
    return query


async def inbox(
    session: AsyncSession,
    user: Reader,
    *,
    now: datetime,
    filters: TicketFilters = TicketFilters(),
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """The department inbox: the user's open tickets and their department's unassigned
    ones; overdue first, then by due time, priority and age."""
    mine = and_(Ticket.assignee_id == user.id, Ticket.status.in_(_OPEN))
    pool: ColumnElement[bool] = false()
    if user.department_id is not None:
        pool = and_(
            Ticket.department_id == user.department_id,
            Ticket.status == str(TicketStatus.UNASSIGNED),
        )
    where = and_(or_(mine, pool), ticket_filter(user))
    query = _filtered(_rows_query(now).where(where), filters, now)
    total = await _count(session, _filtered(select(Ticket.id).where(where), filters, now))
    rows = await session.execute(
        query.order_by(
            case((overdue_condition(now), 0), else_=1),
            Ticket.due_at.asc().nulls_last(),
            _PRIORITY_ORDER,
            Ticket.created_at,
            Ticket.id,
        )
        .limit(min(max(limit, 1), MAX_PAGE))
        .offset(max(offset, 0))
    )
    return Page([_row(tuple(r)) for r in rows], total, filters)


async def list_tickets(
    session: AsyncSession,
    user: Reader,
    *,
    now: datetime,
    filters: TicketFilters = TicketFilters(),
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """The ticket list (supervisors, care team, and anyone within their scope): newest
    first, with the filters a supervisor uses."""
    where = ticket_filter(user)
    total = await _count(session, _filtered(select(Ticket.id).where(where), filters, now))
    rows = await session.execute(
        _filtered(_rows_query(now).where(where), filters, now)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(min(max(limit, 1), MAX_PAGE))
        .offset(max(offset, 0))
    )
    return Page([_row(tuple(r)) for r in rows], total, filters)


async def _count(session: AsyncSession, ids: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


async def ticket_for(session: AsyncSession, user: Reader, code: str) -> Ticket | None:
    """One ticket by its code, if the user may read it (None otherwise: a page answers 404
    whether it does not exist or is not theirs)."""
    found: Ticket | None = await session.scalar(
        select(Ticket).where(Ticket.code == code.strip().upper(), ticket_filter(user))
    )
    return found


async def overdue_open(session: AsyncSession, now: datetime, limit: int = 500) -> Sequence[Ticket]:
    """Open tickets past due, oldest due first (the escalation sweep)."""
    rows = await session.scalars(
        select(Ticket).where(overdue_condition(now)).order_by(Ticket.due_at, Ticket.id).limit(limit)
    )
    return rows.all()
