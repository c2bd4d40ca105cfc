"""Wiring of the outbound room: its routes and the supervised care-schedule sweep."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import tasks
from callcenter.outbound import http
from callcenter.outbound.care import CareScheduler
from callcenter.plugins import Plugin
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS

#: The running care-schedule sweep (set while the application runs).
CARE_SCHEDULER: web.AppKey[CareScheduler] = web.AppKey("outbound_care_scheduler", CareScheduler)


def setup(app: web.Application) -> None:
    http.setup(app)
    app.cleanup_ctx.append(_care_ctx)


async def _care_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    domain = settings.smtp.sender.rpartition("@")[2] or "callcenter.local"
    scheduler = app[CARE_SCHEDULER] = CareScheduler(
        app[SESSIONMAKER], app[CLOCK], zone=settings.tz, domain=domain
    )
    task = tasks.supervise("care-schedule", scheduler.run)
    yield
    await tasks.stop(task)


#: After the tickets room: care messages go through its notification outbox.
PLUGIN = Plugin("outbound", setup, requires=("tickets",))

__all__ = ["CARE_SCHEDULER", "PLUGIN"]
