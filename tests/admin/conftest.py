"""Fixtures for the admin console tests: a logged-in admin on a migrated SQLite database.

The clock stands at Monday 23/11/2026 10:00 in Hà Nội (03:00 UTC), a working day.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.core.events import ConfigChanged
from callcenter.db.engine import sqlite_path
from callcenter.db.repos import users
from callcenter.registry import BUS, SESSIONMAKER
from callcenter.web.admin_schedule import PROMPT_MAX_BYTES
from callcenter.web.app import create_app
from tests.conftest import MigratedTemplates

ADMIN = "quan.tri"
ADMIN_PASSWORD = "Tong-dai-Quan-tri-7391"
#: Small on purpose: the size check must answer clearly without a big upload.
TEST_PROMPT_LIMIT = 200_000

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
META_CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))


@pytest.fixture
def admin_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"prompts_dir": tmp_path / "prompts"})


async def csrf_of(client: TestClient, path: str = "/admin") -> str:
    html = await (await client.get(path)).text()
    match = CSRF_RE.search(html) or META_CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def post_form(
    client: TestClient,
    path: str,
    data: Mapping[str, Any] | list[tuple[str, Any]],
    *,
    page: str = "/admin",
) -> ClientResponse:
    """Post a form the way the browser does: with the page's CSRF token, no redirect follow."""
    token = await csrf_of(client, page)
    items = list(data.items()) if isinstance(data, Mapping) else list(data)
    form = FormData([("csrf_token", token), *items])
    return await client.post(path, data=form, allow_redirects=False)


async def log_in(client: TestClient, username: str, password: str) -> ClientResponse:
    token = await csrf_of(client, "/login")
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password},
        allow_redirects=False,
    )


@pytest.fixture
def events() -> list[ConfigChanged]:
    return []


async def _admin_client(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, events: list[ConfigChanged]
) -> TestClient:
    """The console on ``settings``' database, which must already be migrated."""
    app = create_app(settings, clock=clock)
    app[PROMPT_MAX_BYTES] = TEST_PROMPT_LIMIT
    app[BUS].subscribe(ConfigChanged, events.append)
    client: TestClient = await aiohttp_client(app)
    async with app[SESSIONMAKER]() as session:
        await users.create_user(session, username=ADMIN, password=ADMIN_PASSWORD, role="admin")
        await session.commit()
    response = await log_in(client, ADMIN, ADMIN_PASSWORD)
    assert response.status == 302, await response.text()
    return client


@pytest.fixture
async def admin(
    aiohttp_client: Any,
    admin_settings: Settings,
    clock: ManualClock,
    events: list[ConfigChanged],
    migrated_templates: MigratedTemplates,
) -> TestClient:
    """An admin's browser on SQLite."""
    path = sqlite_path(admin_settings.database.url)
    assert path is not None
    await asyncio.to_thread(migrated_templates.sqlite_copy, path)  # Alembic runs its own loop
    return await _admin_client(aiohttp_client, admin_settings, clock, events)


@pytest.fixture
async def admin_on_both(
    aiohttp_client: Any,
    admin_settings: Settings,
    migrated_url: str,
    clock: ManualClock,
    events: list[ConfigChanged],
) -> TestClient:
    """An admin's browser, once on SQLite and once on PostgreSQL."""
    database = admin_settings.database.model_copy(update={"url": migrated_url})
    settings = admin_settings.model_copy(update={"database": database})
    return await _admin_client(aiohttp_client, settings, clock, events)
