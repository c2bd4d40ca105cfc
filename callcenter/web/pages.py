"""The landing page: what this server is and where each kind of user goes."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from callcenter.web.access import current_user, public

routes = web.RouteTableDef()


@routes.get("/", name="home")
@public
@aiohttp_jinja2.template("home.html")
async def home(request: web.Request) -> dict[str, object]:
    return {"user": current_user(request)}


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
