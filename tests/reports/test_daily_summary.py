"""The daily summary email: queued once per local day at the configured hour, by moving
the clock, and never twice, also after a restart (a new task on the same database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import ManualClock
from callcenter.db.engine import sessionmaker
from callcenter.db.models import Notification, ReportRun, SystemSetting
from callcenter.localtime import DEFAULT_ZONE
from callcenter.reports.schedule import DailySummary
from tests.reports.day import build_day, local


async def test_sent_once_per_day_at_the_hour_across_restarts(engine: AsyncEngine) -> None:
    sessions = sessionmaker(engine)
    async with sessions() as session:
        await build_day(session)
        session.add(SystemSetting(key="daily_report_hour", value=7))
        await session.commit()
    clock = ManualClock(local(25, 6, 59))

    def summary() -> DailySummary:
        return DailySummary(sessions=sessions, clock=clock, zone=DEFAULT_ZONE, language="vi")

    first = summary()
    assert await first.send_if_due() is None  # 06:59: not yet
    clock.set(local(25, 7, 0))
    sent = await first.send_if_due()
    assert sent is not None and sent.isoformat() == "2026-11-24"
    assert await first.send_if_due() is None  # same day: nothing more
    restarted = summary()  # the daemon restarts at 07:30
    clock.set(local(25, 7, 30))
    assert await restarted.send_if_due() is None
    async with sessions() as session:
        mails = (await session.scalars(select(Notification))).all()
        runs = (await session.scalars(select(ReportRun))).all()
    assert [(m.channel, m.recipient, m.kind) for m in mails] == [
        ("email", "sup@example.vn", "daily_summary")
    ]
    body = mails[0].body_text
    # The 24/11 numbers of test_scripted_day: 9 offered, 6 answered, SL 50.0, ASA 17.5.
    assert "24/11/2026" in mails[0].subject
    assert ": 9\n" in body and ": 6\n" in body and "50.0" in body and "17.5" in body
    assert [(r.day.isoformat(), r.recipients) for r in runs] == [("2026-11-24", 1)]
    # Next day at 07:00 the 25th's summary goes, to the configured list this time.
    async with sessions() as session:
        session.add(SystemSetting(key="daily_report_recipients", value=["a@x.vn", "b@x.vn"]))
        await session.commit()
    clock.set(local(26, 7, 0) + timedelta(seconds=5))
    assert (await restarted.send_if_due()).isoformat() == "2026-11-25"  # type: ignore[union-attr]
    async with sessions() as session:
        recipients = (
            await session.scalars(select(Notification.recipient).order_by(Notification.id))
        ).all()
    assert recipients == ["sup@example.vn", "a@x.vn", "b@x.vn"]


async def test_the_task_runs_on_the_clock_and_can_be_off(engine: AsyncEngine) -> None:
    import asyncio

    sessions = sessionmaker(engine)
    async with sessions() as session:
        await build_day(session)
        session.add(SystemSetting(key="daily_report_hour", value=-1))
        await session.commit()
    clock = ManualClock(local(25, 6, 0))
    woke: list[Any] = []
    task = asyncio.create_task(
        DailySummary(
            sessions=sessions, clock=clock, zone=DEFAULT_ZONE, wake=lambda: woke.append(1)
        ).run()
    )
    try:
        await clock.advance(3 * 3600)
        await asyncio.sleep(0.2)
        assert woke == []  # off
        async with sessions() as session:
            setting = await session.get(SystemSetting, "daily_report_hour")
            assert setting is not None
            setting.value = 8
            await session.commit()
        for _ in range(60):
            await clock.advance(60)
            await asyncio.sleep(0.01)
            if woke:
                break
        assert woke == [1]
    finally:
        task.cancel()


async def test_an_admin_sets_hour_and_recipients(aiohttp_client: Any, settings: Any,
                                                 engine: AsyncEngine) -> None:  # fmt: skip
    from callcenter.reports.plugin import PLUGIN
    from callcenter.web.app import create_app
    from tests.auth_helpers import make_user
    from tests.tickets.pages_helpers import as_user

    app = create_app(settings, clock=ManualClock(local(25, 6, 0)), engine=engine,
                     extra_plugins=[PLUGIN])  # fmt: skip
    client = await aiohttp_client(app)
    admin = await make_user(client, "boss", "admin")
    token = await as_user(client, admin.id)
    page = await client.get("/reports/schedule")
    assert page.status == 200 and 'name="recipients"' in await page.text()
    bad = await client.post("/reports/schedule", data={"csrf_token": token, "hour": "8",
                                                       "recipients": "lan@x.vn\nnot-an-address"})  # fmt: skip
    assert bad.status == 400 and "not-an-address" in await bad.text()
    late = await client.post("/reports/schedule", data={"csrf_token": token, "hour": "24"})
    assert late.status == 400
    ok = await client.post("/reports/schedule", data={"csrf_token": token, "hour": "8",
                                                      "recipients": "lan@x.vn, minh@x.vn"},
                           allow_redirects=False)  # fmt: skip
    assert ok.status == 302
    sessions = sessionmaker(engine)
    async with sessions() as session:
        hour = await session.get(SystemSetting, "daily_report_hour")
        chosen = await session.get(SystemSetting, "daily_report_recipients")
    assert hour is not None and hour.value == 8
    assert chosen is not None and chosen.value == ["lan@x.vn", "minh@x.vn"]
    again = await client.get("/reports/schedule")
    assert "lan@x.vn\nminh@x.vn" in await again.text()
