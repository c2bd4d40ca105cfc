"""Wire the AMI link into the daemon: tracker, bus, metrics and health.

``setup(app)`` is passed to ``create_app(..., extra_plugins=[...])``. The link
runs in a ``cleanup_ctx`` for as long as the daemon serves; other adapters
act on calls through the services' call-control port (``ami.control`` over
``app[AMI_LINK]``) and read the live calls through ``app[CALL_TRACKER]``. The
tracker publishes typed call facts on the bus; persisting them is the call-records
service's job (``services.call_records``), not this adapter's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from panoramisk.message import Message

from callcenter.ami.link import AmiLink
from callcenter.core.calltracker import AsteriskSnapshot, CallTracker
from callcenter.core.events import CallEnded, CallStarted, CdrMismatch
from callcenter.web.keys import AMI_STATUS, BUS, CLOCK, METRICS, SETTINGS

log = logging.getLogger(__name__)

AMI_LINK = web.AppKey("ami_link", AmiLink)
CALL_TRACKER = web.AppKey("call_tracker", CallTracker)


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
    task = asyncio.create_task(app[AMI_LINK].run(), name="ami-link")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    app[METRICS].ami_connected.set(0)
    app[AMI_STATUS].connected = False
    app[AMI_STATUS].detail = "stopped"
