"""History load for the pop and ticket writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.screenpop import EMPTY_HISTORY
from callcenter.core.tickets import (
    Priority,
    WrapUpForm,
    WrapUpOutcome,
    plan_timed_out,
    plan_wrap_up,
)
from callcenter.db.models import CallWrapUp, CustomerPhone, Ticket, TicketEvent, Vehicle
from callcenter.db.repos import acd as acd_repo
from callcenter.db.repos import history
from callcenter.db.repos import tickets as ticket_repo
from callcenter.services.caller_lookup import CallerLookups
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
        wrap = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
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
        assert not await ticket_repo.is_wrapped_up(second, call.id)
        await save(first)
        await first.commit()
        original = ticket_repo.is_wrapped_up

        async def not_yet(session: Any, call_id: int) -> bool:
            return False  # what ``second`` read before ``first`` committed

        ticket_repo.is_wrapped_up = not_yet  # type: ignore[assignment]
        try:
            with pytest.raises(ticket_repo.AlreadyWrappedUp):
                await save(second)
        finally:
            ticket_repo.is_wrapped_up = original
        await second.rollback()
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(CallWrapUp)) == 1


async def test_the_callers_number_loads_the_same_history_as_the_customer_id(
    session_factory: async_sessionmaker[Any],
) -> None:
    """The pop's lookup by number (one joined statement for the customer) shows what the
    lookup by id shows, whichever way the number is written."""
    async with session_factory() as session:
        world = await build_world(session)
        session.add(CustomerPhone(customer_id=world.customer_id, number="+84281234567"))
        session.add(
            Vehicle(customer_id=world.customer_id, vin="RLUNKM3L0PA000777", model="Thaco Frontier")
        )
        await session.commit()
    async with session_factory() as session:
        by_id = await history.load_history(session, world.customer_id)
    for written in ("0912345678", "+84 912 345 678", "84912345678"):
        async with session_factory() as session:
            by_number = await history.caller_history(session, written)
        assert by_number == by_id, written
    assert by_id.customer is not None
    assert [p.number for p in by_id.customer.phones] == ["+84912345678", "+84281234567"]
    assert len(by_id.customer.vehicles) == 3
    async with session_factory() as session:
        assert (await history.caller_history(session, "0987000111")).customer is None
        assert (await history.caller_history(session, "anonymous")).customer is None


async def test_routing_profile_read_off_the_history_matches_the_routing_lookup(
    session_factory: async_sessionmaker[Any],
) -> None:
    """One load serves routing and the pop: the profile read off the pop's history is the
    one the routing query gives (VIP, the open ticket changed last, that ticket's agent)."""
    async with session_factory() as session:
        world = await build_world(session)
        newer = Ticket(
            customer_id=world.customer_id,
            category_id=world.category_id,
            department_id=world.department_id,
            status="in_progress",
            subject="Phụ tùng",
            assignee_id=world.agent_id,
            created_at=T0 - timedelta(days=2),  # opened earlier, changed later
            updated_at=T0 + timedelta(hours=2),
        )
        done = Ticket(  # the department's work is done: routes like no open ticket
            customer_id=world.customer_id,
            status="done",
            subject="Xong",
            created_at=T0 + timedelta(hours=3),
            updated_at=T0 + timedelta(hours=3),
        )
        session.add_all([newer, done])
        await session.commit()
    async with session_factory() as session:
        loaded = await history.caller_history(session, "0912345678")
        expected = await acd_repo.caller_profile(session, "0912345678")
    profile = acd_repo.profile_of(loaded)
    assert profile == expected
    assert profile.vip and profile.open_ticket_id == newer.id
    assert profile.ticket_agent_id == world.agent_id
    assert acd_repo.profile_of(EMPTY_HISTORY) == acd_repo.CallerProfile()


async def test_routing_and_the_pop_share_one_caller_load_per_call(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        world = await build_world(session)
        await session.commit()
    lookups = CallerLookups(session_factory)
    first = lookups.load("0912345678")
    second = lookups.load("+84912345678")  # the ACD asks in another written form
    assert first is second and lookups.loads_started == 1
    found = await first
    assert found.customer_id == world.customer_id and found.profile.vip
    assert found.history.open_tickets[0].id == world.open_ticket_id
    lookups.forget("0912345678")  # the call ended: the next call loads afresh
    assert lookups.load("0912345678") is not first and lookups.loads_started == 2
    nobody = await lookups.load("")  # withheld number: nobody, without a query
    assert nobody.customer_id is None and lookups.loads_started == 2


async def test_a_shared_caller_load_is_fresh_after_its_window_and_after_a_failure(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        await build_world(session)
        await session.commit()
    now = [100.0]
    lookups = CallerLookups(session_factory, share_seconds=5.0, monotonic=lambda: now[0])
    first = lookups.load("0912345678")
    await first
    now[0] += 6.0  # the same number calls again later: not the old load
    second = lookups.load("0912345678")
    assert second is not first
    await second

    def broken() -> Any:
        raise ConnectionError("database gone")

    failing = CallerLookups(broken)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await failing.load("0912345678")
    failing._sessions = session_factory  # back: the next ask loads again, not the failure
    assert (await failing.load("0912345678")).customer_id is not None
