"""Run the ACD service while the daemon serves; it answers the FastAGI routes.

``PLUGIN`` ("acd") builds the service and registers its routes on the FastAGI
server: it requires the "agi" plugin, and ``callcenter.plugins.install`` refuses a
start-up where "agi" is not set up before it (calls would otherwise all fall back to
the queue without a word). The context loads the
configuration, restores agents and waiting callers, and stops cleanly.
Every action on a call — the ACD's Redirect/Setvar/QueuePause and the agent
page's hang-up, transfer, park, mute and click-to-call — goes through the one
call-control port ``app[CALL_CONTROL]`` (``core.call_control.CallControl``): set
by a test or embedder, else the AMI adapter's over the link (``ami.plugin``, set
up before this plugin). Without either the service still routes new calls and
the page answers 503 to call controls.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import tasks
from callcenter.agi.plugin import AGI_SERVER
from callcenter.plugins import Plugin
from callcenter.registry import (
    BUS,
    CALL_CONTROL,
    CALL_TRACKER,
    CLOCK,
    METRICS,
    SESSIONMAKER,
    SETTINGS,
    SHUTDOWN,
)
from callcenter.services.acd import AcdService
from callcenter.services.call_records import CallRecorder
from callcenter.services.survey import SurveyService

ACD_SERVICE = web.AppKey("acd_service", AcdService)
CALL_RECORDER = web.AppKey("call_recorder", CallRecorder)

log = logging.getLogger(__name__)


def setup_call_records(app: web.Application) -> None:
    """Persist the call tracker's records (``ami.plugin`` set up first) while the daemon
    serves. It subscribes at once, so facts published before the writer starts are kept."""
    if CALL_RECORDER in app or CALL_TRACKER not in app:
        return
    recorder = app[CALL_RECORDER] = CallRecorder(app[CALL_TRACKER], app[SESSIONMAKER], app[BUS])
    if METRICS in app:  # written behind too: its backlog is a metric like the ACD's
        app[METRICS].write_behind_depth.labels("call_records").set_function(lambda: recorder.depth)

    async def records_ctx(app: web.Application) -> AsyncIterator[None]:
        task = tasks.supervise("call-recorder", recorder.run, on_fatal=app.get(SHUTDOWN))
        yield
        try:
            await recorder.flush(wait_seconds=3.0)
        except TimeoutError:
            log.error("call records not all written within 3 s of shutdown")
        except Exception:
            log.exception("writing the last call records failed at shutdown")
        await tasks.stop(task)

    app.cleanup_ctx.append(records_ctx)


def setup(app: web.Application) -> None:
    setup_call_records(app)
    settings = app[SETTINGS]
    service = AcdService(
        clock=app[CLOCK],
        bus=app[BUS],
        sessions=app[SESSIONMAKER],
        settings_zone=settings.tz,
        metrics=app.get(METRICS),
    )
    app[ACD_SERVICE] = service
    service.register_routes(app[AGI_SERVER], settings.agi.route_deadline_seconds)
    SurveyService(clock=app[CLOCK], sessions=app[SESSIONMAKER], bus=app[BUS]).register_routes(
        app[AGI_SERVER], settings.agi.route_deadline_seconds
    )

    async def acd_ctx(app: web.Application) -> AsyncIterator[None]:
        service.control = app.get(CALL_CONTROL)
        if CALL_TRACKER in app:  # FastAGI names a channel, AMI the call: the tracker links them
            service.linkedid_of = app[CALL_TRACKER].linkedid_of
            service.call_record = app[CALL_TRACKER].get
            service.live_calls = lambda: list(app[CALL_TRACKER].active_calls)
        if CALL_RECORDER in app:  # calls are credited to who sat at the phone, not its owner
            app[CALL_RECORDER].phones_in_use = service.phones_in_use
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(acd_ctx)


PLUGIN = Plugin("acd", setup, requires=("agi",))
