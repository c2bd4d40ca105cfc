"""An app with every route the daemon serves (the access table's app) and one user per role."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings
from callcenter.registry import SESSIONMAKER
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.web.app import create_app
from tests.auth.migrated import copy_migrated
from tests.conftest import MigratedTemplates
from tests.test_access_table import seed


@pytest.fixture
async def app_client(
    aiohttp_client: Any, settings: Settings, migrated_templates: MigratedTemplates
) -> TestClient:
    await copy_migrated(settings, migrated_templates)
    client: TestClient = await aiohttp_client(create_app(settings, extra_plugins=[TICKETS]))
    client.users = await seed(client.server.app[SESSIONMAKER])  # type: ignore[attr-defined]
    return client
