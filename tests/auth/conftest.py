"""Fixtures for the auth tests: an app on a ManualClock with a migrated SQLite database (copied)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.web.app import create_app
from tests.auth.migrated import copy_migrated
from tests.conftest import MigratedTemplates


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def migrated_settings(settings: Settings, migrated_templates: MigratedTemplates) -> Settings:
    """``settings`` whose SQLite database is already at head (a copy, not a fresh migration)."""
    return await copy_migrated(settings, migrated_templates)


@pytest.fixture
async def client(
    aiohttp_client: Any, migrated_settings: Settings, clock: ManualClock
) -> TestClient:
    return await aiohttp_client(create_app(migrated_settings, clock=clock))
