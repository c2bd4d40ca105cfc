"""Screen-pop latency: the FastAGI routing request that picks the agent → pop at the agent's page.

The whole system runs on loopback in three processes, as in production: the
PBX simulator running the production dialplan (playing Asterisk), the real
daemon (web, FastAGI, ACD service, AMI link, call recorder, agent desk), and a
client process holding one ``/agent/ws`` websocket per agent (300 by default,
all logged in and available). Calls arrive through the
simulator at a fixed rate (default 20/s); the simulated phones answer after 1 s,
talk 2 s, and the agents have 1 s of wrap-up.

Latency = (monotonic time the client process received the ``pop`` for a call)
− (monotonic time the simulated Asterisk executed ``AGI(…/route)`` for that call,
i.e. started the FastAGI routing request that picked the agent). Both processes
read the same CLOCK_MONOTONIC. If a call is routed more than once (no answer),
the last route request before the pop counts.

History: with ``--postgres`` the database gets 100,000 customers (one phone and
one vehicle each), 1,000,000 earlier calls and 200,000 tickets, bulk-loaded with
COPY; every caller is one of those customers, so each pop loads a real history
(about 10 earlier calls, tickets). Without it a SQLite file with 1,000 customers.

    .venv/bin/python bench/screenpop_latency.py --seconds 30
    .venv/bin/python bench/screenpop_latency.py --seconds 30 --postgres

It reports p50/p90/p99/max, the worst seconds of the run, the write-behind queues'
depth, every process's full-GC pauses and the daemon's event-loop lag, and exits
non-zero when a run's p99 is above ``--target-ms``. ``--runs N`` repeats the run on
the same database and reports each; ``--ramp`` raises the call rate step by step
until p99 passes the target and says what saturated first. ``--pin`` puts the
simulator (and the websocket clients) on CPU 0 and the daemon on CPU 1.

    .venv/bin/python bench/screenpop_latency.py --runs 3 --seconds 30 --pin
    .venv/bin/python bench/screenpop_latency.py --ramp --postgres --target-ms 50 --pin
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, WSMsgType, web
from sqlalchemy import insert, select

from callcenter.agent_desk.plugin import AGENT_HUB
from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.auth.sessions import COOKIE_NAME, SessionCodec, logged_in
from callcenter.clock import SystemClock
from callcenter.config import load_settings
from callcenter.core.events import AgentStateChanged, CallStarted
from callcenter.core.tickets import format_code
from callcenter.daemon import PLUGINS as DAEMON_PLUGINS
from callcenter.daemon import freeze_startup_heap
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    Call,
    Customer,
    CustomerPhone,
    Hotline,
    SystemSetting,
    Ticket,
    User,
    Vehicle,
)
from callcenter.localtime import local_date
from callcenter.registry import AMI_STATUS, BUS, ENGINE
from callcenter.seed import open_on_public_holidays, seed_reference_data
from callcenter.services import plugin as acd_plugin
from callcenter.services.plugin import ACD_SERVICE
from callcenter.sim.ami import AmiServer, parse_manager_conf
from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.phones import PhoneBehaviour
from callcenter.web.app import create_app

REPO = Path(__file__).resolve().parents[1]
HOTLINE = "19006868"
SECRET = "bench-secret"
SESSION_SECRET = "bench-session-secret-" + "x" * 32
#: the simulated phones answer after 1 s and talk 2 s; the agents have 1 s of wrap-up:
#: 4 s of an agent per call, so 300 agents can take at most 75 calls/s
ANSWER_SECONDS, TALK_SECONDS, WRAPUP_SECONDS = 1.0, 2.0, 1
T0 = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)


def phone_of(n: int) -> str:
    return f"+8491{n:07d}"


def national(n: int) -> str:
    return f"091{n:07d}"


# ----------------------------------------------------------------------------- data
async def seed_agents(url: str, agents: int) -> list[int]:
    engine = make_engine(url)
    factory = sessionmaker(engine)
    try:
        async with factory() as session, session.begin():
            await seed_reference_data(session)
            await session.execute(
                insert(User),
                [
                    {
                        "username": f"agent{n:03d}",
                        "full_name": f"Điện thoại viên {n:03d}",
                        "role": "agent",
                        "interface": f"PJSIP/{1000 + n}",
                        "extension": str(1000 + n),
                    }
                    for n in range(agents)
                ],
            )
            user_ids = list((await session.scalars(select(User.id).order_by(User.id))).all())
            group = AgentGroup(code="care", name="CSKH", ring_timeout_seconds=15)
            session.add(group)
            await session.flush()
            await session.execute(
                insert(AgentGroupMember),
                [{"group_id": group.id, "user_id": uid, "priority": 0} for uid in user_ids],
            )
            session.add(Hotline(number=HOTLINE, name="CSKH", group_id=group.id))
            session.add(SystemSetting(key="wrapup_seconds", value=WRAPUP_SECONDS, updated_at=T0))
        return user_ids
    finally:
        await engine.dispose()


async def open_today(url: str) -> None:
    """The bench runs on the real clock: a public holiday must not close the hotline."""
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            await open_on_public_holidays(session, local_date(SystemClock().now()))
    finally:
        await engine.dispose()


async def existing_agents(url: str) -> list[int]:
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            return list((await session.scalars(select(User.id).where(User.role == "agent"))).all())
    finally:
        await engine.dispose()


async def seed_small_history(url: str, customers: int, agent_ids: list[int]) -> None:
    """SQLite: a few customers with phones, vehicles, 10 calls and 2 tickets each."""
    rng = random.Random(7)
    engine = make_engine(url)
    factory = sessionmaker(engine)
    try:
        async with factory() as session, session.begin():
            await session.execute(
                insert(Customer),
                [
                    {"id": n + 1, "name": f"Khách hàng {n}", "province": "Hà Nội", "tags": []}
                    for n in range(customers)
                ],
            )
            await session.execute(
                insert(CustomerPhone),
                [
                    {"customer_id": n + 1, "number": phone_of(n), "is_primary": True}
                    for n in range(customers)
                ],
            )
            await session.execute(
                insert(Vehicle),
                [
                    {"customer_id": n + 1, "vin": f"RLBENCH{n:010d}", "model": "Ollin 350"}
                    for n in range(customers)
                ],
            )
            await session.execute(
                insert(Call),
                [
                    {
                        "linkedid": f"hist.{n}.{k}",
                        "caller_number": phone_of(n),
                        "customer_id": n + 1,
                        "agent_id": rng.choice(agent_ids),
                        "started_at": T0 + timedelta(days=k, minutes=n % 600),
                        "talk_seconds": 60.0,
                        "disposition": "answered",
                    }
                    for n in range(customers)
                    for k in range(10)
                ],
            )
            await session.execute(
                insert(Ticket),
                [
                    {
                        "customer_id": n + 1,
                        "code": format_code(T0.year, 2 * n + k + 1),  # bulk: no code event
                        "status": "unassigned" if k == 0 else "closed",
                        "subject": f"Phiếu {k}",
                        "created_at": T0 + timedelta(days=k),
                        "updated_at": T0 + timedelta(days=k),
                    }
                    for n in range(customers)
                    for k in range(2)
                ],
            )
    finally:
        await engine.dispose()


def _defaults(table: Any, given: list[str]) -> dict[str, Any]:
    """Python-side column defaults for the columns we do not fill (schema may grow)."""
    now = T0
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name in given or column.name == "id":
            continue
        default = column.default
        if default is None:
            if not column.nullable:
                raise SystemExit(f"{table.name}.{column.name} needs a value in the bench")
            out[column.name] = None
        elif default.is_scalar:
            out[column.name] = default.arg
        elif column.name.endswith("_at"):
            out[column.name] = now
        else:
            out[column.name] = "[]" if str(column.type) == "JSON" else None
    return out


async def copy_rows(
    connection: Any, table: Any, columns: list[str], rows: Any, chunk: int = 100_000
) -> None:
    extra = _defaults(table, columns)
    names = [*columns, *extra]
    tail = tuple(extra.values())
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append((*row, *tail))
        if len(batch) >= chunk:
            await connection.copy_records_to_table(table.name, records=batch, columns=names)
            batch = []
    if batch:
        await connection.copy_records_to_table(table.name, records=batch, columns=names)


async def seed_big_history(pg_name: str, customers: int, calls: int, agent_ids: list[int]) -> None:
    """PostgreSQL: 100,000 customers, 1,000,000 calls, 200,000 tickets with COPY."""
    import asyncpg

    rng = random.Random(11)
    connection = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg_name)
    try:
        started = time.perf_counter()
        await copy_rows(
            connection,
            Customer.__table__,
            ["id", "name", "province", "tags", "created_at", "updated_at"],
            ((n + 1, f"Khách hàng {n}", "Hà Nội", "[]", T0, T0) for n in range(customers)),
        )
        await copy_rows(
            connection,
            CustomerPhone.__table__,
            ["customer_id", "number", "is_primary"],
            ((n + 1, phone_of(n), True) for n in range(customers)),
        )
        await copy_rows(
            connection,
            Vehicle.__table__,
            ["customer_id", "vin", "model", "purchase_date"],
            ((n + 1, f"RLBENCH{n:010d}", "Ollin 350", date(2024, 1, 1)) for n in range(customers)),
        )
        per_customer = calls // customers
        await copy_rows(
            connection,
            Call.__table__,
            [
                "linkedid",
                "caller_number",
                "customer_id",
                "agent_id",
                "started_at",
                "talk_seconds",
                "disposition",
                "ended_at",
            ],
            (
                (
                    f"hist.{n}.{k}",
                    phone_of(n),
                    n + 1,
                    rng.choice(agent_ids),
                    T0 + timedelta(days=k * 30, seconds=n),
                    60.0,
                    "answered",
                    T0 + timedelta(days=k * 30, seconds=n + 60),
                )
                for n in range(customers)
                for k in range(per_customer)
            ),
        )
        await copy_rows(
            connection,
            Ticket.__table__,
            ["customer_id", "code", "status", "subject", "created_at", "updated_at"],
            (
                (
                    n + 1,
                    format_code(T0.year, 2 * n + k + 1),
                    "unassigned" if k == 0 else "closed",
                    f"Phiếu {k}",
                    T0,
                    T0,
                )
                for n in range(customers)
                for k in range(2)
            ),
        )
        for table in ("customers", "customer_phones", "vehicles", "calls", "tickets"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
            await connection.execute(f"ANALYZE {table}")
        print(f"history loaded in {time.perf_counter() - started:.1f} s")
    finally:
        await connection.close()


# ----------------------------------------------------------------------------- clients
def pin(cpu: int | None) -> None:
    """Run this process on one CPU only (``--pin``)."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def client_process(
    base_url: str,
    cookies: list[tuple[int, str]],
    ready: Any,
    results: Any,
    seconds: float,
    cpu: int | None = None,
) -> None:
    pin(cpu)
    asyncio.run(_clients(base_url, cookies, ready, results, seconds))


async def _clients(
    base_url: str, cookies: list[tuple[int, str]], ready: Any, results: Any, seconds: float
) -> None:
    received: list[tuple[str, int, float, bool]] = []
    others = 0
    connector = TCPConnector(limit=0)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=None)) as http:
        sockets = []
        for user_id, cookie in cookies:
            ws = await http.ws_connect(
                base_url + "/agent/ws", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}
            )
            first = await ws.receive_json()
            assert first["type"] == "sync", first
            sockets.append((user_id, ws))

        async def read(user_id: int, ws: Any) -> None:
            nonlocal others
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
                at = time.monotonic()
                if '"type":"pop"' in message.data[:20]:
                    data = json.loads(message.data)
                    pending = bool(data.get("history_pending"))
                    received.append((data["call"]["linkedid"], user_id, at, pending))
                else:
                    others += 1

        readers = [asyncio.create_task(read(uid, ws)) for uid, ws in sockets]
        time_gc_pauses()
        freeze_startup_heap()  # a browser tab's heap is small; this process holds 300
        gc.disable()  # 300 browsers collect on their own time, not in one process's pause
        ready.set()
        cpu_started, wall_started = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu_share = (time.process_time() - cpu_started) / (time.monotonic() - wall_started)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for _, ws in sockets:
            await ws.close()
    results.put(
        {
            "pops": received,
            "other_messages": others,
            "gc_pauses": GC_PAUSES,
            "cpu_share": cpu_share,
        }
    )


# ----------------------------------------------------------------------------- main
def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def main(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="screenpop-"))
    pg_name = ""
    if args.postgres:
        import asyncpg

        pg_name = args.reuse or f"cc_bench_pop_{uuid.uuid4().hex[:8]}"
        if not args.reuse:
            admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
            await admin.execute(f'CREATE DATABASE "{pg_name}"')
            await admin.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
        print(f"PostgreSQL database {pg_name}")
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    try:
        await prepare(args, url, pg_name)
        if args.ramp:
            return await ramp(args, tmp, url, pg_name)
        reports = []
        for number in range(1, args.runs + 1):
            report = await run(args, tmp, url, pg_name)
            print(f"run {number} of {args.runs}:")
            print(json.dumps(report, indent=2))
            reports.append(report)
        print(summary_table(reports, args.target_ms))
        failed = [r for r in reports if r["p99_ms"] > args.target_ms]
        if failed:
            print(f"FAIL: p99 above {args.target_ms} ms in {len(failed)} of {len(reports)} runs")
            return 1
        print(f"PASS: p99 at or below {args.target_ms} ms in all {len(reports)} runs")
        return 0
    finally:
        if pg_name and not args.keep and not args.reuse:
            import asyncpg

            admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()


# ----------------------------------------------------------------------------- daemon
# How long the ACD's agent-state writer holds SQLite's one write lock per batch.
STATE_WRITES: list[tuple[float, int]] = []


def time_state_writes() -> None:
    """Wrap ``record_states`` to time each batch the ACD writes (ms, number of changes)."""
    from callcenter.db.repos import acd as acd_repo

    write = acd_repo.record_states

    async def timed(session: Any, rows: Any) -> None:
        started = time.monotonic()
        await write(session, rows)
        STATE_WRITES.append(((time.monotonic() - started) * 1000, len(rows)))

    acd_repo.record_states = timed  # type: ignore[assignment]


GC_PAUSES: list[float] = []  # ms of each generation-2 collection in this process
# per generation: [collections, unreachable objects found (cyclic garbage), ms total, ms max]
GC_STATS: dict[int, list[float]] = {g: [0, 0, 0.0, 0.0] for g in range(3)}


def time_gc_pauses() -> None:
    """Time this process's garbage collections (they stop its event loop) and count the
    cyclic garbage each finds: objects only a collection frees were made on some path."""
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.monotonic()
            return
        ms = (time.monotonic() - started[0]) * 1000
        stats = GC_STATS[info["generation"]]
        stats[0] += 1
        stats[1] += info.get("collected", 0) + info.get("uncollectable", 0)
        stats[2] += ms
        stats[3] = max(stats[3], ms)
        if info["generation"] == 2:
            GC_PAUSES.append(ms)

    gc.callbacks.append(callback)


def reset_gc_stats() -> None:
    """Count from the start of the measured run (not the start-up)."""
    GC_PAUSES.clear()
    for stats in GC_STATS.values():
        stats[:] = [0, 0, 0.0, 0.0]


def gc_census(limit: int = 15) -> dict[str, int]:
    """The types of the cyclic garbage kept since ``gc.DEBUG_SAVEALL`` was set."""
    gc.collect()
    counts: dict[str, int] = {}
    for obj in gc.garbage:
        name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        counts[name] = counts.get(name, 0) + 1
    gc.garbage.clear()
    gc.set_debug(0)
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:limit])


def _pauses(pauses: list[float]) -> list[float]:
    return [len(pauses), round(statistics.median(pauses or [0]), 1), round(max(pauses or [0]), 1)]


def daemon_process(
    settings_data: dict[str, Any],
    ready: Any,
    stop: Any,
    results: Any,
    profile: bool,
    cpu: int | None = None,
) -> None:
    pin(cpu)
    time_state_writes()
    time_gc_pauses()
    if not profile:
        asyncio.run(_daemon(settings_data, ready, stop, results))
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(_daemon(settings_data, ready, stop, results))
    profiler.disable()
    out = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenpop-daemon.prof"
    out.parent.mkdir(exist_ok=True)
    profiler.dump_stats(out)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(45)
    print(f"profile saved to {out} (python -m pstats {out})")


async def _daemon(settings_data: dict[str, Any], ready: Any, stop: Any, results: Any) -> None:
    """The real daemon (as ``callcenter serve`` builds it, plus the AMI link) in its own process."""
    per_call = settings_data.pop("recorder_per_call", False)
    census = settings_data.pop("gc_census", False)
    count_sql = settings_data.pop("count_sql", False)
    login_agents = settings_data.pop("login_agents", None)  # None: every agent in the ACD
    rooms = settings_data.pop("rooms", [])  # more of the daemon's rooms (bench/load.py)
    threshold = settings_data.pop("gc_threshold", None)
    settings = load_settings(None, **settings_data)
    app = create_app(
        settings,
        clock=SystemClock(),
        extra_plugins=[
            ami_plugin.PLUGIN,
            agi_plugin.PLUGIN,
            acd_plugin.PLUGIN,
            *(plugin for plugin in DAEMON_PLUGINS if plugin.name in rooms),
        ],
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http.host, settings.http.port, backlog=1024).start()
    freeze_startup_heap()  # as `callcenter serve` does
    if threshold:
        gc.set_threshold(*threshold)
    for _ in range(400):
        if app[AMI_STATUS].connected:
            break
        await asyncio.sleep(0.05)
    service = app[ACD_SERVICE]
    for agent_id in list(service.acd.agents) if login_agents is None else login_agents:
        await service.login(agent_id)
    # Where the time goes: the moment each pop is queued for its agent's websocket.
    queued: list[tuple[str, float]] = []
    hub = app[AGENT_HUB]
    send = hub.send_to_agent

    def traced(user_id: int, message: dict[str, Any]) -> int:
        if message.get("type") == "pop":
            queued.append((message["call"]["linkedid"], time.monotonic()))
        return send(user_id, message)

    hub.send_to_agent = traced  # type: ignore[method-assign]
    # ... and the moment the ACD picked the agent (inside the FastAGI route request).
    decided: list[tuple[str, float]] = []

    def on_state(event: Any) -> None:
        if event.state == "ringing":
            agent = service.acd.agents.get(event.agent_id)
            if agent is not None and agent.call_id:
                decided.append((agent.call_id, time.monotonic()))

    app[BUS].subscribe(AgentStateChanged, on_state)
    # ... and how far the call recorder lags behind the calls it writes.
    started: dict[str, float] = {}
    first_saved: dict[str, float] = {}
    recorder = app[acd_plugin.CALL_RECORDER]
    if per_call:  # as before batching: one call per transaction
        recorder._batch_size, recorder._coalesce_seconds = 1, 0.0
    saves = 0

    def on_started(event: Any) -> None:
        started.setdefault(event.linkedid, time.monotonic())

    app[BUS].subscribe(CallStarted, on_started)
    save, save_batch = recorder._save, recorder._save_batch

    async def timed_save(linkedid: str) -> None:
        nonlocal saves
        await save(linkedid)
        saves += 1
        first_saved.setdefault(linkedid, time.monotonic())

    recorder_ms: list[float] = []

    async def timed_batch(linkedids: list[str]) -> None:
        nonlocal saves
        began = time.monotonic()
        await save_batch(linkedids)
        recorder_ms.append((time.monotonic() - began) * 1000)
        saves += 1
        for linkedid in linkedids:
            first_saved.setdefault(linkedid, time.monotonic())

    recorder._save = timed_save  # type: ignore[method-assign]
    recorder._save_batch = timed_batch  # type: ignore[method-assign]
    # FastAGI sessions by script: how long Asterisk waited for each answer (route: the pick).
    agi_ms: dict[str, list[float]] = {}
    agi_server = app[agi_plugin.AGI_SERVER]
    observe = agi_server.observer

    def timed_agi(script: str, outcome: str, seconds: float) -> None:
        agi_ms.setdefault(script, []).append(seconds * 1000)
        if observe is not None:
            observe(script, outcome, seconds)

    agi_server.observer = timed_agi
    # Event-loop lag (how late a 20 ms sleep wakes) and the write-behind queues' depth.
    lag_ms: list[tuple[float, float]] = []
    depth: list[tuple[int, int]] = []
    cpu: list[tuple[float, float]] = []  # (monotonic, process CPU seconds), every ~0.5 s
    rss: list[tuple[float, float]] = []  # (monotonic, peak RSS MB so far), every ~0.5 s

    async def sample() -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(0.02)
            now = time.monotonic()
            lag_ms.append((now, (now - began - 0.02) * 1000))
            depth.append((service.state_log.depth, recorder.depth))
            if not cpu or now - cpu[-1][0] >= 0.5:
                cpu.append((now, time.process_time()))
                rss.append((now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

    sampler = asyncio.create_task(sample())
    statements: Counter[str] = Counter()
    if count_sql:
        from sqlalchemy import event

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements[" ".join(statement.split())[:150]] += 1

        event.listen(app[ENGINE].sync_engine, "before_cursor_execute", count)
    STATE_WRITES.clear()
    reset_gc_stats()
    if census:
        gc.set_debug(gc.DEBUG_SAVEALL)
    cpu_started, wall_started = time.process_time(), time.monotonic()
    ready.set()
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    wall = time.monotonic() - wall_started
    cpu_share = (time.process_time() - cpu_started) / wall
    sampler.cancel()
    garbage = gc_census() if census else {}
    if count_sql:
        print(f"daemon SQL statements while calling ({sum(statements.values())}):")
        for text, n in statements.most_common(40):
            print(f"{n:7d}  {text}")
    lags = [(first_saved[k] - t) * 1000 for k, t in started.items() if k in first_saved]
    results.put(
        {
            "queued": queued,
            "decided": decided,
            "recorder": {"calls": len(started), "saves": saves, "first_save_lag_ms": lags},
            "state_writes": STATE_WRITES,
            "recorder_ms": recorder_ms,
            "gc_pauses": GC_PAUSES,
            "gc_stats": GC_STATS,
            "gc_census": garbage,
            "gc_threshold": gc.get_threshold(),
            "lag_ms": lag_ms,
            "depth": depth,
            "cpu_share": cpu_share,
            "cpu_samples": cpu,
            "wall_seconds": wall,
            "agi_ms": agi_ms,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_samples": rss,
            "state_log_overflows": service.state_log.overflows,
            "state_log_lost": service.state_log.lost,
        }
    )
    await runner.cleanup()


def summary_table(reports: list[dict[str, Any]], target_ms: float) -> str:
    lines = [
        "| run | calls/s | p50 ms | p90 ms | p99 ms | max ms | daemon full GC max ms "
        "| loop lag p99/max ms | write-behind depth max | load avg (1/5/15) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, r in enumerate(reports, start=1):
        mark = "" if r["p99_ms"] <= target_ms else " ✗"
        lines.append(
            f"| {number} | {r['rate_per_second']} | {r['p50_ms']} | {r['p90_ms']} "
            f"| {r['p99_ms']}{mark} | {r['max_ms']} | {r['daemon_full_gc_count_p50_max_ms'][2]} "
            f"| {r['daemon_loop_lag_p99_max_ms'][0]}/{r['daemon_loop_lag_p99_max_ms'][1]} "
            f"| {r['write_behind_depth_max']['acd_states']}/"
            f"{r['write_behind_depth_max']['call_records']} "
            f"| {'/'.join(f'{x:.2f}' for x in r['load_average_at_start'])} |"
        )
    return "\n".join(lines)


def saturated_first(report: dict[str, Any]) -> str:
    """Which of loop CPU, database, simulator ran out first in a run that missed the target."""
    shares = {
        "the daemon's event loop (CPU)": report["daemon_cpu_share_while_calling"],
        "the simulator's CPU (simulator + websocket clients)": report["simulator_cpu_share"]
        + report["client_cpu_share"] * (1.0 if report["pinned"] else 0.0),
        "the database server's CPU (PostgreSQL's processes)": report["postgres_cpu_share"],
        # past 100 % callers wait for a free agent whatever the software does
        "the agents (ring, talk and wrap-up asked of them / agents)": report["agents_offered_load"],
    }
    name, _share = max(shares.items(), key=lambda item: item[1])
    parts = ", ".join(f"{key}: {value:.0%}" for key, value in shares.items())
    return f"{name} ({parts})"


async def ramp(args: argparse.Namespace, tmp: Path, url: str, pg_name: str) -> int:
    """Raise calls/s until p99 passes the target; report the last rate that held."""
    reports: list[dict[str, Any]] = []
    rate = args.ramp_start
    passed: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None
    while rate <= args.ramp_max:
        args.rate = rate
        report = await run(args, tmp, url, pg_name)
        reports.append(report)
        print(
            f"ramp {rate}/s: p99 {report['p99_ms']} ms, max {report['max_ms']} ms, "
            f"pops {report['pops_measured']}/{report['calls_placed']}, "
            f"daemon CPU {report['daemon_cpu_share_while_calling']:.0%}, "
            f"simulator CPU {report['simulator_cpu_share']:.0%}, "
            f"PostgreSQL CPU {report['postgres_cpu_share']:.0%}, "
            f"agents' offered load {report['agents_offered_load']:.0%}, "
            f"write-behind transactions in flight {report['database_write_busy_share']:.0%}"
        )
        if (
            report["p99_ms"] > args.target_ms
            or report["pops_measured"] < 0.95 * report["calls_placed"]
        ):
            failed = report
            break
        passed = report
        rate += args.ramp_step
    print(summary_table(reports, args.target_ms))
    database = "postgresql" if pg_name else "sqlite"
    if passed is None:
        print(f"{database}: p99 above {args.target_ms} ms already at {args.ramp_start}/s")
        return 1
    print(
        f"{database}: sustained {passed['rate_per_second']} calls/s with p99 "
        f"{passed['p99_ms']} ms (target {args.target_ms} ms)"
    )
    if failed is not None:
        print(
            f"{database}: at {failed['rate_per_second']} calls/s p99 was {failed['p99_ms']} ms; "
            f"saturated first: {saturated_first(failed)}"
        )
    else:
        print(f"{database}: the target held up to --ramp-max {args.ramp_max}/s")
    return 0


async def prepare(args: argparse.Namespace, url: str, pg_name: str) -> None:
    """Schema, agents and history once; every run (and ramp step) reuses them."""
    if args.reuse:  # a database kept by an earlier --keep run: agents and history are there
        await migrate.upgrade_async(url)  # kept by older code: bring its schema up to date
        args.agent_ids = await existing_agents(url)
    else:
        await migrate.upgrade_async(url)
        args.agent_ids = await seed_agents(url, args.agents)
        if pg_name:
            await seed_big_history(pg_name, args.customers, args.history_calls, args.agent_ids)
        else:
            await seed_small_history(url, args.customers, args.agent_ids)
    await open_today(url)


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (every backend, the WAL
    writer, the checkpointer): what the database costs, unlike the write-behind's wall time
    in flight, which also counts waits for the daemon's own loop."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            try:
                times = process.cpu_times()
            except psutil.Error:  # a backend that ended meanwhile
                continue
            total += times.user + times.system
    return total


async def run(args: argparse.Namespace, tmp: Path, url: str, pg_name: str) -> dict[str, Any]:
    agent_ids = args.agent_ids
    load_at_start = os.getloadavg()
    sim_cpu, daemon_cpu = (0, 1) if args.pin else (None, None)
    pin(sim_cpu)
    codec = SessionCodec(SESSION_SECRET)  # the daemon below is configured with it
    now = datetime.now(UTC)
    cookies = [(uid, codec.dumps(logged_in(now, uid, 1))) for uid in agent_ids]

    agi_port, http_port = _free_port(), _free_port()
    pbx = Pbx(
        PbxConfig(
            dialplan=REPO / "asterisk" / "extensions.conf",
            queues=REPO / "asterisk" / "queues.conf",
            globals={"CC_AGI": f"agi://127.0.0.1:{agi_port}", "CC_RECORDINGS": str(tmp)},
            default_sound_seconds=0.1,
            phones={
                str(1000 + n): PhoneBehaviour(
                    str(1000 + n), answer_delay=ANSWER_SECONDS, talk_seconds=TALK_SECONDS
                )
                for n in range(args.agents)
            },
            write_recordings=False,
        ),
        SystemClock(),
    )
    route_log: list[tuple[str, float]] = []

    def on_pbx_event(headers: list[tuple[str, str]]) -> None:
        if headers and headers[0] == ("Event", "Newexten"):
            data = dict(headers)
            if data.get("Application") == "AGI" and data.get("AppData", "").endswith("/route"):
                route_log.append((data.get("Linkedid", ""), time.monotonic()))

    pbx.listeners.append(on_pbx_event)
    # The production AMI user: its eventfilter lines decide what crosses the wire.
    users = parse_manager_conf((REPO / "asterisk" / "manager.conf").read_text(encoding="utf-8"))
    users["callcenter"].secret = SECRET
    ami = AmiServer(pbx, users)
    ami_port = await ami.start()
    settings_data = {
        "database": {"url": url},
        "recordings_dir": str(tmp),
        "session_secret": SESSION_SECRET,
        "log_level": "WARNING",
        "ami": {"host": "127.0.0.1", "port": ami_port, "username": "callcenter", "secret": SECRET},
        "agi": {"host": "127.0.0.1", "port": agi_port},
        "http": {"host": "127.0.0.1", "port": http_port},
        "recorder_per_call": args.recorder_per_call,
        "gc_census": args.gc_census,
        "count_sql": args.count_sql,
        "gc_threshold": args.gc_threshold,
    }
    ctx = mp.get_context("spawn")
    daemon_ready, daemon_stop, daemon_results = ctx.Event(), ctx.Event(), ctx.Queue()
    daemon = ctx.Process(
        target=daemon_process,
        args=(settings_data, daemon_ready, daemon_stop, daemon_results, args.profile, daemon_cpu),
    )
    daemon.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, daemon_ready.wait)

    ready, results = ctx.Event(), ctx.Queue()
    clients = ctx.Process(
        target=client_process,
        args=(
            f"http://127.0.0.1:{http_port}",
            cookies,
            ready,
            results,
            args.seconds + args.drain,
            sim_cpu,
        ),
    )
    clients.start()
    await loop.run_in_executor(None, ready.wait)
    print(f"{len(cookies)} agent websockets connected; calling at {args.rate}/s")

    # This process plays Asterisk (C, no garbage collector): keep its pauses out of the
    # numbers as far as Python allows, and report what is left.
    if not GC_TIMED:
        time_gc_pauses()
        GC_TIMED.append(True)
    freeze_startup_heap()
    reset_gc_stats()  # the freeze's own collection is start-up, not the run
    gc.disable()  # Asterisk has no garbage collector: no pause of ours in the numbers
    rng = random.Random(3)
    interval = 1.0 / args.rate
    started = time.monotonic()
    sim_cpu_started = time.process_time()
    pg_cpu_started = postgres_cpu_seconds() if pg_name else 0.0
    placed = 0
    while time.monotonic() - started < args.seconds:
        delay = started + placed * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await pbx.place_call(HOTLINE, national(rng.randrange(args.customers)), "")
        placed += 1
    placing_ended = time.monotonic()
    simulator_cpu_share = (time.process_time() - sim_cpu_started) / (placing_ended - started)
    postgres_cpu_share = (
        (postgres_cpu_seconds() - pg_cpu_started) / (placing_ended - started) if pg_name else 0.0
    )
    print(f"placed {placed} calls in {placing_ended - started:.1f} s; letting them finish")
    gc.enable()
    outcome = await loop.run_in_executor(None, results.get)
    clients.join()
    daemon_stop.set()
    server_side = await loop.run_in_executor(None, daemon_results.get)
    daemon.join()
    await ami.close()
    await pbx.close()

    # A pop sent before the caller's history loaded (``history_pending``) shows who calls;
    # the latency counted is the pop WITH the history, which follows it.
    pending_pops = sum(1 for *_, pending in outcome["pops"] if pending)
    outcome["pops"] = [
        (link, user, at) for link, user, at, pending in outcome["pops"] if not pending
    ]
    routes: dict[str, list[float]] = {}
    for linkedid, at in route_log:
        routes.setdefault(linkedid, []).append(at)
    queued = dict(server_side["queued"])
    decided = dict(server_side["decided"])
    latencies: list[float] = []
    in_daemon: list[float] = []
    to_decision: list[float] = []
    decision_to_queued: list[float] = []
    unmatched = 0
    for linkedid, _user_id, at in outcome["pops"]:
        before = [t for t in routes.get(linkedid, []) if t <= at]
        if not before:
            unmatched += 1
            continue
        latencies.append((at - before[-1]) * 1000)
        if linkedid in queued:
            in_daemon.append((queued[linkedid] - before[-1]) * 1000)
            if linkedid in decided:
                to_decision.append((decided[linkedid] - before[-1]) * 1000)
                decision_to_queued.append((queued[linkedid] - decided[linkedid]) * 1000)
    if not latencies:
        raise SystemExit("no pop measured")
    # Where in the run the slow pops are (a start-up transient or all along).
    first = min(at for ats in routes.values() for at in ats)
    worst: dict[int, float] = {}
    for linkedid, _user_id, at in outcome["pops"]:
        before = [t for t in routes.get(linkedid, []) if t <= at]
        if before:
            second = int(before[-1] - first)
            worst[second] = max(worst.get(second, 0.0), (at - before[-1]) * 1000)
    recorder = server_side["recorder"]
    lags = recorder["first_save_lag_ms"] or [0.0]
    loop_lag = [ms for at, ms in server_side["lag_ms"] if started <= at <= placing_ended] or [0.0]
    cpu = [(at, c) for at, c in server_side["cpu_samples"] if started <= at <= placing_ended]
    daemon_cpu_share = (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) if len(cpu) > 1 else 0.0
    depth = server_side["depth"] or [(0, 0)]
    write_ms = sum(ms for ms, _ in server_side["state_writes"]) + sum(server_side["recorder_ms"])
    calls = max(1, recorder["calls"])
    gc_stats = server_side["gc_stats"]
    if True:
        return {
            "database": "postgresql" if pg_name else "sqlite",
            "agents": args.agents,
            "rate_per_second": args.rate,
            "calls_placed": placed,
            "pops_received": len(outcome["pops"]),
            "pops_sent_before_history": pending_pops,
            "pops_measured": len(latencies),
            "pops_without_route_request": unmatched,
            "calls_routed_more_than_once": sum(1 for t in routes.values() if len(t) > 1),
            "p50_ms": round(statistics.median(latencies), 2),
            "p90_ms": round(percentile(latencies, 90), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2),
            "route_request_to_pop_queued_p50_ms": round(statistics.median(in_daemon), 2),
            "route_request_to_pop_queued_p99_ms": round(percentile(in_daemon, 99), 2),
            "route_request_to_acd_decision_p50_ms": round(statistics.median(to_decision), 2),
            "route_request_to_acd_decision_p99_ms": round(percentile(to_decision, 99), 2),
            "acd_decision_to_pop_queued_p50_ms": round(statistics.median(decision_to_queued), 2),
            "acd_decision_to_pop_queued_p99_ms": round(percentile(decision_to_queued, 99), 2),
            "worst_seconds_of_run": {
                f"t+{second}s": round(ms)
                for second, ms in sorted(worst.items(), key=lambda item: -item[1])[:5]
            },
            "daemon_full_gc_count_p50_max_ms": _pauses(server_side["gc_pauses"]),
            "simulator_full_gc_count_p50_max_ms": _pauses(GC_PAUSES),
            "client_full_gc_count_p50_max_ms": _pauses(outcome["gc_pauses"]),
            "acd_state_write_batches": len(server_side["state_writes"]),
            "acd_state_write_rows": sum(n for _, n in server_side["state_writes"]),
            "acd_state_write_ms_p50_max_sum": [
                round(statistics.median([ms for ms, _ in server_side["state_writes"]]), 1),
                round(max(ms for ms, _ in server_side["state_writes"]), 1),
                round(sum(ms for ms, _ in server_side["state_writes"])),
            ],
            "recorder_transactions": recorder["saves"],
            "recorder_calls": recorder["calls"],
            "recorder_first_save_lag_p50_ms": round(statistics.median(lags), 2),
            "recorder_first_save_lag_p99_ms": round(percentile(lags, 99), 2),
            "customers": args.customers,
            "history_calls": args.history_calls if pg_name else args.customers * 10,
            "load_average_at_start": [round(x, 2) for x in load_at_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "pinned": args.pin,
            "daemon_loop_lag_p99_max_ms": [
                round(percentile(loop_lag, 99), 1),
                round(max(loop_lag), 1),
            ],
            "write_behind_depth_max": {
                "acd_states": max(d[0] for d in depth),
                "call_records": max(d[1] for d in depth),
            },
            "write_behind_depth_p99": {
                "acd_states": percentile([d[0] for d in depth], 99),
                "call_records": percentile([d[1] for d in depth], 99),
            },
            "state_log_overflows": server_side["state_log_overflows"],
            "state_log_rows_lost": server_side["state_log_lost"],
            "daemon_gc_threshold": server_side["gc_threshold"],
            "daemon_gc_per_generation_count_unreachable_ms_total_max": {
                f"gen{g}": [int(v[0]), int(v[1]), round(v[2], 1), round(v[3], 1)]
                for g, v in sorted(gc_stats.items(), key=lambda item: str(item[0]))
            },
            "daemon_cyclic_garbage_objects_per_call": round(
                sum(v[1] for v in gc_stats.values()) / calls, 1
            ),
            "daemon_gc_census_top_types": server_side["gc_census"],
            "daemon_cpu_share_while_calling": round(daemon_cpu_share, 3),
            "simulator_cpu_share": round(simulator_cpu_share, 3),
            "client_cpu_share": round(outcome["cpu_share"], 3),
            "database_write_busy_share": round(write_ms / 1000 / server_side["wall_seconds"], 3),
            "postgres_cpu_share": round(postgres_cpu_share, 3),
            "agents_offered_load": round(
                args.rate * (ANSWER_SECONDS + TALK_SECONDS + WRAPUP_SECONDS) / args.agents, 3
            ),
        }


GC_TIMED: list[bool] = []  # the simulator process's gc callback is installed once


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--history-calls", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--profile", action="store_true", help="print the daemon's profile")
    parser.add_argument(
        "--recorder-per-call",
        action="store_true",
        help="the call recorder as before batching: one call per transaction, no window",
    )
    parser.add_argument("--reuse", default="", help="PostgreSQL database kept by --keep")
    parser.add_argument(
        "--drain", type=float, default=15.0, help="seconds to wait after the last call"
    )
    parser.add_argument(
        "--target-ms", type=float, default=25.0, help="p99 above this fails the run (exit 1)"
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat the run N times")
    parser.add_argument("--ramp", action="store_true", help="raise calls/s until p99 fails")
    parser.add_argument("--ramp-start", type=float, default=20.0)
    parser.add_argument("--ramp-step", type=float, default=10.0)
    parser.add_argument("--ramp-max", type=float, default=150.0)
    parser.add_argument(
        "--pin", action="store_true", help="simulator and clients on CPU 0, daemon on CPU 1"
    )
    parser.add_argument(
        "--count-sql", action="store_true", help="print the daemon's SQL statements by count"
    )
    parser.add_argument(
        "--gc-census",
        action="store_true",
        help="keep the daemon's cyclic garbage (gc.DEBUG_SAVEALL) and report its types",
    )
    parser.add_argument(
        "--gc-threshold",
        type=lambda text: [int(part) for part in text.split(",")],
        default=None,
        help="the daemon's gc.set_threshold after warm-up, e.g. 50000,50,100",
    )
    arguments = parser.parse_args()
    if arguments.customers is None:
        arguments.customers = 100_000 if arguments.postgres else 1_000
    sys.exit(asyncio.run(main(arguments)))
