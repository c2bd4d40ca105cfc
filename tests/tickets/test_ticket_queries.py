"""The department inbox and the supervisors' list: scope, overdue first, filters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.roles import Role
from callcenter.core.tickets import TicketStatus
from callcenter.db.models import User
from callcenter.db.repos import ticket_queries as queries
from callcenter.db.repos import ticket_work as work
from tests.tickets.test_ticket_repo import new_ticket
from tests.tickets.world import T0, Office, at, build_office

S = TicketStatus


@pytest.fixture
async def office(session_factory: async_sessionmaker[Any]) -> Office:
    async with session_factory() as session:
        built = await build_office(session)
        await session.commit()
    return built


async def user(factory: async_sessionmaker[Any], user_id: int) -> User:
    async with factory() as session:
        found = await session.get(User, user_id)
        assert found is not None
        return found


async def test_inbox_mine_and_my_departments_unassigned_overdue_first(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    a = await new_ticket(session_factory, office, title="A")  # → head, due +24h
    b = await new_ticket(session_factory, office, 1, title="B")  # → binh
    c = await new_ticket(session_factory, office, 2, title="C")  # → chi
    d = await new_ticket(session_factory, office, 3, title="D")  # unassigned, due +24h
    # E: Parts (4 h SLA), unassigned, never visible to Service.
    e = await new_ticket(
        session_factory,
        office,
        4,
        title="E",
        department_id=office.parts,
        category_id=office.parts_order,
    )
    # F: service, no category (no due time), unassigned.
    f = await new_ticket(session_factory, office, 5, title="F", category_id=None)
    async with session_factory() as session:
        await work.transition(session, a.id, S.IN_PROGRESS, user_id=office.head, now=at(6))
        await session.commit()
    head = await user(session_factory, office.head)
    later = T0 + timedelta(hours=24, minutes=1)  # A and D (due T0+24h/T0+24h+3m) vs. now
    async with session_factory() as session:
        page = await queries.inbox(session, head, now=later)
    codes = [r.subject for r in page.rows]
    # A (mine, overdue), then D (pool, due 3 min after T0+24h: not yet overdue), F (no due).
    assert codes == ["A", "D", "F"] and page.total == 3
    assert [r.overdue for r in page.rows] == [True, False, False]
    assert page.rows[0].assignee_name == "An" and page.rows[0].customer_name == "Nguyễn Văn An"
    assert page.rows[0].category_name == "Bảo hành" and page.rows[0].department_name == "Dịch vụ"
    async with session_factory() as session:
        page = await queries.inbox(session, head, now=later + timedelta(minutes=5))
        assert [r.subject for r in page.rows] == ["A", "D", "F"]
        assert [r.overdue for r in page.rows] == [True, True, False]
        only = await queries.inbox(
            session, head, now=later, filters=queries.TicketFilters(statuses=["unassigned"])
        )
        assert [r.subject for r in only.rows] == ["D", "F"]
    dung = await user(session_factory, office.dung)
    async with session_factory() as session:
        # Parts' head sees E assigned to himself (auto), nothing of Service.
        page = await queries.inbox(session, dung, now=later)
        assert [r.subject for r in page.rows] == ["E"]
        assert await queries.ticket_for(session, dung, b.code) is None
        assert (await queries.ticket_for(session, head, b.code.lower())) is not None
    del c, d, e, f


async def test_list_filters_and_scope(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    a = await new_ticket(session_factory, office, title="Xe kêu to")
    await new_ticket(
        session_factory,
        office,
        60,
        title="Hỏi giá",
        department_id=office.parts,
        category_id=office.parts_order,
        priority="urgent",
    )
    supervisor = await user(session_factory, office.supervisor)
    now = at(6 * 60)  # the Parts ticket (4 h SLA) is overdue
    async with session_factory() as session:
        everything = await queries.list_tickets(session, supervisor, now=now)
        assert [r.subject for r in everything.rows] == ["Hỏi giá", "Xe kêu to"]
        by = queries.TicketFilters
        cases = [
            (by(department_id=office.service), ["Xe kêu to"]),
            (by(category_id=office.parts_order), ["Hỏi giá"]),
            (by(assignee_id=office.head), ["Xe kêu to"]),
            (by(created_by_id=office.agent), ["Hỏi giá", "Xe kêu to"]),
            (by(overdue=True), ["Hỏi giá"]),
            (by(overdue=False), ["Xe kêu to"]),
            (by(priority="urgent"), ["Hỏi giá"]),
            (by(created_from=at(30)), ["Hỏi giá"]),
            (by(created_to=at(30)), ["Xe kêu to"]),
            (by(text=a.code.lower()), ["Xe kêu to"]),
            (by(text="giá"), ["Hỏi giá"]),
            (by(text="100%"), []),
            (by(statuses=["assigned"]), ["Hỏi giá", "Xe kêu to"]),
            (by(needs_review=True), []),
        ]
        for filters, expected in cases:
            page = await queries.list_tickets(session, supervisor, now=now, filters=filters)
            assert [r.subject for r in page.rows] == expected, filters
            assert page.total == len(expected)
    # An agent sees only tickets they created, hold, or that came from their calls.
    agent = await user(session_factory, office.agent)
    head = await user(session_factory, office.head)
    async with session_factory() as session:
        assert (await queries.list_tickets(session, agent, now=now)).total == 2
        outsider = User(id=10_000, username="x", role=str(Role.AGENT))
        assert (await queries.list_tickets(session, outsider, now=now)).total == 0
        assert [r.subject for r in (await queries.list_tickets(session, head, now=now)).rows] == [
            "Xe kêu to"
        ]
        overdue = await queries.overdue_open(session, now)
        assert [t.subject for t in overdue] == ["Hỏi giá"]
