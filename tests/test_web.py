"""HTTP skeleton: health, metrics, the landing page, and access declarations on every route."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.engine import sqlite_path
from callcenter.registry import AMI_STATUS, ENGINE
from callcenter.web.access import undeclared_routes
from callcenter.web.app import create_app
from tests.conftest import MigratedTemplates


@pytest.fixture
def settings(settings: Settings, migrated_templates: MigratedTemplates) -> Settings:
    """The shared settings, their SQLite database already migrated (a template copy)."""
    path = sqlite_path(settings.database.url)
    assert path is not None
    migrated_templates.sqlite_copy(path)
    return settings


async def make_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    await migrate.upgrade_async(settings.database.url)  # at head already: a quick check
    return await aiohttp_client(create_app(settings))


async def test_healthz_reports_database_and_ami(aiohttp_client: Any, settings: Settings) -> None:
    client = await make_client(aiohttp_client, settings)
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["database"] is True and body["ami"] is False
    client.server.app[AMI_STATUS].connected = True
    assert (await (await client.get("/healthz")).json())["ami"] is True


async def test_healthz_measures_the_recordings_volume_off_the_event_loop(
    aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung network share must not stop calls: statfs runs in a worker thread."""
    client = await make_client(aiohttp_client, settings)
    callers: list[int] = []
    measure = shutil.disk_usage

    def watched(path: Any) -> Any:
        callers.append(threading.get_ident())
        return measure(path)

    monkeypatch.setattr(shutil, "disk_usage", watched)
    body = await (await client.get("/healthz")).json()
    assert "free_bytes" in body["recordings"]
    assert callers and threading.get_ident() not in callers


async def test_healthz_when_database_goes_away(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "dbdir"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'cc.db'}"
    client = await make_client(
        aiohttp_client,
        settings.model_copy(update={"database": settings.database.model_copy(update={"url": url})}),
    )
    assert (await client.get("/healthz")).status == 200
    await client.server.app[ENGINE].dispose()
    shutil.rmtree(folder)  # the disk holding the database is gone
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["database"] is False


async def test_metrics_in_prometheus_format(aiohttp_client: Any, settings: Settings) -> None:
    client = await make_client(aiohttp_client, settings)
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert "# TYPE callcenter_http_requests_total counter" in text
    assert 'callcenter_http_requests_total{status="200"}' in text
    assert "callcenter_ami_connected" in text


async def test_home_page_is_vietnamese_and_has_security_headers(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await make_client(aiohttp_client, settings)
    response = await client.get("/")
    assert response.status == 200
    assert "Tổng đài chăm sóc khách hàng" in await response.text()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    static = await client.get("/static/style.css")
    assert static.status == 200


async def test_every_route_declares_its_access(aiohttp_client: Any, settings: Settings) -> None:
    client = await make_client(aiohttp_client, settings)
    assert list(undeclared_routes(client.server.app)) == []


async def test_unknown_path_is_404(aiohttp_client: Any, settings: Settings) -> None:
    client = await make_client(aiohttp_client, settings)
    assert (await client.get("/nope")).status == 404
