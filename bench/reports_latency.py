"""Reports over 1,000,000 calls and 200,000 tickets on PostgreSQL: p50/p99 per report (issue 15).

    .venv/bin/python bench/reports_latency.py                  # 1,000,000 calls, 200,000 tickets
    .venv/bin/python bench/reports_latency.py --calls 100000 --tickets 20000 --rounds 5
    .venv/bin/python bench/reports_latency.py --keep           # leave the database for EXPLAIN

A fresh database is migrated to head; 200 agents, 10 departments and 40 categories are
created, then everything is generated inside PostgreSQL (``INSERT … SELECT`` over
``generate_series`` with a seeded ``random()``), spread over the last 365 days: the
calls (78 % answered, the rest abandoned, a third of those short), one answered offer per
answered call plus a missed offer for one call in ten, a wrap-up for most answered calls,
a survey answer for one in ten, six state-log rows per agent and day, the tickets with
their status events (created, in progress, waiting for some, done, closed; a few reopened).

Then it times what the pages call (``reports.services``), each in a fresh session, for a
day, a month and the whole year, grouped by day (month for the year): the calls report,
the agents' sheet and the tickets report. Exit status 1 if a p99 is above ``--target-ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Category, Department, User
from callcenter.localtime import DEFAULT_ZONE, day_bounds, local_date
from callcenter.reports import services
from callcenter.reports.periods import Grouping
from callcenter.reports.queries import Filters

AGENTS = 200
END = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01/12/2026 00:00 local
DAYS = 365


async def seed_org(url: str) -> None:
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            session.add_all(
                User(username=f"agent{i}", full_name=f"Agent {i:03d}", role="agent",
                     interface=f"PJSIP/{1000 + i}")
                for i in range(AGENTS)
            )  # fmt: skip
            departments = [Department(code=f"d{i}", name=f"Phòng {i}") for i in range(10)]
            session.add_all(departments)
            await session.flush()
            session.add_all(
                Category(code=f"c{i}", name=f"Danh mục {i}", department_id=departments[i % 10].id)
                for i in range(40)
            )
            await session.commit()
    finally:
        await engine.dispose()


def fill_sql(calls: int, tickets: int) -> list[str]:
    start = (END - timedelta(days=DAYS)).strftime("%Y-%m-%d %H:%M:%S+00")
    span = DAYS * 86400
    return [
        "SELECT setseed(0.15)",
        f"""
        INSERT INTO calls (linkedid, direction, caller_number, caller_name, dialed_number,
            agent_id, started_at, answered_at, ended_at, wait_seconds, talk_seconds,
            hold_seconds, disposition, hangup_cause, hangup_by, recording_path, queue,
            route_group, agent_interface, end_estimated)
        SELECT 'b' || g, 'inbound', '09' || (10000000 + g), '', d.hotline,
            CASE WHEN d.answered THEN d.agent END,
            d.at, CASE WHEN d.answered THEN d.at + make_interval(secs => d.wait) END,
            d.at + make_interval(secs => d.wait + CASE WHEN d.answered THEN d.talk ELSE 0 END),
            d.wait, CASE WHEN d.answered THEN d.talk ELSE 0 END,
            CASE WHEN d.answered AND g % 7 = 0 THEN 30 ELSE 0 END,
            CASE WHEN d.answered THEN 'answered' ELSE 'abandoned' END,
            '16 Normal Clearing', 'caller', '', '', d.grp, '', false
        FROM (
            SELECT g,
                timestamptz '{start}' + make_interval(secs => floor(random() * {span})) AS at,
                random() < 0.78 AS answered,
                round((random() * 60)::numeric, 1)::float AS wait,
                round((30 + random() * 300)::numeric, 1)::float AS talk,
                1 + floor(random() * {AGENTS})::int AS agent,
                CASE WHEN g % 3 = 0 THEN '19001080' ELSE '19006868' END AS hotline,
                CASE WHEN g % 3 = 0 THEN 'sales' ELSE 'care' END AS grp
            FROM generate_series(1, {calls}) AS g
        ) AS d
        """,
        """
        INSERT INTO call_attempts (call_id, agent_id, interface, offered_at, answered_at,
            ended_at, outcome, uniqueid, queue)
        SELECT id, agent_id, '', answered_at - interval '3 seconds', answered_at, ended_at,
            'answered', linkedid || '.a', ''
        FROM calls WHERE disposition = 'answered'
        """,
        """
        INSERT INTO call_attempts (call_id, agent_id, interface, offered_at, answered_at,
            ended_at, outcome, uniqueid, queue)
        SELECT id, 1 + (id * 7) % 200, '', started_at + interval '2 seconds', NULL,
            started_at + interval '17 seconds', 'noanswer', linkedid || '.m', ''
        FROM calls WHERE id % 10 = 0
        """,
        """
        INSERT INTO call_wrapups (call_id, agent_id, outcome, priority, notes, timed_out,
            saved_at)
        SELECT id, agent_id, 'info_only', 'normal', '', false,
            ended_at + make_interval(secs => 5 + id % 30)
        FROM calls WHERE disposition = 'answered' AND id % 5 <> 0
        """,
        # the callers' keypad answers to the default after-call survey (migration 0010)
        """
        INSERT INTO survey_responses (survey_id, channel, linkedid, uniqueid, caller, agent_id,
                                      created_at)
        SELECT (SELECT survey_id FROM survey_questions WHERE kind = 'scale_5'
                ORDER BY id LIMIT 1),
               'ivr', linkedid, linkedid || '.s', '', agent_id, ended_at
        FROM calls WHERE disposition = 'answered' AND id % 10 = 3
        """,
        """
        INSERT INTO survey_answers (response_id, question_id, value_text, value_number, choices)
        SELECT r.id, (SELECT id FROM survey_questions WHERE kind = 'scale_5' ORDER BY id LIMIT 1),
               '', 1 + c.id % 5, '[]'
        FROM survey_responses r JOIN calls c ON c.linkedid = r.linkedid
        """,
        f"""
        INSERT INTO agent_state_log (user_id, state, reason, interface, started_at, ended_at)
        SELECT u.id, s.state, s.reason, '',
            timestamptz '{start}' + make_interval(days => d) + s.starts,
            timestamptz '{start}' + make_interval(days => d) + s.ends
        FROM users u
        CROSS JOIN generate_series(0, {DAYS - 1}) AS d
        CROSS JOIN (VALUES
            ('available', '', interval '1 hour', interval '3 hours'),
            ('on_call', '', interval '3 hours', interval '4 hours'),
            ('wrapup', '', interval '4 hours', interval '4 hours 10 minutes'),
            ('paused', 'lunch', interval '4 hours 10 minutes', interval '5 hours'),
            ('available', '', interval '5 hours', interval '8 hours'),
            ('paused', 'training', interval '8 hours', interval '9 hours')
        ) AS s(state, reason, starts, ends)
        WHERE u.role = 'agent'
        """,
        f"""
        INSERT INTO tickets (code, category_id, department_id, status, needs_review, priority,
            subject, description, created_by_id, due_at, created_at, updated_at, closed_at)
        SELECT 'TK-B-' || g, c.id, c.department_id,
            (ARRAY['closed','closed','closed','done','in_progress','waiting','unassigned',
                   'cancelled'])[1 + g % 8],
            false, 'normal', '', '', 1 + g % {AGENTS}, t.at + interval '24 hours', t.at, t.at,
            CASE WHEN g % 8 < 3 THEN t.at + interval '20 hours' END
        FROM generate_series(1, {tickets}) AS g
        CROSS JOIN LATERAL (SELECT timestamptz '{start}'
                            + make_interval(secs => floor(random() * {span}) + g * 0) AS at) AS t
        JOIN categories c ON c.id = 1 + g % 40
        """,
        """
        INSERT INTO ticket_events (ticket_id, at, user_id, kind, from_status, to_status, note)
        SELECT t.id, t.created_at + e.after, t.created_by_id, e.kind, '', e.to_status, ''
        FROM tickets t
        CROSS JOIN LATERAL (VALUES
            (interval '0', 'created', 'unassigned', true),
            (interval '2 hours', 'status_changed', 'in_progress', t.status <> 'unassigned'),
            (interval '5 hours', 'status_changed', 'waiting', t.status IN ('waiting', 'closed')),
            (interval '9 hours', 'status_changed', 'in_progress', t.status = 'closed'),
            (interval '12 hours', 'status_changed', 'done', t.status IN ('done', 'closed')),
            (interval '20 hours', 'status_changed', 'closed', t.status = 'closed'),
            (interval '30 hours', 'reopened', 'in_progress', t.id % 50 = 0 AND t.status = 'in_progress')
        ) AS e(after, kind, to_status, applies)
        WHERE e.applies
        """,
        "ANALYZE",
    ]


def percentile(ordered: list[float], q: float) -> float:
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    engine = make_engine(url)
    factory = sessionmaker(engine)
    last_day = local_date(END - timedelta(seconds=1))
    ranges = {
        "day": (last_day, last_day, Grouping.DAY),
        "month": (last_day - timedelta(days=29), last_day, Grouping.DAY),
        "year": (last_day - timedelta(days=DAYS - 1), last_day, Grouping.MONTH),
    }
    durations: dict[str, list[float]] = {}
    try:
        for round_ in range(rounds):
            for label, (first, last, grouping) in ranges.items():
                filters = Filters(start=day_bounds(first)[0], end=day_bounds(last)[1])
                for kind in ("calls", "agents", "tickets"):
                    began = time.perf_counter()
                    async with factory() as session:
                        if kind == "calls":
                            await services.calls_report(session, filters, grouping, DEFAULT_ZONE)
                        elif kind == "agents":
                            await services.agents_report(session, filters, END)
                        else:
                            await services.tickets_report(
                                session, filters, grouping, DEFAULT_ZONE, END
                            )
                    took = time.perf_counter() - began
                    if round_ > 0 or rounds == 1:  # the first pass warms the cache
                        durations.setdefault(f"{kind} {label}", []).append(took)
                    else:  # and fills the rollup's days (reports.rollup)
                        print(f"first pass {kind} {label}: {took * 1000:.0f} ms")
    finally:
        await engine.dispose()
    return durations


async def run(args: argparse.Namespace) -> int:
    import asyncpg

    started = time.perf_counter()
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await migrate.upgrade_async(url)
        await seed_org(url)
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            for statement in fill_sql(args.calls, args.tickets):
                await connection.execute(statement)
            counts = {
                table: await connection.fetchval(f"SELECT count(*) FROM {table}")
                for table in ("calls", "call_attempts", "agent_state_log", "tickets",
                              "ticket_events")
            }  # fmt: skip
        finally:
            await connection.close()
        print(f"postgresql: {', '.join(f'{v:,} {k}' for k, v in counts.items())}; "
              f"loaded in {time.perf_counter() - started:.1f}s")  # fmt: skip
        durations = await measure(url, args.rounds)
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    worst = 0.0
    print(f"{'report':<16} {'n':>3} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for key, values in durations.items():
        ordered = sorted(values)
        p99 = percentile(ordered, 0.99) * 1000
        worst = max(worst, p99)
        print(f"{key:<16} {len(ordered):>3} {percentile(ordered, 0.5) * 1000:>9.1f} "
              f"{p99:>9.1f} {ordered[-1] * 1000:>9.1f}")  # fmt: skip
    load = os.getloadavg()
    print(f"load average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if worst > args.target_ms:
        print(f"FAIL: worst p99 {worst:.1f} ms > target {args.target_ms} ms")
        return 1
    print(f"ok: worst p99 {worst:.1f} ms <= target {args.target_ms} ms")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=11, help="the first one warms up")
    parser.add_argument("--target-ms", type=float, default=1000.0, help="p99 bound per report")
    parser.add_argument("--keep", action="store_true", help="leave the database, print its URL")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
