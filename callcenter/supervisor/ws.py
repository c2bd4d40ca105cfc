"""The wallboard's websocket (``/supervisor/ws``): snapshots out, ping in.

Authenticated by the session cookie (supervisors and admins) and its Origin checked
before it opens; the first message is the board now, then every coalesced push. The
login is re-checked every ``session_check_seconds``: a logout elsewhere closes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random

from aiohttp import WSMsgType, web

from callcenter.auth import csrf
from callcenter.core.roles import Role
from callcenter.supervisor.board import BOARD
from callcenter.supervisor.bus_consume import FEED
from callcenter.supervisor.hub import BOARD_HUB, BoardConnection, CloseCode, encode
from callcenter.web.access import allow, current_user
from callcenter.web.auth import session_is_current

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
    connection.start()
    hub.register(connection)
    connection.offer(encode(request.app[BOARD].snapshot()))
    watcher = asyncio.create_task(
        _watch_session(request, connection, hub.session_check_seconds),
        name=f"wallboard-session-{user.id}",
    )
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
        watcher.cancel()
        hub.unregister(connection)
        connection.close(CloseCode.GOING_AWAY)
        await connection.stop()
    return ws


async def _watch_session(request: web.Request, connection: BoardConnection, every: float) -> None:
    """Close with SESSION_ENDED once the login ended (logout, role change, deactivation)."""
    delay = random.uniform(0, every)
    while connection.close_code is None:
        await asyncio.sleep(delay)
        delay = every
        try:
            current = await session_is_current(request)
        except Exception:  # the database is briefly away: keep the screen, ask again later
            log.warning("could not check the session of wallboard user %s", connection.user_id)
            continue
        if not current:
            connection.close(CloseCode.SESSION_ENDED)
            await connection.ws.close(code=int(CloseCode.SESSION_ENDED), message=b"SESSION_ENDED")
            return


__all__ = ["routes"]
