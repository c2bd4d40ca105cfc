"""Routing decision latency: FastAGI ``route`` request → the dial command, at scale.

500 agents (5 groups of 100, all logged in), 100,000 customers with phone
numbers (10 % with an open ticket → priority + sticky agent, 5 % VIP). Each
measured call is a real FastAGI session to the daemon's server; the ACD service
looks the caller up in the database (SQLite file by default, or PostgreSQL),
picks an agent and sets the variables. The time is taken from opening the
connection to receiving ``SET VARIABLE CC_ACTION "dial"``. Each call is then
answered and ended (wrap-up 0) so agents stay free; state-log writes run as in
production, in the background.

By default each call first makes the ``inbound`` request, as the dialplan does
seconds before ``route`` (the recording notice plays in between; here 20 ms):
the service starts the caller lookup there. ``--cold`` skips it, so the lookup
happens inside the measured ``route``.

    .venv/bin/python bench/routing_latency.py --calls 3000
    .venv/bin/python bench/routing_latency.py --calls 3000 --cold
    .venv/bin/python bench/routing_latency.py --calls 3000 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agi.server import AgiSession, FastAgiServer
from callcenter.clock import SystemClock
from callcenter.core.bus import EventBus
from callcenter.core.tickets import format_code
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    Customer,
    CustomerPhone,
    Hotline,
    SystemSetting,
    Ticket,
    User,
)
from callcenter.db.repos import acd as acd_repo
from callcenter.localtime import local_date
from callcenter.seed import open_on_public_holidays
from callcenter.services.acd import AcdService

AGENTS = 500
GROUPS = 5
CUSTOMERS = 100_000
ENV = (
    "agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
    "agi_channel: PJSIP/trunk-{uid}\nagi_type: PJSIP\nagi_uniqueid: {uid}\n"
    "agi_version: 22.10.1\nagi_callerid: {caller}\nagi_calleridname: \nagi_callingpres: 0\n"
    "agi_context: cc-route\nagi_extension: s\nagi_priority: 4\n{args}\n"
)
HOTLINE = "19006868"


def number(n: int) -> str:
    return f"+8491{n:07d}"


async def seed(url: str, rng: random.Random) -> None:
    engine = make_engine(url)
    factory = sessionmaker(engine)
    async with factory() as session, session.begin():
        await session.execute(
            insert(User),
            [
                {
                    "username": f"agent{n}",
                    "full_name": f"Agent {n}",
                    "role": "agent",
                    "interface": f"PJSIP/{1000 + n}",
                }
                for n in range(AGENTS)
            ],
        )
        user_ids = list((await session.scalars(select(User.id).order_by(User.id))).all())
        await session.execute(
            insert(AgentGroup),
            [{"code": f"g{g}", "name": f"Group {g}"} for g in range(GROUPS)],
        )
        group_ids = list(
            (await session.scalars(select(AgentGroup.id).order_by(AgentGroup.id))).all()
        )
        await session.execute(
            insert(AgentGroupMember),
            [
                {"group_id": group_ids[n % GROUPS], "user_id": uid, "priority": 0}
                for n, uid in enumerate(user_ids)
            ],
        )
        session.add(SystemSetting(key="wrapup_seconds", value=0))
        session.add(Hotline(number=HOTLINE, name="CSKH", group_id=group_ids[0]))
        # Runs on the real clock: a public holiday must not close the hotline.
        await open_on_public_holidays(session, local_date(SystemClock().now()))
    for start in range(0, CUSTOMERS, 10_000):
        async with factory() as session, session.begin():
            rows = [
                {"name": f"Khách {n}", "tags": ["VIP"] if n % 20 == 0 else []}
                for n in range(start, start + 10_000)
            ]
            await session.execute(insert(Customer), rows)
            ids = list(
                (
                    await session.scalars(
                        select(Customer.id).order_by(Customer.id.desc()).limit(10_000)
                    )
                ).all()
            )[::-1]
            await session.execute(
                insert(CustomerPhone),
                [
                    {"customer_id": cid, "number": number(start + i), "is_primary": True}
                    for i, cid in enumerate(ids)
                ],
            )
            await session.execute(
                insert(Ticket),
                [
                    {
                        "customer_id": cid,
                        "code": format_code(2026, start + i + 1),  # bulk: no code event
                        "status": "in_progress",
                        "assignee_id": rng.choice(user_ids),
                        "subject": "x",
                    }
                    for i, cid in enumerate(ids)
                    if (start + i) % 10 == 1
                ],
            )
    await engine.dispose()


async def inbound(port: int, uid: str, caller: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    args = f"agi_arg_1: {HOTLINE}\n"
    writer.write(ENV.format(script="inbound", uid=uid, caller=caller, args=args).encode())
    while await reader.readline():
        writer.write(b"200 result=1\n")
    writer.close()


async def one_call(port: int, uid: str, caller: str, group: str) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(ENV.format(script="route", uid=uid, caller=caller, args="").encode())
    decided = 0.0
    while True:
        line = await reader.readline()
        if not line:
            break
        if line.startswith(b"GET VARIABLE CC_GROUP"):
            writer.write(f"200 result=1 ({group})\n".encode())
        elif line.startswith(b"GET VARIABLE"):
            writer.write(b"200 result=0\n")
        else:
            if line.startswith(b'SET VARIABLE CC_ACTION "dial"'):
                decided = time.perf_counter() - started
            writer.write(b"200 result=1\n")
    writer.close()
    if not decided:
        raise RuntimeError(f"no dial decision for {uid}")
    return decided


async def main(calls: int, postgres: bool, cold: bool) -> None:
    rng = random.Random(7)
    if postgres:
        import asyncpg

        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    else:
        tmp = tempfile.mkdtemp()
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
    try:
        await migrate.upgrade_async(url)
        t0 = time.perf_counter()
        await seed(url, rng)
        print(f"seeded {AGENTS} agents, {CUSTOMERS} customers in {time.perf_counter() - t0:.1f} s")
        engine = make_engine(url)
        service = AcdService(clock=SystemClock(), bus=EventBus(), sessions=sessionmaker(engine))
        handler_times: list[float] = []
        lookup_times: list[float] = []
        original_route = service.agi_route
        original_profile = acd_repo.caller_profile

        async def timed_route(session: AgiSession) -> None:
            started = time.perf_counter()
            await original_route(session)
            handler_times.append(time.perf_counter() - started)

        async def timed_profile(db: AsyncSession, caller: str) -> acd_repo.CallerProfile:
            started = time.perf_counter()
            profile = await original_profile(db, caller)
            lookup_times.append(time.perf_counter() - started)
            return profile

        decision_times: list[float] = []
        original_decide = service.acd.route

        def timed_decide(call_id: str) -> Any:
            started = time.perf_counter()
            decision = original_decide(call_id)
            decision_times.append(time.perf_counter() - started)
            return decision

        service.acd.route = timed_decide  # type: ignore[method-assign]
        service.agi_route = timed_route  # type: ignore[method-assign]
        acd_repo.caller_profile = timed_profile  # type: ignore[assignment]
        server = FastAgiServer()
        service.register_routes(server, 1.0)
        await server.start("127.0.0.1", 0)
        await service.start()
        for agent_id in list(service.acd.agents):
            await service.login(agent_id)
        await service.flush()
        durations: list[float] = []
        for n in range(calls + 200):
            known = rng.random() < 0.9
            caller = (
                number(rng.randrange(CUSTOMERS)) if known else f"+8498{rng.randrange(10**7):07d}"
            )
            uid = f"1795436100.{n}"
            if not cold:
                await inbound(server.port, uid, caller)
                await asyncio.sleep(0.02)
            took = await one_call(server.port, uid, caller, f"g{rng.randrange(GROUPS)}")
            if n >= 200:  # warm-up excluded
                durations.append(took)
            service.acd.ring_outcome(uid, "ANSWER")
            service._ended(uid)
            if n % 200 == 0:
                await service.flush()
        await service.stop()
        await server.close()
        await engine.dispose()
        backend = ("PostgreSQL" if postgres else "SQLite") + (", cold" if cold else "")
        for label, values in (
            (f"{backend}: {calls} route requests, connect → dial command", durations),
            (
                "  of which the route handler (lookup + decision + 4 SET VARIABLE)",
                handler_times[200:],
            ),
            ("  of which the caller lookup (customer, VIP, open ticket)", lookup_times[200:]),
            ("  of which the pure ACD decision (Acd.route)", decision_times[200:]),
        ):
            cuts = statistics.quantiles(values, n=100)
            print(
                f"{label}: p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms, "
                f"max {max(values) * 1000:.2f} ms"
            )
    finally:
        if postgres:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--cold", action="store_true", help="no inbound request before route")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.postgres, args.cold))
