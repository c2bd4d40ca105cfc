"""A caller's whole history for the screen-pop, in one fast load.

The pop must reach the agent while the phone still rings, so this runs as the
call is offered (or earlier, prefetched from the caller's number): a handful of
indexed queries — the customer with phones and vehicles, the latest calls with
agent and category, open and recent tickets with department — returned as the
pure dataclasses of :mod:`callcenter.core.screenpop`.

Survey answers: the customer's latest responses, one line per answer.
Transcripts: the calls table has no transcript column yet; the field is None.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from callcenter.core.screenpop import (
    CallerHistory,
    CustomerView,
    EarlierCall,
    PhoneView,
    TicketView,
    VehicleView,
)
from callcenter.core.tickets import UNFINISHED_STATUSES
from callcenter.db.models import (
    Call,
    CallWrapUp,
    Category,
    Customer,
    Department,
    Ticket,
    User,
)
from callcenter.db.repos import surveys as surveys_repo

CALL_LIMIT = 20
RECENT_TICKET_LIMIT = 10
OPEN_TICKET_LIMIT = 20


def customer_view(customer: Customer) -> CustomerView:
    return CustomerView(
        id=customer.id,
        name=customer.name,
        phones=tuple(PhoneView(p.number, p.is_primary, p.label) for p in customer.phones),
        vehicles=tuple(
            VehicleView(v.vin, v.model, v.plate, v.purchase_date, v.warranty_end, v.dealer)
            for v in customer.vehicles
        ),
        email=customer.email,
        province=customer.province,
        district=customer.district,
        address=customer.address,
        customer_type=customer.customer_type,
        tags=tuple(str(tag) for tag in (customer.tags or [])),
        notes=customer.notes,
        do_not_call=customer.do_not_call,
    )


async def load_customer(session: AsyncSession, customer_id: int) -> CustomerView | None:
    customer = await session.get(
        Customer,
        customer_id,
        options=[selectinload(Customer.phones), selectinload(Customer.vehicles)],
    )
    return None if customer is None else customer_view(customer)


# Built once: ``aliased()`` copies the table's columns, and a fresh copy per screen-pop
# was cyclic garbage on the hot path (about ten Column objects per call, found with the
# screen-pop bench's ``--gc-census``; issue 19).
_WRAP_CATEGORY = aliased(Category)
_FIRST_TICKET_CATEGORY = aliased(Category)


async def load_calls(
    session: AsyncSession, customer_id: int, *, limit: int = CALL_LIMIT
) -> tuple[EarlierCall, ...]:
    """Latest calls of a customer with the agent and the category the agent chose."""
    ticket_category = (
        select(Ticket.category_id)
        .where(Ticket.call_id == Call.id)
        .order_by(Ticket.id)
        .limit(1)
        .scalar_subquery()
    )
    wrap_category = _WRAP_CATEGORY
    first_ticket_category = _FIRST_TICKET_CATEGORY
    rows = await session.execute(
        select(
            Call.id,
            Call.started_at,
            Call.direction,
            Call.talk_seconds,
            Call.disposition,
            Call.recording_path,
            User.full_name,
            User.username,
            wrap_category.name,
            first_ticket_category.name,
        )
        .outerjoin(User, User.id == Call.agent_id)
        .outerjoin(CallWrapUp, CallWrapUp.call_id == Call.id)
        .outerjoin(wrap_category, wrap_category.id == CallWrapUp.category_id)
        .outerjoin(first_ticket_category, first_ticket_category.id == ticket_category)
        .where(Call.customer_id == customer_id)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return tuple(
        EarlierCall(
            id=row[0],
            started_at=row[1],
            direction=row[2],
            talk_seconds=row[3] or 0.0,
            disposition=row[4],
            has_recording=bool(row[5]),
            agent_name=row[6] or row[7] or "",
            category_name=row[8] or row[9] or "",
            transcript=None,
        )
        for row in rows
    )


def _ticket_query(customer_id: int):  # type: ignore[no-untyped-def]
    return (
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.status,
            Department.name,
            Category.name,
            Ticket.priority,
            Ticket.created_at,
            Ticket.closed_at,
            Ticket.code,
        )
        .outerjoin(Department, Department.id == Ticket.department_id)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )


def _ticket_view(row: tuple) -> TicketView:  # type: ignore[type-arg]
    return TicketView(
        id=row[0],
        subject=row[1],
        status=row[2],
        department_name=row[3] or "",
        category_name=row[4] or "",
        priority=row[5],
        created_at=row[6],
        closed_at=row[7],
        code=row[8] or "",
    )


async def load_tickets(
    session: AsyncSession, customer_id: int
) -> tuple[tuple[TicketView, ...], tuple[TicketView, ...]]:
    """(open tickets, recent closed/resolved tickets) of a customer, newest first."""
    open_rows = await session.execute(
        _ticket_query(customer_id)
        .where(Ticket.status.in_([str(s) for s in UNFINISHED_STATUSES]))
        .limit(OPEN_TICKET_LIMIT)
    )
    recent_rows = await session.execute(
        _ticket_query(customer_id)
        .where(Ticket.status.not_in([str(s) for s in UNFINISHED_STATUSES]))
        .limit(RECENT_TICKET_LIMIT)
    )
    return (
        tuple(_ticket_view(tuple(r)) for r in open_rows),
        tuple(_ticket_view(tuple(r)) for r in recent_rows),
    )


async def load_history(session: AsyncSession, customer_id: int | None) -> CallerHistory:
    """Everything the pop shows about one customer (an empty history for None or unknown)."""
    if customer_id is None:
        return CallerHistory(customer=None)
    customer = await load_customer(session, customer_id)
    if customer is None:
        return CallerHistory(customer=None)
    return await history_of(session, customer)


async def history_of(session: AsyncSession, customer: CustomerView | Customer) -> CallerHistory:
    """The history of a customer already loaded (e.g. by the phone lookup, phones included)."""
    if isinstance(customer, Customer):
        customer = customer_view(customer)
    customer_id = customer.id
    calls = await load_calls(session, customer_id)
    open_tickets, recent_tickets = await load_tickets(session, customer_id)
    return CallerHistory(
        customer=customer,
        calls=calls,
        open_tickets=open_tickets,
        recent_tickets=recent_tickets,
        surveys=await surveys_repo.pop_answers(session, customer_id),
    )
