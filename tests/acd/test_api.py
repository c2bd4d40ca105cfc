"""Supervisor control of the ACD through the JSON API, logged in through the real login form."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from callcenter.agi import plugin as agi_plugin
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.models import AgentGroup, AgentGroupMember, AgentStateLog
from callcenter.registry import SESSIONMAKER
from callcenter.services import plugin as acd_plugin
from callcenter.web.app import create_app
from tests.auth_helpers import csrf_headers, login, make_user


async def make_client(aiohttp_client: Any, settings: Settings) -> tuple[TestClient, dict[str, int]]:
    await migrate.upgrade_async(settings.database.url)
    settings = settings.model_copy(update={"agi": settings.agi.model_copy(update={"port": 0})})
    app = create_app(settings, extra_plugins=[agi_plugin.PLUGIN, acd_plugin.PLUGIN])
    agent = await make_user(app, "an.nguyen", "agent", interface="PJSIP/101")
    await make_user(app, "boss", "supervisor", interface="PJSIP/199")
    async with app[SESSIONMAKER]() as session, session.begin():
        group = AgentGroup(code="care", name="CSKH")
        session.add(group)
        await session.flush()
        session.add(AgentGroupMember(group_id=group.id, user_id=agent.id))
    client = await aiohttp_client(app)
    return client, {"agent": agent.id}


async def test_supervisor_pauses_unpauses_and_logs_out_an_agent(
    aiohttp_client: Any, settings: Settings
) -> None:
    client, ids = await make_client(aiohttp_client, settings)
    service = client.server.app[acd_plugin.ACD_SERVICE]
    await service.login(ids["agent"])
    await login(client, "boss")
    headers = csrf_headers(client)
    url = f"/api/acd/agents/{ids['agent']}"
    response = await client.post(f"{url}/pause", json={"reason": "meeting"}, headers=headers)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["state"], body["reason"]) == ("paused", "meeting")
    missing = await client.post(f"{url}/pause", json={}, headers=headers)
    assert missing.status == 400 and "reason" in (await missing.json())["error"]
    assert (
        await client.post("/api/acd/agents/9999/pause", json={"reason": "x"}, headers=headers)
    ).status == 404
    assert (await (await client.post(f"{url}/unpause", headers=headers)).json())[
        "state"
    ] == "available"
    assert (await (await client.post(f"{url}/logout", headers=headers)).json())[
        "state"
    ] == "logged_out"
    listing = await (await client.get("/api/acd/agents")).json()
    assert [a["state"] for a in listing["agents"] if a["agent_id"] == ids["agent"]] == [
        "logged_out"
    ]
    await service.flush()
    async with client.server.app[SESSIONMAKER]() as session:
        states = (
            await session.scalars(select(AgentStateLog.state).order_by(AgentStateLog.id))
        ).all()
    assert states == ["available", "paused", "available", "logged_out"]


async def test_strategy_change_and_waiting_list(aiohttp_client: Any, settings: Settings) -> None:
    client, _ = await make_client(aiohttp_client, settings)
    service = client.server.app[acd_plugin.ACD_SERVICE]
    service.acd.arrive("w.1", "care", caller="+84912000001")
    service.acd.route("w.1")  # nobody logged in: waits
    await login(client, "boss")
    headers = csrf_headers(client)
    bad = await client.put(
        "/api/acd/groups/care/strategy", json={"strategy": "random"}, headers=headers
    )
    assert bad.status == 400 and "least_recent" in (await bad.json())["error"]
    ok = await client.put(
        "/api/acd/groups/care/strategy", json={"strategy": "fewest_calls"}, headers=headers
    )
    assert ok.status == 200
    assert service.acd.groups["care"].strategy == "fewest_calls"
    async with client.server.app[SESSIONMAKER]() as session:
        assert (await session.scalar(select(AgentGroup.strategy))) == "fewest_calls"
    waiting = await (await client.get("/api/acd/waiting?group=care")).json()
    assert [w["call_id"] for w in waiting["waiting"]] == ["w.1"]
    assert waiting["groups"]["care"]["waiting"] == 1


async def test_agents_may_not_control_others(aiohttp_client: Any, settings: Settings) -> None:
    client, ids = await make_client(aiohttp_client, settings)
    await login(client, "an.nguyen")
    response = await client.post(
        f"/api/acd/agents/{ids['agent']}/pause", json={"reason": "x"}, headers=csrf_headers(client)
    )
    assert response.status == 403
    assert (await client.get("/api/acd/waiting")).status == 403
