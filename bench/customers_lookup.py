"""Screen-pop lookup: p50/p99 of ``find_by_phone`` with 1,000,000 customers, SQLite and PostgreSQL.

    .venv/bin/python bench/customers_lookup.py                 # both backends, 1,000,000 customers
    .venv/bin/python bench/customers_lookup.py --customers 100000 --backend sqlite

The data is generated with bulk inserts (sqlite3 ``executemany`` in one
transaction; PostgreSQL ``COPY``), then the schema's indexes are in place as
migrations create them. Each lookup is what the screen-pop does: a fresh
session, ``find_by_phone(raw caller ID)``, phones and vehicles loaded. A third
of the caller IDs are written the old way (``0168…`` for today's ``038…``) or
with ``+84``; a tenth are unknown numbers (a miss must be fast too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.core.phones import MOBILE_RENUMBERING_2018
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.repos.customers import find_by_phone

NEW_TO_OLD = {new: old for old, new in MOBILE_RENUMBERING_2018.items()}
PREFIXES = ["32", "33", "34", "35", "36", "37", "38", "39", "70", "77", "79", "81", "83", "84",
            "85", "86", "88", "90", "91", "93", "94", "96", "97", "98"]  # fmt: skip
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Quang", "Ngọc", "Thanh"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam"]


def phone_of(index: int) -> str:
    """A distinct 9-digit national number per customer (deterministic)."""
    prefix = PREFIXES[index % len(PREFIXES)]
    return f"{prefix}{(index * 7919) % 10_000_000:07d}"


def rows(count: int) -> Any:
    rng = random.Random(4)
    for index in range(count):
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        yield index + 1, name, phone_of(index)


def fill_sqlite(path: Path, count: int) -> None:
    from callcenter.core.text import fold

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    now = "2026-11-23 08:00:00.000000"
    with connection:
        batch_c: list[tuple[Any, ...]] = []
        batch_p: list[tuple[Any, ...]] = []
        for customer_id, name, national in rows(count):
            batch_c.append((customer_id, name, fold(name), now, now))
            batch_p.append((customer_id, f"+84{national}"))
            if len(batch_c) == 50_000:
                _flush_sqlite(connection, batch_c, batch_p)
                batch_c, batch_p = [], []
        _flush_sqlite(connection, batch_c, batch_p)
    connection.execute("ANALYZE")
    connection.close()


def _flush_sqlite(connection: sqlite3.Connection, customers: list[Any], phones: list[Any]) -> None:
    connection.executemany(
        "INSERT INTO customers (id, name, name_search, email, province, district, address,"
        " customer_type, tags, notes, source, do_not_call, created_at, updated_at)"
        " VALUES (?, ?, ?, '', '', '', '', 'individual', '[]', '', 'import', 0, ?, ?)",
        customers,
    )
    connection.executemany(
        "INSERT INTO customer_phones (customer_id, number, is_primary, label) VALUES (?, ?, 1, '')",
        phones,
    )


async def fill_postgres(url: str, count: int) -> None:
    import asyncpg

    from callcenter.core.text import fold

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        from datetime import UTC, datetime

        now = datetime(2026, 11, 23, 8, tzinfo=UTC)
        customers = [
            (
                cid,
                name,
                fold(name),
                "",
                "",
                "",
                "",
                "individual",
                "[]",
                "",
                "import",
                False,
                now,
                now,
            )
            for cid, name, _ in rows(count)
        ]
        await connection.copy_records_to_table(
            "customers",
            records=customers,
            columns=["id", "name", "name_search", "email", "province", "district", "address",
                     "customer_type", "tags", "notes", "source", "do_not_call", "created_at",
                     "updated_at"],
        )  # fmt: skip
        del customers
        phones = [(cid, f"+84{national}", True, "") for cid, _, national in rows(count)]
        await connection.copy_records_to_table(
            "customer_phones",
            records=phones,
            columns=["customer_id", "number", "is_primary", "label"],
        )
        await connection.execute("SELECT setval('customers_id_seq', $1)", count)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def caller_ids(count: int, lookups: int) -> list[str]:
    rng = random.Random(7)
    ids = []
    for _ in range(lookups):
        roll = rng.random()
        if roll < 0.1:
            ids.append(f"0{rng.choice(PREFIXES)}{rng.randrange(10_000_000):07d}9")  # unknown
            ids[-1] = ids[-1][:10]
            continue
        national = phone_of(rng.randrange(count))
        if roll < 0.25 and national[:2] in NEW_TO_OLD:
            ids.append(f"0{NEW_TO_OLD[national[:2]]}{national[2:]}")  # the pre-2018 number
        elif roll < 0.4:
            ids.append(f"+84{national}")
        else:
            ids.append(f"0{national}")
    return ids


async def measure(url: str, count: int, lookups: int) -> dict[str, float]:
    engine = make_engine(url)
    factory = sessionmaker(engine)
    numbers = caller_ids(count, lookups)
    found = 0
    durations: list[float] = []
    try:
        for number in numbers[:200]:  # warm-up: connections, statement caches
            async with factory() as session:
                await find_by_phone(session, number)
        for number in numbers:
            start = time.perf_counter()
            async with factory() as session:
                customer = await find_by_phone(session, number)
            durations.append(time.perf_counter() - start)
            found += customer is not None
        async with engine.connect() as connection:
            explain = "EXPLAIN QUERY PLAN" if url.startswith("sqlite") else "EXPLAIN"
            plan = await connection.exec_driver_sql(
                f"{explain} SELECT customer_id FROM customer_phones WHERE number = '+84912345678'"
            )
            plan_text = " | ".join(str(row[-1]) for row in plan)
    finally:
        await engine.dispose()
    durations.sort()
    return {
        "found": found,
        "p50_ms": statistics.median(durations) * 1000,
        "p99_ms": durations[int(len(durations) * 0.99) - 1] * 1000,
        "max_ms": durations[-1] * 1000,
        "plan": plan_text,  # type: ignore[dict-item]
    }


async def bench_backend(backend: str, count: int, lookups: int) -> None:
    started = time.perf_counter()
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="cc-bench-"))
        path = folder / "lookup.db"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate.upgrade_async(url)
        await asyncio.to_thread(fill_sqlite, path, count)
        cleanup: Any = lambda: [p.unlink() for p in folder.iterdir()]  # noqa: E731
    else:
        import asyncpg

        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        await migrate.upgrade_async(url)
        await fill_postgres(url, count)

        async def drop() -> None:
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

        cleanup = drop
    filled = time.perf_counter() - started
    try:
        result = await measure(url, count, lookups)
    finally:
        outcome = cleanup()
        if asyncio.iscoroutine(outcome):
            await outcome
    print(
        f"{backend:10s} customers={count:,} load={filled:.1f}s lookups={lookups:,} "
        f"found={result['found']:,} p50={result['p50_ms']:.2f}ms p99={result['p99_ms']:.2f}ms "
        f"max={result['max_ms']:.2f}ms"
    )
    print(f"{'':10s} plan: {result['plan']}")
    print(f"{'':10s} load average now {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        asyncio.run(bench_backend(backend, args.customers, args.lookups))


if __name__ == "__main__":
    main()
