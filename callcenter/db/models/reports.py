"""Scheduled reports already sent: one row per report and local day, so a restart never
sends the same daily summary twice (the unique key is the guard, not a memory)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base


class ReportRun(Base):
    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("kind", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), doc="daily_summary")
    day: Mapped[date] = mapped_column(Date, doc="The local day the report covers")
    sent_at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(default=0, doc="Notifications queued")


# --------------------------------------------------------------- the reports' rollup
# Closed local days, computed lazily by ``reports.rollup`` and thrown away when a late
# change touches them: database triggers (migration 0016) append a ``report_stale`` mark
# for every write to a table a report reads, so no writer has to remember to.


class ReportStale(Base):
    """A late change: rows a report of ``kind`` reads changed between two instants."""

    __tablename__ = "report_stale"
    # ids only grow, also on SQLite once the table was emptied: a day's horizon compares them
    __table_args__ = (
        Index("ix_report_stale_kind_id", "kind", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), doc="calls, agents or tickets")
    at_from: Mapped[datetime]
    at_to: Mapped[datetime]


class ReportRollupDay(Base):
    """One closed local day of one report, computed with ``params`` (zone shift, thresholds).

    ``horizon`` is the last ``report_stale`` id the computation saw: a mark with a higher
    id over the day makes it stale. Tickets' numbers also depend on the report's "now"
    (overdue once a due time passes): the day holds only for ``valid_after < now <=
    valid_until`` (NULL: unbounded)."""

    __tablename__ = "report_rollup_days"
    __table_args__ = (UniqueConstraint("kind", "params", "day_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(String(80))
    day_start: Mapped[datetime]
    day_end: Mapped[datetime]
    horizon: Mapped[int] = mapped_column(BigInteger)
    valid_after: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    computed_at: Mapped[datetime]


def _day_id() -> Mapped[int]:
    return mapped_column(ForeignKey("report_rollup_days.id", ondelete="CASCADE"), index=True)


class ReportCallHour(Base):
    """The calls report's measures of one hour bucket, hotline and routed group."""

    __tablename__ = "report_call_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    day_id: Mapped[int] = _day_id()
    bucket: Mapped[int]
    hotline: Mapped[str] = mapped_column(Text)
    route_group: Mapped[str] = mapped_column(Text)
    offered: Mapped[int]
    answered: Mapped[int]
    answered_in_sl: Mapped[int]
    abandoned: Mapped[int]
    short_abandoned: Mapped[int]
    transferred: Mapped[int]
    wait_answered: Mapped[float] = mapped_column(Float)
    wait_abandoned: Mapped[float] = mapped_column(Float)
    talk: Mapped[float] = mapped_column(Float)
    hold: Mapped[float] = mapped_column(Float)
    wrapup: Mapped[float] = mapped_column(Float)
    abandon_0_5: Mapped[int]
    abandon_5_20: Mapped[int]
    abandon_20_60: Mapped[int]
    abandon_60_120: Mapped[int]
    abandon_120: Mapped[int]


class ReportAgentDay(Base):
    """One agent's sheet for one day (counts and sums; the page divides)."""

    __tablename__ = "report_agent_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day_id: Mapped[int] = _day_id()
    agent_id: Mapped[int]
    answered: Mapped[int]
    talk: Mapped[float] = mapped_column(Float)
    missed: Mapped[int]
    tickets_created: Mapped[int]
    tickets_closed: Mapped[int]
    surveys: Mapped[int]
    survey_sum: Mapped[float] = mapped_column(Float)


class ReportAgentState(Base):
    """Seconds one agent spent in one state (and pause reason) inside one day."""

    __tablename__ = "report_agent_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    day_id: Mapped[int] = _day_id()
    agent_id: Mapped[int]
    state: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float)


class ReportTicketDay(Base):
    """The tickets created on one day, per category and department. Time still running
    (an open in-progress or waiting interval) is kept as a count and a sum of start
    instants (epoch seconds): its seconds at any "now" are ``n * now - sum``."""

    __tablename__ = "report_ticket_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day_id: Mapped[int] = _day_id()
    category_id: Mapped[int | None]
    department_id: Mapped[int | None]
    created: Mapped[int]
    handled: Mapped[int]
    unhandled: Mapped[int]
    cancelled: Mapped[int]
    within_sla: Mapped[int]
    overdue_finished: Mapped[int]
    overdue_open: Mapped[int]
    finished: Mapped[int]
    reopened: Mapped[int]
    work_closed: Mapped[float] = mapped_column(Float)
    waiting_closed: Mapped[float] = mapped_column(Float)
    work_open_n: Mapped[int]
    work_open_start: Mapped[float] = mapped_column(Float)
    waiting_open_n: Mapped[int]
    waiting_open_start: Mapped[float] = mapped_column(Float)


#: derived tables (children first): left out of backups and emptied by a restore
ROLLUP_TABLES = (
    "report_call_hours",
    "report_agent_days",
    "report_agent_states",
    "report_ticket_days",
    "report_rollup_days",
    "report_stale",
)
