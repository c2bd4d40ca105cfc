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


async def test_demo_and_tests_open_public_holidays_but_keep_the_admins_days(
    session_factory: async_sessionmaker[Any],
) -> None:
    """24/11/2026 (Ngày Văn hóa Việt Nam) is a public holiday: closed by default, open once
    the demo's overrides are in; a day the admin already set stays as they set it."""
    from callcenter.core.hours import OfficeHours
    from callcenter.db.models.routing import Holiday
    from callcenter.seed import open_on_public_holidays

    cultural_day = date(2026, 11, 24)
    at_ten = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
    assert OfficeHours.build([]).check(at_ten).reason == "holiday"
    async with session_factory() as session, session.begin():
        session.add(Holiday(day=date(2026, 9, 2), name="Quốc khánh", closed=True))
    async with session_factory() as session, session.begin():
        opened = await open_on_public_holidays(session, date(2026, 11, 23))
    async with session_factory() as session, session.begin():
        assert await open_on_public_holidays(session, date(2026, 11, 23)) == 0  # idempotent
        rows = {h.day: h.closed for h in (await session.scalars(select(Holiday))).all()}
    assert opened == len(rows) - 1 and opened > 20  # two years of holidays, Tết included
    assert rows[cultural_day] is False and rows[date(2026, 9, 2)] is True
    overrides = [(day, closed, "") for day, closed in rows.items()]
    assert OfficeHours.build([], overrides).check(at_ten).open


async def test_new_groups_and_the_demo_share_calls_evenly_by_default(
    session_factory: async_sessionmaker[Any],
) -> None:
    """Fair by default: a group created without a strategy, and the demo's, count calls."""
    from callcenter.db.models.routing import AgentGroup
    from callcenter.db.repos.routing import GroupInput, save_group
    from callcenter.demo import seed_demo_routing

    async with session_factory() as session, session.begin():
        session.add(AgentGroup(code="plain", name="Plain"))
        await save_group(session, GroupInput(code="form", name="From the console"))
        await seed_demo_routing(session)
    async with session_factory() as session:
        strategies = dict(
            (await session.execute(select(AgentGroup.code, AgentGroup.strategy))).all()
        )
    assert strategies == {"plain": "fewest_calls", "form": "fewest_calls", "care": "fewest_calls"}


async def test_the_demo_opens_the_outbound_pages_with_lists_and_opportunities(
    session_factory: async_sessionmaker[Any],
) -> None:
    """A newcomer finds a care campaign with the demo survey and a lead list already
    worked: two opportunities and a refusal (seeded once)."""
    from callcenter.db.models import CallList, CallListItem, Opportunity, Survey
    from callcenter.db.repos import outbound as outbound_repo
    from callcenter.demo import (
        seed_demo_logins,
        seed_demo_outbound,
        seed_demo_routing,
        seed_demo_surveys,
    )

    for _ in range(2):
        async with session_factory() as session, session.begin():
            await seed_reference_data(session)
            await seed_demo_data(session, NOW)
            await seed_demo_logins(session)
            await seed_demo_routing(session)
            await seed_demo_surveys(session)
            await seed_demo_outbound(session, NOW)
    async with session_factory() as session:
        lists = {row.kind: row for row in (await session.scalars(select(CallList))).all()}
        assert set(lists) == {"care", "lead"}
        survey = await session.scalar(select(Survey).where(Survey.follow_up.is_(True)))
        assert survey is not None and lists["care"].survey_id == survey.id
        assert lists["care"].group == "care" and lists["care"].ends_on is not None
        statuses = (
            await session.scalars(
                select(CallListItem.status)
                .where(CallListItem.list_id == lists["lead"].id)
                .order_by(CallListItem.id)
            )
        ).all()
        assert statuses == ["reached", "reached", "not_interested", "open", "open", "open"]
        stages = sorted((await session.scalars(select(Opportunity.stage))).all())
        assert stages == ["new", "quoted"]
        rows = await outbound_repo.opportunities(session)
        assert {row.list_name for row in rows} == {"Khách quan tâm xe tải nhẹ"}
