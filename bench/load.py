"""Load harness (issue 18): a busy hour through the PBX simulator, measured at the daemon.

Three processes on loopback, as in production: this one plays Asterisk (the PBX
simulator running the production dialplan, ``queues.conf`` and the ``manager.conf``
eventfilter), the real daemon (web, FastAGI, ACD, AMI link, call recorder, agent desk;
``bench/screenpop_latency.py``'s daemon process, with its probes), and a client process
holding one logged-in ``/agent/ws`` websocket per agent that behaves like the agent's page:
it receives the pop, and when the call reaches wrap-up it saves the wrap-up (a new ticket)
after ``--wrapup`` seconds, as a person would. The simulated phones answer after 1 s and
talk ``--talk``..``--talk-max`` seconds. Calls arrive at ``--rate`` per second, never more
than ``--max-concurrent`` at once (as SIPp's ``-r``/``-l``); callers wait as long as it takes.
The daemon also runs the back office (tickets from the wrap-ups) and the supervisor's floor,
with one supervisor's wallboard connected to ``/supervisor/ws`` all along.

It reports calls/s handled, screen-pop latency (the decision to ring an agent — the FastAGI
``route`` request, or the ACD's pick for a caller who waited — → the pop with the caller's
history at the page), FastAGI routing latency (how long Asterisk waited for the
route answer), AMI events/s, the daemon's CPU and peak RSS, event-loop lag, database write
time per call and LOST WORK after the calls drain: calls without a record, answered calls
without a saved wrap-up or ticket, callers who hung up unanswered without a callback task.
It exits non-zero when any target is missed or any work is lost.

    .venv/bin/python bench/load.py --postgres --pin                  # the default run
    .venv/bin/python bench/load.py --postgres --pin --agents 300 --rate 20 \\
        --max-concurrent 1000 --talk 20 --talk-max 40                   # the stretch run
    .venv/bin/python bench/load.py --seconds 30                       # SQLite, quick look

``--pin`` puts this process and the clients on CPU 0 and the daemon on CPU 1, so the figures
measure the daemon. ``--soak`` runs for an hour and reports the daemon's memory growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, WSMsgType
from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
import screenpop_latency as pop

from callcenter.auth.sessions import COOKIE_NAME, SessionCodec, logged_in
from callcenter.clock import SystemClock
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    Call,
    CallWrapUp,
    Category,
    SystemSetting,
    Task,
    Ticket,
    User,
)
from callcenter.sim.ami import AmiServer, parse_manager_conf
from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.phones import PhoneBehaviour

REPO = pop.REPO


# ----------------------------------------------------------------------------- agents' pages
def pages_process(
    base_url: str,
    logins: list[tuple[int, str, str]],
    supervisor_cookie: str,
    category_id: int,
    wrapup_seconds: float,
    ready: Any,
    stop: Any,
    results: Any,
    cpu: int | None,
) -> None:
    pop.pin(cpu)
    asyncio.run(
        _pages(
            base_url, logins, supervisor_cookie, category_id, wrapup_seconds, ready, stop, results
        )
    )


async def _pages(
    base_url: str,
    logins: list[tuple[int, str, str]],
    supervisor_cookie: str,
    category_id: int,
    wrapup_seconds: float,
    ready: Any,
    stop: Any,
    results: Any,
) -> None:
    pops: list[tuple[str, float]] = []  # (linkedid, when the pop WITH history arrived)
    saved: dict[str, int] = {}  # linkedid → HTTP status of the wrap-up save
    tasks: set[asyncio.Task[None]] = set()
    connector = TCPConnector(limit=0)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=None)) as http:

        async def save(cookie: str, csrf: str, linkedid: str) -> None:
            await asyncio.sleep(wrapup_seconds)
            async with http.post(
                f"{base_url}/api/agent/calls/{linkedid}/wrapup",
                json={"outcome": "new_ticket", "category_id": category_id, "notes": "load"},
                headers={"Cookie": f"{COOKIE_NAME}={cookie}", "X-CSRF-Token": csrf},
            ) as response:
                saved[linkedid] = response.status

        async def page(cookie: str, csrf: str, ws: Any) -> None:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
                at = time.monotonic()
                data = json.loads(message.data)
                kind = data.get("type")
                if kind == "pop" and not data.get("history_pending"):
                    pops.append((data["call"]["linkedid"], at))
                call = data.get("call") or {}
                if kind in ("call", "sync") and call.get("phase") == "wrapup":
                    linkedid = str(call.get("linkedid"))
                    if linkedid not in saved:
                        saved[linkedid] = 0
                        task = asyncio.create_task(save(cookie, csrf, linkedid))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)

        wallboard_pushes = 0

        async def wallboard(cookie: str) -> None:
            nonlocal wallboard_pushes
            ws = await http.ws_connect(
                base_url + "/supervisor/ws", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}
            )
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
                wallboard_pushes += 1

        readers = [asyncio.create_task(wallboard(supervisor_cookie))]
        for _user_id, cookie, csrf in logins:
            ws = await http.ws_connect(
                base_url + "/agent/ws", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}
            )
            readers.append(asyncio.create_task(page(cookie, csrf, ws)))
        ready.set()
        cpu_started, wall_started = time.process_time(), time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        cpu_share = (time.process_time() - cpu_started) / (time.monotonic() - wall_started)
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    results.put(
        {"pops": pops, "saved": saved, "cpu_share": cpu_share, "wallboard": wallboard_pushes}
    )


# ----------------------------------------------------------------------------- one run
async def run(args: argparse.Namespace, tmp: Path, url: str) -> dict[str, Any]:
    sim_cpu, daemon_cpu = (0, 1) if args.pin else (None, None)
    pop.pin(sim_cpu)
    codec = SessionCodec(pop.SESSION_SECRET)
    now = datetime.now(UTC)
    sessions = [(uid, logged_in(now, uid, 1)) for uid in args.agent_ids]
    logins = [(uid, codec.dumps(s), s.csrf) for uid, s in sessions]
    supervisor_cookie = codec.dumps(logged_in(now, args.supervisor_id, 1))
    agi_port, http_port = pop._free_port(), pop._free_port()
    rng = random.Random(18)
    pbx = Pbx(
        PbxConfig(
            dialplan=REPO / "asterisk" / "extensions.conf",
            queues=REPO / "asterisk" / "queues.conf",
            globals={"CC_AGI": f"agi://127.0.0.1:{agi_port}", "CC_RECORDINGS": str(tmp)},
            default_sound_seconds=0.1,
            phones={
                str(1000 + n): PhoneBehaviour(
                    str(1000 + n),
                    answer_delay=1.0,
                    talk_seconds=args.talk,
                    talk_seconds_max=args.talk_max,
                )
                for n in range(args.agents)
            },
            write_recordings=False,
        ),
        SystemClock(),
    )
    routes: dict[str, float] = {}  # linkedid → the last FastAGI route request
    ami_events = 0

    def on_pbx_event(headers: list[tuple[str, str]]) -> None:
        nonlocal ami_events
        ami_events += 1
        if headers and headers[0] == ("Event", "Newexten"):
            data = dict(headers)
            if data.get("Application") == "AGI" and data.get("AppData", "").endswith("/route"):
                routes[data.get("Linkedid", "")] = time.monotonic()

    pbx.listeners.append(on_pbx_event)
    users = parse_manager_conf((REPO / "asterisk" / "manager.conf").read_text(encoding="utf-8"))
    users["callcenter"].secret = pop.SECRET
    ami = AmiServer(pbx, users)
    ami_port = await ami.start()
    settings_data = {
        "database": {"url": url},
        "recordings_dir": str(tmp),
        "session_secret": pop.SESSION_SECRET,
        "log_level": "WARNING",
        "ami": {
            "host": "127.0.0.1",
            "port": ami_port,
            "username": "callcenter",
            "secret": pop.SECRET,
        },
        "agi": {"host": "127.0.0.1", "port": agi_port},
        "http": {"host": "127.0.0.1", "port": http_port},
        "login_agents": args.agent_ids,
        # the back office and the supervisor's floor run too: tickets from the wrap-ups,
        # the live wallboard (one screen connected below)
        "rooms": ["tickets", "supervisor"],
    }
    ctx = mp.get_context("spawn")
    daemon_ready, daemon_stop, daemon_results = ctx.Event(), ctx.Event(), ctx.Queue()
    daemon = ctx.Process(
        target=pop.daemon_process,
        args=(settings_data, daemon_ready, daemon_stop, daemon_results, False, daemon_cpu),
    )
    daemon.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, daemon_ready.wait)
    pages_ready, pages_stop, pages_results = ctx.Event(), ctx.Event(), ctx.Queue()
    pages = ctx.Process(
        target=pages_process,
        args=(
            f"http://127.0.0.1:{http_port}",
            logins,
            supervisor_cookie,
            args.category_id,
            args.wrapup,
            pages_ready,
            pages_stop,
            pages_results,
            sim_cpu,
        ),
    )
    pages.start()
    await loop.run_in_executor(None, pages_ready.wait)
    print(f"{len(logins)} agents' pages open; calling at {args.rate}/s for {args.seconds:.0f} s")

    run_started_wall = datetime.now(UTC)
    interval = 1.0 / args.rate
    started = time.monotonic()
    sim_cpu_started = time.process_time()
    placed = 0
    peak_concurrent = 0
    capped = 0
    while time.monotonic() - started < args.seconds:
        delay = started + placed * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        concurrent = len({channel.linkedid for channel in pbx.channels.values()})
        peak_concurrent = max(peak_concurrent, concurrent)
        if concurrent >= args.max_concurrent:
            capped += 1
            await asyncio.sleep(interval)
            continue
        await pbx.place_call(pop.HOTLINE, pop.national(rng.randrange(args.customers)), "")
        placed += 1
    placing_ended = time.monotonic()
    sim_cpu_share = (time.process_time() - sim_cpu_started) / (placing_ended - started)
    events_per_second = ami_events / (placing_ended - started)
    print(f"placed {placed} calls; letting them finish (up to {args.drain:.0f} s)")
    for _ in range(int(args.drain * 2)):
        if not pbx.channels:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(args.wrapup + 3.0)  # the last wrap-ups are saved, records written
    pages_stop.set()
    outcome = await loop.run_in_executor(None, pages_results.get)
    pages.join()
    daemon_stop.set()
    server_side = await loop.run_in_executor(None, daemon_results.get)
    daemon.join()
    await ami.close()
    await pbx.close()

    # A pop answers the latest decision to ring an agent: the FastAGI route request, or for
    # a caller who waited for a free agent, the ACD's pick when one came free.
    decided = dict(server_side["decided"])
    latencies = []
    for linkedid, at in outcome["pops"]:
        began = max(routes.get(linkedid, 0.0), decided.get(linkedid, 0.0))
        if 0.0 < began <= at:
            latencies.append((at - began) * 1000)
    route_ms = server_side["agi_ms"].get("route", [0.0])
    lag = [ms for at, ms in server_side["lag_ms"] if started <= at <= placing_ended] or [0.0]
    cpu = [(at, c) for at, c in server_side["cpu_samples"] if started <= at <= placing_ended]
    daemon_cpu_share = (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) if len(cpu) > 1 else 0.0
    write_ms = sum(ms for ms, _ in server_side["state_writes"]) + sum(server_side["recorder_ms"])
    lost = await lost_work(url, run_started_wall, placed, outcome["saved"])
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "agents": args.agents,
        "rate_per_second": args.rate,
        "calls_placed": placed,
        "calls_handled_per_second": round(lost["records"] / (placing_ended - started), 2),
        "peak_concurrent_calls": peak_concurrent,
        "arrivals_held_by_max_concurrent": capped,
        "pops_measured": len(latencies),
        "pop_p50_ms": round(statistics.median(latencies or [0.0]), 2),
        "pop_p99_ms": round(pop.percentile(latencies or [0.0], 99), 2),
        "pop_max_ms": round(max(latencies or [0.0]), 2),
        "route_p50_ms": round(statistics.median(route_ms), 2),
        "route_p99_ms": round(pop.percentile(route_ms, 99), 2),
        "ami_events_per_second": round(events_per_second, 1),
        "daemon_cpu_share": round(daemon_cpu_share, 3),
        "simulator_cpu_share": round(sim_cpu_share, 3),
        "pages_cpu_share": round(outcome["cpu_share"], 3),
        "wallboard_pushes_received": outcome["wallboard"],
        "daemon_peak_rss_mb": round(server_side["max_rss_mb"], 1),
        "daemon_rss_growth_mb": rss_growth(server_side["rss_samples"], started, placing_ended),
        "loop_lag_p99_ms": round(pop.percentile(lag, 99), 2),
        "loop_lag_max_ms": round(max(lag), 2),
        "database_write_ms_per_call": round(write_ms / max(1, placed), 2),
        "lost_work": lost,
    }


async def lost_work(
    url: str, since: datetime, placed: int, saved: dict[str, int]
) -> dict[str, Any]:
    """What the database holds after the calls drained, against what happened."""
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            calls = (await session.execute(select(Call).where(Call.started_at >= since))).scalars()
            records = list(calls)
            answered = [c for c in records if c.answered_at is not None]
            unanswered = [c for c in records if c.answered_at is None]
            call_ids = [c.id for c in records]
            wrapups = await session.scalar(
                select(func.count()).select_from(CallWrapUp).where(CallWrapUp.call_id.in_(call_ids))
            )
            tickets = await session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.call_id.in_(call_ids))
            )
            tasks = await session.scalar(
                select(func.count()).select_from(Task).where(Task.created_at >= since)
            )
    finally:
        await engine.dispose()
    failed_saves = sum(1 for status in saved.values() if status != 200)
    return {
        "records": len(records),
        "calls_without_record": max(0, placed - len(records)),
        "answered": len(answered),
        "answered_without_wrapup": max(0, len(answered) - int(wrapups or 0)),
        "answered_without_ticket": max(0, len(answered) - int(tickets or 0)),
        "wrapup_saves_failed": failed_saves,
        "unanswered": len(unanswered),
        "unanswered_without_task": max(0, len(unanswered) - int(tasks or 0)),
    }


def rss_growth(samples: list[tuple[float, float]], started: float, ended: float) -> float:
    """Peak RSS at the end of the calling period minus at its first minute's end (MB)."""
    inside = [(at, mb) for at, mb in samples if started <= at <= ended]
    if len(inside) < 2:
        return 0.0
    warm = [mb for at, mb in inside if at <= started + 60.0] or [inside[0][1]]
    return round(inside[-1][1] - warm[-1], 1)


def verdict(report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lost = report["lost_work"]
    misses = []
    if report["pop_p99_ms"] > args.pop_p99_ms:
        misses.append(f"screen-pop p99 {report['pop_p99_ms']} ms > {args.pop_p99_ms}")
    if report["route_p99_ms"] > args.route_p99_ms:
        misses.append(f"routing p99 {report['route_p99_ms']} ms > {args.route_p99_ms}")
    if report["loop_lag_p99_ms"] > args.lag_p99_ms:
        misses.append(f"event-loop lag p99 {report['loop_lag_p99_ms']} ms > {args.lag_p99_ms}")
    if report["daemon_peak_rss_mb"] > args.rss_mb:
        misses.append(f"daemon RSS {report['daemon_peak_rss_mb']} MB > {args.rss_mb}")
    for key in (
        "calls_without_record",
        "answered_without_wrapup",
        "answered_without_ticket",
        "wrapup_saves_failed",
        "unanswered_without_task",
    ):
        if lost[key]:
            misses.append(f"lost work: {key} = {lost[key]}")
    if report["pops_measured"] < 0.95 * lost["answered"]:
        misses.append(f"only {report['pops_measured']} pops for {lost['answered']} answered calls")
    return misses


async def main(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    pg_name = ""
    if args.postgres:
        import asyncpg

        pg_name = f"cc_bench_load_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'load.db'}"
    try:
        await migrate.upgrade_async(url)
        args.agent_ids = await pop.seed_agents(url, args.agents)
        if pg_name:
            await pop.seed_big_history(pg_name, args.customers, args.history_calls, args.agent_ids)
        else:
            await pop.seed_small_history(url, args.customers, args.agent_ids)
        engine = make_engine(url)
        async with sessionmaker(engine)() as session:
            args.category_id = await session.scalar(select(Category.id).limit(1))
            supervisor = User(username="giamsat", full_name="Giám sát", role="supervisor")
            session.add(supervisor)
            await session.flush()
            args.supervisor_id = supervisor.id
            # The agents save their wrap-up themselves, well inside the allowed time.
            await session.execute(
                update(SystemSetting)
                .where(SystemSetting.key == "wrapup_seconds")
                .values(value=args.wrapup_limit)
            )
            await session.commit()
        await engine.dispose()
        report = await run(args, tmp, url)
        print(json.dumps(report, indent=2))
        misses = verdict(report, args)
        for miss in misses:
            print(f"MISS: {miss}")
        print("FAIL" if misses else "PASS: every target met, no work lost")
        return 1 if misses else 0
    finally:
        if pg_name:
            import asyncpg

            admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--rate", type=float, default=5.0, help="calls placed per second")
    parser.add_argument("--max-concurrent", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0, help="how long calls arrive")
    parser.add_argument("--talk", type=float, default=6.0, help="shortest talk, seconds")
    parser.add_argument("--talk-max", type=float, default=14.0, help="longest talk, seconds")
    parser.add_argument("--wrapup", type=float, default=1.0, help="an agent's wrap-up, seconds")
    parser.add_argument(
        "--wrapup-limit", type=int, default=30, help="the wrap-up time agents are allowed"
    )
    parser.add_argument("--drain", type=float, default=120.0)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--history-calls", type=int, default=1_000_000)
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--soak", action="store_true", help="one hour; reports memory growth")
    parser.add_argument("--pop-p99-ms", type=float, default=50.0)
    parser.add_argument("--route-p99-ms", type=float, default=20.0)
    parser.add_argument("--lag-p99-ms", type=float, default=10.0)
    parser.add_argument("--rss-mb", type=float, default=300.0)
    arguments = parser.parse_args()
    if arguments.customers is None:
        arguments.customers = 100_000 if arguments.postgres else 1_000
    if arguments.soak:
        arguments.seconds = 3600.0
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(asyncio.run(main(arguments)))
