"""The calls list, the call page with its player and transcript, the transcript as JSON."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
