"""Department inbox and ticket list: p50/p90/p99/max with 200,000 tickets (issue 13).

    .venv/bin/python bench/tickets_inbox.py                    # PostgreSQL, 200,000 tickets
    .venv/bin/python bench/tickets_inbox.py --sqlite
    .venv/bin/python bench/tickets_inbox.py --keep             # leave the database for EXPLAIN

A fresh database is migrated to head; 10 departments, 40 categories (each with its
department and SLA), 200 department members, 20 supervisors/agents and 50,000 customers
are created, then the tickets are bulk-loaded (PostgreSQL ``COPY``, SQLite
``executemany``) over two years: the older a ticket, the likelier it is closed or
cancelled; recent ones are unassigned, assigned, in progress or waiting, some past their
due time (a few old ones were forgotten open). Departments and members are uneven, as
in a real centre (the service department is the biggest).

Then it times exactly what the pages call, each in a fresh session, as the page does:
``ticket_queries.inbox`` (rows and total count) for many different members — the first
page, page 2 and the "overdue" filter — and ``list_tickets`` for a supervisor, unfiltered
and with a few filters. Exit status 1 if the inbox p99 is above ``--target-ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Category, Department, User
from callcenter.db.repos.ticket_queries import TicketFilters, inbox, list_tickets

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DEPARTMENTS = 10
MEMBERS = 200
CATEGORIES = 40
CUSTOMERS = 50_000
SLA_HOURS = [4, 8, 24, 24, 48, 72]
#: How departments share the members and the tickets (service is the biggest).
DEPARTMENT_WEIGHTS = [30, 15, 12, 10, 8, 7, 6, 5, 4, 3]
PRIORITIES = (["low"] * 15) + (["normal"] * 60) + (["high"] * 20) + (["urgent"] * 5)
OPEN_MIX = (["unassigned"] * 20) + (["assigned"] * 30) + (["in_progress"] * 35) + (["waiting"] * 15)
SUBJECTS = ["Động cơ kêu to", "Hỏi giá phụ tùng", "Bảo dưỡng định kỳ", "Khiếu nại thái độ",
            "Xe không nổ máy", "Đổi lịch hẹn", "Hỏi khuyến mãi", "Giao xe chậm"]  # fmt: skip
TICKET_COLUMNS = ["id", "code", "customer_id", "call_id", "category_id", "department_id", "status",
                  "needs_review", "priority", "subject", "description", "created_by_id",
                  "assignee_id", "due_at", "created_at", "updated_at", "closed_at"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reader:
    """The user as the pages pass it (``CurrentUser``): id, role, department."""

    id: int
    role: str
    department_id: int | None


@dataclass(frozen=True, slots=True)
class Org:
    departments: list[int]
    categories: list[tuple[int, int, int]]  # id, department id, SLA hours
    members: dict[int, list[int]]  # department id -> member user ids
    staff: list[int]  # agents who create tickets
    supervisor: int


async def seed_org(url: str, rng: random.Random) -> Org:
    """The small tables through the ORM (a few hundred rows)."""
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            departments = [
                Department(code=f"D{i}", name=f"Phòng {i}", name_en=f"Department {i}")
                for i in range(DEPARTMENTS)
            ]
            session.add_all(departments)
            await session.flush()
            categories = [
                Category(
                    code=f"C{i}",
                    name=f"Danh mục {i}",
                    department_id=departments[i % DEPARTMENTS].id,
                    sla_hours=rng.choice(SLA_HOURS),
                )
                for i in range(CATEGORIES)
            ]
            session.add_all(categories)
            users: list[User] = []
            for n in range(MEMBERS):
                department = rng.choices(departments, weights=DEPARTMENT_WEIGHTS)[0]
                users.append(
                    User(
                        username=f"member{n}",
                        full_name=f"Nhân viên {n}",
                        role="department",
                        department_id=department.id,
                        department_priority=n,
                    )
                )
            staff = [User(username=f"agent{n}", full_name=f"Tổng đài viên {n}") for n in range(19)]
            supervisor = User(username="supervisor", full_name="Giám sát", role="supervisor")
            session.add_all([*users, *staff, supervisor])
            await session.flush()
            members: dict[int, list[int]] = {d.id: [] for d in departments}
            for user in users:
                assert user.department_id is not None
                members[user.department_id].append(user.id)
            return Org(
                departments=[d.id for d in departments],
                categories=[(c.id, c.department_id or 0, c.sla_hours) for c in categories],
                members=members,
                staff=[u.id for u in staff],
                supervisor=supervisor.id,
            )
    finally:
        await engine.dispose()


def ticket_rows(org: Org, count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Tickets in creation order over two years up to ``NOW``; ids and codes in that order."""
    span = timedelta(days=730).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    by_department: dict[int, list[tuple[int, int, int]]] = {}
    for category in org.categories:
        by_department.setdefault(category[1], []).append(category)
    for index, offset in enumerate(offsets):
        created = NOW - timedelta(days=730) + timedelta(seconds=offset)
        age_days = (NOW - created).total_seconds() / 86400
        department = rng.choices(org.departments, weights=DEPARTMENT_WEIGHTS)[0]
        category_id, _, sla = rng.choice(by_department[department])
        p_open = 0.6 if age_days < 3 else 0.3 if age_days < 14 else 0.08 if age_days < 60 else 0.01
        if rng.random() < p_open:
            status = rng.choice(OPEN_MIX)
        else:
            status = rng.choices(["done", "closed", "cancelled"], weights=[8, 85, 7])[0]
        members = org.members[department]
        assignee = None if status == "unassigned" or not members else rng.choice(members)
        due = None if rng.random() < 0.05 else created + timedelta(hours=sla)
        needs_review = rng.random() < 0.01
        if needs_review:
            category_id, due = None, None
        closed = created + timedelta(days=rng.uniform(0.2, 10)) if status == "closed" else None
        yield (
            index + 1,
            f"TK-{created.year}-{index + 1:06d}",
            rng.randrange(1, CUSTOMERS + 1),
            None,
            category_id,
            department,
            status,
            needs_review,
            rng.choice(PRIORITIES),
            rng.choice(SUBJECTS),
            "",
            rng.choice(org.staff),
            assignee,
            due,
            created,
            closed or created,
            closed,
        )


def customer_rows() -> Iterator[tuple[Any, ...]]:
    for cid in range(1, CUSTOMERS + 1):
        name = f"Khách hàng {cid}"
        yield (
            cid,
            name,
            name.lower(),
            "",
            "",
            "",
            "",
            "individual",
            "[]",
            "",
            "import",
            False,
            NOW,
            NOW,
        )


CUSTOMER_COLUMNS = ["id", "name", "name_search", "email", "province", "district", "address",
                    "customer_type", "tags", "notes", "source", "do_not_call", "created_at",
                    "updated_at"]  # fmt: skip


async def fill_postgres(url: str, org: Org, count: int, rng: random.Random) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.copy_records_to_table(
            "customers", records=list(customer_rows()), columns=CUSTOMER_COLUMNS
        )
        await connection.copy_records_to_table(
            "tickets", records=list(ticket_rows(org, count, rng)), columns=TICKET_COLUMNS
        )
        await connection.execute("SELECT setval('customers_id_seq', $1)", CUSTOMERS)
        await connection.execute("SELECT setval('tickets_id_seq', $1)", count)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def fill_sqlite(path: Path, org: Org, count: int, rng: random.Random) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        for table, columns, rows in (
            ("customers", CUSTOMER_COLUMNS, customer_rows()),
            ("tickets", TICKET_COLUMNS, ticket_rows(org, count, rng)),
        ):
            marks = ", ".join("?" * len(columns))
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in rows),
            )
    connection.execute("ANALYZE")
    connection.close()


Query = Callable[[Any], Awaitable[Any]]


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q + 0.999999) - 1))]


async def measure(url: str, org: Org, rounds: int, rng: random.Random) -> dict[str, list[float]]:
    engine = make_engine(url)
    factory = sessionmaker(engine)
    readers = [
        Reader(uid, "department", department)
        for department, uids in org.members.items()
        for uid in uids
    ]
    supervisor = Reader(org.supervisor, "supervisor", None)
    first_category = org.categories[0][0]
    week = (NOW - timedelta(days=7), NOW)

    def kinds(reader: Reader) -> dict[str, Query]:
        department = rng.choice(org.departments)
        return {
            "inbox page 1": lambda s: inbox(s, reader, now=NOW),
            "inbox page 2": lambda s: inbox(s, reader, now=NOW, offset=50),
            "inbox overdue": lambda s: inbox(
                s, reader, now=NOW, filters=TicketFilters(overdue=True)
            ),
            "list all": lambda s: list_tickets(s, supervisor, now=NOW),
            "list dept+open": lambda s: list_tickets(
                s,
                supervisor,
                now=NOW,
                filters=TicketFilters(
                    department_id=department, statuses=["in_progress", "waiting"]
                ),
            ),
            "list overdue": lambda s: list_tickets(
                s, supervisor, now=NOW, filters=TicketFilters(overdue=True)
            ),
            "list category+week": lambda s: list_tickets(
                s,
                supervisor,
                now=NOW,
                filters=TicketFilters(
                    category_id=first_category, created_from=week[0], created_to=week[1]
                ),
            ),
        }

    durations: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    cpu: dict[str, float] = {}  # this process's CPU (the client side), summed per kind
    try:
        for reader in readers[:20]:  # warm-up: connections, statement caches
            for query in kinds(reader).values():
                async with factory() as session:
                    await query(session)
        for _ in range(rounds):
            order = readers[:]
            rng.shuffle(order)
            for reader in order:
                for name, query in kinds(reader).items():
                    start, start_cpu = time.perf_counter(), time.process_time()
                    async with factory() as session:
                        page = await query(session)
                    durations.setdefault(name, []).append(time.perf_counter() - start)
                    cpu[name] = cpu.get(name, 0.0) + time.process_time() - start_cpu
                    sizes[name] = max(sizes.get(name, 0), page.total)
    finally:
        await engine.dispose()
    for name, values in durations.items():
        values.sort()
        print(
            f"  {name:20s} n={len(values):5d} p50={percentile(values, 0.5) * 1000:7.2f}ms "
            f"p90={percentile(values, 0.9) * 1000:7.2f}ms p99={percentile(values, 0.99) * 1000:7.2f}ms "
            f"max={values[-1] * 1000:7.2f}ms  client CPU={cpu[name] / len(values) * 1000:5.2f}ms "
            f"largest total={sizes[name]:,}"
        )
    return durations


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(13)
    started = time.perf_counter()
    cleanup: Callable[[], Awaitable[None]] | None = None
    if args.sqlite:
        folder = Path(tempfile.mkdtemp(prefix="cc-bench-"))
        path = folder / "tickets.db"
        url = f"sqlite+aiosqlite:///{path}"

        async def remove() -> None:
            await asyncio.to_thread(shutil.rmtree, folder)

        cleanup = remove
    else:
        import asyncpg

        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

        async def drop() -> None:
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

        cleanup = drop
    try:
        await migrate.upgrade_async(url)
        org = await seed_org(url, rng)
        if args.sqlite:
            await asyncio.to_thread(fill_sqlite, path, org, args.tickets, rng)
        else:
            await fill_postgres(url, org, args.tickets, rng)
        print(f"{'sqlite' if args.sqlite else 'postgresql'}: {args.tickets:,} tickets, "
              f"{DEPARTMENTS} departments, {MEMBERS} members, loaded in "
              f"{time.perf_counter() - started:.1f}s")  # fmt: skip
        durations = await measure(url, org, args.rounds, rng)
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            await cleanup()
    print(
        f"load average now {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}"
    )
    worst = max(percentile(durations[k], 0.99) for k in durations if k.startswith("inbox")) * 1000
    if worst > args.target_ms:
        print(f"FAIL: inbox p99 {worst:.1f} ms > target {args.target_ms} ms")
        return 1
    print(f"ok: inbox p99 {worst:.1f} ms <= target {args.target_ms} ms")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 200 members")
    parser.add_argument("--target-ms", type=float, default=100.0, help="inbox p99 bound")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="leave the database, print its URL")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
