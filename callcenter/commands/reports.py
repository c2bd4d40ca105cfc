"""``callcenter reports fill [--days N]``: compute the reports' rollup for the last N closed
local days now, e.g. after an upgrade or a restore, so the first supervisor who opens a
year-long report does not wait for a year of days to be computed (``reports.rollup``)."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.config import Settings
from callcenter.db.engine import check_database, make_engine, sessionmaker
from callcenter.localtime import local_date
from callcenter.reports.schedule import fill_days


async def fill(settings: Settings, days: int) -> str:
    engine = make_engine(settings.database.url)
    try:
        await check_database(engine)
        zone, now = settings.tz, datetime.now(UTC)
        began = time.perf_counter()
        async with sessionmaker(engine)() as session:
            await fill_days(session, zone, now, days=days)
        first = local_date(now, zone) - timedelta(days=days)
        return (
            f"reports: the {days} days from {first:%d/%m/%Y} to yesterday are computed "
            f"({time.perf_counter() - began:.1f} s)"
        )
    finally:
        await engine.dispose()


def _cmd_fill(args: argparse.Namespace, settings: Settings) -> int:
    print(asyncio.run(fill(settings, args.days)))
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    reports = subparsers.add_parser("reports", help="KPI reports")
    reports_sub = reports.add_subparsers(dest="reports_command", required=True)
    fill_parser = reports_sub.add_parser(
        "fill", help="compute the reports' stored days now (after an upgrade or a restore)"
    )
    fill_parser.add_argument("--days", type=int, default=366, help="closed days back from today")
    fill_parser.set_defaults(func=_cmd_fill)
