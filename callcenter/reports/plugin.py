"""Wiring of the reports room: the report pages and the daily summary email task
(supervised, on the app's clock; its emails go out through the tickets room's outbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import tasks
from callcenter.plugins import Plugin
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.reports import http
from callcenter.reports.schedule import DailySummary

DAILY_SUMMARY: web.AppKey[DailySummary] = web.AppKey("daily_summary", DailySummary)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[DAILY_SUMMARY] = DailySummary(
        sessions=app[SESSIONMAKER],
        clock=app[CLOCK],
        zone=settings.tz,
        language=settings.language,
        domain=settings.smtp.sender.rpartition("@")[2] or "callcenter.local",
    )
    app.router.add_routes(http.routes)
    app.cleanup_ctx.append(_work_ctx)


async def _work_ctx(app: web.Application) -> AsyncIterator[None]:
    task = tasks.supervise("daily-summary", app[DAILY_SUMMARY].run)
    yield
    await tasks.stop(task)


PLUGIN = Plugin("reports", setup)

__all__ = ["DAILY_SUMMARY", "PLUGIN"]
