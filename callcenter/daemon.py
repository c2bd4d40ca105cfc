"""Run the daemon: bind the HTTP port, prepare the database, then serve until SIGINT/SIGTERM.

One "stop" future is resolved by the signals (or by a background task that cannot go
on, through ``app[SHUTDOWN]``); everything opened before it is closed in reverse
order after it, and also when start-up fails halfway (one exit stack; aiohttp's
runner cleans the cleanup_ctx of the plugins).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.engine import check_database, check_writable, make_engine
from callcenter.outbound import plugin as outbound_plugin
from callcenter.plugins import Plugin, StartupError
from callcenter.provision import plugin as provision_plugin
from callcenter.registry import SHUTDOWN
from callcenter.reports import plugin as reports_plugin
from callcenter.services import plugin as acd_plugin
from callcenter.softphone import plugin as softphone_plugin
from callcenter.supervisor import plugin as supervisor_plugin
from callcenter.surveys import plugin as surveys_plugin
from callcenter.tasks import TaskFailed
from callcenter.tickets import plugin as tickets_plugin
from callcenter.transcripts import plugin as transcripts_plugin
from callcenter.web.app import create_app

log = logging.getLogger(__name__)

#: What ``callcenter serve`` runs besides the web pages, in order: FastAGI binds its port
#: before the AMI link dials out, and the ACD (which requires "agi") comes last.
PLUGINS: tuple[Plugin, ...] = (
    agi_plugin.PLUGIN,
    ami_plugin.PLUGIN,
    acd_plugin.PLUGIN,
    provision_plugin.PLUGIN,
    tickets_plugin.PLUGIN,
    supervisor_plugin.PLUGIN,
    softphone_plugin.PLUGIN,
    surveys_plugin.PLUGIN,
    reports_plugin.PLUGIN,
    transcripts_plugin.PLUGIN,
    outbound_plugin.PLUGIN,
)


async def prepare_database(settings: Settings) -> None:
    """Refuse unusable databases with one line, then bring the schema to head."""
    url = settings.database.url
    check_writable(url)
    engine = make_engine(url)
    try:
        await check_database(engine)
    finally:
        await engine.dispose()
    await migrate.upgrade_async(url)


#: The collector's generation thresholds once serving (Python's default: 700, 10, 10).
#: Measured with the screen-pop bench at 20 calls/s, 10 s runs (issue 19): the default made
#: 280 young collections, 25 middle and 2 full ones (69-83 ms each) per 10 s; (1000, 20, 1000)
#: made 190 young ones (max 2 ms), 9 middle ones (max 10 ms) and no full one: a full
#: collection then needs 1000 middle ones, about every 20 minutes at that rate.
GC_THRESHOLDS = (1000, 20, 1000)


def freeze_startup_heap() -> None:
    """Take everything alive after start-up out of the cyclic garbage collector's scans.

    Imported modules, the ORM's mappers and the loaded configuration live as long as
    the daemon; a full collection walked them all, a 130-150 ms pause every few
    seconds at 20 calls/s (measured with a ``gc.callbacks`` timer in
    ``bench/screenpop_latency.py``) during which no call was routed and no pop sent.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def listen(host: str, port: int) -> list[socket.socket]:
    """Bind the HTTP port before anything else opens: a taken port fails in one line.

    Binding first means the database is not migrated, Asterisk not logged in to and
    no FastAGI port taken for a daemon that could never serve.
    """
    sockets: list[socket.socket] = []
    try:
        addresses = {
            (family, address)
            for family, _type, _proto, _name, address in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        }
        for family, address in sorted(addresses, key=str):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise StartupError(
            f"cannot listen for HTTP on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return sockets


async def serve(
    settings: Settings,
    *,
    clock: Clock | None = None,
    on_started: Callable[[web.Application], Awaitable[None]] | None = None,
    stop: asyncio.Future[None] | None = None,
) -> None:
    """Open everything in order, serve until ``stop``, close in reverse, also after a failure.

    Each step registers its undo on one exit stack the moment it has opened something,
    so a start-up that fails halfway (busy port, unreachable database, a plugin
    missing) closes exactly what was opened and raises one clear error.
    """
    loop = asyncio.get_running_loop()
    stop = stop or loop.create_future()
    fatal: list[str] = []

    def request_stop(reason: str | None = None) -> None:
        if reason is not None:
            fatal.append(reason)
        if not stop.done():
            stop.set_result(None)

    async with contextlib.AsyncExitStack() as resources:
        sockets = listen(settings.http.host, settings.http.port)
        for sock in sockets:
            resources.callback(sock.close)  # aiohttp closes it too once serving; twice is safe
        await prepare_database(settings)
        app = create_app(settings, clock=clock, extra_plugins=PLUGINS)
        app[SHUTDOWN] = request_stop
        runner = web.AppRunner(app, access_log=None)
        resources.push_async_callback(_cleanup, runner)
        await runner.setup()  # runs the cleanup_ctx: database, FastAGI, AMI, ACD
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        log.info("HTTP on http://%s:%s/", settings.http.host, runner.addresses[0][1])
        freeze_startup_heap()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, request_stop)
                resources.callback(loop.remove_signal_handler, sig)
        if on_started is not None:
            await on_started(app)
        await stop
    if fatal:
        raise TaskFailed(fatal[0])


async def _cleanup(runner: web.AppRunner) -> None:
    log.info("shutting down")
    await runner.cleanup()
