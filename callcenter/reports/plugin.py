"""Wiring of the reports room: the report pages, the daily summary email task (its emails
go out through the tickets room's outbox) and the upkeep of the stored days, both
supervised on the app's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import tasks
from callcenter.plugins import Plugin
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.reports import http
from callcenter.reports.schedule import DailySummary, RollupUpkeep

DAILY_SUMMARY: web.AppKey[DailySummary] = web.AppKey("daily_summary", DailySummary)
ROLLUP_UPKEEP: web.AppKey[RollupUpkeep] = web.AppKey("rollup_upkeep", RollupUpkeep)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[DAILY_SUMMARY] = DailySummary(
        sessions=app[SESSIONMAKER],
        clock=app[CLOCK],
        zone=settings.tz,
        language=settings.language,
        domain=settings.smtp.sender.rpartition("@")[2] or "callcenter.local",
    )
    app[ROLLUP_UPKEEP] = RollupUpkeep(
        sessions=app[SESSIONMAKER], clock=app[CLOCK], zone=settings.tz
    )
    app.router.add_routes(http.routes)
    app.cleanup_ctx.append(_work_ctx)


async def _work_ctx(app: web.Application) -> AsyncIterator[None]:
    summary = tasks.supervise("daily-summary", app[DAILY_SUMMARY].run)
    upkeep = tasks.supervise("reports-upkeep", app[ROLLUP_UPKEEP].run)
    yield
    await tasks.stop(upkeep)
    await tasks.stop(summary)


PLUGIN = Plugin("reports", setup)

__all__ = ["DAILY_SUMMARY", "PLUGIN", "ROLLUP_UPKEEP"]
