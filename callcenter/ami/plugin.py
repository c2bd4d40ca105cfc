"""Wire the AMI link into the daemon: tracker, bus, metrics and health.

``PLUGIN`` ("ami") is passed to ``create_app(..., extra_plugins=[...])``. The link
runs as a supervised task (``callcenter.tasks``) in a ``cleanup_ctx`` for as long as
the daemon serves; other adapters act on calls through the services' call-control
port (``ami.control`` over ``app[AMI_LINK]``) and read the live calls through
``app[CALL_TRACKER]``. The tracker publishes typed call facts on the bus; persisting
them is the call-records service's job (``services.call_records``), not this adapter's.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from panoramisk.message import Message

from callcenter import tasks
from callcenter.ami.control import AmiCallControl
from callcenter.ami.link import AmiLink
from callcenter.core.calltracker import AsteriskSnapshot, CallTracker
from callcenter.core.events import CallEnded, CallStarted, CdrMismatch
from callcenter.plugins import Plugin
from callcenter.registry import (
    AMI_STATUS,
    BUS,
    CALL_CONTROL,
    CALL_TRACKER,
    CLOCK,
    METRICS,
    SETTINGS,
    SHUTDOWN,
)

log = logging.getLogger(__name__)

AMI_LINK = web.AppKey("ami_link", AmiLink)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS].ami
    metrics = app[METRICS]
    status = app[AMI_STATUS]
    bus = app[BUS]
    tracker = CallTracker(bus, clock=app[CLOCK])

    def on_event(message: Message) -> None:
        metrics.ami_events.inc()
        tracker.feed(message)

    def on_state(connected: bool, detail: str) -> None:
        status.connected = connected
        status.detail = detail
        metrics.ami_connected.set(1 if connected else 0)

    def on_resync(snapshot: AsteriskSnapshot) -> None:
        tracker.resync(snapshot)
        metrics.calls_active.set(len(tracker.active_calls))

    app[CALL_TRACKER] = tracker
    app[AMI_LINK] = AmiLink(
        settings.host,
        settings.port,
        settings.username,
        settings.secret.get_secret_value(),
        on_event=on_event,
        on_resync=on_resync,
        on_state=on_state,
        on_originate=tracker.expect_originate,
        clock=app[CLOCK],
        backoff_max=settings.reconnect_max_seconds,
    )
    if CALL_CONTROL not in app:  # a test or embedder may bring its own port
        app[CALL_CONTROL] = AmiCallControl(app[AMI_LINK])

    def on_mismatch(event: CdrMismatch) -> None:
        log.warning(
            "CDR mismatch on call %s: %s Asterisk=%r tracker=%r",
            event.linkedid,
            event.field,
            event.asterisk_value,
            event.tracker_value,
        )
        metrics.cdr_mismatches.labels(event.field).inc()

    def on_call_started(_event: CallStarted) -> None:
        metrics.calls_active.set(len(tracker.active_calls))

    def on_call_ended(event: CallEnded) -> None:
        metrics.calls_active.set(len(tracker.active_calls))
        metrics.calls_ended.labels(event.record.disposition).inc()

    bus.subscribe(CdrMismatch, on_mismatch)
    bus.subscribe(CallStarted, on_call_started)
    bus.subscribe(CallEnded, on_call_ended)
    app.cleanup_ctx.append(ami_ctx)


async def ami_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the link while the daemon serves."""
    app[AMI_STATUS].detail = "connecting"
    link = tasks.supervise("ami-link", app[AMI_LINK].run, on_fatal=app.get(SHUTDOWN))
    yield
    await tasks.stop(link)
    app[METRICS].ami_connected.set(0)
    app[AMI_STATUS].connected = False
    app[AMI_STATUS].detail = "stopped"


PLUGIN = Plugin("ami", setup)
