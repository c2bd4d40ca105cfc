"""/healthz reports the recordings volume's free space; admins see a warning when it runs low.

The pages' warning reads a measurement refreshed in the background (statfs in a
thread), never the disk itself while rendering.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings
from callcenter.registry import SETTINGS
from callcenter.web.app import create_app
from callcenter.web.templating import STORAGE
from tests.auth.migrated import copy_migrated
from tests.auth_helpers import DEFAULT_PASSWORD, login, make_user
from tests.conftest import MigratedTemplates

Usage = namedtuple("Usage", "total used free")
GB = 1024**3


def fake_usage(
    monkeypatch: pytest.MonkeyPatch,
    free_gb: float,
    total_gb: float = 100,
    threads: list[str] | None = None,
) -> None:
    """Pretend the disk has ``free_gb`` free; ``threads`` collects where each statfs ran."""

    def disk_usage(path: str | Path) -> Usage:
        if threads is not None:
            threads.append(threading.current_thread().name)
        if not Path(path).exists():
            raise FileNotFoundError(2, "No such file or directory")
        return Usage(int(total_gb * GB), int((total_gb - free_gb) * GB), int(free_gb * GB))

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


async def test_healthz_reports_real_free_space(client: TestClient) -> None:
    body = await (await client.get("/healthz")).json()
    real = shutil.disk_usage(client.server.app[SETTINGS].recordings_dir)
    assert body["recordings"]["total_bytes"] == real.total
    assert abs(body["recordings"]["free_bytes"] - real.free) < 512 * 1024**2
    assert "path" not in body["recordings"]  # the public endpoint does not reveal paths


async def test_low_space_is_a_warning_not_an_outage(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_usage(monkeypatch, free_gb=60)
    body = await (await client.get("/healthz")).json()
    assert body["recordings"]["low"] is False and body["warnings"] == []
    fake_usage(monkeypatch, free_gb=3.2)
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200  # the database is fine: still healthy, but warned
    assert body["recordings"]["low"] is True and body["recordings"]["free_percent"] == 3.2
    assert body["warnings"] == ["recordings volume low on space: 3.2 GB (3.2%) free"]


async def test_admins_see_the_warning_on_every_page(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    warning = "Ổ đĩa ghi âm sắp đầy: còn trống 3.2 GB"
    assert warning not in await (await client.get("/")).text()
    fake_usage(monkeypatch, free_gb=3.2)
    await client.server.app[STORAGE].refresh()  # what the background task does every minute
    assert warning in await (await client.get("/")).text()
    assert warning in await (await client.get("/admin/audit")).text()


async def test_agents_are_not_bothered(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    await make_user(client, "an", "agent")
    await login(client, "an", DEFAULT_PASSWORD)
    fake_usage(monkeypatch, free_gb=1)
    await client.server.app[STORAGE].refresh()
    assert "Ổ đĩa ghi âm" not in await (await client.get("/")).text()


async def test_missing_recordings_folder_is_reported(client: TestClient) -> None:
    shutil.rmtree(client.server.app[SETTINGS].recordings_dir)
    body = await (await client.get("/healthz")).json()
    assert body["recordings"]["low"] is True
    assert body["warnings"] == ["recordings folder unusable: No such file or directory"]


async def test_pages_read_the_last_measurement_and_never_the_disk(
    aiohttp_client: Any,
    settings: Settings,
    migrated_templates: MigratedTemplates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    fake_usage(monkeypatch, free_gb=3.2, threads=threads)
    await copy_migrated(settings, migrated_templates)
    client: TestClient = await aiohttp_client(create_app(settings))
    assert len(threads) == 1  # measured once at start-up, before the first page
    assert client.server.app[STORAGE].every == 60.0
    await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    for _ in range(5):
        assert "Ổ đĩa ghi âm sắp đầy" in await (await client.get("/admin/audit")).text()
    assert len(threads) == 1, "rendering a page measured the disk"
    assert threads[0] != threading.main_thread().name, "statfs ran on the event loop's thread"


async def test_the_background_task_notices_a_filling_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.web.templating import StorageMonitor

    threads: list[str] = []
    fake_usage(monkeypatch, free_gb=60, threads=threads)
    monitor = StorageMonitor(tmp_path, every=0.02)
    await monitor.refresh()
    assert monitor.space is not None and monitor.space["low"] is False
    task = asyncio.create_task(monitor.run())
    try:
        fake_usage(monkeypatch, free_gb=3.2, threads=threads)
        for _ in range(100):
            if monitor.space["low"]:
                break
            await asyncio.sleep(0.02)
        assert monitor.space["low"] is True and monitor.space["free_bytes"] == int(3.2 * GB)
        # A failing measurement is logged and the task keeps going.
        monkeypatch.setattr(shutil, "disk_usage", lambda path: 1 / 0)
        await asyncio.sleep(0.1)
        assert not task.done()
    finally:
        task.cancel()
    assert threading.main_thread().name not in threads
