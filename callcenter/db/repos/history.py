"""A caller's whole history for the screen-pop, in one fast load.

The pop must reach the agent while the phone still rings, so this runs as the
call is offered (or earlier, prefetched from the caller's number): a handful of
indexed queries — the customer with phones and vehicles, the latest calls with
agent and category, open and recent tickets with department — returned as the
pure dataclasses of :mod:`callcenter.core.screenpop`.

The statements are Core selects of plain columns on the session's connection: the
ORM's object loading cost more of the daemon's CPU than the queries' round trips
(issue 19: 5 ms of CPU per caller before, with two lookups per call).

Survey answers: the customer's latest responses, one line per answer.
Transcripts: the calls table has no transcript column yet; the field is None.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.core.phones import Phone, normalize_phone
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
    CustomerPhone,
    Department,
    Ticket,
    User,
    Vehicle,
)
from callcenter.db.repos import surveys as surveys_repo

CALL_LIMIT = 20
RECENT_TICKET_LIMIT = 10
OPEN_TICKET_LIMIT = 20


_OWNER_PHONE = aliased(CustomerPhone)

# The statements are built once, with bound parameters: building a select (columns,
# joins, coercions) each time cost the daemon more CPU than running it (half of a
# caller lookup's CPU at 45 calls/s, issue 19); SQLAlchemy caches the compiled form.
_CUSTOMER = (
    select(
        Customer.id,
        Customer.name,
        Customer.email,
        Customer.province,
        Customer.district,
        Customer.address,
        Customer.customer_type,
        Customer.tags,
        Customer.notes,
        Customer.do_not_call,
        CustomerPhone.id,
        CustomerPhone.number,
        CustomerPhone.is_primary,
        CustomerPhone.label,
        Vehicle.id,
        Vehicle.vin,
        Vehicle.model,
        Vehicle.plate,
        Vehicle.purchase_date,
        Vehicle.warranty_end,
        Vehicle.dealer,
    )
    .outerjoin(CustomerPhone, CustomerPhone.customer_id == Customer.id)
    .outerjoin(Vehicle, Vehicle.customer_id == Customer.id)
    .order_by(CustomerPhone.id, Vehicle.id)
)
_CUSTOMER_BY_ID = _CUSTOMER.where(Customer.id == bindparam("customer_id"))
# The owner of a number is chosen as ``customers.find_by_phone`` chooses: the customer for
# whom it is the primary number first, then the oldest record.
_CUSTOMER_BY_PHONE = _CUSTOMER.where(
    Customer.id
    == select(_OWNER_PHONE.customer_id)
    .where(_OWNER_PHONE.number == bindparam("number"))
    .order_by(_OWNER_PHONE.is_primary.desc(), _OWNER_PHONE.customer_id)
    .limit(1)
    .scalar_subquery()
)


async def load_customer(session: AsyncSession, customer_id: int) -> CustomerView | None:
    """A customer with phones and vehicles, by id (see :func:`_customer`)."""
    return await _customer(session, _CUSTOMER_BY_ID, {"customer_id": customer_id})


async def customer_by_phone(session: AsyncSession, number: str) -> CustomerView | None:
    """The customer who owns ``number`` with phones and vehicles, in one statement (the
    phones and vehicles come joined: a customer has a few of each)."""
    phone = normalize_phone(number)
    if not isinstance(phone, Phone):
        return None
    return await _customer(session, _CUSTOMER_BY_PHONE, {"number": phone.e164})


async def _customer(
    session: AsyncSession, statement: Any, parameters: dict[str, Any]
) -> CustomerView | None:
    """The customer ``statement`` selects, with phones and vehicles joined: one round trip
    of plain columns (the ORM's object loading cost more CPU than the query)."""
    connection = await session.connection()
    rows = (await connection.execute(statement, parameters)).all()
    if not rows:
        return None
    phones: dict[int, PhoneView] = {}
    vehicles: dict[int, VehicleView] = {}
    for row in rows:
        if row[10] is not None and row[10] not in phones:
            phones[row[10]] = PhoneView(row[11], row[12], row[13])
        if row[14] is not None and row[14] not in vehicles:
            vehicles[row[14]] = VehicleView(*row[15:21])
    first = rows[0]
    return CustomerView(
        id=first[0],
        name=first[1],
        phones=tuple(phones[key] for key in sorted(phones)),
        vehicles=tuple(vehicles[key] for key in sorted(vehicles)),
        email=first[2],
        province=first[3],
        district=first[4],
        address=first[5],
        customer_type=first[6],
        tags=tuple(str(tag) for tag in (first[7] or [])),
        notes=first[8],
        do_not_call=first[9],
    )


async def caller_history(session: AsyncSession, number: str) -> CallerHistory:
    """Everything the pop shows about whoever owns ``number`` (empty when nobody does)."""
    customer = await customer_by_phone(session, number)
    if customer is None:
        return CallerHistory(customer=None)
    return await history_of(session, customer)


# Built once: ``aliased()`` copies the table's columns, and a fresh copy per screen-pop
# was cyclic garbage on the hot path (about ten Column objects per call, found with the
# screen-pop bench's ``--gc-census``; issue 19).
_WRAP_CATEGORY = aliased(Category)
_FIRST_TICKET_CATEGORY = aliased(Category)


def _calls_statement() -> Any:
    ticket_category = (
        select(Ticket.category_id)
        .where(Ticket.call_id == Call.id)
        .order_by(Ticket.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Call.id,
            Call.started_at,
            Call.direction,
            Call.talk_seconds,
            Call.disposition,
            Call.recording_path,
            User.full_name,
            User.username,
            _WRAP_CATEGORY.name,
            _FIRST_TICKET_CATEGORY.name,
        )
        .outerjoin(User, User.id == Call.agent_id)
        .outerjoin(CallWrapUp, CallWrapUp.call_id == Call.id)
        .outerjoin(_WRAP_CATEGORY, _WRAP_CATEGORY.id == CallWrapUp.category_id)
        .outerjoin(_FIRST_TICKET_CATEGORY, _FIRST_TICKET_CATEGORY.id == ticket_category)
        .where(Call.customer_id == bindparam("customer_id"))
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


_CALLS = _calls_statement()


async def load_calls(
    session: AsyncSession, customer_id: int, *, limit: int = CALL_LIMIT
) -> tuple[EarlierCall, ...]:
    """Latest calls of a customer with the agent and the category the agent chose."""
    connection = await session.connection()
    rows = await connection.execute(_CALLS, {"customer_id": customer_id, "limit": limit})
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


_TICKETS = (
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
        Ticket.assignee_id,
        Ticket.created_by_id,
        Ticket.updated_at,
    )
    .outerjoin(Department, Department.id == Ticket.department_id)
    .outerjoin(Category, Category.id == Ticket.category_id)
    .where(Ticket.customer_id == bindparam("customer_id"))
    .order_by(Ticket.created_at.desc(), Ticket.id.desc())
)
_UNFINISHED = [str(s) for s in UNFINISHED_STATUSES]
_OPEN_TICKETS = _TICKETS.where(Ticket.status.in_(_UNFINISHED)).limit(OPEN_TICKET_LIMIT)
_RECENT_TICKETS = _TICKETS.where(Ticket.status.not_in(_UNFINISHED)).limit(RECENT_TICKET_LIMIT)


def _ticket_view(row: Any) -> TicketView:
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
        agent_id=row[9] or row[10],
        updated_at=row[11],
    )


async def load_tickets(
    session: AsyncSession, customer_id: int
) -> tuple[tuple[TicketView, ...], tuple[TicketView, ...]]:
    """(open tickets, recent closed/resolved tickets) of a customer, newest first."""
    connection = await session.connection()
    parameters = {"customer_id": customer_id}
    open_rows = await connection.execute(_OPEN_TICKETS, parameters)
    recent_rows = await connection.execute(_RECENT_TICKETS, parameters)
    return (
        tuple(_ticket_view(r) for r in open_rows),
        tuple(_ticket_view(r) for r in recent_rows),
    )


async def load_history(session: AsyncSession, customer_id: int | None) -> CallerHistory:
    """Everything the pop shows about one customer (an empty history for None or unknown)."""
    if customer_id is None:
        return CallerHistory(customer=None)
    customer = await load_customer(session, customer_id)
    if customer is None:
        return CallerHistory(customer=None)
    return await history_of(session, customer)


async def history_of(session: AsyncSession, customer: CustomerView) -> CallerHistory:
    """The history of a customer already loaded (e.g. by the phone lookup, phones included)."""
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
