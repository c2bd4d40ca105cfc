"""Wire the AMI link into the daemon: tracker, bus, metrics, health and call records.

``setup(app)`` is passed to ``create_app(..., extra_plugins=[...])``. The link
runs in a ``cleanup_ctx`` for as long as the daemon serves; other adapters
reach it through ``app[AMI_LINK]`` (actions: originate, redirect, setvar, …)
and the live calls through ``app[CALL_TRACKER]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from panoramisk.message import Message

from callcenter.ami.link import AmiLink
from callcenter.ami.recorder import CallRecorder
from callcenter.core.calltracker import AsteriskSnapshot, CallTracker
from callcenter.core.events import CallEnded, CallStarted, CdrMismatch
from callcenter.web.keys import AMI_STATUS, BUS, CLOCK, METRICS, SESSIONMAKER, SETTINGS

log = logging.getLogger(__name__)

AMI_LINK = web.AppKey("ami_link", AmiLink)
CALL_TRACKER = web.AppKey("call_tracker", CallTracker)
CALL_RECORDER = web.AppKey("call_recorder", CallRecorder)


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
        app[CALL_RECORDER].close_stale(set(tracker.active_calls), snapshot.at)

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
    app[CALL_RECORDER] = CallRecorder(tracker, app[SESSIONMAKER], bus)

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
    """Run the link and the record writer while the daemon serves."""
    app[AMI_STATUS].detail = "connecting"
    tasks = [
        asyncio.create_task(app[AMI_LINK].run(), name="ami-link"),
        asyncio.create_task(app[CALL_RECORDER].run(), name="call-recorder"),
    ]
    yield
    tasks[0].cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await tasks[0]
    with contextlib.suppress(asyncio.TimeoutError, Exception):
        await app[CALL_RECORDER].flush(wait_seconds=3.0)
    tasks[1].cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await tasks[1]
    app[METRICS].ami_connected.set(0)
    app[AMI_STATUS].connected = False
    app[AMI_STATUS].detail = "stopped"
