"""The wallboard's push cost: 300 agents, 20 calls/s, N open wallboards.

The real application (web, auth, the supervisor room with its board, feed and hub) runs
in this process on a SQLite file with one supervisor. Its ACD is a stand-in that holds
300 agents whose states follow the generated calls (ring 1 s, talk 8 s, wrap-up 3 s, so
about 240 agents are busy at 20 calls/s) and a waiting list of 20 callers; the calls'
events (``CallStarted``, ``AgentStateChanged`` ×4, ``CallAnswered``, ``CallEnded``,
``QueueChanged``: 8 per call, 160/s) are published on the application's bus, exactly as
the call tracker and the ACD service publish them. The agent desk's subscriptions are
closed so only the wallboard reacts to them. A second process opens N websockets to
``/supervisor/ws`` (one login) and counts what arrives.

For each N it reports, over ``--seconds`` of load:
- pushes per second and bytes per push (the whole snapshot, encoded once);
- CPU per push to build and encode the snapshot (``thread_time`` around it);
- the daemon process's CPU seconds per wall second, and the difference to N = 0
  (the same events handled with no screen open: the cost of the screens themselves).
The screens offer permessage-deflate as browsers do (``--no-compress``: plain frames), so
the daemon compresses each snapshot once per screen.

    .venv/bin/python bench/wallboard_push.py
    .venv/bin/python bench/wallboard_push.py --agents 300 --rate 20 --seconds 20 --screens 0,1,10,50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, CookieJar, WSMsgType, web

from callcenter.agent_desk.desk import AGENT_DESK
from callcenter.clock import SystemClock
from callcenter.config import load_settings
from callcenter.core.call_events import CallRecord
from callcenter.core.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallStarted,
    QueueChanged,
)
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.repos.users import create_user
from callcenter.registry import BUS
from callcenter.supervisor.board import BOARD
from callcenter.supervisor.plugin import FEED, PLUGIN
from callcenter.web.app import create_app

PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class FloorAcd:
    """The ACD as the board reads it, for a synthetic floor of ``agents`` people."""

    def __init__(self, agents: int, waiting: int) -> None:
        now = datetime.now(UTC)
        self.agents: dict[int, dict[str, Any]] = {
            n: {
                "id": n,
                "name": f"Điện thoại viên {n:03d}",
                "state": "available",
                "reason": "",
                "since": now.isoformat(),
                "calls_today": 0,
            }
            for n in range(1, agents + 1)
        }
        self.free = list(self.agents)
        self.live = 0
        self.waiting = [
            {
                "caller": f"+8498{n:07d}",
                "group": "care",
                "priority": n % 3 == 0,
                "since": (now - timedelta(seconds=n * 3)).isoformat(),
                "position": n,
            }
            for n in range(1, waiting + 1)
        ]

    def set_state(self, agent_id: int, state: str, at: datetime) -> str:
        agent = self.agents[agent_id]
        previous = agent["state"]
        agent["state"], agent["since"] = state, at.isoformat()
        return str(previous)

    def agent_at_phone(self, interface: str) -> int | None:
        """``PJSIP/1000-…`` → agent 0; a call no agent answered names no phone: None."""
        if "/" not in interface:
            return None
        return int(interface.split("/")[1].split("-")[0]) - 1000

    def waiting_snapshot(self, group: str | None = None) -> Any:
        return list(self.waiting)

    def wallboard_agents(self) -> list[dict[str, Any]]:
        return [dict(agent) for agent in self.agents.values()]

    def calls_in_progress(self) -> int:
        return self.live

    def phones_in_use(self) -> dict[str, int]:
        return {}


async def generate_calls(app: web.Application, floor: FloorAcd, rate: float, seconds: float) -> int:
    """Publish each call's events at their times; returns how many calls were started."""
    bus = app[BUS]
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    started = 0

    def publish_state(agent_id: int, state: str) -> None:
        at = datetime.now(UTC)
        previous = floor.set_state(agent_id, state, at)
        bus.publish(
            AgentStateChanged(agent_id, state, previous, "", f"PJSIP/{1000 + agent_id}", at)
        )

    def call(n: int) -> None:
        if not floor.free:
            return
        agent_id = floor.free.pop(rng.randrange(len(floor.free)))
        linkedid = f"bench.{n}"
        begun = datetime.now(UTC)
        floor.live += 1
        bus.publish(
            CallStarted(linkedid, begun, f"+8491{n:07d}", f"KHÁCH {n}", "19006868", "PJSIP/trunk")
        )
        publish_state(agent_id, "ringing")
        bus.publish(QueueChanged({"care": {"waiting": len(floor.waiting), "longest_wait": 60.0}}))

        def answer() -> None:
            at = datetime.now(UTC)
            channel = f"PJSIP/{1000 + agent_id}-{n:08x}"
            bus.publish(CallAnswered(linkedid, at, channel, channel, (at - begun).total_seconds(),
                                     f"+8491{n:07d}", agent_channel=channel))  # fmt: skip
            publish_state(agent_id, "on_call")
            loop.call_later(8.0, end, at)

        def end(answered: datetime) -> None:
            at = datetime.now(UTC)
            floor.live -= 1
            record = CallRecord(linkedid, begun, caller_number=f"+8491{n:07d}",
                                answered_at=answered, ended_at=at, disposition="answered",
                                agent_interface=f"PJSIP/{1000 + agent_id}")  # fmt: skip
            bus.publish(CallEnded(linkedid, at, record))
            publish_state(agent_id, "wrapup")
            loop.call_later(3.0, free)

        def free() -> None:
            publish_state(agent_id, "available")
            floor.free.append(agent_id)

        loop.call_later(1.0, answer)

    start = loop.time()
    while loop.time() - start < seconds:
        started += 1
        call(started)
        await asyncio.sleep(rng.expovariate(rate))
    return started


def screens_process(
    url: str, username: str, screens: int, seconds: float, compress: bool, out: Any
) -> None:
    """N wallboards in another process: log in once, open N sockets, count what arrives."""

    async def run() -> dict[str, int]:
        counts = {"messages": 0, "bytes": 0}
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            page = await (await http.get(url + "/login")).text()
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            await http.post(url + "/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": token})  # fmt: skip
            # browsers offer permessage-deflate, so by default the screens do too
            sockets = [
                await http.ws_connect(url + "/supervisor/ws", compress=15 if compress else 0)
                for _ in range(screens)
            ]

            async def read(ws: Any) -> None:
                async for message in ws:
                    if message.type == WSMsgType.TEXT:
                        counts["messages"] += 1
                        counts["bytes"] += len(message.data.encode())

            readers = [asyncio.create_task(read(ws)) for ws in sockets]
            out.send("ready")
            await asyncio.sleep(seconds)
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers, return_exceptions=True)
        return counts

    out.send(asyncio.run(run()))


async def measure(
    app: web.Application, url: str, args: argparse.Namespace, screens: int
) -> dict[str, Any]:
    floor = FloorAcd(args.agents, args.waiting)
    app[BOARD].acd = floor
    feed = app[FEED]
    parent, child = mp.Pipe()
    process = None
    if screens:
        process = mp.get_context("spawn").Process(
            target=screens_process,
            args=(url, "giamsat", screens, args.seconds + 14, not args.no_compress, child),
        )
        process.start()
        assert await asyncio.to_thread(parent.recv) == "ready"
    await asyncio.sleep(1.0)
    pushes, cpu, sent = feed.pushes, feed.push_cpu_seconds, feed.push_bytes
    wall, process_cpu = time.perf_counter(), time.process_time()
    calls = await generate_calls(app, floor, args.rate, args.seconds)
    wall = time.perf_counter() - wall
    process_cpu = time.process_time() - process_cpu
    pushes, cpu, sent = feed.pushes - pushes, feed.push_cpu_seconds - cpu, feed.push_bytes - sent
    received: dict[str, int] = {"messages": 0, "bytes": 0}
    if process is not None:
        received = await asyncio.to_thread(parent.recv)
        process.join()
    await asyncio.sleep(12.5)  # let the last calls finish before the next run
    return {
        "screens": screens,
        "calls": calls,
        "pushes_per_s": round(pushes / wall, 2),
        "bytes_per_push": round(sent / pushes) if pushes else 0,
        "cpu_ms_per_push": round(1000 * cpu / pushes, 2) if pushes else 0.0,
        "daemon_cpu_s_per_s": round(process_cpu / wall, 3),
        "screens_received_messages": received["messages"],
    }


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wallboard-bench-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await migrate.upgrade_async(url)
    engine = make_engine(url)
    async with sessionmaker(engine)() as session:
        await create_user(session, username="giamsat", password=PASSWORD, role="supervisor")
        await session.commit()
    await engine.dispose()
    settings = load_settings(None, database={"url": url}, session_secret="b" * 40,
                             recordings_dir=str(folder / "recordings"))  # fmt: skip
    app = create_app(settings, clock=SystemClock(), extra_plugins=[PLUGIN])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await app[AGENT_DESK].close()  # only the wallboard reacts to the generated events
    results = []
    try:
        for screens in [int(n) for n in args.screens.split(",")]:
            result = await measure(app, f"http://127.0.0.1:{port}", args, screens)
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        await runner.cleanup()
    base = next((r["daemon_cpu_s_per_s"] for r in results if r["screens"] == 0), None)
    print(
        "\n| screens | pushes/s | bytes/push | CPU ms/push (build+encode) | daemon CPU s/s | vs 0 screens |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        extra = "" if base is None else f"{r['daemon_cpu_s_per_s'] - base:+.3f}"
        print(f"| {r['screens']} | {r['pushes_per_s']} | {r['bytes_per_push']} | "
              f"{r['cpu_ms_per_push']} | {r['daemon_cpu_s_per_s']} | {extra} |")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second")
    parser.add_argument("--waiting", type=int, default=20, help="callers on the waiting list")
    parser.add_argument("--seconds", type=float, default=20.0, help="load per measurement")
    parser.add_argument("--screens", default="0,1,10,50", help="open wallboards per run")
    parser.add_argument(
        "--no-compress", action="store_true", help="screens without permessage-deflate"
    )
    asyncio.run(main(parser.parse_args()))
