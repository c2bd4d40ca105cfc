"""What the reports' stale-mark triggers (migration 0016) cost a writer on PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/report_triggers_cost.py

Two fresh databases migrated to head, one with the ``report_stale_*`` triggers dropped;
in each, 3,000 single-row call inserts then 3,000 single-row updates inside one
transaction (so fsync does not drown the difference), twice, alternating.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg

from callcenter.db import migrate

ROWS = 3000
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def measure(with_triggers: bool) -> tuple[float, float]:
    name = f"cc_trig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await migrate.upgrade_async(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        try:
            if not with_triggers:
                for trigger, table in await connection.fetch(
                    "SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
                    "WHERE tgname LIKE 'report_stale_%'"
                ):
                    await connection.execute(f"DROP TRIGGER {trigger} ON {table}")
            insert = await connection.prepare(
                "INSERT INTO calls (linkedid, direction, caller_number, caller_name, "
                "dialed_number, started_at, wait_seconds, talk_seconds, hold_seconds, "
                "disposition, hangup_cause, hangup_by, recording_path, queue, route_group, "
                "agent_interface, end_estimated) VALUES ($1, 'inbound', '', '', '', now(), "
                "0, 0, 0, 'active', '', '', '', '', '', '', false) RETURNING id"
            )
            update = await connection.prepare(
                "UPDATE calls SET disposition = 'answered', ended_at = now() WHERE id = $1"
            )
            async with connection.transaction():
                began = time.perf_counter()
                ids = [await insert.fetchval(f"t{i}") for i in range(ROWS)]
                inserted = time.perf_counter()
                for call_id in ids:
                    await update.fetch(call_id)
                updated = time.perf_counter()
        finally:
            await connection.close()
        return (inserted - began) / ROWS * 1e6, (updated - inserted) / ROWS * 1e6
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}")
    for with_triggers in (False, True, False, True):
        per_insert, per_update = await measure(with_triggers)
        label = "with triggers" if with_triggers else "no triggers  "
        print(f"{label}: insert {per_insert:.0f} us, update {per_update:.0f} us per statement")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
