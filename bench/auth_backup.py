"""Login, session and backup costs: what a shift start and a nightly backup take.

1. argon2id hash and verify with the production parameters (one core);
2. logins through the real form (GET /login, POST with CSRF) for N agents, one
   after another: what 50 agents arriving at 8:00 cost the server;
3. the per-request cost of the session: GET / anonymous vs logged in (the
   logged-in path checks the signed cookie and loads the user row);
4. backup and restore of a database with ROWS audit entries (SQLite online
   backup API; with --url postgresql+asyncpg://... the portable dump), wiped in between.

    .venv/bin/python bench/auth_backup.py
    .venv/bin/python bench/auth_backup.py --url postgresql+asyncpg://postgres@127.0.0.1/bench_auth
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert

from callcenter.auth.passwords import hash_password, verify_password
from callcenter.backup import create_backup, restore_backup
from callcenter.config import load_settings
from callcenter.db import migrate
from callcenter.db.engine import make_engine
from callcenter.db.models import AuditEntry
from callcenter.db.repos.users import create_user
from callcenter.registry import SESSIONMAKER
from callcenter.web.app import create_app

DEFAULT_PASSWORD = "Mật-khẩu-đủ-mạnh-123"

CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def cpu() -> float:
    return time.process_time()


def bench_argon2(rounds: int) -> None:
    hashed = hash_password(DEFAULT_PASSWORD)
    hashes, verifies = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        hash_password(DEFAULT_PASSWORD)
        hashes.append(time.perf_counter() - start)
        start = time.perf_counter()
        verify_password(hashed, DEFAULT_PASSWORD)
        verifies.append(time.perf_counter() - start)
    print(
        f"argon2id (m=19 MiB, t=2, p=1): hash median {statistics.median(hashes) * 1000:.1f} ms, "
        f"verify median {statistics.median(verifies) * 1000:.1f} ms ({rounds} rounds)"
    )


async def bench_http(url: str, folder: Path, agents: int, requests: int) -> None:
    settings = load_settings(
        None,
        database={"url": url},
        recordings_dir=str(folder / "rec"),
        session_secret="b" * 40,
    )
    (folder / "rec").mkdir(exist_ok=True)
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        async with app[SESSIONMAKER]() as session:
            for n in range(agents):
                await create_user(
                    session, username=f"agent.{n:03d}", password=DEFAULT_PASSWORD, role="agent"
                )
            await session.commit()
        wall, cpu0 = time.perf_counter(), cpu()
        for n in range(agents):
            client.session.cookie_jar.clear()
            page = await client.get("/login")
            match = CSRF.search(await page.text())
            assert match
            response = await client.post(
                "/login",
                data={
                    "username": f"agent.{n:03d}",
                    "password": DEFAULT_PASSWORD,
                    "csrf_token": match.group(1),
                },
                allow_redirects=False,
            )
            assert response.status == 302, response.status
        elapsed, used = time.perf_counter() - wall, cpu() - cpu0
        print(
            f"{agents} logins through the form: {elapsed:.2f} s wall, {used:.2f} s CPU "
            f"({elapsed / agents * 1000:.0f} ms per login)"
        )
        for label, logged_in in (("anonymous", False), ("logged in", True)):
            if not logged_in:
                jar = list(client.session.cookie_jar)
                client.session.cookie_jar.clear()
            else:
                client.session.cookie_jar.update_cookies(
                    {c.key: c.value for c in jar}, client.make_url("/")
                )
            latencies = []
            cpu0 = cpu()
            for _ in range(requests):
                start = time.perf_counter()
                response = await client.get("/")
                await response.read()
                latencies.append(time.perf_counter() - start)
            used = cpu() - cpu0
            latencies.sort()
            print(
                f"GET / {label}: median {statistics.median(latencies) * 1000:.2f} ms, "
                f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.2f} ms, "
                f"{used / requests * 1000:.2f} ms CPU per request (client and server) over {requests}"
            )


async def bench_backup(url: str, folder: Path, rows: int) -> None:
    engine = make_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as connection:
        for first in range(0, rows, 5000):
            await connection.execute(
                insert(AuditEntry),
                [
                    {
                        "at": start + timedelta(seconds=n),
                        "username": f"agent.{n % 50:03d}",
                        "action": "login.success",
                        "target": "",
                        "address": "10.0.0.1",
                        "details": {"n": n, "note": "đăng nhập"},
                    }
                    for n in range(first, min(rows, first + 5000))
                ],
            )
    await engine.dispose()
    settings = load_settings(
        None, database={"url": url}, recordings_dir=str(folder / "rec"), session_secret="b" * 40
    )
    archive = folder / "bench.tar.gz"
    wall = time.perf_counter()
    manifest = await create_backup(settings, archive)
    backup_s = time.perf_counter() - wall
    total = sum(manifest.tables.values())
    await asyncio.to_thread(migrate.downgrade, url, "base")
    wall = time.perf_counter()
    await restore_backup(settings, archive)
    restore_s = time.perf_counter() - wall
    print(
        f"backup of {total:,} rows ({manifest.backend}): {backup_s:.2f} s, "
        f"archive {archive.stat().st_size / 1e6:.1f} MB; wipe + restore: {restore_s:.2f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--argon2-rounds", type=int, default=20)
    args = parser.parse_args()
    bench_argon2(args.argon2_rounds)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        if args.url:
            await asyncio.to_thread(migrate.downgrade, url, "base")
        await migrate.upgrade_async(url)
        await bench_http(url, folder, args.agents, args.requests)
        await bench_backup(url, folder, args.rows)


if __name__ == "__main__":
    asyncio.run(main())
