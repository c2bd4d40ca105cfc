"""Data-level access on both backends: agents see their own calls and customers, departments their tickets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.auth.scope import call_filter, can_read, customer_filter, ticket_filter
from callcenter.core.roles import Role
from callcenter.db.models import Call, CallAttempt, Customer, Department, Ticket
from callcenter.web.access import CurrentUser

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def build(factory: async_sessionmaker[Any]) -> dict[str, Any]:
    """Two agents, two departments, calls, customers and tickets between them."""
    from tests.auth_helpers import make_user

    async with factory() as s:
        s.add_all([Department(code="kd", name="Kinh doanh"), Department(code="dv", name="Dịch vụ")])
        await s.commit()
    an = await make_user(factory, "an", "agent")
    binh = await make_user(factory, "binh", "agent")
    async with factory() as s:
        sales, service = (await s.execute(select(Department).order_by(Department.id))).scalars()
        c1, c2, c3, c4 = (
            Customer(name=f"Khách {n}", name_search=f"khach {n}") for n in range(1, 5)
        )
        c4.created_by_id = an.id  # created by An during a call, no call linked yet
        s.add_all([c1, c2, c3, c4])
        await s.flush()
        answered_by_an = Call(linkedid="L1", started_at=T0, customer_id=c1.id, agent_id=an.id)
        offered_to_an = Call(linkedid="L2", started_at=T0, customer_id=c2.id, agent_id=binh.id)
        binh_only = Call(linkedid="L3", started_at=T0, customer_id=c3.id, agent_id=binh.id)
        s.add_all([answered_by_an, offered_to_an, binh_only])
        await s.flush()
        s.add(
            CallAttempt(call_id=offered_to_an.id, agent_id=an.id, offered_at=T0, outcome="noanswer")
        )
        t_sales = Ticket(
            call_id=binh_only.id, customer_id=c3.id, department_id=sales.id, created_by_id=binh.id
        )
        t_service = Ticket(
            call_id=answered_by_an.id,
            customer_id=c1.id,
            department_id=service.id,
            created_by_id=an.id,
        )
        t_none = Ticket(customer_id=c2.id, created_by_id=binh.id)
        s.add_all([t_sales, t_service, t_none])
        await s.commit()
        return {
            "an": CurrentUser(id=an.id, username="an", role=Role.AGENT),
            "binh": CurrentUser(id=binh.id, username="binh", role=Role.AGENT),
            "sales": CurrentUser(
                id=900, username="kd", role=Role.DEPARTMENT, department_id=sales.id
            ),
            "service": CurrentUser(
                id=901, username="dv", role=Role.DEPARTMENT, department_id=service.id
            ),
            "homeless": CurrentUser(id=902, username="x", role=Role.DEPARTMENT),
            "boss": CurrentUser(id=903, username="gs", role=Role.SUPERVISOR),
            "calls": [answered_by_an.id, offered_to_an.id, binh_only.id],
            "customers": [c1.id, c2.id, c3.id, c4.id],
            "tickets": [t_sales.id, t_service.id, t_none.id],
        }


async def visible(factory: async_sessionmaker[Any], model: Any, where: Any) -> list[int]:
    async with factory() as s:
        return list((await s.execute(select(model.id).where(where).order_by(model.id))).scalars())


async def test_row_filters_per_role(session_factory: async_sessionmaker[Any]) -> None:
    w = await build(session_factory)
    l1, l2, l3 = w["calls"]
    c1, c2, c3, c4 = w["customers"]
    t_sales, t_service, t_none = w["tickets"]
    f = session_factory
    # Agent An: answered L1, was offered L2; never saw L3.
    assert await visible(f, Call, call_filter(w["an"])) == [l1, l2]
    assert await visible(f, Customer, customer_filter(w["an"])) == [c1, c2, c4]
    assert await visible(f, Ticket, ticket_filter(w["an"])) == [t_service]
    # Agent Binh: L2 and L3 are his.
    assert await visible(f, Call, call_filter(w["binh"])) == [l2, l3]
    assert await visible(f, Customer, customer_filter(w["binh"])) == [c2, c3]
    assert await visible(f, Ticket, ticket_filter(w["binh"])) == [t_sales, t_none]
    # Departments: only their own tickets, and those tickets' calls and customers.
    assert await visible(f, Ticket, ticket_filter(w["sales"])) == [t_sales]
    assert await visible(f, Call, call_filter(w["sales"])) == [l3]
    assert await visible(f, Customer, customer_filter(w["sales"])) == [c3]
    assert await visible(f, Ticket, ticket_filter(w["service"])) == [t_service]
    assert await visible(f, Ticket, ticket_filter(w["homeless"])) == []
    assert await visible(f, Call, call_filter(w["homeless"])) == []
    # Supervisors see everything.
    assert await visible(f, Call, call_filter(w["boss"])) == [l1, l2, l3]
    assert await visible(f, Ticket, ticket_filter(w["boss"])) == [t_sales, t_service, t_none]


async def test_can_read_single_rows(session_factory: async_sessionmaker[Any]) -> None:
    w = await build(session_factory)
    l1, _, l3 = w["calls"]
    t_sales, t_service, _ = w["tickets"]
    async with session_factory() as s:
        assert await can_read(s, w["an"], Call, l1)
        assert not await can_read(s, w["an"], Call, l3)
        assert not await can_read(s, w["an"], Call, 999_999)
        assert await can_read(s, w["sales"], Ticket, t_sales)
        assert not await can_read(s, w["sales"], Ticket, t_service)
        assert not await can_read(s, w["an"], Customer, w["customers"][2])


async def test_tasks_a_user_may_act_on(session_factory: async_sessionmaker[Any]) -> None:
    """Held tasks; an agent's groups' unclaimed ones (and group-less ones); a department's
    tickets' follow-ups; everything for supervisors."""
    from callcenter.auth.scope import task_filter
    from callcenter.db.models import AgentGroup, AgentGroupMember, Task

    w = await build(session_factory)
    an, binh, sales, boss = w["an"], w["binh"], w["sales"], w["boss"]
    t_sales, t_service, _t_none = w["tickets"]
    async with session_factory() as s:
        group = AgentGroup(code="ban_hang", name="Bán hàng")
        s.add(group)
        await s.flush()
        s.add(AgentGroupMember(group_id=group.id, user_id=an.id))

        def task(**fields: Any) -> Task:
            return Task(phone="+84912345678", created_at=T0, origin="missed", **fields)

        tasks = [
            task(assignee_id=an.id, group="other"),  # held by An, another group's
            task(group="ban_hang"),  # An's group, unclaimed
            task(group="ban_hang", assignee_id=binh.id),  # An's group, Bình holds it
            task(group=""),  # group-less, unclaimed
            task(group="other"),  # another group's, unclaimed
            task(kind="follow_up", group="care", origin_ticket_id=t_sales),
            task(kind="follow_up", group="care", origin_ticket_id=t_service),
        ]
        s.add_all(tasks)
        await s.commit()
        ids = [t.id for t in tasks]
    assert await visible(session_factory, Task, task_filter(an)) == [ids[0], ids[1], ids[3]]
    assert await visible(session_factory, Task, task_filter(binh)) == [ids[2], ids[3]]
    assert await visible(session_factory, Task, task_filter(sales)) == [ids[5]]
    assert await visible(session_factory, Task, task_filter(w["homeless"])) == []
    assert await visible(session_factory, Task, task_filter(boss)) == ids
    async with session_factory() as s:
        assert await can_read(s, an, Task, ids[1]) and not await can_read(s, an, Task, ids[2])
