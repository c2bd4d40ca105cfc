"""Wiring of the outbound room: its routes and the supervised care-schedule sweep.

The sweep starts once the whole application has started (``on_startup`` runs after every
plugin's start-up context), so a start-up that fails halfway never starts it; it stops at
shutdown, before the database closes, letting a sweep in progress finish its transaction.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from callcenter import tasks
from callcenter.core.events import SurveyAnswered
from callcenter.outbound import http
from callcenter.outbound.care import CareScheduler
from callcenter.outbound.services import PROGRESS_HUB, publish_progress
from callcenter.plugins import Plugin
from callcenter.registry import BUS, CLOCK, SESSIONMAKER, SETTINGS

log = logging.getLogger(__name__)

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
    app.on_startup.append(_follow_surveys)
    app.on_shutdown.append(_stop_care)


async def _follow_surveys(app: web.Application) -> None:
    """A survey answered on a campaign's call moves that campaign's progress: push it to
    the open campaign pages (the surveys room publishes ``SurveyAnswered`` on the bus)."""
    pushes: set[asyncio.Task[None]] = set()

    def answered(event: SurveyAnswered) -> None:
        if event.campaign_id is None:
            return
        push = asyncio.ensure_future(
            publish_progress(app[SESSIONMAKER], app[PROGRESS_HUB], event.campaign_id)
        )
        pushes.add(push)
        push.add_done_callback(_pushed(pushes))

    unsubscribe = app[BUS].subscribe(SurveyAnswered, answered)

    async def stop(app: web.Application) -> None:
        unsubscribe()
        await asyncio.gather(*pushes, return_exceptions=True)

    app.on_shutdown.append(stop)


def _pushed(pushes: set[asyncio.Task[None]]) -> Any:
    def done(task: asyncio.Task[None]) -> None:
        pushes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("pushing a campaign's progress failed", exc_info=task.exception())

    return done


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
