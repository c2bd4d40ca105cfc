"""Wiring of the outbound room: its routes and the supervised care-schedule sweep."""

from __future__ import annotations

from aiohttp import web

from callcenter.plugins import Plugin


def setup(app: web.Application) -> None:
    from callcenter.outbound import http

    http.setup(app)


PLUGIN = Plugin("outbound", setup, requires=("tickets",))
