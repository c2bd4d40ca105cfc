"""Local days, shifts and dates: everything is stored in UTC and shown in the centre's zone.

"Today" for a report or an SLA is the calendar day in the configured time zone
(default Asia/Ho_Chi_Minh, UTC+7): a call at 23:59 and one at 00:01 local time
fall on different days even though both are on the same UTC date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

VI_WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def ensure_utc(instant: datetime) -> datetime:
    """Refuse naive datetimes: an instant without a zone is a bug waiting to happen."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: every instant must carry a time zone")
    return instant.astimezone(UTC)


def to_local(instant: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> datetime:
    return ensure_utc(instant).astimezone(zone)


def local_date(instant: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> date:
    """The calendar day on which ``instant`` falls in ``zone``."""
    return to_local(instant, zone).date()


def day_bounds(day: date, zone: ZoneInfo = DEFAULT_ZONE) -> tuple[datetime, datetime]:
    """UTC [start, end) of a local calendar day, for database range queries."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def format_date(value: date | datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """dd/mm/yyyy, the way Vietnamese users write dates."""
    if isinstance(value, datetime):
        value = local_date(value, zone)
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """dd/mm/yyyy HH:MM in local time."""
    return to_local(value, zone).strftime("%d/%m/%Y %H:%M")


def parse_date(text: str) -> date:
    """Parse dd/mm/yyyy (also d/m/yyyy and with '-' or '.'); raise ValueError if impossible."""
    cleaned = text.strip().replace("-", "/").replace(".", "/")
    parts = cleaned.split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"not a dd/mm/yyyy date: {text!r}")
    day, month, year = (int(part) for part in parts)
    if year < 100:
        raise ValueError(f"year must have four digits: {text!r}")
    return date(year, month, day)  # raises ValueError for 31/02/2024
