"""The transcripts room's app under test, on both databases (the search differs: FTS5 on
SQLite, full text on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings
from callcenter.transcripts.plugin import PLUGIN
from callcenter.web.app import create_app


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, migrated_url: str) -> TestClient:
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": migrated_url})}
    )
    client: TestClient = await aiohttp_client(create_app(settings, extra_plugins=[PLUGIN]))
    return client
