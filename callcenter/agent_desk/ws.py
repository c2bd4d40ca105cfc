"""The agent page's websocket (``/agent/ws``): the desk's messages out, ping/resync/drafts in.

It is authenticated by the session cookie (and its Origin checked) before it opens, it
receives only the events of the agent who opened it, and it closes once that login ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.agent_desk.desk import AGENT_DESK, AgentDesk
from callcenter.agent_desk.http import PAGE_ROLES
from callcenter.agent_desk.hub import AGENT_HUB, AgentConnection, CloseCode
from callcenter.auth import csrf
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import ended_logins, login_of, session_is_current

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

MAX_CLIENT_MESSAGE = 64 * 1024


def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware let only logged-in users through
    return user


@routes.get("/agent/ws", name="agent_ws")
@allow(*PAGE_ROLES)
async def agent_ws(request: web.Request) -> web.StreamResponse:
    user = _user(request)
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    if not csrf.same_origin(request.headers.get("Origin"), request.host):
        await ws.close(code=int(CloseCode.FORBIDDEN), message=b"FORBIDDEN")
        return ws
    hub = request.app[AGENT_HUB]
    desk = request.app[AGENT_DESK]
    connection = AgentConnection(user.id, ws)
    login = login_of(request)
    if login is not None:
        connection.session_version, connection.session_expires = login.version, login.expires
    live = await desk.agent_connected(user.id, user.role)
    connection.start()
    hub.register(connection)
    connection.send(desk.sync_message(live))
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            if await _session_ended(request, user.id):
                connection.close(CloseCode.SESSION_ENDED)
                break
            try:
                data = json.loads(message.data)
            except json.JSONDecodeError:
                connection.close(CloseCode.BAD_MESSAGE)
                break
            _client_message(desk, connection, user, data)
    finally:
        hub.unregister(connection)
        desk.agent_disconnected(user.id)
        if connection.close_code is None:
            connection.close(CloseCode.GOING_AWAY)
        await connection.stop()
    return ws


async def _session_ended(request: web.Request, user_id: int) -> bool:
    """Whether the socket's login has ended: logout, password or role change, deactivation,
    expiry. The handshake checked it once; the socket lives all day, so it is asked again."""
    try:
        return not await session_is_current(request)
    except Exception:  # the database is briefly away: keep the agent's page, ask again later
        log.warning("could not check agent %s's session", user_id, exc_info=True)
        return False


async def sweep_sessions(app: web.Application) -> None:
    """Close, with SESSION_ENDED (the page goes to the login form), every open page whose
    login has ended since: logout, password or role change, deactivation, expiry.

    One sweep every ``hub.session_check_seconds`` checks the whole floor with one query
    (:func:`valid_logins`); a database briefly away keeps the pages and asks again next time.
    """
    hub = app[AGENT_HUB]
    last = time.monotonic()
    while True:
        await asyncio.sleep(min(hub.session_check_seconds, 1.0))
        if time.monotonic() - last < hub.session_check_seconds:
            continue
        last = time.monotonic()
        open_ = [c for c in hub.connections() if c.close_code is None]
        try:
            ended = await ended_logins(app, open_)
        except Exception:  # the database is briefly away: keep the pages, ask again later
            log.warning("could not check the agents' sessions", exc_info=True)
            continue
        for connection in ended:
            connection.close(CloseCode.SESSION_ENDED)


def _client_message(
    desk: AgentDesk, connection: AgentConnection, user: CurrentUser, data: Any
) -> None:
    """The few things a page says over the socket: ping, resync, draft notes."""
    if not isinstance(data, dict):
        return
    kind = data.get("type")
    if kind == "ping":
        connection.send({"type": "pong", "at": data.get("at")})
    elif kind == "resync":
        connection.send(desk.sync_message(desk.agent(user.id)))
    elif kind == "draft":
        live = desk.agent(user.id)
        if live.call is not None and live.call.linkedid == str(data.get("linkedid")):
            live.call.draft_notes = str(data.get("notes") or "")[:10_000]


__all__ = ["MAX_CLIENT_MESSAGE", "routes", "sweep_sessions"]
