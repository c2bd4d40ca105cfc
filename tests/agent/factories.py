"""Small builders for the agent-page tests: one known customer with a history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import (
    Call,
    Category,
    Customer,
    CustomerPhone,
    Department,
    Ticket,
    User,
    Vehicle,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@dataclass
class World:
    department_id: int
    other_department_id: int
    category_id: int
    info_category_id: int
    agent_id: int
    customer_id: int
    open_ticket_id: int
    closed_ticket_id: int
    earlier_call_id: int
    phone: str = "+84912345678"


async def _by_code(session: AsyncSession, model: Any, code: str, **fields: Any) -> Any:
    """The row with ``code`` (e.g. from the seeded reference data), created if missing."""
    found = await session.scalar(select(model).where(model.code == code))
    if found is None:
        found = model(code=code, **fields)
        session.add(found)
        await session.flush()
    return found


async def build_world(session: AsyncSession, *, agent_id: int | None = None) -> World:
    service = await _by_code(session, Department, "service", name="Dịch vụ", phone="6002")
    care = await _by_code(session, Department, "care", name="Chăm sóc khách hàng", phone="6005")
    warranty = await _by_code(
        session, Category, "warranty", name="Bảo hành", department_id=service.id, sla_hours=24
    )
    info = await _by_code(
        session, Category, "info", name="Hỏi thông tin chung", department_id=care.id, sla_hours=72
    )
    if agent_id is None:
        agent = User(username="lan", full_name="Trần Thị Lan", role="agent", interface="PJSIP/101")
        session.add(agent)
        await session.flush()
        agent_id = agent.id
    agent = await session.get(User, agent_id)
    assert agent is not None
    customer = Customer(
        name="Nguyễn Văn An",
        name_search="nguyen van an",
        province="Hà Nội",
        address="12 Láng Hạ",
        customer_type="individual",
        tags=["VIP"],
        phones=[CustomerPhone(number="+84912345678", is_primary=True)],
        vehicles=[
            Vehicle(
                vin="RLUS1234567890123",
                model="Ollin 350",
                purchase_date=date(2024, 5, 2),
                dealer="Đại lý Long Biên",
            ),
            Vehicle(vin="RLUS1234567890124", model="Auman C160", plate="29C-123.45"),
        ],
    )
    session.add(customer)
    await session.flush()
    earlier = Call(
        linkedid="old.1",
        caller_number="+84912345678",
        customer_id=customer.id,
        agent_id=agent.id,
        started_at=T0,
        answered_at=T0 + timedelta(seconds=5),
        ended_at=T0 + timedelta(seconds=95),
        talk_seconds=90,
        disposition="answered",
        recording_path="old.1.wav",
    )
    session.add(earlier)
    await session.flush()
    open_ticket = Ticket(
        customer_id=customer.id,
        call_id=earlier.id,
        category_id=warranty.id,
        department_id=service.id,
        status="unassigned",
        subject="Bảo hành: xe kêu to",
        created_at=T0,
        updated_at=T0,
    )
    closed_ticket = Ticket(
        customer_id=customer.id,
        category_id=info.id,
        department_id=care.id,
        status="closed",
        subject="Hỏi địa chỉ đại lý",
        created_at=T0 - timedelta(days=30),
        updated_at=T0,
        closed_at=T0 - timedelta(days=30),
    )
    session.add_all([open_ticket, closed_ticket])
    await session.flush()
    return World(
        department_id=service.id,
        other_department_id=care.id,
        category_id=warranty.id,
        info_category_id=info.id,
        agent_id=agent.id,
        customer_id=customer.id,
        open_ticket_id=open_ticket.id,
        closed_ticket_id=closed_ticket.id,
        earlier_call_id=earlier.id,
    )


async def add_call(session: AsyncSession, world: World, linkedid: str, **fields: Any) -> Call:
    values: dict[str, Any] = {
        "caller_number": world.phone,
        "customer_id": world.customer_id,
        "agent_id": world.agent_id,
        "started_at": T0 + timedelta(days=1),
        **fields,
    }
    call = Call(linkedid=linkedid, **values)
    session.add(call)
    await session.flush()
    return call
