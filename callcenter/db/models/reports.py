"""Scheduled reports already sent: one row per report and local day, so a restart never
sends the same daily summary twice (the unique key is the guard, not a memory)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, UniqueConstraint
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
