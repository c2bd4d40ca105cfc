"""Wiring of the outbound room: its routes and the supervised care-schedule sweep.

The sweep starts once the whole application has started (``on_startup`` runs after every
plugin's start-up context), so a start-up that fails halfway never starts it; it stops at
shutdown, before the database closes, letting a sweep in progress finish its transaction.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from callcenter import tasks
from callcenter.outbound import http
from callcenter.outbound.care import CareScheduler
from callcenter.plugins import Plugin
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS

#: The running care-schedule sweep (set while the application runs).
CARE_SCHEDULER: web.AppKey[CareScheduler] = web.AppKey("outbound_care_scheduler", CareScheduler)
_CARE_TASK: web.AppKey[dict[str, asyncio.Task[None]]] = web.AppKey("outbound_care_task", dict)


def setup(app: web.Application) -> None:
    http.setup(app)
    settings = app[SETTINGS]
    domain = settings.smtp.sender.rpartition("@")[2] or "callcenter.local"
    app[CARE_SCHEDULER] = CareScheduler(
        app[SESSIONMAKER], app[CLOCK], zone=settings.tz, domain=domain
    )
    app[_CARE_TASK] = {}
    app.on_startup.append(_restore_modes)
    app.on_startup.append(_start_care)
    app.on_shutdown.append(_stop_care)


async def _restore_modes(app: web.Application) -> None:
    """After every start-up context, so the ACD has already restored its agents."""
    await http.restore_outbound_modes(app)


async def _start_care(app: web.Application) -> None:
    app[_CARE_TASK]["sweep"] = tasks.supervise("care-schedule", app[CARE_SCHEDULER].run)


async def _stop_care(app: web.Application) -> None:
    task = app[_CARE_TASK].pop("sweep", None)
    if task is None:
        return
    await app[CARE_SCHEDULER].stop_gracefully()
    await tasks.stop(task)


#: After the tickets room: care messages go through its notification outbox.
PLUGIN = Plugin("outbound", setup, requires=("tickets",))

__all__ = ["CARE_SCHEDULER", "PLUGIN"]
