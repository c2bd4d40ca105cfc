"""History load for the pop and ticket writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.tickets import (
    Priority,
    WrapUpForm,
    WrapUpOutcome,
    plan_timed_out,
    plan_wrap_up,
)
from callcenter.db.models import CallWrapUp, Ticket, TicketEvent
from callcenter.db.repos import history
from callcenter.db.repos import tickets as ticket_repo
from tests.agent.factories import T0, add_call, build_world


async def test_history_has_customer_calls_and_tickets(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        world = await build_world(session)
        await add_call(
            session,
            world,
            "unanswered.1",
            started_at=T0 + timedelta(hours=1),
            disposition="missed",
            agent_id=None,
        )
        await session.commit()
    async with session_factory() as session:
        loaded = await history.load_history(session, world.customer_id)
    assert loaded.customer is not None
    assert loaded.customer.name == "Nguyễn Văn An"
    assert [v.model for v in loaded.customer.vehicles] == ["Ollin 350", "Auman C160"]
    assert loaded.customer.phones[0].number == "+84912345678"
    assert loaded.customer.tags == ("VIP",)
    assert [c.disposition for c in loaded.calls] == ["missed", "answered"]  # newest first
    answered = loaded.calls[1]
    assert answered.agent_name == "Trần Thị Lan" and answered.category_name == "Bảo hành"
    assert answered.talk_seconds == 90 and answered.has_recording
    assert [t.id for t in loaded.open_tickets] == [world.open_ticket_id]
    assert loaded.open_tickets[0].department_name == "Dịch vụ"
    assert [t.id for t in loaded.recent_tickets] == [world.closed_ticket_id]
    assert loaded.surveys == ()


async def test_history_of_unknown_or_no_customer_is_empty(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        assert (await history.load_history(session, None)).customer is None
        assert (await history.load_history(session, 12345)).customer is None


async def test_new_ticket_and_wrap_up_row_are_written_once(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        world = await build_world(session)
        call = await add_call(session, world, "new.1")
        await session.commit()
    now = T0 + timedelta(days=1, minutes=3)
    async with session_factory() as session:
        category = await ticket_repo.category_info(session, world.category_id)
        plan = plan_wrap_up(
            WrapUpForm(
                WrapUpOutcome.NEW_TICKET,
                category_id=world.category_id,
                priority=Priority.HIGH,
                notes="Phanh kêu",
            ),
            category=category,
            open_ticket=None,
            customer_id=world.customer_id,
            now=now,
        )
        ticket = await ticket_repo.apply_plan(
            session,
            plan,
            call_id=call.id,
            customer_id=world.customer_id,
            user_id=world.agent_id,
            now=now,
        )
        await session.commit()
        ticket_id = ticket.id
    async with session_factory() as session:
        saved = await session.get(Ticket, ticket_id)
        assert saved is not None
        assert (saved.status, saved.department_id, saved.priority, saved.call_id) == (
            "unassigned",
            world.department_id,
            "high",
            call.id,
        )
        wrap = await ticket_repo.wrap_up_of(session, call.id)
        assert (
            wrap is not None
            and wrap.ticket_id == ticket_id
            and wrap.category_id == world.category_id
        )
        kinds = list(
            await session.scalars(
                select(TicketEvent.kind)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
        )
        assert kinds == ["created"]
        with pytest.raises(ticket_repo.AlreadyWrappedUp):
            await ticket_repo.apply_plan(
                session,
                plan_timed_out(notes="", now=now),
                call_id=call.id,
                customer_id=world.customer_id,
                user_id=None,
                now=now,
                timed_out=True,
            )
        await session.rollback()
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 3


async def test_addition_appends_to_the_open_ticket_and_counts_the_call(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        world = await build_world(session)
        call = await add_call(session, world, "add.1")
        await session.commit()
    now = T0 + timedelta(days=1)
    async with session_factory() as session:
        plan = plan_wrap_up(
            WrapUpForm(
                WrapUpOutcome.ADD_TO_OPEN,
                category_id=world.category_id,
                open_ticket_id=world.open_ticket_id,
                notes="khách gọi lại",
            ),
            category=await ticket_repo.category_info(session, world.category_id),
            open_ticket=await ticket_repo.open_ticket_info(session, world.open_ticket_id),
            customer_id=world.customer_id,
            now=now,
        )
        await ticket_repo.apply_plan(
            session,
            plan,
            call_id=call.id,
            customer_id=world.customer_id,
            user_id=world.agent_id,
            now=now,
        )
        await session.commit()
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 2
        note = await session.scalar(
            select(TicketEvent.note).where(
                TicketEvent.ticket_id == world.open_ticket_id, TicketEvent.kind == "call_added"
            )
        )
        assert note == "khách gọi lại"
        wrap = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
        assert wrap is not None and wrap.ticket_id == world.open_ticket_id
        loaded = await history.load_history(session, world.customer_id)
        assert loaded.calls[0].category_name == "Bảo hành"  # category from the wrap-up row


async def test_two_saves_of_one_call_at_once_give_one_wrap_up_and_a_clear_refusal(
    session_factory: async_sessionmaker[Any],
) -> None:
    """The agent's click and the wrap-up timer at the same instant (found by bench/load.py):
    both read "no wrap-up yet"; the database lets one in and the other gets AlreadyWrappedUp
    (409 on the page), never an integrity error (500)."""
    async with session_factory() as session:
        world = await build_world(session)
        call = await add_call(session, world, "race.1")
        await session.commit()
    now = T0 + timedelta(minutes=5)

    def save(session: Any) -> Any:
        return ticket_repo.apply_plan(
            session,
            plan_timed_out(notes="", now=now),
            call_id=call.id,
            customer_id=world.customer_id,
            user_id=None,
            now=now,
            timed_out=True,
        )

    async with session_factory() as first, session_factory() as second:
        # Both have looked before either writes: the check in apply_plan cannot see the other.
        assert await ticket_repo.wrap_up_of(second, call.id) is None
        await save(first)
        await first.commit()
        original = ticket_repo.wrap_up_of

        async def not_yet(session: Any, call_id: int) -> None:
            return None  # what ``second`` read before ``first`` committed

        ticket_repo.wrap_up_of = not_yet  # type: ignore[assignment]
        try:
            with pytest.raises(ticket_repo.AlreadyWrappedUp):
                await save(second)
        finally:
            ticket_repo.wrap_up_of = original
        await second.rollback()
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(CallWrapUp)) == 1
