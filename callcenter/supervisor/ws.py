"""The wallboard's websocket (``/supervisor/ws``): snapshots out, ping in.

Authenticated by the session cookie (supervisors and admins) and its Origin checked
before it opens; the first message is the board now, then every coalesced push. Every
open screen's login is re-checked together every ``session_check_seconds``
(:func:`sweep_sessions`): a logout elsewhere closes it.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import WSMsgType, web

from callcenter.auth import csrf
from callcenter.core.roles import Role
from callcenter.supervisor.board import BOARD
from callcenter.supervisor.bus_consume import FEED
from callcenter.supervisor.hub import BOARD_HUB, BoardConnection, CloseCode, encode
from callcenter.web.access import allow, current_user
from callcenter.web.auth import ended_logins, login_of

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

MAX_CLIENT_MESSAGE = 4 * 1024


@routes.get("/supervisor/ws", name="supervisor_ws")
@allow(Role.SUPERVISOR, Role.ADMIN)
async def wallboard_ws(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    if not csrf.same_origin(request.headers.get("Origin"), request.host):
        await ws.close(code=int(CloseCode.FORBIDDEN), message=b"FORBIDDEN")
        return ws
    hub = request.app[BOARD_HUB]
    connection = BoardConnection(user.id, ws)
    login = login_of(request)
    if login is not None:
        connection.session_version, connection.session_expires = login.version, login.expires
    connection.start()
    hub.register(connection)
    connection.offer(encode(request.app[BOARD].snapshot()))
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and data.get("type") == "resync":
                request.app[FEED].wake()
    finally:
        hub.unregister(connection)
        connection.close(CloseCode.GOING_AWAY)
        await connection.stop()
    return ws


async def sweep_sessions(app: web.Application) -> None:
    """Close, with SESSION_ENDED (the page goes to the login form), every open wallboard
    whose login has ended since (logout, password or role change, deactivation, expiry):
    one query for all screens every ``session_check_seconds``, as for agents' pages."""
    hub = app[BOARD_HUB]
    while True:
        await asyncio.sleep(hub.session_check_seconds)
        open_ = [c for c in hub.connections if c.close_code is None]
        try:
            ended = await ended_logins(app, open_)
        except Exception:  # the database is briefly away: keep the screens, ask again later
            log.warning("could not check the wallboards' sessions", exc_info=True)
            continue
        for connection in ended:
            connection.close(CloseCode.SESSION_ENDED)


__all__ = ["routes"]
