"""Customers: find them (by phone for the screen-pop, by name, VIN, plate), create and change them.

Every write goes through :func:`create_customer` / :func:`apply_changes`, which
append a ``CustomerChange`` row with the old and new value of each field, so the
audit trail cannot be forgotten. Functions flush; the caller commits.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from callcenter.core.customers import (
    Changes,
    CustomerData,
    RuleError,
    VehicleData,
    customer_type_for,
    normalize_tags,
    normalize_vin,
    plate_key,
)
from callcenter.core.phones import Phone, normalize_phone
from callcenter.core.tasks import DO_NOT_CALL_OUTCOME, OPEN_TASK_STATUSES, TaskStatus
from callcenter.core.text import fold
from callcenter.db.models.customers import Customer, CustomerChange, CustomerPhone, Vehicle
from callcenter.db.models.outbound import CallListItem
from callcenter.db.models.tasks import Task
from callcenter.db.repos import audit as audit_repo


class Actor(Protocol):
    """Who changes a customer: a ``User`` row or the request's ``CurrentUser``."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


# --- lookups -------------------------------------------------------------------------


def _with_details(query: Select[Any]) -> Select[Any]:
    return query.options(joinedload(Customer.phones), joinedload(Customer.vehicles))


async def find_by_phone(session: AsyncSession, number: str) -> Customer | None:
    """The customer who owns ``number`` (any written form, old or new numbering), or None.

    The screen-pop path: one SQL statement that uses the index on
    ``customer_phones.number`` and brings the phones and vehicles along (joined).
    Anonymous and invalid numbers never match. If two customers share a number,
    the one for whom it is the primary number wins, then the oldest record.
    """
    result = normalize_phone(number)
    if not isinstance(result, Phone):
        return None
    inner = (
        select(Customer.id)
        .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
        .where(CustomerPhone.number == result.e164)
        .order_by(CustomerPhone.is_primary.desc(), Customer.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(_with_details(select(Customer).where(Customer.id == inner)))
    return rows.unique().scalar_one_or_none()


async def owners_of_numbers(session: AsyncSession, numbers: Iterable[str]) -> dict[str, int]:
    """E.164 number -> the customer who owns it, by :func:`find_by_phone`'s rule (primary
    owner first, then the oldest record), for many numbers in one query."""
    rows = await session.execute(
        select(CustomerPhone.number, CustomerPhone.customer_id)
        .where(CustomerPhone.number.in_(list(numbers)))
        .order_by(CustomerPhone.is_primary.desc(), CustomerPhone.customer_id)
    )
    owners: dict[str, int] = {}
    for number, customer_id in rows:
        owners.setdefault(number, customer_id)
    return owners


async def find_all_by_phone(session: AsyncSession, number: str) -> Sequence[Customer]:
    """Every customer with ``number`` (usually one), primary owners first."""
    result = normalize_phone(number)
    if not isinstance(result, Phone):
        return []
    query = _with_details(
        select(Customer)
        .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
        .where(CustomerPhone.number == result.e164)
        .order_by(CustomerPhone.is_primary.desc(), Customer.id)
    )
    return (await session.execute(query)).unique().scalars().all()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_condition(text: str) -> Any:
    words = fold(text).split()
    return [Customer.name_search.like(f"%{_like_escape(word)}%", escape="\\") for word in words]


async def find_by_name(session: AsyncSession, text: str, *, limit: int = 50) -> Sequence[Customer]:
    """Customers whose name contains every word of ``text``, accents ignored
    ("nguyen van a" finds "Nguyễn Văn A")."""
    conditions = _name_condition(text)
    if not conditions:
        return []
    folded = fold(text)
    closeness = case(
        (Customer.name_search == folded, 0),
        (Customer.name_search.like(f"{_like_escape(folded)}%", escape="\\"), 1),
        else_=2,
    )
    query = _with_details(
        select(Customer)
        .where(*conditions)
        .order_by(closeness, Customer.name_search, Customer.id)
        .limit(limit)
    )
    return (await session.execute(query)).unique().scalars().all()


async def find_by_vin(session: AsyncSession, vin: str) -> Customer | None:
    try:
        clean = normalize_vin(vin)
    except RuleError:
        return None
    inner = select(Vehicle.customer_id).where(Vehicle.vin == clean).scalar_subquery()
    rows = await session.execute(_with_details(select(Customer).where(Customer.id == inner)))
    return rows.unique().scalar_one_or_none()


async def find_by_plate(session: AsyncSession, plate: str) -> Sequence[Customer]:
    key = plate_key(plate)
    if not key:
        return []
    inner = select(Vehicle.customer_id).where(Vehicle.plate_key == key)
    query = _with_details(select(Customer).where(Customer.id.in_(inner)).order_by(Customer.id))
    return (await session.execute(query)).unique().scalars().all()


async def get_customer(session: AsyncSession, customer_id: int) -> Customer | None:
    rows = await session.execute(_with_details(select(Customer).where(Customer.id == customer_id)))
    return rows.unique().scalar_one_or_none()


@dataclass(frozen=True)
class CustomerFilter:
    """What the search page and the export filter on; ``text`` may be a name, phone, VIN or plate."""

    text: str = ""
    province: str = ""
    customer_type: str = ""
    tag: str = ""
    source: str = ""


def filtered_query(where: CustomerFilter) -> Select[Any]:
    """Customers matching ``where`` (no ordering, no eager loading)."""
    query = select(Customer)
    text = where.text.strip()
    if text:
        phone = normalize_phone(text) if any(ch.isdigit() for ch in text) else None
        key = plate_key(text)
        alternatives: list[Any] = []
        if isinstance(phone, Phone):
            alternatives.append(
                Customer.id.in_(
                    select(CustomerPhone.customer_id).where(CustomerPhone.number == phone.e164)
                )
            )
        if key and any(ch.isdigit() for ch in key):
            alternatives.append(
                Customer.id.in_(
                    select(Vehicle.customer_id).where(
                        or_(Vehicle.plate_key == key, Vehicle.vin == key)
                    )
                )
            )
        name_conditions = _name_condition(text)
        if name_conditions:
            alternatives.append(and_(*name_conditions))
        query = query.where(or_(*alternatives))
    if where.province:
        query = query.where(func.lower(Customer.province) == where.province.strip().lower())
    if where.customer_type:
        query = query.where(Customer.customer_type == where.customer_type)
    if where.source:
        query = query.where(Customer.source == where.source)
    if where.tag:
        # Tags are a JSON list; both backends keep the JSON text as written (ASCII-escaped).
        needle = _like_escape(json.dumps(where.tag.strip()))
        query = query.where(cast(Customer.tags, String).like(f"%{needle}%", escape="\\"))
    return query


async def search(
    session: AsyncSession, where: CustomerFilter, *, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Customer], int]:
    """A page of customers matching ``where`` (by name) and how many match in total."""
    return await search_query(session, filtered_query(where), limit=limit, offset=offset)


async def search_query(
    session: AsyncSession, base: Select[Any], *, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Customer], int]:
    """A page of ``base`` (a ``select(Customer)`` with filters), ordered by name, and its size."""
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    query = _with_details(
        base.order_by(Customer.name_search, Customer.id).limit(limit).offset(offset)
    )
    return (await session.execute(query)).unique().scalars().all(), int(total)


async def owners_of(
    session: AsyncSession, phones: Iterable[str], vins: Iterable[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Which customer holds each of these E.164 numbers and VINs (two batched queries)."""
    phone_list, vin_list = sorted(set(phones)), sorted(set(vins))
    by_phone: dict[str, int] = {}
    by_vin: dict[str, int] = {}
    for start in range(0, len(phone_list), 500):
        chunk = phone_list[start : start + 500]
        rows = await session.execute(
            select(CustomerPhone.number, CustomerPhone.customer_id)
            .where(CustomerPhone.number.in_(chunk))
            .order_by(CustomerPhone.is_primary.desc(), CustomerPhone.customer_id.desc())
        )
        for number, customer_id in rows:
            by_phone[number] = customer_id  # the last one wins: primary, then oldest
    for start in range(0, len(vin_list), 500):
        chunk = vin_list[start : start + 500]
        rows = await session.execute(
            select(Vehicle.vin, Vehicle.customer_id).where(Vehicle.vin.in_(chunk))
        )
        by_vin.update({vin: customer_id for vin, customer_id in rows})
    return by_phone, by_vin


async def load_customers(session: AsyncSession, ids: Iterable[int]) -> dict[int, Customer]:
    """Customers by id with phones and vehicles (for merging a batch of import rows)."""
    wanted = sorted(set(ids))
    found: dict[int, Customer] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Customer)
            .where(Customer.id.in_(wanted[start : start + 500]))
            .options(selectinload(Customer.phones), selectinload(Customer.vehicles))
        )
        found.update({customer.id: customer for customer in rows.scalars()})
    return found


# --- plain data <-> rows -------------------------------------------------------------


def to_data(customer: Customer) -> CustomerData:
    """The customer as plain data (primary phone first) for the core rules."""
    phones = sorted(customer.phones, key=lambda phone: (not phone.is_primary, phone.id or 0))
    return CustomerData(
        name=customer.name,
        phones=[phone.number for phone in phones],
        email=customer.email,
        birthday=customer.birthday,
        province=customer.province,
        district=customer.district,
        address=customer.address,
        customer_type=customer.customer_type,
        tags=[str(tag) for tag in customer.tags or []],
        notes=customer.notes,
        source=customer.source,
        do_not_call=customer.do_not_call,
        vehicles=[
            VehicleData(
                vin=vehicle.vin,
                model=vehicle.model,
                plate=vehicle.plate,
                purchase_date=vehicle.purchase_date,
                warranty_end=vehicle.warranty_end,
                dealer=vehicle.dealer,
            )
            for vehicle in customer.vehicles
        ],
    )


def _write(customer: Customer, data: CustomerData) -> None:
    """Make the row (and its phones and vehicles) equal to ``data``."""
    customer.name = data.name
    customer.name_search = fold(data.name)[:200]
    customer.email = data.email
    customer.birthday = data.birthday
    customer.province = data.province
    customer.district = data.district
    customer.address = data.address
    customer.tags = normalize_tags(data.tags)
    customer.notes = data.notes
    customer.source = data.source
    customer.do_not_call = data.do_not_call
    if not data.do_not_call:  # cleared on the form: the old reason no longer applies
        customer.do_not_call_reason, customer.do_not_call_by_id = "", None
        customer.do_not_call_at = None
    customer.customer_type = customer_type_for(len(data.vehicles), data.customer_type)

    wanted_phones = list(dict.fromkeys(data.phones))
    current = {phone.number: phone for phone in customer.phones}
    for phone in list(customer.phones):
        if phone.number not in wanted_phones:
            customer.phones.remove(phone)
    for index, number in enumerate(wanted_phones):
        row = current.get(number)
        if row is None:
            row = CustomerPhone(number=number)
            customer.phones.append(row)
        row.is_primary = index == 0

    wanted_vehicles = {vehicle.vin: vehicle for vehicle in data.vehicles}
    existing = {vehicle.vin: vehicle for vehicle in customer.vehicles}
    for vehicle in list(customer.vehicles):
        if vehicle.vin not in wanted_vehicles:
            customer.vehicles.remove(vehicle)
    for vin, vehicle_data in wanted_vehicles.items():
        row_vehicle = existing.get(vin)
        if row_vehicle is None:
            row_vehicle = Vehicle(vin=vin)
            customer.vehicles.append(row_vehicle)
        row_vehicle.model = vehicle_data.model
        row_vehicle.plate = vehicle_data.plate
        row_vehicle.plate_key = plate_key(vehicle_data.plate)
        row_vehicle.purchase_date = vehicle_data.purchase_date
        row_vehicle.warranty_end = vehicle_data.warranty_end
        row_vehicle.dealer = vehicle_data.dealer


def _change_row(
    customer: Customer,
    action: str,
    changes: dict[str, Any],
    actor: Actor | None,
    via: str,
    at: datetime,
    import_id: int | None,
) -> CustomerChange:
    return CustomerChange(
        customer=customer,
        at=at,
        user_id=actor.id if actor is not None else None,
        username=(actor.username if actor is not None else "")[:64],
        action=action,
        via=via,
        import_id=import_id,
        changes=changes,
    )


async def create_customer(
    session: AsyncSession,
    data: CustomerData,
    *,
    at: datetime,
    actor: Actor | None = None,
    via: str = "web",
    import_id: int | None = None,
    flush: bool = True,
) -> Customer:
    """Insert a customer with its phones and vehicles and a "created" trail entry."""
    customer = Customer(
        created_at=at,
        updated_at=at,
        created_by_id=actor.id if actor is not None else None,
        updated_by_id=actor.id if actor is not None else None,
        phones=[],
        vehicles=[],
    )
    _write(customer, data)
    session.add(customer)
    snapshot = {
        "name": data.name,
        "phones": list(data.phones),
        "vehicles": [vehicle.vin for vehicle in data.vehicles],
    }
    session.add(_change_row(customer, "created", snapshot, actor, via, at, import_id))
    if flush:
        await session.flush()
    return customer


async def begin_write(session: AsyncSession) -> None:
    """Take SQLite's write lock now, until commit (no-op on PostgreSQL).

    A write, even of no row, begins SQLite's write transaction: other connections'
    writes then wait (busy timeout) until this short transaction commits.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("UPDATE customers SET id = id WHERE 1 = 0"))


async def bulk_create(
    session: AsyncSession,
    customers: Sequence[CustomerData],
    *,
    at: datetime,
    actor: Actor | None = None,
    via: str = "import",
    import_id: int | None = None,
) -> list[int]:
    """Insert many new customers (with phones, vehicles and "created" trail entries) at once.

    For imports: ids are reserved first (PostgreSQL: from the sequence; SQLite:
    after taking the database's write lock, above the current maximum), so each
    table gets one multi-row INSERT. Returns the new ids in the order given.
    """
    if not customers:
        return []
    count = len(customers)
    if session.get_bind().dialect.name == "postgresql":
        reserved = await session.execute(
            text("SELECT nextval('customers_id_seq') FROM generate_series(1, :count)"),
            {"count": count},
        )
        ids = [int(value) for value in reserved.scalars()]
    else:
        # Holding the write lock, nobody else can insert a customer between reading the
        # maximum id and inserting above it.
        await begin_write(session)
        top = (await session.execute(select(func.max(Customer.id)))).scalar() or 0
        ids = list(range(top + 1, top + count + 1))
    user_id = actor.id if actor is not None else None
    username = (actor.username if actor is not None else "")[:64]
    customer_rows: list[dict[str, Any]] = []
    phone_rows: list[dict[str, Any]] = []
    vehicle_rows: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    for customer_id, data in zip(ids, customers, strict=True):
        customer_rows.append(
            {
                "id": customer_id,
                "name": data.name,
                "name_search": fold(data.name)[:200],
                "email": data.email,
                "birthday": data.birthday,
                "province": data.province,
                "district": data.district,
                "address": data.address,
                "customer_type": customer_type_for(len(data.vehicles), data.customer_type),
                "tags": normalize_tags(data.tags),
                "notes": data.notes,
                "source": data.source,
                "do_not_call": data.do_not_call,
                "created_at": at,
                "updated_at": at,
                "created_by_id": user_id,
                "updated_by_id": user_id,
            }
        )
        for index, number in enumerate(dict.fromkeys(data.phones)):
            phone_rows.append(
                {
                    "customer_id": customer_id,
                    "number": number,
                    "is_primary": index == 0,
                    "label": "",
                }
            )
        for vehicle in data.vehicles:
            vehicle_rows.append(
                {
                    "customer_id": customer_id,
                    "vin": vehicle.vin,
                    "model": vehicle.model,
                    "plate": vehicle.plate,
                    "plate_key": plate_key(vehicle.plate),
                    "purchase_date": vehicle.purchase_date,
                    "warranty_end": vehicle.warranty_end,
                    "dealer": vehicle.dealer,
                }
            )
        change_rows.append(
            {
                "customer_id": customer_id,
                "at": at,
                "user_id": user_id,
                "username": username,
                "action": "created",
                "via": via,
                "import_id": import_id,
                "changes": {
                    "name": data.name,
                    "phones": list(data.phones),
                    "vehicles": [vehicle.vin for vehicle in data.vehicles],
                },
            }
        )
    for table, rows in (
        (Customer, customer_rows),
        (CustomerPhone, phone_rows),
        (Vehicle, vehicle_rows),
        (CustomerChange, change_rows),
    ):
        if rows:
            await session.execute(insert(typing.cast(Table, table.__table__)), rows)
    return ids


async def apply_changes(
    session: AsyncSession,
    customer: Customer,
    data: CustomerData,
    changes: Changes,
    *,
    at: datetime,
    actor: Actor | None = None,
    via: str = "web",
    import_id: int | None = None,
    flush: bool = True,
) -> bool:
    """Store ``data`` (the result of a merge or an edit) if ``changes`` is not empty.

    Returns whether anything was written; no changes means no write and no trail
    entry, which keeps a repeated import a true no-op.
    """
    if not changes:
        return False
    _write(customer, data)
    customer.updated_at = at
    customer.updated_by_id = actor.id if actor is not None else None
    session.add(_change_row(customer, "updated", changes, actor, via, at, import_id))
    if data.do_not_call and "do_not_call" in changes:  # marked on the form or by an import
        customer.do_not_call_by_id = actor.id if actor is not None else None
        customer.do_not_call_at = at
        await call_off_planned_calls(session, customer, at=at, actor=actor)
    if flush:
        await session.flush()
    return True


async def set_do_not_call(
    session: AsyncSession,
    customer: Customer,
    *,
    on: bool,
    reason: str,
    at: datetime,
    actor: Actor | None,
    via: str = "web",
) -> bool:
    """Mark (``on``) or clear do-not-call with the reason and who did it, in the trail.

    Returns whether anything changed (marking again with the same reason is a no-op)."""
    reason = " ".join(reason.split())[:300] if on else ""
    if customer.do_not_call == on and customer.do_not_call_reason == reason:
        return False
    changes: Changes = {}
    if customer.do_not_call != on:
        changes["do_not_call"] = [customer.do_not_call, on]
    if customer.do_not_call_reason != reason:
        changes["do_not_call_reason"] = [customer.do_not_call_reason, reason]
    customer.do_not_call = on
    customer.do_not_call_reason = reason
    customer.do_not_call_by_id = actor.id if actor is not None and on else None
    customer.do_not_call_at = at if on else None
    customer.updated_at = at
    customer.updated_by_id = actor.id if actor is not None else None
    session.add(_change_row(customer, "updated", changes, actor, via, at, None))
    if on:
        await call_off_planned_calls(session, customer, at=at, actor=actor)
    await session.flush()
    return True


async def call_off_planned_calls(
    session: AsyncSession, customer: Customer, *, at: datetime, actor: Actor | None
) -> list[int]:
    """A customer who asked not to be called: every call still planned to them (callbacks,
    ticket follow-ups, care schedule calls, lead and campaign calls), by customer or by one
    of their numbers, is cancelled with the reason and audited, so no agent is ever asked
    to call them. Clearing do-not-call later brings none of them back.

    Returns the cancelled tasks' ids."""
    numbers = select(CustomerPhone.number).where(CustomerPhone.customer_id == customer.id)
    tasks = list(
        (
            await session.scalars(
                select(Task)
                .where(
                    or_(Task.customer_id == customer.id, Task.phone.in_(numbers)),
                    Task.status.in_(OPEN_TASK_STATUSES),
                )
                .order_by(Task.id)
                .with_for_update()
            )
        ).all()
    )
    if not tasks:
        return []
    who = "" if actor is None else (getattr(actor, "full_name", "") or actor.username)
    line = f"→ {DO_NOT_CALL_OUTCOME}" + (f" ({who})" if who else "")
    for task in tasks:
        task.status = TaskStatus.CANCELLED.value
        task.outcome = DO_NOT_CALL_OUTCOME
        task.notes = "\n".join(filter(None, [task.notes, line]))
    task_ids = [task.id for task in tasks]
    await session.execute(
        update(CallListItem)
        .where(CallListItem.task_id.in_(task_ids), CallListItem.status == "open")
        .values(status="do_not_call", updated_at=at)
        .execution_options(synchronize_session=False)
    )
    for task in tasks:
        await audit_repo.record(
            session,
            action="task.cancelled",
            user=actor,
            target=f"task:{task.id}",
            details={"reason": DO_NOT_CALL_OUTCOME, "customer_id": customer.id, "kind": task.kind},
            at=at,
        )
    return task_ids


async def history(
    session: AsyncSession, customer_id: int, *, limit: int = 100
) -> Sequence[CustomerChange]:
    rows = await session.execute(
        select(CustomerChange)
        .where(CustomerChange.customer_id == customer_id)
        .order_by(CustomerChange.at.desc(), CustomerChange.id.desc())
        .limit(limit)
    )
    return rows.scalars().all()


async def phone_owner_conflicts(
    session: AsyncSession, phones: Iterable[str], customer_id: int | None
) -> dict[str, int]:
    """Numbers among ``phones`` that already belong to a different customer."""
    owners, _ = await owners_of(session, phones, [])
    return {number: owner for number, owner in owners.items() if owner != customer_id}


async def vin_owner_conflicts(
    session: AsyncSession, vins: Iterable[str], customer_id: int | None
) -> dict[str, int]:
    """VINs among ``vins`` that already belong to a different customer."""
    _, owners = await owners_of(session, [], vins)
    return {vin: owner for vin, owner in owners.items() if owner != customer_id}
