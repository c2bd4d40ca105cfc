"""Database on both backends: migrations, schema parity, UTC round-trip, concurrency, errors."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from callcenter.db import migrate
from callcenter.db.engine import DatabaseError, check_database, check_writable, make_engine
from callcenter.db.models import Base, Call, Customer, CustomerPhone, Department, Vehicle
from tests.conftest import PgDatabase, require_postgres


async def schema_of(url: str) -> dict[str, set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync: Any) -> dict[str, set[str]]:
                inspector = inspect(sync)
                return {
                    table: {column["name"] for column in inspector.get_columns(table)}
                    for table in inspector.get_table_names()
                    # the SQLite full-text index of transcripts is kept by the migration
                    if table != "alembic_version" and not table.startswith("transcripts_fts")
                }

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def test_migrations_agree_with_models(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.check(database_url)  # raises if autogenerate would find differences


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert asyncio.run(schema_of(database_url)) == {}
    migrate.upgrade(database_url)
    assert set(asyncio.run(schema_of(database_url))) == set(Base.metadata.tables)


def test_same_schema_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    require_postgres()
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    migrate.upgrade(sqlite_url)
    pg = PgDatabase()
    pg.create()
    try:
        migrate.upgrade(pg.url)
        assert asyncio.run(schema_of(sqlite_url)) == asyncio.run(schema_of(pg.url))
    finally:
        pg.drop()


async def test_timestamps_are_stored_utc_and_come_back_aware(
    session_factory: async_sessionmaker[Any],
) -> None:
    hanoi = timezone(timedelta(hours=7))
    started = datetime(2026, 5, 1, 8, 30, tzinfo=hanoi)
    async with session_factory() as session, session.begin():
        session.add(Call(linkedid="1.1", started_at=started))
    async with session_factory() as session:
        call = await session.scalar(select(Call))
        assert call is not None
        assert call.started_at == started
        assert call.started_at.utcoffset() == timedelta(0)
        assert call.started_at.hour == 1


async def test_naive_datetime_is_refused(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session:
        session.add(Call(linkedid="1.2", started_at=datetime(2026, 5, 1, 8, 30)))
        with pytest.raises(Exception, match="naive"):
            await session.flush()


async def test_foreign_keys_and_unique_constraints(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        session.add(CustomerPhone(customer_id=424242, number="+84912345678"))
        with pytest.raises(IntegrityError):
            await session.flush()
    async with session_factory() as session, session.begin():
        customer = Customer(name="Nguyễn Văn A")
        customer.vehicles.append(Vehicle(vin="RLXXXXXXXXXXXXXX1"))
        session.add(customer)
    async with session_factory() as session:
        other = Customer(name="Trần Thị B")
        other.vehicles.append(Vehicle(vin="RLXXXXXXXXXXXXXX1"))
        session.add(other)
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_concurrent_writers(
    engine: AsyncEngine, session_factory: async_sessionmaker[Any]
) -> None:
    """Many tasks writing at once (as the tracker, the web and an import do) lose nothing."""

    async def writer(worker: int) -> None:
        for index in range(10):
            async with session_factory() as session, session.begin():
                customer = Customer(name=f"Khách {worker}-{index}")
                customer.phones.append(CustomerPhone(number=f"+849{worker:02d}{index:06d}"))
                session.add(customer)

    await asyncio.gather(*(writer(worker) for worker in range(8)))
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 80
        assert await session.scalar(select(func.count()).select_from(CustomerPhone)) == 80


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}"
    await migrate.upgrade_async(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    finally:
        await engine.dispose()
    assert mode == "wal"
    assert fks == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_sqlite_file_is_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    path.write_bytes(b"")
    path.chmod(stat.S_IRUSR)
    with pytest.raises(DatabaseError, match="read-only"):
        check_writable(f"sqlite+aiosqlite:///{path}")


def test_read_only_sqlite_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores permission bits, so simulate a read-only mount through os.access.
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if str(p).startswith(str(folder)) else real_access(p, mode),
    )
    with pytest.raises(DatabaseError, match="read-only"):
        check_writable(f"sqlite+aiosqlite:///{folder / 'cc.db'}")
    with pytest.raises(DatabaseError, match="does not exist"):
        check_writable(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'cc.db'}")


async def test_unreachable_postgresql_gives_one_line() -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseError) as info:
            await check_database(engine)
    finally:
        await engine.dispose()
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(
        "database error: cannot use postgresql+asyncpg://nobody@127.0.0.1:1/none"
    )


async def test_department_round_trip_with_vietnamese_text(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session, session.begin():
        session.add(Department(code="parts", name="Phụ tùng"))
    async with session_factory() as session:
        department = await session.scalar(select(Department).where(Department.code == "parts"))
        assert department is not None and department.name == "Phụ tùng"
    assert datetime.now(UTC).tzinfo is UTC
