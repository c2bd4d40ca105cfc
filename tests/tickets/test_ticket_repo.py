"""The back office in the database, on SQLite and PostgreSQL: codes, auto-assignment by the
head's order and free state, claim, transfer, the status table, closing the loop with the
care team, time accounting from the event log, comments and attachments."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from callcenter.core.tickets import FollowUpOutcome, TicketStatus, TicketWorkflowError
from callcenter.db.models import Task, Ticket, TicketAttachment, TicketEvent
from callcenter.db.repos import ticket_work as work
from tests.tickets.world import T0, Office, at, build_office

S = TicketStatus


@pytest.fixture
async def office(session_factory: async_sessionmaker[Any]) -> Office:
    async with session_factory() as session:
        built = await build_office(session)
        await session.commit()
    return built


async def new_ticket(
    factory: async_sessionmaker[Any], office: Office, minutes: float = 0, **kw: Any
) -> Ticket:
    async with factory() as session:
        data = work.NewTicket(
            title=kw.pop("title", "Xe kêu to"),
            department_id=kw.pop("department_id", office.service),
            category_id=kw.pop("category_id", office.warranty),
            customer_id=office.customer,
            call_id=office.call,
            **kw,
        )
        ticket = await work.create_ticket(session, data, user_id=office.agent, now=at(minutes))
        await session.commit()
        return ticket


async def kinds(factory: async_sessionmaker[Any], ticket_id: int) -> list[str]:
    async with factory() as session:
        return [e.kind for e in await work.events_of(session, ticket_id)]


async def test_new_tickets_go_to_free_members_in_the_heads_order_then_stay_unassigned(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    first = await new_ticket(session_factory, office)
    assert re.fullmatch(r"TK-2026-\d{6}", first.code)
    assert (first.status, first.assignee_id) == (S.ASSIGNED, office.head)
    assert first.due_at == T0 + timedelta(hours=24)
    second = await new_ticket(session_factory, office, 1)
    third = await new_ticket(session_factory, office, 2)
    assert (second.assignee_id, third.assignee_id) == (office.binh, office.chi)
    fourth = await new_ticket(session_factory, office, 3)
    assert (fourth.status, fourth.assignee_id) == (S.UNASSIGNED, None)  # everyone busy
    assert await kinds(session_factory, first.id) == ["created", "assigned"]
    assert await kinds(session_factory, fourth.id) == ["created"]

    # Binh starts, then waits for a part: a waiting member may claim; a busy one may not.
    async with session_factory() as session:
        await work.transition(session, second.id, S.IN_PROGRESS, user_id=office.binh, now=at(5))
        await work.transition(session, second.id, S.WAITING, user_id=office.binh, now=at(6))
        await session.commit()
    async with session_factory() as session:
        with pytest.raises(TicketWorkflowError, match="Finish"):
            await work.claim(session, fourth.id, user_id=office.chi, now=at(7))
        await session.rollback()
    async with session_factory() as session:
        with pytest.raises(TicketWorkflowError, match="members"):
            await work.claim(session, fourth.id, user_id=office.dung, now=at(7))
        await session.rollback()
    async with session_factory() as session:
        claimed = await work.claim(session, fourth.id, user_id=office.binh, now=at(8))
        await session.commit()
        assert (claimed.status, claimed.assignee_id) == (S.ASSIGNED, office.binh)
    assert await kinds(session_factory, fourth.id) == ["created", "claimed"]


async def test_transfer_to_a_colleague_and_to_another_department(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    ticket = await new_ticket(session_factory, office)  # → head
    async with session_factory() as session:
        with pytest.raises(TicketWorkflowError, match="reason"):
            await work.transfer(
                session,
                ticket.id,
                user_id=office.head,
                now=at(1),
                reason="",
                to_user_id=office.binh,
            )
        await session.rollback()
    async with session_factory() as session:
        moved = await work.transfer(
            session,
            ticket.id,
            user_id=office.head,
            now=at(1),
            reason="anh Bình rành động cơ",
            to_user_id=office.binh,
        )
        await session.commit()
        assert (moved.status, moved.assignee_id) == (S.ASSIGNED, office.binh)
    async with session_factory() as session:
        with pytest.raises(TicketWorkflowError):  # not a member of the service department
            await work.transfer(
                session,
                ticket.id,
                user_id=office.binh,
                now=at(2),
                reason="x",
                to_user_id=office.dung,
            )
        await session.rollback()
    async with session_factory() as session:
        moved = await work.transfer(
            session,
            ticket.id,
            user_id=office.binh,
            now=at(2),
            reason="cần đặt phụ tùng",
            to_department_id=office.parts,
        )
        await session.commit()
        # Unassigned in Parts, then auto-assigned to its free head.
        assert (moved.department_id, moved.status, moved.assignee_id) == (
            office.parts,
            S.ASSIGNED,
            office.dung,
        )
    async with session_factory() as session:
        events = await work.events_of(session, ticket.id)
        transfer = [e for e in events if e.kind == "transferred"]
        assert [(e.from_user_id, e.to_user_id, e.note) for e in transfer] == [
            (office.head, office.binh, "anh Bình rành động cơ"),
            (office.binh, None, "cần đặt phụ tùng"),
        ]
        assert (transfer[1].from_department_id, transfer[1].to_department_id) == (
            office.service,
            office.parts,
        )
        assert events[-1].kind == "assigned" and events[-1].to_user_id == office.dung


async def test_a_complaint_from_start_to_closure_with_time_accounting(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    ticket = await new_ticket(session_factory, office)  # → head (an)

    async def move(to: TicketStatus, minutes: float, who: int, note: str = "") -> None:
        async with session_factory() as session:
            await work.transition(session, ticket.id, to, user_id=who, now=at(minutes), note=note)
            await session.commit()

    await move(S.IN_PROGRESS, 10, office.head)
    await move(S.WAITING, 40, office.head, "chờ phụ tùng")  # 30 min work
    await move(S.IN_PROGRESS, 160, office.head)  # 120 min waiting
    await move(S.DONE, 175, office.head)  # 15 min work
    async with session_factory() as session:
        task = await work.follow_up_task(session, ticket.id)
        assert task is not None and task.kind == "follow_up" and task.group == "care"
        assert task.customer_id == office.customer and task.phone == "+84912345678"
        assert task.due_at == at(175) + timedelta(hours=24)
        task_id = task.id
        with pytest.raises(TicketWorkflowError, match="why"):
            await work.record_follow_up(
                session,
                ticket.id,
                FollowUpOutcome.NOT_SATISFIED,
                comment=" ",
                user_id=office.supervisor,
                now=at(200),
            )
        await session.rollback()
    async with session_factory() as session:
        reopened = await work.record_follow_up(
            session,
            ticket.id,
            "not_satisfied",
            comment="xe vẫn kêu",
            user_id=office.supervisor,
            now=at(200),
        )
        await session.commit()
        assert reopened.status == S.IN_PROGRESS and reopened.closed_at is None
        done_task = await session.get(Task, task_id)
        assert done_task is not None
        assert (done_task.status, done_task.outcome) == ("done", "not_satisfied")
    await move(S.DONE, 230, office.head)  # 30 min more work
    async with session_factory() as session:
        closed = await work.record_follow_up(
            session,
            ticket.id,
            FollowUpOutcome.SATISFIED,
            comment="",
            user_id=office.supervisor,
            now=at(300),
        )
        await session.commit()
        assert closed.status == S.CLOSED and closed.closed_at == at(300)
        tasks = (
            await session.scalars(
                select(Task).where(Task.origin_ticket_id == ticket.id).order_by(Task.id)
            )
        ).all()
        assert [(t.status, t.outcome) for t in tasks] == [
            ("done", "not_satisfied"),
            ("done", "satisfied"),
        ]
        times = await work.ticket_times(session, ticket.id, now=at(1000))
        assert times.work == timedelta(minutes=30 + 15 + 30)
        assert times.wait == timedelta(minutes=120)
        people = await work.person_times(session, now=at(1000))
        assert people[office.head].work == timedelta(minutes=75)
        assert people[office.head].wait == timedelta(minutes=120)
    assert await kinds(session_factory, ticket.id) == [
        "created",
        "assigned",
        "status_changed",
        "status_changed",
        "status_changed",
        "status_changed",
        "follow_up",
        "reopened",
        "status_changed",
        "follow_up",
        "status_changed",
    ]


async def test_illegal_moves_write_nothing_and_holders_change_only_by_assignment(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    ticket = await new_ticket(session_factory, office)
    async with session_factory() as session:
        with pytest.raises(TicketWorkflowError, match="cannot go from assigned to done"):
            await work.transition(session, ticket.id, S.DONE, user_id=office.head, now=at(1))
        with pytest.raises(TicketWorkflowError, match="assign"):
            await work.transition(session, ticket.id, S.UNASSIGNED, user_id=office.head, now=at(1))
        await session.rollback()
    assert await kinds(session_factory, ticket.id) == ["created", "assigned"]
    async with session_factory() as session:
        await work.transition(session, ticket.id, S.CANCELLED, user_id=office.head, now=at(2))
        await session.commit()
    async with session_factory() as session:
        with pytest.raises(TicketWorkflowError):
            await work.transition(session, ticket.id, S.IN_PROGRESS, user_id=office.head, now=at(3))


async def test_reopening_done_cancels_the_pending_follow_up(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    ticket = await new_ticket(session_factory, office)
    async with session_factory() as session:
        for minutes, status in ((1, S.IN_PROGRESS), (2, S.DONE), (3, S.IN_PROGRESS)):
            await work.transition(session, ticket.id, status, user_id=office.head, now=at(minutes))
        await session.commit()
        tasks = (
            await session.scalars(select(Task).where(Task.origin_ticket_id == ticket.id))
        ).all()
        assert [t.status for t in tasks] == ["cancelled"]
        assert await work.follow_up_task(session, ticket.id) is None


async def parts_ticket(
    session: Any, office: Office, minutes: int, *, auto_assign: bool = False
) -> Ticket:
    data = work.NewTicket(title=f"t{minutes}", department_id=office.parts)
    return await work.create_ticket(
        session, data, user_id=None, now=at(minutes), auto_assign=auto_assign
    )


async def created_held_open(
    factory: async_sessionmaker[Any], office: Office, minutes: int, *, auto_assign: bool = False
) -> Ticket:
    """A creation whose transaction stays open a moment while others go on, then commits."""
    async with factory() as session:
        ticket = await parts_ticket(session, office, minutes, auto_assign=auto_assign)
        await asyncio.sleep(0.01)
        await session.commit()
        return ticket


async def test_codes_are_unique_and_consecutive_under_concurrent_creation(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    codes = [
        t.code
        for t in await asyncio.gather(
            *(created_held_open(session_factory, office, i) for i in range(20))
        )
    ]
    assert len(set(codes)) == 20
    assert sorted(int(c.rsplit("-", 1)[1]) for c in codes) == list(range(1, 21))
    # A new year starts again at 1 (local year: 31/12 17:00 UTC is 1 January in Hà Nội).
    async with session_factory() as session:
        new_year = await work.create_ticket(
            session,
            work.NewTicket(title="x", department_id=office.parts),
            user_id=None,
            now=T0.replace(month=12, day=31, hour=17),
            auto_assign=False,
        )
        await session.commit()
        assert new_year.code == "TK-2027-000001"
        assert await work.by_code(session, "tk-2027-000001") is not None


async def test_a_creation_still_open_does_not_hold_back_the_next_code(
    session_factory: async_sessionmaker[Any], office: Office, engine: AsyncEngine
) -> None:
    """PostgreSQL hands numbers out from the year's sequence, which locks nothing until
    commit: a creation whose transaction is still open (a busy daemon between its
    statements) does not make the next creation wait for its commit, and one that rolls back
    leaves its number unused. (SQLite has one writer at a time; its numbers are taken in the
    creating transaction.)"""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the open creation holds the write lock")

    async with session_factory() as session:  # the year's first ticket (which creates its
        opening = await parts_ticket(
            session, office, 0
        )  # sequence, the others waiting for its commit)
        await session.commit()
    async with session_factory() as slow:
        first = await parts_ticket(slow, office, 1)
        async with session_factory() as quick:
            second = await asyncio.wait_for(parts_ticket(quick, office, 2), timeout=3)
            await quick.commit()
        await slow.rollback()
    async with session_factory() as session:
        third = await parts_ticket(session, office, 3)
        await session.commit()
        stored = (await session.scalars(select(Ticket.code).order_by(Ticket.code))).all()
    assert [opening.code, first.code, second.code, third.code] == [
        "TK-2026-000001", "TK-2026-000002", "TK-2026-000003", "TK-2026-000004"
    ]  # fmt: skip
    assert stored == ["TK-2026-000001", "TK-2026-000003", "TK-2026-000004"]  # 2 rolled back


async def test_concurrent_creations_into_one_department_are_assigned_without_deadlock(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    """Each new ticket references its department (PostgreSQL takes a key-share lock on the
    department's row for that) and then locks the row to serialise assignment: a lock that
    conflicted with the key-share of another creation deadlocked two creations (found by
    bench/load.py once creations stopped queueing on the ticket number)."""

    first = await created_held_open(session_factory, office, 0, auto_assign=True)
    assert first.assignee_id == office.dung  # the year's first (its sequence is created once)
    await asyncio.gather(  # none deadlocked
        *(created_held_open(session_factory, office, i, auto_assign=True) for i in range(1, 13))
    )
    async with session_factory() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.department_id == office.parts)
        )
    assert stored == 13


async def test_comments_and_attachments(
    session_factory: async_sessionmaker[Any], office: Office
) -> None:
    ticket = await new_ticket(session_factory, office)
    async with session_factory() as session:
        await work.comment(session, ticket.id, "  đã gọi khách  ", user_id=office.head, now=at(1))
        with pytest.raises(TicketWorkflowError, match="empty"):
            await work.comment(session, ticket.id, "  ", user_id=office.head, now=at(1))
        row = await work.attach(
            session,
            ticket.id,
            name="bien-ban.pdf",
            size=1234,
            head=b"%PDF-1.7\n",
            stored_path=f"{ticket.id}/1-bien-ban.pdf",
            user_id=office.head,
            now=at(2),
        )
        assert (row.content_type, row.size) == ("application/pdf", 1234)
        with pytest.raises(TicketWorkflowError, match="does not match"):
            await work.attach(
                session,
                ticket.id,
                name="anh.jpg",
                size=10,
                head=b"%PDF-",
                stored_path="x/anh.jpg",
                user_id=office.head,
                now=at(3),
            )
        with pytest.raises(ValueError, match="relative"):
            await work.attach(
                session,
                ticket.id,
                name="a.pdf",
                size=10,
                head=b"%PDF-",
                stored_path="../etc/a.pdf",
                user_id=office.head,
                now=at(3),
            )
        await session.commit()
    async with session_factory() as session:
        assert [a.name for a in await work.attachments(session, ticket.id)] == ["bien-ban.pdf"]
        assert await session.scalar(select(func.count()).select_from(TicketAttachment)) == 1
        notes = (
            await session.scalars(
                select(TicketEvent.note)
                .where(
                    TicketEvent.ticket_id == ticket.id,
                    TicketEvent.kind.in_(["commented", "attached"]),
                )
                .order_by(TicketEvent.id)
            )
        ).all()
        assert notes == ["đã gọi khách", "bien-ban.pdf"]
