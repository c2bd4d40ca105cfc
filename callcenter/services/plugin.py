"""Run the ACD service while the daemon serves; it answers the FastAGI routes.

``setup(app)`` builds the service and registers its routes on the FastAGI
server (``callcenter.agi.plugin`` must be set up first); the context loads the
configuration, restores agents and waiting callers, and stops cleanly.
Every action on a call — the ACD's Redirect/Setvar/QueuePause and the agent
page's hang-up, transfer, park, mute and click-to-call — goes through the one
call-control port ``app[CALL_CONTROL]`` (``core.call_control.CallControl``): set
by a test or embedder, else the AMI adapter's over the link (``ami.plugin``, set
up before this plugin). Without either the service still routes new calls and
the page answers 503 to call controls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.agi.plugin import AGI_SERVER
from callcenter.ami.control import AmiCallControl
from callcenter.ami.plugin import AMI_LINK, CALL_TRACKER
from callcenter.core.call_control import CallControl
from callcenter.services.acd import AcdService
from callcenter.services.call_records import CallRecorder
from callcenter.web.keys import BUS, CLOCK, SESSIONMAKER, SETTINGS

ACD_SERVICE = web.AppKey("acd_service", AcdService)
CALL_CONTROL = web.AppKey("call_control", CallControl)  # type: ignore[type-abstract]
CALL_RECORDER = web.AppKey("call_recorder", CallRecorder)


def setup_call_records(app: web.Application) -> None:
    """Persist the call tracker's records (``ami.plugin`` set up first) while the daemon
    serves. It subscribes at once, so facts published before the writer starts are kept."""
    if CALL_RECORDER in app or CALL_TRACKER not in app:
        return
    recorder = app[CALL_RECORDER] = CallRecorder(app[CALL_TRACKER], app[SESSIONMAKER], app[BUS])

    async def records_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(recorder.run(), name="call-recorder")
        yield
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await recorder.flush(wait_seconds=3.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    app.cleanup_ctx.append(records_ctx)


def setup(app: web.Application) -> None:
    setup_call_records(app)
    settings = app[SETTINGS]
    service = AcdService(
        clock=app[CLOCK], bus=app[BUS], sessions=app[SESSIONMAKER], settings_zone=settings.tz
    )
    app[ACD_SERVICE] = service
    if AGI_SERVER in app:
        service.register_routes(app[AGI_SERVER], settings.agi.route_deadline_seconds)
    if CALL_CONTROL not in app and AMI_LINK in app:
        app[CALL_CONTROL] = AmiCallControl(app[AMI_LINK])

    async def acd_ctx(app: web.Application) -> AsyncIterator[None]:
        service.control = app.get(CALL_CONTROL)
        if CALL_TRACKER in app:  # FastAGI names a channel, AMI the call: the tracker links them
            service.linkedid_of = app[CALL_TRACKER].linkedid_of
        if CALL_RECORDER in app:  # calls are credited to who sat at the phone, not its owner
            app[CALL_RECORDER].phones_in_use = service.phones_in_use
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(acd_ctx)
