"""Admin console: what a configuration change costs, from the click to the ACD's new snapshot.

Every change in /admin publishes ``config_changed`` and the ACD reloads the whole
routing configuration (:func:`load_routing_config`), so two numbers matter at a
large centre (500 agents, 10 groups, every agent in 2 groups, 20 hotlines with
menus and their own hours, 20 holiday overrides, 12 pause reasons, 30 prompts):

1. the reload itself (a fresh session, all queries, the immutable snapshot);
2. an admin's change through the real HTTP stack: POST /admin/settings with the
   CSRF token (session cookie, access check, validation, audit entry, commit,
   bus event), until the redirect comes back.

    .venv/bin/python bench/admin_config.py
    .venv/bin/python bench/admin_config.py --url postgresql+asyncpg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock_time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import load_settings
from callcenter.core.events import ConfigChanged
from callcenter.db import migrate
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    BusinessHours,
    Holiday,
    Hotline,
    PauseReason,
    Prompt,
    User,
)
from callcenter.db.repos import routing, users
from callcenter.registry import BUS, SESSIONMAKER
from callcenter.web.app import create_app

AGENTS, GROUPS, HOTLINES = 500, 10, 20
PASSWORD = "Tong-dai-Quan-tri-7391"


async def seed(app: object) -> None:
    factory = app[SESSIONMAKER]  # type: ignore[index]
    async with factory() as session:
        groups = [AgentGroup(code=f"g{n}", name=f"Nhóm {n}") for n in range(GROUPS)]
        session.add_all(groups)
        agents = [
            User(username=f"agent{n:03d}", role="agent", interface=f"PJSIP/{1000 + n}")
            for n in range(AGENTS)
        ]
        session.add_all(agents)
        await session.flush()
        for n, agent in enumerate(agents):
            for group in (groups[n % GROUPS], groups[(n + 1) % GROUPS]):
                session.add(AgentGroupMember(group_id=group.id, user_id=agent.id, priority=n))
        for n in range(HOTLINES):
            hotline = Hotline(
                number=f"1900{n:04d}",
                name=f"Đường dây {n}",
                group_id=groups[n % GROUPS].id,
                menu_enabled=True,
                menu={str(k): f"g{(n + k) % GROUPS}" for k in range(1, 5)},
            )
            session.add(hotline)
            await session.flush()
            for weekday in range(6):
                session.add(
                    BusinessHours(
                        hotline_id=hotline.id,
                        weekday=weekday,
                        opens=clock_time(7, 30),
                        closes=clock_time(17, 30),
                    )
                )
        start = date(2026, 1, 1)
        for n in range(20):
            session.add(Holiday(day=start + timedelta(days=17 * n), name=f"Nghỉ {n}", closed=True))
        for n in range(12):
            session.add(PauseReason(code=f"p{n}", name=f"Lý do {n}"))
        for n in range(30):
            session.add(Prompt(code=f"prompt{n}", name="", filename=f"prompt{n}.wav"))
        await users.create_user(session, username="quan.tri", password=PASSWORD, role="admin")
        await session.commit()


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
        f"(n={len(ordered)})"
    )


async def main(url: str | None, reloads: int, changes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await migrate.upgrade_async(url)
        settings = load_settings(
            None, database={"url": url}, session_secret="b" * 40, prompts_dir=folder
        )
        app = create_app(settings)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            await seed(app)
            factory = app[SESSIONMAKER]
            reload_times: list[float] = []
            cpu_started = time.process_time()
            for _ in range(reloads):
                started = time.perf_counter()
                async with factory() as session:
                    config = await routing.load_routing_config(session)
                reload_times.append(time.perf_counter() - started)
            assert len(config.groups) == GROUPS and len(config.hotlines) == HOTLINES
            members = sum(len(g.members) for g in config.groups.values())
            print(f"snapshot: {GROUPS} groups, {members} memberships, {HOTLINES} hotlines")
            cpu = (time.process_time() - cpu_started) / reloads
            print(f"load_routing_config: {summary(reload_times)}; CPU {cpu * 1000:.1f} ms each")

            page = await (await client.get("/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            response = await client.post(
                "/login",
                data={"csrf_token": token.group(1), "username": "quan.tri", "password": PASSWORD},
                allow_redirects=False,
            )
            assert response.status == 302
            page = await (await client.get("/admin/settings")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            seen: list[object] = []
            app[BUS].subscribe(ConfigChanged, seen.append)
            change_times: list[float] = []
            cpu_started = time.process_time()
            for n in range(changes):
                values = {spec.key: str(spec.default) for spec in routing.SETTING_SPECS}
                values["wrapup_seconds"] = str(10 + n % 50)
                started = time.perf_counter()
                response = await client.post(
                    "/admin/settings",
                    data={"csrf_token": token.group(1), **values},
                    allow_redirects=False,
                )
                change_times.append(time.perf_counter() - started)
                assert response.status == 302, await response.text()
            assert len(seen) == changes - sum(
                1 for n in range(1, changes) if (10 + n % 50) == (10 + (n - 1) % 50)
            )
            cpu = (time.process_time() - cpu_started) / changes
            print(
                "POST /admin/settings (validate, audit, commit, publish): "
                f"{summary(change_times)}; CPU {cpu * 1000:.1f} ms each (client included)"
            )
        finally:
            await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--reloads", type=int, default=200)
    parser.add_argument("--changes", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url, arguments.reloads, arguments.changes))
