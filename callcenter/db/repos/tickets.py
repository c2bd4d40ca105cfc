"""Tickets in the database: apply the workflow's plans, and what the wrap-up form needs.

The pure workflow (:mod:`callcenter.core.tickets`) decides; this module writes
the ticket, its events and the call's wrap-up row in the caller's transaction.
A call is wrapped up once: a second save (the agent and the timeout racing)
raises :class:`AlreadyWrappedUp` and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.tickets import (
    UNFINISHED_STATUSES,
    CategoryInfo,
    EventKind,
    OpenTicketInfo,
    TicketPlan,
    TicketStatus,
)
from callcenter.db.models import CallWrapUp, Category, Department, Ticket
from callcenter.db.repos import ticket_work
from callcenter.localtime import DEFAULT_ZONE


class AlreadyWrappedUp(Exception):
    """This call already has its wrap-up (saved by the agent or by the timeout)."""


@dataclass(frozen=True, slots=True)
class CategoryChoice:
    id: int
    code: str
    name: str
    name_en: str
    department_id: int | None


@dataclass(frozen=True, slots=True)
class DepartmentChoice:
    id: int
    code: str
    name: str
    name_en: str
    phone: str


async def category_info(session: AsyncSession, category_id: int | None) -> CategoryInfo | None:
    if category_id is None:
        return None
    category = await session.get(Category, category_id)
    if category is None or not category.active:
        return None
    return CategoryInfo(category.id, category.name, category.department_id, category.sla_hours)


async def open_ticket_info(session: AsyncSession, ticket_id: int | None) -> OpenTicketInfo | None:
    if ticket_id is None:
        return None
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    return OpenTicketInfo(ticket.id, ticket.customer_id, TicketStatus(ticket.status))


async def open_tickets_of(session: AsyncSession, customer_id: int) -> list[Ticket]:
    rows = await session.scalars(
        select(Ticket)
        .where(
            Ticket.customer_id == customer_id,
            Ticket.status.in_([str(s) for s in UNFINISHED_STATUSES]),
        )
        .order_by(Ticket.created_at.desc())
    )
    return list(rows)


async def category_choices(session: AsyncSession) -> list[CategoryChoice]:
    rows = await session.scalars(
        select(Category).where(Category.active.is_(True)).order_by(Category.name)
    )
    return [CategoryChoice(c.id, c.code, c.name, c.name_en, c.department_id) for c in rows]


async def department_choices(session: AsyncSession) -> list[DepartmentChoice]:
    rows = await session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.name)
    )
    return [DepartmentChoice(d.id, d.code, d.name, d.name_en, d.phone) for d in rows]


_WRAPPED_UP = select(CallWrapUp.id).where(CallWrapUp.call_id == bindparam("call_id"))


async def is_wrapped_up(session: AsyncSession, call_id: int) -> bool:
    """Whether the call has its wrap-up row (one id read, not the row: every wrap-up asks)."""
    return await session.scalar(_WRAPPED_UP, {"call_id": call_id}) is not None


async def apply_plan(
    session: AsyncSession,
    plan: TicketPlan,
    *,
    call_id: int,
    customer_id: int | None,
    user_id: int | None,
    now: datetime,
    timed_out: bool = False,
    zone: ZoneInfo = DEFAULT_ZONE,
    auto_assign: bool = True,
) -> Ticket:
    """Write the plan and the call's wrap-up row; flush, leave the commit to the caller.
    A new ticket gets its code and, when it lands unassigned in a department, goes to
    the department's best free member (``ticket_work.auto_assign_ticket``)."""
    if await is_wrapped_up(session, call_id):
        raise AlreadyWrappedUp(f"call {call_id} is already wrapped up")
    if plan.create:
        ticket = Ticket(
            code=await ticket_work.code_for(session, now, zone),
            needs_review=plan.needs_review,
            customer_id=customer_id,
            call_id=call_id,
            category_id=plan.category_id,
            department_id=plan.department_id,
            status=str(plan.status),
            priority=str(plan.priority),
            subject=plan.subject[:300],
            description=plan.description,
            created_by_id=user_id,
            due_at=plan.due_at,
            created_at=now,
            updated_at=now,
            closed_at=plan.closed_at,
        )
        session.add(ticket)
        await session.flush()
    else:
        assert plan.target_ticket_id is not None
        found = await session.get(  # see ticket_work._locked
            Ticket, plan.target_ticket_id, with_for_update={"key_share": True}
        )
        if found is None:
            raise LookupError(f"ticket {plan.target_ticket_id} is gone")
        ticket = found
        ticket.updated_at = now
    for event in plan.events:
        ticket_work.add_event(
            session,
            ticket,
            event.kind,
            user_id=user_id,
            at=now,
            from_status=event.from_status,
            to_status=event.to_status,
            to_department_id=plan.department_id if event.kind == EventKind.CREATED else None,
            note=event.note,
        )
    session.add(
        CallWrapUp(
            call_id=call_id,
            agent_id=user_id,
            ticket_id=ticket.id,
            outcome=str(plan.outcome),
            category_id=plan.category_id,
            department_id=plan.department_id,
            priority=str(plan.priority),
            notes=plan.description,
            timed_out=timed_out,
            saved_at=now,
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two saves of one call at the same instant (the agent's click and the wrap-up
        # timer, found by bench/load.py): both read "no wrap-up"; the unique call_id lets
        # one in. The other is told so (409 on the page), not a server error.
        if "call_wrapups" in str(exc.orig) or "call_id" in str(exc.orig):
            raise AlreadyWrappedUp(f"call {call_id} is already wrapped up") from exc
        raise
    if plan.create and auto_assign:
        await ticket_work.auto_assign_ticket(session, ticket, now=now)
    return ticket
