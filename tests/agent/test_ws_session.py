"""An open agent websocket ends when its login ends: logout, password or role change.

The handshake checks the session once; the page stays open all day, so the server
asks again periodically and on every message, and closes with 4004 (SESSION_ENDED),
which the page answers by going to the login form.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from callcenter.agent_desk.hub import CloseCode
from callcenter.agent_desk.plugin import AGENT_HUB
from callcenter.db.models.users import User
from callcenter.db.repos import users
from callcenter.registry import SESSIONMAKER
from tests.agent.conftest import AgentWorld, Desk
from tests.auth_helpers import csrf_headers

SESSION_ENDED = int(CloseCode.SESSION_ENDED)


async def closed_with(desk: Desk, within: float = 3.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    while True:
        message = await desk.ws.receive(timeout=within)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return desk.ws.close_code


def check_every(agent_world: AgentWorld, seconds: float) -> None:
    agent_world.client.app[AGENT_HUB].session_check_seconds = seconds


async def test_logout_in_another_tab_closes_the_socket(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    check_every(agent_world, 0.1)
    lan = await open_desk("lan", agent_world.lan_id)
    response = await lan.client.post("/logout", headers=csrf_headers(lan.client))
    assert response.status < 400
    assert await closed_with(lan) == SESSION_ENDED
    assert not agent_world.client.app[AGENT_HUB].is_connected(agent_world.lan_id)


@pytest.mark.parametrize("change", ["password", "role"])
async def test_password_or_role_change_closes_the_socket(
    agent_world: AgentWorld, open_desk: Any, change: str
) -> None:
    check_every(agent_world, 0.1)
    lan = await open_desk("lan", agent_world.lan_id)
    minh = await open_desk("minh", agent_world.minh_id)
    async with agent_world.client.app[SESSIONMAKER]() as session:
        user = await session.get(User, agent_world.lan_id)
        assert user is not None
        if change == "password":
            await users.set_password(session, user, "Mật-khẩu-mới-hoàn-toàn-456")
        else:
            await users.set_role(session, user, "supervisor")
        await session.commit()
    assert await closed_with(lan) == SESSION_ENDED
    # Minh's login did not change: his socket stays open and answers.
    await minh.ws.send_json({"type": "ping", "at": 1})
    assert (await minh.next_of("pong"))["at"] == 1


async def test_a_message_on_an_ended_session_is_not_served(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    check_every(agent_world, 3600.0)  # only the message itself can notice
    lan = await open_desk("lan", agent_world.lan_id)
    await lan.ws.send_json({"type": "ping", "at": 1})
    assert (await lan.next_of("pong"))["at"] == 1  # while logged in, served
    async with agent_world.client.app[SESSIONMAKER]() as session:
        user = await session.get(User, agent_world.lan_id)
        assert user is not None
        await users.end_sessions(session, user)  # "log out everywhere"
        await session.commit()
    await lan.ws.send_json({"type": "resync"})
    message = await lan.ws.receive(timeout=3)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
    assert lan.ws.close_code == SESSION_ENDED


async def test_a_current_session_keeps_its_socket(agent_world: AgentWorld, open_desk: Any) -> None:
    check_every(agent_world, 0.05)
    lan = await open_desk("lan", agent_world.lan_id)
    await lan.nothing_of("pong", wait=0.4)  # several checks pass, nothing closes
    await lan.ws.send_json({"type": "ping", "at": 2})
    assert (await lan.next_of("pong"))["at"] == 2
    assert not lan.ws.closed


async def test_one_query_checks_every_open_page(agent_world: AgentWorld, open_desk: Any) -> None:
    """Issue 19: a floor of open pages costs one session query per period, not one each."""
    from sqlalchemy import event

    from callcenter.registry import ENGINE

    lan = await open_desk("lan", agent_world.lan_id)
    minh = await open_desk("minh", agent_world.minh_id)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM users" in statement:
            statements.append(statement)

    engine = agent_world.client.app[ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        check_every(agent_world, 0.2)
        await lan.nothing_of("pong", wait=1.0)  # the sweeper runs about every 0.2-1 s
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements, "no session check ran"
    assert all("IN (" in s.upper() or "= ANY" in s.upper() for s in statements), statements
    assert len(statements) <= 6, len(statements)  # 2 pages: one query per sweep, not two
    assert not lan.ws.closed and not minh.ws.closed
