"""Wiring of the agent desk room: one hub and one desk per application, the page, its
websocket, its JSON actions and the task list.

``web/app.py`` installs ``PLUGIN`` in every application (not the daemon's ``PLUGINS``):
the agent page is the floor's main screen, every login home of an agent or supervisor
links to it, and it degrades by itself when the ACD or the AMI link is absent (the desk
reads ``ACD_SERVICE`` and ``CALL_TRACKER`` when the application starts, and actions that
need them answer 503). So it needs no other plugin set up before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.agent_desk import http, tasks_http, ws
from callcenter.agent_desk.desk import AGENT_DESK, AgentDesk
from callcenter.agent_desk.hub import AGENT_HUB, AgentHub, CloseCode
from callcenter.plugins import Plugin
from callcenter.registry import BUS, CALL_TRACKER, CLOCK, SESSIONMAKER, SETTINGS
from callcenter.services.plugin import ACD_SERVICE


async def _desk_ctx(app: web.Application) -> AsyncIterator[None]:
    desk = app[AGENT_DESK]
    service = app.get(ACD_SERVICE)
    desk.acd = service
    if service is not None:  # one caller lookup per call, for routing and the pop
        desk.lookups = service.lookups
    desk.tracker = app.get(CALL_TRACKER)
    await desk.load_interfaces()
    desk.subscribe(app[BUS])
    sweeper = asyncio.create_task(ws.sweep_sessions(app), name="agent-ws-session-sweep")
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await app[AGENT_HUB].close_all(CloseCode.GOING_AWAY)
    await desk.close()


async def _close_pages(app: web.Application) -> None:
    """On shutdown, before aiohttp waits for running handlers: close every agent's socket
    (1001, the page reconnects by itself), so an open page does not hold the stop up."""
    await app[AGENT_HUB].close_all(CloseCode.GOING_AWAY)


def setup(app: web.Application) -> None:
    """The page, its websocket and actions; one hub and one desk per application."""
    hub = AgentHub()
    app[AGENT_HUB] = hub
    app[AGENT_DESK] = AgentDesk(hub, app[SESSIONMAKER], app[CLOCK], zone=app[SETTINGS].tz)
    app.on_shutdown.append(_close_pages)
    app.cleanup_ctx.append(_desk_ctx)
    app.router.add_routes(http.routes)  # the page and the actions under /api/agent/
    app.router.add_routes(ws.routes)  # /agent/ws
    tasks_http.setup(app)  # the task list (callbacks) and /tasks


PLUGIN = Plugin("agent_desk", setup)

__all__ = ["AGENT_DESK", "AGENT_HUB", "PLUGIN"]
