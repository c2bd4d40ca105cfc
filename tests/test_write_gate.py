"""SQLite's write gate: the daemon's concurrent writers queue in-process and none fails.

SQLite's own busy handler is switched off here (``busy_timeout=0``): any two write
transactions that reached SQLite at the same time would fail with "database is
locked" at once, so every passing run proves the gate serialised them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.db import write_gate
from callcenter.db.engine import make_engine, sessionmaker


def _engine(tmp_path: Path) -> AsyncEngine:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    return engine


async def _create_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))


async def test_fifty_concurrent_write_transactions_all_commit(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await _create_table(engine)
    sessions = sessionmaker(engine)

    async def writer(n: int) -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"a{n}"})
            await asyncio.sleep(0.002)  # other tasks run while this transaction is open
            await session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"b{n}"})

    try:
        await asyncio.gather(*(writer(n) for n in range(50)))
        async with engine.connect() as connection:
            count = await connection.scalar(text("SELECT count(*) FROM notes"))
        assert count == 100
        gate = write_gate.gate_of(engine)
        assert gate is not None and gate.waited > 0  # they really did overlap
    finally:
        await engine.dispose()


async def test_readers_do_not_wait_for_an_open_write(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await _create_table(engine)
    sessions = sessionmaker(engine)
    written = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO notes (body) VALUES ('x')"))
            written.set()
            await release.wait()

    try:
        task = asyncio.create_task(slow_writer())
        await written.wait()
        async with sessions() as session:  # WAL: the read sees the last commit, at once
            assert (
                await asyncio.wait_for(session.scalar(text("SELECT count(*) FROM notes")), 1.0) == 0
            )
        release.set()
        await task
    finally:
        await engine.dispose()


async def test_a_rolled_back_writer_frees_the_gate(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await _create_table(engine)
    sessions = sessionmaker(engine)
    try:
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
                raise RuntimeError("the handler failed mid-transaction")
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT body FROM notes"))).scalars().all()
        assert rows == ["kept"]
    finally:
        await engine.dispose()


async def test_nested_write_in_one_task_fails_clearly_instead_of_hanging(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await _create_table(engine)
    gate = write_gate.gate_of(engine)
    assert gate is not None
    gate.wait_seconds = 0.2
    sessions = sessionmaker(engine)
    try:
        async with sessions() as outer, outer.begin():
            await outer.execute(text("INSERT INTO notes (body) VALUES ('outer')"))
            with pytest.raises(OperationalError) as caught:
                async with sessions() as inner, inner.begin():
                    await inner.execute(text("INSERT INTO notes (body) VALUES ('inner')"))
            assert isinstance(caught.value.orig, sqlite3.OperationalError)
            assert "no write slot" in str(caught.value)
    finally:
        await engine.dispose()


def test_postgresql_engines_get_no_gate() -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert write_gate.gate_of(engine) is None


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("INSERT INTO t VALUES (1)", True),
        ("  update t set a = 1", True),
        ("DELETE FROM t", True),
        ("SELECT * FROM t", False),
        ("PRAGMA foreign_keys=ON", False),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
    ],
)
def test_write_statements_are_recognised(statement: str, writes: bool) -> None:
    assert write_gate._is_write(statement) is writes
