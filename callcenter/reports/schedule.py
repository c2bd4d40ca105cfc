"""The reports' clock work: the daily summary email (yesterday's call and ticket KPIs to
the supervisors, once) and the upkeep of the reports' stored days (``RollupUpkeep``).

Runs as a supervised task on the injected clock. At or after the configured local hour
(system setting ``daily_report_hour``; -1 turns it off) it queues one email per
recipient in the notification outbox and records a ``report_runs`` row for that day
in the same transaction: the row's unique key (kind, day) is what makes it exactly once
per day, across restarts and even with two daemons. Recipients: the system setting
``daily_report_recipients`` (a list of addresses) or else every active supervisor
with an email address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import Clock
from callcenter.db.models import ReportRun, SystemSetting, User
from callcenter.db.repos.routing import load_system_settings
from callcenter.i18n import translations
from callcenter.localtime import day_bounds, to_local
from callcenter.notify.outbox import Channel, enqueue
from callcenter.reports import rollup, services
from callcenter.reports.periods import Grouping
from callcenter.reports.queries import Filters

log = logging.getLogger(__name__)

KIND = "daily_summary"
RECIPIENTS_KEY = "daily_report_recipients"


async def recipients(session: AsyncSession) -> list[str]:
    stored = await session.get(SystemSetting, RECIPIENTS_KEY)
    if stored is not None and isinstance(stored.value, list):
        return sorted({str(v).strip() for v in stored.value if str(v).strip()})
    rows = await session.scalars(
        select(User.email).where(User.role == "supervisor", User.active.is_(True), User.email != "")
    )
    return sorted(set(rows.all()))


def summary_text(day: date, calls: services.CallsReport, tickets: services.TicketsReport,
                 _: Callable[[str], str]) -> str:  # fmt: skip
    t, k = calls.total, tickets.total

    def show(value: object) -> str:
        return "–" if value is None else str(value)

    lines = [
        f"{_('Daily summary')} {day:%d/%m/%Y}",
        "",
        f"{_('Offered')}: {t['offered']}",
        f"{_('Answered')}: {t['answered']}",
        f"{_('Abandoned')}: {t['abandoned']} ({_('Short abandons')}: {t['short_abandoned']})",
        f"{_('Service level')} (%): {show(t['service_level'])}",
        f"{_('ASA (s)')}: {show(t['asa'])}",
        f"{_('AHT (s)')}: {show(t['aht'])}",
        f"{_('Abandon rate')} (%): {show(t['abandon_rate'])}",
        "",
        f"{_('Tickets')}: {k['created']} — {_('Handled')}: {k['handled']}, "
        f"{_('Unhandled')}: {k['unhandled']}, {_('Overdue')}: {k['overdue']}",
    ]
    return "\n".join(lines) + "\n"


class DailySummary:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        zone: ZoneInfo,
        language: str = "vi",
        check_every_seconds: float = 60.0,
        domain: str = "callcenter.local",
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self.language = language
        self.check_every_seconds = check_every_seconds
        self.domain = domain
        self.wake = wake

    async def run(self) -> None:
        while True:
            await self.send_if_due()
            await self.clock.sleep(self.check_every_seconds)

    async def send_if_due(self) -> date | None:
        """Queue yesterday's summary if its hour has come and it was not sent yet; the day
        sent, or None."""
        now = self.clock.now()
        local = to_local(now, self.zone)
        async with self.sessions() as session:
            hour = (await load_system_settings(session)).daily_report_hour
            if hour < 0 or local.hour < hour:
                return None
            day = local.date() - timedelta(days=1)
            done = await session.scalar(
                select(ReportRun.id).where(ReportRun.kind == KIND, ReportRun.day == day)
            )
            if done is not None:
                return None
            try:
                count = await self._queue(session, day, now)
                await session.commit()
            except IntegrityError:
                await session.rollback()  # another process sent it first
                return None
        log.info("daily summary for %s queued for %d recipient(s)", day, count)
        if self.wake is not None:
            self.wake()
        return day

    async def _queue(self, session: AsyncSession, day: date, now: datetime) -> int:
        start, end = day_bounds(day, self.zone)
        filters = Filters(start=start, end=end)
        calls = await services.calls_report(session, filters, Grouping.DAY, self.zone, now)
        tickets = await services.tickets_report(session, filters, Grouping.DAY, self.zone, now)
        _ = translations(self.language).gettext
        body = summary_text(day, calls, tickets, _)
        to = await recipients(session)
        for address in to:
            await enqueue(
                session,
                channel=Channel.EMAIL,
                recipient=address,
                subject=f"{_('Daily summary')} {day:%d/%m/%Y}",
                body_text=body,
                kind=KIND,
                now=now,
                domain=self.domain,
            )
        session.add(ReportRun(kind=KIND, day=day, sent_at=now, recipients=len(to)))
        await session.flush()
        return len(to)


class RollupUpkeep:
    """Keeps the reports' stored days current without anyone opening a report: every
    ``every_seconds`` of clock time it folds the late-change marks into them
    (``rollup.compact``), and once a local day has ended it computes that day, so the
    morning's reports and the daily summary read stored days."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        zone: ZoneInfo,
        every_seconds: float = 600.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self.every_seconds = every_seconds
        self.filled: date | None = None

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.every_seconds)  # not at start-up: let the daemon settle
            try:
                await self.once()
            except Exception:  # the next pass tries again; reports read raw meanwhile
                log.exception("keeping the reports' stored days current failed")

    async def once(self) -> int:
        """One pass: compute yesterday if not done yet, fold the marks; marks dropped."""
        now = self.clock.now()
        yesterday = to_local(now, self.zone).date() - timedelta(days=1)
        async with self.sessions() as session:
            if self.filled != yesterday:
                await fill_days(session, self.zone, now, days=1)
                self.filled = yesterday
            return await rollup.compact(session)


async def fill_days(session: AsyncSession, zone: ZoneInfo, now: datetime, *, days: int) -> None:
    """Compute the stored days of every report for the ``days`` closed local days before
    today (``callcenter reports fill`` and the upkeep)."""
    today = to_local(now, zone).date()
    filters = Filters(start=day_bounds(today - timedelta(days=days), zone)[0],
                      end=day_bounds(today, zone)[0])  # fmt: skip
    await services.calls_report(session, filters, Grouping.MONTH, zone, now)
    await services.agents_report(session, filters, now, zone)
    await services.tickets_report(session, filters, Grouping.MONTH, zone, now)
