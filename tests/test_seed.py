"""Reference and demo data: what a newcomer sees on day one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.db.models import (
    Call,
    Category,
    Customer,
    Department,
    PauseReason,
    Ticket,
    Vehicle,
)
from callcenter.seed import PAUSE_REASONS, seed_demo_data, seed_reference_data

NOW = datetime(2034, 3, 15, 3, 0, tzinfo=UTC)  # far from the machine's date on purpose


async def count(session: Any, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_reference_data_is_idempotent(session_factory: async_sessionmaker[Any]) -> None:
    for _ in range(2):
        async with session_factory() as session, session.begin():
            await seed_reference_data(session)
    async with session_factory() as session:
        names = set((await session.scalars(select(Department.name))).all())
        assert names == {"Kinh doanh", "Dịch vụ", "Phụ tùng", "Đại lý", "Chăm sóc khách hàng"}
        parts = await session.scalar(select(Category).where(Category.code == "parts-shipping"))
        assert parts is not None
        department = await session.get(Department, parts.department_id)
        assert department is not None and department.name == "Phụ tùng"
        reasons = (await session.scalars(select(PauseReason.name))).all()
        assert sorted(reasons) == sorted(r[1] for r in PAUSE_REASONS)


async def test_demo_data_is_rich_and_loaded_once(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session, session.begin():
        await seed_reference_data(session)
        assert await seed_demo_data(session, NOW) == 200
    async with session_factory() as session, session.begin():
        assert await seed_demo_data(session, NOW) == 0
    async with session_factory() as session:
        assert await count(session, Customer) == 200
        assert await count(session, Vehicle) > 200
        assert await count(session, Call) > 100
        assert await count(session, Ticket) > 50
        fleets = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.customer_type == "fleet")
        )
        assert fleets and fleets > 10
        for vin in (await session.scalars(select(Vehicle.vin))).all():
            assert len(vin) == 17 and not set(vin) & set("IOQ")
        # Purchases are dated from the clock's day, not the machine's (demo and tests agree).
        bought = (await session.scalars(select(Vehicle.purchase_date))).all()
        assert min(bought) >= date(2030, 2, 4) and max(bought) <= date(2034, 2, 13)
