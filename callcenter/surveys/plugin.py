"""Wiring of the surveys room: the builder pages, the forms' API and the report."""

from __future__ import annotations

from aiohttp import web

from callcenter.plugins import Plugin
from callcenter.surveys import admin, http


def setup(app: web.Application) -> None:
    app.router.add_routes(admin.routes)
    app.router.add_routes(http.routes)


PLUGIN = Plugin("surveys", setup)

__all__ = ["PLUGIN"]
