"""Migration 0009 on existing data: old statuses mapped, uncategorized flagged for review,
codes given in creation order per local year, counters continue from there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text

from callcenter.db import migrate
from callcenter.db.engine import make_engine

OLD = [
    # (status, assignee?, created_at UTC)
    ("new", False, datetime(2025, 12, 31, 16, 59, tzinfo=UTC)),  # 23:59 local: 2025
    ("forwarded", True, datetime(2025, 12, 31, 17, 1, tzinfo=UTC)),  # 00:01 local: 2026
    ("forwarded", False, datetime(2026, 3, 1, 2, 0, tzinfo=UTC)),
    ("uncategorized", False, datetime(2026, 3, 2, 2, 0, tzinfo=UTC)),
    ("resolved", True, datetime(2026, 3, 3, 2, 0, tzinfo=UTC)),
    ("closed", False, datetime(2026, 3, 4, 2, 0, tzinfo=UTC)),
    ("in_progress", True, datetime(2026, 3, 5, 2, 0, tzinfo=UTC)),
]


async def _run(url: str, *statements: tuple[str, dict[str, object]]) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            result: list[tuple[object, ...]] = []
            for sql, params in statements:
                rows = await connection.execute(text(sql), params)
                if rows.returns_rows:
                    result = [tuple(r) for r in rows]
            return result
    finally:
        await engine.dispose()


def _naive_if_sqlite(url: str, value: datetime) -> object:
    return value.replace(tzinfo=None) if url.startswith("sqlite") else value


def test_existing_tickets_are_migrated(database_url: str) -> None:
    migrate.upgrade(database_url, "0007")
    inserts: list[tuple[str, dict[str, object]]] = [
        (
            "INSERT INTO users (id, username, full_name, email, password_hash, role, language, "
            "is_department_head, department_priority, interface, extension, active, "
            "session_version, created_at) VALUES (1, 'u', '', '', '', 'department', 'vi', false, 0, "
            "'', '', true, 1, :at)",
            {"at": _naive_if_sqlite(database_url, OLD[0][2])},
        ),
    ]
    inserts.append(
        (
            "INSERT INTO departments (id, code, name, name_en, email, phone, active) "
            "VALUES (1, 'service', 'Dịch vụ', '', '', '', true)",
            {},
        )
    )
    for number, (status, assigned, created) in enumerate(OLD, start=1):
        at = _naive_if_sqlite(database_url, created)
        inserts.append(
            (
                "INSERT INTO tickets (id, status, priority, subject, description, department_id, assignee_id, "
                "created_at, updated_at) VALUES (:id, :status, 'normal', '', '', 1, :assignee, :at, :at)",
                {"id": number, "status": status, "assignee": 1 if assigned else None, "at": at},
            )
        )
        inserts.append(
            (
                "INSERT INTO ticket_events (ticket_id, at, kind, from_status, to_status, note) "
                "VALUES (:id, :at, 'created', '', :status, '')",
                {"id": number, "at": at, "status": status},
            )
        )
    asyncio.run(_run(database_url, *inserts))
    migrate.upgrade(database_url)
    rows = asyncio.run(
        _run(
            database_url,
            (
                "SELECT t.id, t.status, t.needs_review, t.code, e.to_status FROM tickets t "
                "JOIN ticket_events e ON e.ticket_id = t.id ORDER BY t.id",
                {},
            ),
        )
    )
    assert [(r[1], bool(r[2]), r[3], r[4]) for r in rows] == [
        ("unassigned", False, "TK-2025-000001", "unassigned"),
        ("assigned", False, "TK-2026-000001", "unassigned"),
        ("unassigned", False, "TK-2026-000002", "unassigned"),
        ("unassigned", True, "TK-2026-000003", "unassigned"),
        ("done", False, "TK-2026-000004", "done"),
        ("closed", False, "TK-2026-000005", "closed"),
        ("in_progress", False, "TK-2026-000006", "in_progress"),
    ]
    # Nothing around the tickets was lost or unlinked by the schema change.
    linked = asyncio.run(
        _run(
            database_url,
            (
                "SELECT count(*) FROM tickets WHERE department_id = 1 "
                "UNION ALL SELECT count(*) FROM users WHERE id = 1",
                {},
            ),
        )
    )
    assert linked == [(7,), (1,)]
    counters = asyncio.run(
        _run(
            database_url,
            (
                "SELECT year, last FROM ticket_code_counters ORDER BY year",
                {},
            ),
        )
    )
    assert counters == [(2025, 1), (2026, 6)]
    migrate.downgrade(database_url, "0007")
    back = asyncio.run(_run(database_url, ("SELECT status FROM tickets ORDER BY id", {})))
    assert [r[0] for r in back] == [
        "forwarded",
        "forwarded",
        "forwarded",
        "uncategorized",
        "resolved",
        "closed",
        "in_progress",
    ]
