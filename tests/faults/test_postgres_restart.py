"""PostgreSQL restarts while calls go on: every call record waits and is saved once it is back.

A private cluster (``private_postgres.py``), never the shared server. Calls are real
Asterisk traces fed to the call tracker; the recorder retries fast here (0.1 s), so
the outage outlasts its give-up budget for a record the database *refuses* many times
over: a record may only be dropped for being refused, never for the database being away.
Routing does not wait on database writes at all: ``tests/acd/test_write_behind.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from callcenter.core.bus import EventBus
from callcenter.core.calltracker import CallTracker
from callcenter.core.events import CallFact
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Call
from callcenter.services.call_records import CallRecorder
from callcenter.services.write_behind import WriteBehind
from tests.ami.traces import events
from tests.faults.private_postgres import PrivatePostgres, private_postgres

BEFORE = ["a-answered-caller-hangup"]
DURING = ["b-noanswer-reroute", "c-abandon-while-ringing", "d-queue-answered",
          "d3-queue-abandon", "e2-blindtransfer"]  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        migrate.upgrade(pg.url)
        yield pg


async def _until(condition: Any, what: str, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_call_records_wait_for_a_restarting_database(cluster: PrivatePostgres) -> None:
    engine = make_engine(cluster.url)
    bus = EventBus()
    seen: set[str] = set()
    bus.subscribe(CallFact, lambda fact: seen.add(fact.linkedid))
    tracker = CallTracker(bus)
    recorder = CallRecorder(tracker, sessionmaker(engine), bus, retry_seconds=0.1,
                            coalesce_seconds=0.01)  # fmt: skip
    task = asyncio.create_task(recorder.run())
    try:
        for name in BEFORE:
            tracker.feed_all(events(name))
        await recorder.flush(10)
        saved_before = recorder.saved
        assert saved_before >= 1

        await asyncio.to_thread(cluster.stop)
        for name in DURING:
            tracker.feed_all(events(name))
        during = set(seen)
        # Long enough that a record counted as refused would have been given up many times.
        await _until(lambda: recorder.failures >= 4 * recorder.max_attempts, "failed writes")
        assert recorder.depth > 0, "the records waiting for the database were dropped"

        await asyncio.to_thread(cluster.start)
        await recorder.flush(30)
        async with sessionmaker(engine)() as session:
            rows = (await session.execute(select(Call.linkedid, Call.disposition))).all()
            total = await session.scalar(select(func.count()).select_from(Call))
        stored = {linkedid: disposition for linkedid, disposition in rows}
        assert total == len(stored), "a call record was written twice"
        assert set(stored) == during, f"lost: {sorted(during - set(stored))}"
        for linkedid, disposition in stored.items():
            record = tracker.get(linkedid)
            assert record is not None and record.disposition == disposition, linkedid
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_the_write_behind_queue_waits_for_a_restarting_database(
    cluster: PrivatePostgres,
) -> None:
    """The ACD's state log goes through this queue: a route never waits on it, and an
    outage longer than its retry budget must not turn its rows into "refused" ones."""
    engine = make_engine(cluster.url)

    async def write(rows: list[int]) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO fault_probe (n) VALUES (:n)"), [{"n": n} for n in rows]
            )

    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE fault_probe (n INTEGER PRIMARY KEY)"))
    queue: WriteBehind[int] = WriteBehind("probe", write, retry_seconds=0.05, max_attempts=3)
    writer = asyncio.create_task(queue.run())
    attempts = {"n": 0}
    original = queue._write

    async def counted(rows: list[int]) -> None:
        attempts["n"] += 1
        await original(rows)

    queue._write = counted
    try:
        queue.put(1)
        await queue.flush(10)
        await asyncio.to_thread(cluster.stop)
        for n in range(2, 12):
            queue.put(n)
        await _until(lambda: attempts["n"] >= 3 * queue.max_attempts, "failed writes")
        await asyncio.to_thread(cluster.start)
        await queue.flush(30)
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT n FROM fault_probe ORDER BY n"))).all()
        assert [n for (n,) in stored] == list(range(1, 12))
        assert queue.lost == 0
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await engine.dispose()
