"""The state log written in one batch: the exact rows and end times, in O(1) statements.

``record_states`` works out each row's end in Python and sends one UPDATE and one
INSERT per batch (the SQLite write lock is held for every round trip), so these
tests check both the rows it leaves and how many statements it took.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.db.models import AgentStateLog, User
from callcenter.db.repos.acd import StateRow, record_states

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def make_agents(factory: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    async with factory() as session, session.begin():
        users = [
            User(username=f"a{i}", full_name=f"Agent {i}", role="agent", interface=f"PJSIP/20{i}")
            for i in range(count)
        ]
        session.add_all(users)
        await session.flush()
        return [user.id for user in users]


async def log_rows(
    factory: async_sessionmaker[AsyncSession],
) -> list[tuple[int, str, str, datetime, datetime | None]]:
    async with factory() as session:
        rows = await session.scalars(select(AgentStateLog).order_by(AgentStateLog.id))
        return [(r.user_id, r.state, r.reason, r.started_at, r.ended_at) for r in rows]


async def test_batch_closes_each_row_at_the_same_agents_next_change(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    a, b, c = await make_agents(session_factory, 3)
    async with session_factory() as session, session.begin():  # a and b were logged in
        await record_states(
            session,
            [
                StateRow(a, "available", "", "PJSIP/200", at(0)),
                StateRow(b, "paused", "lunch", "", at(1)),
            ],
        )
    async with session_factory() as session, session.begin():
        await record_states(
            session,
            [
                StateRow(a, "ringing", "", "PJSIP/200", at(10)),
                StateRow(c, "available", "", "PJSIP/202", at(11)),
                StateRow(a, "on_call", "", "PJSIP/200", at(12)),
                StateRow(b, "available", "", "", at(13)),
                StateRow(a, "wrapup", "", "PJSIP/200", at(20)),
                StateRow(c, "paused", "meeting", "PJSIP/202", at(21)),
            ],
        )
    assert await log_rows(session_factory) == [
        (a, "available", "", at(0), at(10)),
        (b, "paused", "lunch", at(1), at(13)),
        (a, "ringing", "", at(10), at(12)),
        (c, "available", "", at(11), at(21)),
        (a, "on_call", "", at(12), at(20)),
        (b, "available", "", at(13), None),
        (a, "wrapup", "", at(20), None),
        (c, "paused", "meeting", at(21), None),
    ]


async def test_empty_batch_writes_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        await record_states(session, [])
    assert await log_rows(session_factory) == []


class StatementCounter:
    """Counts what reaches the driver for the state log table (BEGIN/COMMIT aside)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "agent_state_log" in statement:
            self.statements.append(statement.split(None, 1)[0].upper())


def counting(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)


async def test_a_batch_takes_two_statements_whatever_its_size(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    agents = await make_agents(session_factory, 5)
    seen: dict[int, list[str]] = {}
    minute = 0
    for size in (1, 4, 40):
        rows = []
        for n in range(size):
            minute += 1
            rows.append(
                StateRow(
                    agents[n % 5], ("available", "ringing", "on_call")[n % 3], "", "", at(minute)
                )
            )
        for counter in counting(engine):
            async with session_factory() as session, session.begin():
                await record_states(session, rows)
            seen[size] = counter.statements
    assert seen == {1: ["UPDATE", "INSERT"], 4: ["UPDATE", "INSERT"], 40: ["UPDATE", "INSERT"]}
    open_rows = [r for r in await log_rows(session_factory) if r[4] is None]
    assert sorted(r[0] for r in open_rows) == sorted(agents)  # one open row per agent
    everything = await log_rows(session_factory)
    assert len(everything) == 45
    for agent in agents:  # contiguous: each row ends when the agent's next one starts
        own = [r for r in everything if r[0] == agent]
        assert [r[4] for r in own] == [r[3] for r in own[1:]] + [None]
