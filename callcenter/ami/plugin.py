"""Wire the AMI link into the daemon: tracker, bus, metrics, health and call records.

``PLUGIN`` ("ami") is passed to ``create_app(..., extra_plugins=[...])``. The link
and the record writer run as supervised tasks (``callcenter.tasks``) in a
``cleanup_ctx`` for as long as the daemon serves; other adapters reach the link
through ``app[AMI_LINK]`` (actions: originate, redirect, setvar, …) and the live
calls through ``app[CALL_TRACKER]``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from panoramisk.message import Message

from callcenter import tasks
from callcenter.ami.link import AmiLink
from callcenter.ami.recorder import CallRecorder
from callcenter.core import call_events as ev
from callcenter.core.bus import DomainEvent
from callcenter.core.calltracker import AsteriskSnapshot, CallTracker
from callcenter.plugins import Plugin
from callcenter.registry import AMI_STATUS, BUS, CLOCK, METRICS, SESSIONMAKER, SETTINGS, SHUTDOWN

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

    def on_mismatch(event: DomainEvent) -> None:
        log.warning(
            "CDR mismatch on call %s: %s Asterisk=%r tracker=%r",
            event.data["linkedid"],
            event.data["field"],
            event.data["asterisk_value"],
            event.data["tracker_value"],
        )
        metrics.cdr_mismatches.labels(event.data["field"]).inc()

    def on_call_count(event: DomainEvent) -> None:
        metrics.calls_active.set(len(tracker.active_calls))
        if event.name == ev.CALL_ENDED:
            metrics.calls_ended.labels(event.data["record"].disposition).inc()

    bus.subscribe(ev.CDR_MISMATCH, on_mismatch)
    bus.subscribe(ev.CALL_STARTED, on_call_count)
    bus.subscribe(ev.CALL_ENDED, on_call_count)
    app.cleanup_ctx.append(ami_ctx)


async def ami_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the link and the record writer while the daemon serves."""
    app[AMI_STATUS].detail = "connecting"
    shutdown = app.get(SHUTDOWN)
    recorder = tasks.supervise("call-recorder", app[CALL_RECORDER].run, on_fatal=shutdown)
    link = tasks.supervise("ami-link", app[AMI_LINK].run, on_fatal=shutdown)
    yield
    await tasks.stop(link)  # no new events: the records below are the last ones
    try:
        await app[CALL_RECORDER].flush(wait_seconds=3.0)
    except TimeoutError:
        log.error("call records not all written within 3 s of shutdown")
    except Exception:
        log.exception("writing the last call records failed at shutdown")
    await tasks.stop(recorder)
    app[METRICS].ami_connected.set(0)
    app[AMI_STATUS].connected = False
    app[AMI_STATUS].detail = "stopped"


PLUGIN = Plugin("ami", setup)
