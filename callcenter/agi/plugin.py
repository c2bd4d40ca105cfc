"""Run the FastAGI server while the daemon serves (an aiohttp ``cleanup_ctx``).

``PLUGIN`` ("agi") creates the server at build time so plugins that require it (the
ACD service) can add their routes; the context opens the listening socket when the
app starts and closes it, with every open session, when the app stops. A port that
is taken is a :class:`~callcenter.plugins.StartupError` (one line), not a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.agi.server import FastAgiServer
from callcenter.plugins import Plugin, StartupError
from callcenter.registry import METRICS, SETTINGS

AGI_SERVER = web.AppKey("agi_server", FastAgiServer)


def setup(app: web.Application) -> None:
    metrics = app[METRICS]

    def observe(script: str, outcome: str, _seconds: float) -> None:
        metrics.agi_sessions.labels(script or "-", outcome).inc()

    app[AGI_SERVER] = FastAgiServer(observer=observe)

    async def fastagi_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        server = app[AGI_SERVER]
        try:
            await server.start(settings.agi.host, settings.agi.port)
        except OSError as exc:
            raise StartupError(
                f"cannot listen for FastAGI on {settings.agi.host}:{settings.agi.port}: "
                f"{exc.strerror or exc}"
            ) from exc
        yield
        await server.close()

    app.cleanup_ctx.append(fastagi_ctx)


PLUGIN = Plugin("agi", setup)
