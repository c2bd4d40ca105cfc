"""Write-behind (issue 19): routing never waits for a database write, and nothing is lost.

The stall is real: on SQLite the write gate is held (what a long writer does to every
other writer), on PostgreSQL another connection holds an EXCLUSIVE lock on
``agent_state_log`` (reads go on, writes wait). A route decision is made through a
real FastAGI session while the state log cannot be written; once the stall ends every
state change is stored with the right start and end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.agi.server import FastAgiServer
from callcenter.clock import ManualClock
from callcenter.core.bus import EventBus
from callcenter.db import write_gate
from callcenter.db.models import AgentStateLog
from callcenter.metrics import Metrics
from callcenter.services.acd import AcdService
from callcenter.services.write_behind import WriteBehind
from tests.acd.test_service import START, seed
from tests.agi.peer import FakeChannel, run_session
from tests.fakes import RecordingCallControl


def depth_metric(metrics: Metrics, queue: str) -> float | None:
    return metrics.registry.get_sample_value("callcenter_write_behind_depth", {"queue": queue})


@asynccontextmanager
async def stalled_writes(engine: AsyncEngine, backend: str) -> AsyncIterator[None]:
    """Writes to the state log cannot proceed inside this block; reads can."""
    if backend == "sqlite":
        gate = write_gate.gate_of(engine)
        assert gate is not None
        lock = await gate.acquire()
        try:
            yield
        finally:
            lock.release()
        return
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(text("LOCK TABLE agent_state_log IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await transaction.rollback()


async def test_a_route_is_decided_while_the_state_log_is_stalled_and_nothing_is_lost(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine, backend: str
) -> None:
    ids = await seed(session_factory)
    clock = ManualClock(START)
    metrics = Metrics()
    service = AcdService(
        clock=clock,
        bus=EventBus(),
        sessions=session_factory,
        control=RecordingCallControl(),
        metrics=metrics,
    )
    server = FastAgiServer(command_timeout=2.0)
    service.register_routes(server, 1.0)
    await server.start("127.0.0.1", 0)
    await service.start()
    try:
        async with stalled_writes(engine, backend):
            for name in ("agent1", "agent2", "agent3"):
                await service.login(ids[name])
                clock.set(clock.now() + timedelta(seconds=1))
            await asyncio.sleep(0.2)  # the writer has taken the batch and waits on the stall
            assert service.state_log.depth == 3
            channel = FakeChannel(variables={"CC_GROUP": "care"})
            route = await asyncio.wait_for(
                run_session(
                    "127.0.0.1", server.port, "route", channel, uniqueid="w1.1", caller="0912345678"
                ),
                timeout=1.0,  # the route deadline: far less than the stall below
            )
            assert route.variables["CC_ACTION"] == "dial"
            assert route.variables["CC_AGENT_CHANNEL"] == "PJSIP/101"
            assert service.state_log.depth == 4  # the ringing state is queued, not written
            assert depth_metric(metrics, "acd_states") == 4
            await asyncio.sleep(0.5)  # the stall goes on; the writer still waits
            assert service.state_log.depth == 4
        await asyncio.wait_for(service.flush(), timeout=10.0)
        assert service.state_log.depth == 0
        assert depth_metric(metrics, "acd_states") == 0
        async with session_factory() as session:
            rows = (await session.scalars(select(AgentStateLog).order_by(AgentStateLog.id))).all()
        got = [(r.user_id, r.state, r.started_at, r.ended_at) for r in rows]

        def at(seconds: int) -> Any:
            return START + timedelta(seconds=seconds)

        # SQLite gives naive datetimes back: compare the wall time only.
        normalized = [
            (u, s, a.replace(tzinfo=None), e.replace(tzinfo=None) if e else None)
            for u, s, a, e in got
        ]
        expected = [
            (ids["agent1"], "available", at(0), at(3)),
            (ids["agent2"], "available", at(1), None),
            (ids["agent3"], "available", at(2), None),
            (ids["agent1"], "ringing", at(3), None),
        ]
        assert normalized == [
            (u, s, a.replace(tzinfo=None), e.replace(tzinfo=None) if e else None)
            for u, s, a, e in expected
        ]
    finally:
        await service.stop()
        await server.close()


async def test_overflow_is_logged_and_counted_never_dropped_and_put_wait_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    stored: list[list[int]] = []

    async def write(rows: list[int]) -> None:
        await release.wait()
        stored.append(list(rows))

    metrics = Metrics()
    queue: WriteBehind[int] = WriteBehind("test", write, limit=3, batch_size=2, metrics=metrics)
    writer = asyncio.create_task(queue.run())
    caplog.set_level(logging.WARNING, logger="callcenter.services.write_behind")
    for n in range(6):
        queue.put(n)  # never waits, even past the limit
    assert queue.depth == 6
    assert depth_metric(metrics, "test") == 6
    overflow = metrics.registry.get_sample_value(
        "callcenter_write_behind_overflow_total", {"queue": "test"}
    )
    assert overflow == 3  # items 3, 4, 5 arrived over the limit
    warnings = [r.getMessage() for r in caplog.records if "over its limit" in r.getMessage()]
    assert len(warnings) == 1  # one line per episode, with the depth
    assert "4 queued > 3" in warnings[0]
    waiting = asyncio.create_task(queue.put_wait(6))  # not the route path: it waits
    await asyncio.sleep(0.05)
    assert not waiting.done()
    release.set()
    await asyncio.wait_for(waiting, 1.0)
    await asyncio.wait_for(queue.flush(), 1.0)
    assert [n for batch in stored for n in batch] == [0, 1, 2, 3, 4, 5, 6]
    assert all(len(batch) <= 2 for batch in stored)
    assert any("back under its limit" in r.getMessage() for r in caplog.records)
    assert queue.written == 7 and queue.lost == 0
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)


async def test_a_failing_batch_is_retried_in_order_and_a_refused_row_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = {"left": 2}
    stored: list[int] = []

    async def write(rows: list[int]) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("database is locked")
        if 13 in rows:
            raise ValueError("refused")
        stored.extend(rows)

    queue: WriteBehind[int] = WriteBehind("test", write, retry_seconds=0.01, max_attempts=3)
    writer = asyncio.create_task(queue.run())
    for n in (1, 2, 3):
        queue.put(n)
    await asyncio.wait_for(queue.flush(), 2.0)
    assert stored == [1, 2, 3]
    for n in (12, 13, 14):
        queue.put(n)
    await asyncio.wait_for(queue.flush(), 2.0)
    assert stored == [1, 2, 3, 12, 14]
    assert queue.lost == 1
    assert any("refused 13" in r.getMessage() for r in caplog.records)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)


def test_coalescing_keeps_every_transition_and_drops_repeats() -> None:
    from callcenter.db.repos.acd import StateRow
    from callcenter.services.acd import coalesce_states

    rows = [
        StateRow(1, "available", "", "PJSIP/1", START),
        StateRow(1, "available", "", "PJSIP/1", START + timedelta(seconds=1)),
        StateRow(2, "paused", "lunch", "PJSIP/2", START),
        StateRow(1, "ringing", "", "PJSIP/1", START + timedelta(seconds=2)),
        StateRow(2, "paused", "meeting", "PJSIP/2", START + timedelta(seconds=3)),
        StateRow(1, "available", "", "PJSIP/1", START + timedelta(seconds=4)),
    ]
    assert coalesce_states(rows) == [rows[0], rows[2], rows[3], rows[4], rows[5]]


class SlowSessions:
    """A session factory whose sessions open ``delay`` seconds late while ``slow`` is set."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.factory = factory
        self.slow = False
        self.delay = 3.0

    def __call__(self) -> Any:
        outer = self

        class Late:
            async def __aenter__(self) -> AsyncSession:
                if outer.slow:
                    await asyncio.sleep(outer.delay)
                self.session = outer.factory()
                return await self.session.__aenter__()

            async def __aexit__(self, *exc: Any) -> None:
                await self.session.__aexit__(*exc)

        return Late()


async def test_a_slow_caller_lookup_does_not_hold_the_route(
    session_factory: async_sessionmaker[AsyncSession], backend: str
) -> None:
    ids = await seed(session_factory)
    clock = ManualClock(START)
    sessions = SlowSessions(session_factory)
    service = AcdService(
        clock=clock,
        bus=EventBus(),
        sessions=sessions,
        control=RecordingCallControl(),  # type: ignore[arg-type]
    )
    server = FastAgiServer(command_timeout=2.0)
    service.register_routes(server, 1.0)
    await server.start("127.0.0.1", 0)
    await service.start()
    try:
        await service.login(ids["agent1"])
        sessions.slow = True
        channel = FakeChannel(variables={"CC_GROUP": "care"})
        started = asyncio.get_running_loop().time()
        # The VIP caller: known, but the lookup takes 3 s; the route deadline is 1 s.
        route = await run_session(
            "127.0.0.1", server.port, "route", channel, uniqueid="s1.1", caller="0912000001"
        )
        assert route.variables["CC_ACTION"] == "dial"  # decided, not sent to the fallback
        assert asyncio.get_running_loop().time() - started < 1.0
        assert service.acd.calls["s1.1"].customer_id is None  # routed as an unknown caller
    finally:
        sessions.slow = False
        await service.stop()
        await server.close()
