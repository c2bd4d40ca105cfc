"""Opening hours (common or per hotline, per weekday) and holiday overrides (a closed
extra day, or open despite Vietnam's public-holiday calendar).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import BusinessHours, Holiday, Hotline
from callcenter.db.repos.routing.common import N_, InvalidConfig, _all, _bounded, _delete, _get
from callcenter.db.repos.routing.snapshot import OpeningInterval


def check_intervals(intervals: Sequence[OpeningInterval]) -> list[OpeningInterval]:
    """Sorted intervals; refuse empty, reversed and overlapping ones on the same weekday."""
    ordered = sorted(intervals, key=lambda i: (i.weekday, i.opens))
    for index, interval in enumerate(ordered):
        _bounded(interval.weekday, 0, 6, "hours")
        if interval.opens >= interval.closes:
            raise InvalidConfig(
                N_("The closing time must be after the opening time."),
                field=f"hours-{interval.weekday}",
            )
        previous = ordered[index - 1] if index else None
        if previous and previous.weekday == interval.weekday and previous.closes > interval.opens:
            raise InvalidConfig(
                N_("Two opening intervals of the same day overlap."),
                field=f"hours-{interval.weekday}",
            )
    return ordered


async def set_business_hours(
    session: AsyncSession, hotline_id: int | None, intervals: Sequence[OpeningInterval]
) -> None:
    """Replace the weekly hours of one hotline (or, with None, the centre's common hours).
    An empty list for a hotline means "use the common hours"."""
    ordered = check_intervals(intervals)
    if hotline_id is not None:
        await _get(session, Hotline, hotline_id)
    scope = (
        BusinessHours.hotline_id.is_(None)
        if hotline_id is None
        else BusinessHours.hotline_id == hotline_id
    )
    await session.execute(delete(BusinessHours).where(scope))
    for interval in ordered:
        session.add(
            BusinessHours(
                hotline_id=hotline_id,
                weekday=interval.weekday,
                opens=interval.opens,
                closes=interval.closes,
            )
        )
    await session.flush()


async def business_hours(session: AsyncSession, hotline_id: int | None) -> list[OpeningInterval]:
    scope = (
        BusinessHours.hotline_id.is_(None)
        if hotline_id is None
        else BusinessHours.hotline_id == hotline_id
    )
    rows = await session.scalars(
        select(BusinessHours).where(scope).order_by(BusinessHours.weekday, BusinessHours.opens)
    )
    return [OpeningInterval(r.weekday, r.opens, r.closes) for r in rows]


async def save_holiday(session: AsyncSession, day: date, name: str, closed: bool) -> Holiday:
    """Add or replace the admin's entry for one day."""
    name = name.strip()
    if len(name) > 120:
        raise InvalidConfig(
            N_("The name is too long (at most {limit} characters)."), field="name", limit=120
        )
    holiday = await session.scalar(select(Holiday).where(Holiday.day == day)) or Holiday(day=day)
    holiday.name = name
    holiday.closed = closed
    session.add(holiday)
    await session.flush()
    return holiday


async def delete_holiday(session: AsyncSession, holiday_id: int) -> Holiday:
    return await _delete(session, Holiday, holiday_id)


async def list_holidays(session: AsyncSession) -> list[Holiday]:
    return await _all(session, Holiday, Holiday.day)
