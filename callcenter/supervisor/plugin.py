"""Wiring of the supervisor room: the wallboard (its state, its feed from the bus, its
open screens), the pages and the listen-in route.

It needs no other plugin at set-up: like the agent desk it reads ``ACD_SERVICE`` when
the application starts and shows agents and waiting callers only when the ACD runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import tasks
from callcenter.plugins import Plugin
from callcenter.registry import BUS, CLOCK, SESSIONMAKER, SETTINGS
from callcenter.services.plugin import ACD_SERVICE
from callcenter.supervisor import http, ws
from callcenter.supervisor.board import BOARD, Wallboard
from callcenter.supervisor.bus_consume import FEED, AcdBoardView, BoardFeed
from callcenter.supervisor.hub import BOARD_HUB, BoardHub, CloseCode


def setup(app: web.Application) -> None:
    board = Wallboard(app[CLOCK], zone=app[SETTINGS].tz)
    hub = BoardHub()
    app[BOARD] = board
    app[BOARD_HUB] = hub
    app[FEED] = BoardFeed(board, hub, app[SESSIONMAKER])
    app.router.add_routes(http.routes)
    app.router.add_routes(ws.routes)
    app.cleanup_ctx.append(_board_ctx)
    app.on_shutdown.append(_close_screens)


async def _close_screens(app: web.Application) -> None:
    await app[BOARD_HUB].close_all(CloseCode.GOING_AWAY)


async def _board_ctx(app: web.Application) -> AsyncIterator[None]:
    board, feed = app[BOARD], app[FEED]
    service = app.get(ACD_SERVICE)
    board.acd = AcdBoardView(service) if service is not None else None
    feed.subscribe(app[BUS])
    await feed.load()
    pusher = tasks.supervise("wallboard-push", feed.run_pusher)
    summaries = tasks.supervise("wallboard-summaries", feed.run_summaries)
    sweeper = tasks.supervise("wallboard-sessions", lambda: ws.sweep_sessions(app))
    yield
    feed.unsubscribe()
    await app[BOARD_HUB].close_all(CloseCode.GOING_AWAY)
    await tasks.stop(sweeper)
    await tasks.stop(summaries)
    await tasks.stop(pusher)


PLUGIN = Plugin("supervisor", setup)

__all__ = ["BOARD", "BOARD_HUB", "FEED", "PLUGIN"]
