"""Liveness for operators and monitoring: /healthz (JSON) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from callcenter.registry import AMI_STATUS, ENGINE, METRICS, SETTINGS
from callcenter.web.access import public

routes = web.RouteTableDef()


async def database_ok(app: web.Application) -> bool:
    try:
        async with app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


#: The recordings volume is "low" below either threshold (a busy centre records ~1 GB a day).
LOW_SPACE_BYTES = 5 * 1024**3
LOW_SPACE_FRACTION = 0.10


def recordings_space(folder: Path) -> dict[str, Any]:
    """Free space where recordings are written; ``low`` is the warning admins see."""
    try:
        usage = shutil.disk_usage(folder)
    except OSError as exc:
        return {"path": str(folder), "low": True, "error": exc.strerror or str(exc)}
    fraction = usage.free / usage.total if usage.total else 0.0
    return {
        "path": str(folder),
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "free_percent": round(100 * fraction, 1),
        "low": usage.free < LOW_SPACE_BYTES or fraction < LOW_SPACE_FRACTION,
    }


def space_warning(space: dict[str, Any]) -> str:
    """One line for operators, or "" when the recordings volume is fine."""
    if "error" in space:
        return f"recordings folder unusable: {space['error']}"
    if space["low"]:
        gigabytes = space["free_bytes"] / 1024**3
        return f"recordings volume low on space: {gigabytes:.1f} GB ({space['free_percent']}%) free"
    return ""


@routes.get("/healthz")
@public
async def healthz(request: web.Request) -> web.Response:
    db = await database_ok(request.app)
    ami = request.app[AMI_STATUS].connected
    body: dict[str, Any] = {
        "database": db,
        "ami": ami,
        "ami_detail": request.app[AMI_STATUS].detail,
    }
    # In a thread: recordings often sit on a network share, whose statfs can hang.
    space = await asyncio.to_thread(recordings_space, request.app[SETTINGS].recordings_dir)
    body["recordings"] = {key: value for key, value in space.items() if key != "path"}
    warning = space_warning(space)
    body["warnings"] = [warning] if warning else []
    return web.json_response(body, status=200 if db else 503)


@routes.get("/metrics")
@public
async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS].registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
