"""Wiring of the softphone room: its routes (credentials for their owner, JsSIP)."""

from __future__ import annotations

from aiohttp import web

from callcenter.plugins import Plugin
from callcenter.softphone import http


def setup(app: web.Application) -> None:
    app.router.add_routes(http.routes)


PLUGIN = Plugin("softphone", setup)
