"""The surveys room under test: the tickets' small office plus an admin, on a manual clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.registry import SESSIONMAKER
from callcenter.surveys.plugin import PLUGIN as SURVEYS
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.web.app import create_app
from tests.auth_helpers import make_user
from tests.tickets.pages_helpers import install_senders
from tests.tickets.world import T0, Office, build_office


async def survey_world(
    aiohttp_client: Any,
    settings: Settings,
    engine: AsyncEngine,
    tmp_path: Path,
    more_plugins: tuple[Any, ...] = (),
) -> tuple[TestClient, Office, int]:
    settings = settings.model_copy(
        update={"attachments_dir": tmp_path / "files", "prompts_dir": tmp_path / "prompts"}
    )
    app = create_app(
        settings,
        clock=ManualClock(T0),
        engine=engine,
        extra_plugins=[TICKETS, SURVEYS, *more_plugins],
    )
    install_senders(app)
    async with app[SESSIONMAKER]() as session:
        office = await build_office(session)
        await session.commit()
    admin = await make_user(app, "sv_admin", "admin")
    client = await aiohttp_client(app)
    return client, office, admin.id


async def form(client: TestClient, url: str, token: str, fields: dict[str, Any]) -> Any:
    """Post an admin form as the browser does (CSRF token in the form), without following."""
    return await client.post(url, data={"csrf_token": token, **fields}, allow_redirects=False)


async def api(client: TestClient, url: str, token: str, body: Any) -> tuple[int, Any]:
    response = await client.post(url, json=body, headers={"X-CSRF-Token": token})
    return response.status, await response.json()
