"""A small back office for the ticket tests: two departments with ranked members, a
supervisor, an agent, a customer with a call, and categories with SLAs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Call, Category, Customer, Department, User

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Office:
    service: int
    parts: int
    warranty: int  # category → service, 24 h
    parts_order: int  # category → parts, 4 h
    head: int  # service head, priority 0
    binh: int  # service, priority 1
    chi: int  # service, priority 2
    dung: int  # parts, priority 0
    supervisor: int
    agent: int
    customer: int
    call: int


async def build_office(session: AsyncSession) -> Office:
    service = Department(code="tk_service", name="Dịch vụ", email="dichvu@example.vn")
    parts = Department(code="tk_parts", name="Phụ tùng", email="phutung@example.vn")
    session.add_all([service, parts])
    await session.flush()
    warranty = Category(code="tk_warranty", name="Bảo hành", department_id=service.id, sla_hours=24)
    order = Category(
        code="tk_parts_order", name="Đặt phụ tùng", department_id=parts.id, sla_hours=4
    )

    def staff(name: str, department: Department, priority: int, head: bool = False) -> User:
        return User(
            username=f"tk_{name}",
            full_name=name.title(),
            email=f"{name}@example.vn",
            role="department",
            department_id=department.id,
            department_priority=priority,
            is_department_head=head,
        )

    head = staff("an", service, 0, head=True)
    binh = staff("binh", service, 1)
    chi = staff("chi", service, 2)
    dung = staff("dung", parts, 0, head=True)
    supervisor = User(username="tk_sup", role="supervisor", email="sup@example.vn")
    agent = User(username="tk_agent", role="agent")
    customer = Customer(name="Nguyễn Văn An")
    session.add_all([warranty, order, head, binh, chi, dung, supervisor, agent, customer])
    await session.flush()
    call = Call(
        linkedid="tk.1",
        started_at=T0,
        caller_number="+84912345678",
        customer_id=customer.id,
        agent_id=agent.id,
        disposition="answered",
    )
    session.add(call)
    await session.flush()
    return Office(
        service.id,
        parts.id,
        warranty.id,
        order.id,
        head.id,
        binh.id,
        chi.id,
        dung.id,
        supervisor.id,
        agent.id,
        customer.id,
        call.id,
    )
