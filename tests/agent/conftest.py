"""Fixtures for the agent page: an app with the real login, two agents and a known customer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings
from callcenter.registry import SESSIONMAKER
from callcenter.web.app import create_app
from tests.agent.factories import World, build_world
from tests.auth.migrated import copy_migrated
from tests.auth_helpers import login, make_user
from tests.conftest import MigratedTemplates


@dataclass
class Desk:
    """One agent's logged-in browser-like client and its open websocket."""

    client: TestClient
    ws: aiohttp.ClientWebSocketResponse
    user_id: int

    async def next_message(self, within: float = 2.0) -> dict[str, Any]:
        message = await self.ws.receive(timeout=within)
        assert message.type == aiohttp.WSMsgType.TEXT, f"got {message.type} {message.data!r}"
        data: dict[str, Any] = json.loads(message.data)
        return data

    async def next_of(
        self, kind: str, within: float = 2.0, *, pending: bool = False
    ) -> dict[str, Any]:
        """The next message of ``kind``; a pop sent before its history loaded (a slow
        machine, issue 19) is skipped for the whole pop that follows unless ``pending``."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"no {kind!r} message within {within}s"
            message = await self.next_message(left)
            if message["type"] == kind and (pending or not message.get("history_pending")):
                return message

    async def nothing_of(self, kind: str, wait: float = 0.3) -> None:
        try:
            while True:
                message = await self.next_message(wait)
                assert message["type"] != kind, f"unexpected {kind}: {message}"
        except TimeoutError:
            return


@dataclass
class AgentWorld:
    client: TestClient
    world: World
    lan_id: int
    minh_id: int


@pytest.fixture
async def migrated_settings(settings: Settings, migrated_templates: MigratedTemplates) -> Settings:
    """``settings`` whose SQLite database is already at head (a copy, not a fresh migration)."""
    return await copy_migrated(settings, migrated_templates)


@pytest.fixture
async def agent_world(aiohttp_client: Any, migrated_settings: Settings) -> AgentWorld:
    app = create_app(migrated_settings)
    client = await aiohttp_client(app)
    lan = await make_user(client, "lan", "agent", full_name="Trần Thị Lan", interface="PJSIP/101")
    minh = await make_user(client, "minh", "agent", full_name="Lê Minh", interface="PJSIP/102")
    async with app[SESSIONMAKER]() as session:
        world = await build_world(session, agent_id=lan.id)
        await session.commit()
    return AgentWorld(client, world, lan.id, minh.id)


@pytest.fixture
async def open_desk(agent_world: AgentWorld) -> AsyncIterator[Any]:
    opened: list[TestClient] = []

    async def open_(username: str, user_id: int) -> Desk:
        client = TestClient(agent_world.client.server)
        await client.start_server()
        opened.append(client)
        await login(client, username)
        ws = await client.ws_connect("/agent/ws")
        desk = Desk(client, ws, user_id)
        sync = await desk.next_message()
        assert sync["type"] == "sync"
        return desk

    yield open_
    for client in opened:
        await client.session.close()
