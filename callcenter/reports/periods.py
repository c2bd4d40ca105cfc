"""Local periods (day, ISO week, month) and the hour buckets the queries count in.

A bucket is ``floor((epoch + shift) / 3600)``; ``shift`` is the zone's sub-hour offset
(0 for Asia/Ho_Chi_Minh, 1800 for +5:30) so a bucket never straddles a local hour.
A call belongs to the local day, week and month of its bucket: the day it was offered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.i18n import N_


class Grouping(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


GROUPING_LABELS = {Grouping.DAY: N_("By day"), Grouping.WEEK: N_("By week"),
                   Grouping.MONTH: N_("By month")}  # fmt: skip


def zone_shift(zone: ZoneInfo, at: datetime) -> int:
    """The zone's offset modulo one hour, in seconds (what aligns UTC hours to local ones)."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds()) % 3600


def bucket_start(bucket: int, shift: int) -> datetime:
    return datetime.fromtimestamp(bucket * 3600 - shift, UTC)


def local_hour(bucket: int, shift: int, zone: ZoneInfo) -> datetime:
    return bucket_start(bucket, shift).astimezone(zone)


def period_of(day: date, grouping: Grouping) -> date:
    """The first day of the period that holds ``day``."""
    if grouping is Grouping.WEEK:
        return day - timedelta(days=day.weekday())
    if grouping is Grouping.MONTH:
        return day.replace(day=1)
    return day


def period_label(start: date, grouping: Grouping) -> str:
    if grouping is Grouping.MONTH:
        return start.strftime("%m/%Y")
    if grouping is Grouping.WEEK:
        end = start + timedelta(days=6)
        return f"{start:%d/%m}–{end:%d/%m/%Y}"
    return start.strftime("%d/%m/%Y")
