"""Build the aiohttp application: state, lifecycle, middlewares and every route module.

Resources live in ``cleanup_ctx`` generators (open, yield, close), so shutdown
is start-up in reverse. Outside links (AMI, FastAGI) and the services register
their own contexts through their plugins (``callcenter.plugins``), which declare
the plugins they need; this module only installs them in the given order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agent_desk import plugin as agent_desk
from callcenter.clock import Clock, SystemClock
from callcenter.config import Settings
from callcenter.core.bus import EventBus
from callcenter.db.engine import check_database, make_engine, sessionmaker
from callcenter.metrics import Metrics
from callcenter.plugins import Plugin, Setup, install
from callcenter.registry import (
    AMI_STATUS,
    BUS,
    CLOCK,
    ENGINE,
    METRICS,
    SESSIONMAKER,
    SETTINGS,
    LinkStatus,
)
from callcenter.web import (
    acd_api,
    admin,
    api_docs,
    audit,
    auth,
    customers,
    health,
    pages,
    recordings,
    templating,
)
from callcenter.web.access import access_middleware
from callcenter.web.path_ids import ids_in_range
from callcenter.web.templating import ui_dir

log = logging.getLogger(__name__)

#: Route modules, in order. Each has ``setup(app)`` that adds its routes and contexts.
ROUTE_MODULES: list[Plugin | Setup] = [
    auth.setup,  # first: its middleware puts the current user on each request
    health.setup,
    pages.setup,
    admin.setup,
    audit.setup,  # /admin/audit (issue 3)
    customers.setup,
    agent_desk.PLUGIN,  # the agent desk room: every app has it (see its plugin.py)
    acd_api.setup,  # /api/acd/* supervisor control (issue 7)
    recordings.setup,  # /recordings/{call_id}: listen, audited (linked from the pop)
    api_docs.setup,  # last: describes every route added before it
]


@web.middleware
async def count_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        request.app[METRICS].http_requests.labels(str(exc.status)).inc()
        raise
    request.app[METRICS].http_requests.labels(str(response.status)).inc()
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    extra_plugins: Sequence[Plugin | Setup] = (),
) -> web.Application:
    max_size = int(settings.http.max_upload_mb * 1024 * 1024)
    app = web.Application(
        middlewares=[
            count_requests,
            security_headers,
            auth.session_middleware,  # sets request[CURRENT_USER] before the access check
            access_middleware,
            auth.csrf_middleware,  # after the access check: anonymous callers get 401/302
            ids_in_range,  # /x/{id:\d+} beyond any row id: 404, not a database overflow
        ],
        client_max_size=max_size,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[BUS] = EventBus()
    app[METRICS] = Metrics()
    app[AMI_STATUS] = LinkStatus()
    owned_engine = engine is None
    app[ENGINE] = engine or make_engine(settings.database.url, echo=settings.database.echo)
    app[SESSIONMAKER] = sessionmaker(app[ENGINE])

    async def database_ctx(app: web.Application) -> AsyncIterator[None]:
        try:
            await check_database(app[ENGINE])
        except BaseException:  # no yield, so no close below: let go of the pool here
            if owned_engine:
                await app[ENGINE].dispose()
            raise
        yield
        if owned_engine:
            await app[ENGINE].dispose()

    app.cleanup_ctx.append(database_ctx)
    templating.setup(app)
    app.router.add_static("/static", ui_dir() / "static", name="static")
    try:
        install(app, [*ROUTE_MODULES, *extra_plugins])
    except BaseException:
        if owned_engine:  # never connected yet: nothing to await, just let go of the pool
            app[ENGINE].sync_engine.dispose()
        raise
    return app
