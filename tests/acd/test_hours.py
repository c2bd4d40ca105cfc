"""Office hours in the centre's zone, the Vietnamese calendar (lunar Tết) and admin overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from callcenter.core.hours import OfficeHours, public_holiday

WEEKDAYS_8_TO_17 = [(day, time(8), time(17)) for day in range(5)] + [(5, time(8), time(12))]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_and_closed_in_local_time() -> None:
    hours = OfficeHours.build(WEEKDAYS_8_TO_17)
    # Monday 23/11/2026: 08:00 local is 01:00 UTC.
    assert not hours.check(utc(2026, 11, 23, 0, 59)).open
    assert hours.check(utc(2026, 11, 23, 1, 0)).open
    assert hours.check(utc(2026, 11, 23, 9, 59)).open
    decision = hours.check(utc(2026, 11, 23, 10, 0))
    assert (decision.open, decision.reason) == (False, "outside_hours")
    # Sunday is not in the week.
    assert hours.check(utc(2026, 11, 29, 3, 0)).reason == "closed_day"
    # Saturday 28/11 at 11:30 local is open, 12:00 is not.
    assert hours.check(utc(2026, 11, 28, 4, 30)).open
    assert not hours.check(utc(2026, 11, 28, 5, 0)).open


def test_lunar_tet_is_closed() -> None:
    # Tết 2027 (Lunar New Year) falls on Saturday 6/2/2027; Monday 8/2 is still Tết.
    assert public_holiday(date(2027, 2, 8)) is not None
    decision = OfficeHours.build(WEEKDAYS_8_TO_17).check(utc(2027, 2, 8, 3, 0))
    assert (decision.open, decision.reason) == (False, "holiday")
    assert "Lunar New Year" in decision.holiday_name
    # National Day 2/9/2026 (a Wednesday)
    assert not OfficeHours.build(WEEKDAYS_8_TO_17).check(utc(2026, 9, 2, 3, 0)).open


def test_admin_overrides_win_over_the_calendar() -> None:
    hours = OfficeHours.build(
        WEEKDAYS_8_TO_17,
        [(date(2026, 9, 2), False, "Trực lễ"), (date(2026, 11, 24), True, "Đào tạo nội bộ")],
    )
    assert hours.check(utc(2026, 9, 2, 3, 0)).open  # open despite National Day
    closed = hours.check(utc(2026, 11, 24, 3, 0))
    assert (closed.open, closed.holiday_name) == (False, "Đào tạo nội bộ")


def test_local_day_not_utc_day_decides_the_holiday() -> None:
    # 1/1/2027 00:30 in Hanoi is still 31/12/2026 17:30 UTC: already the New Year holiday.
    hours = OfficeHours.build([(day, time(0), time(23, 59)) for day in range(7)])
    assert hours.check(utc(2026, 12, 31, 17, 30)).reason == "holiday"
    assert hours.check(utc(2026, 12, 31, 16, 30)).open


def test_no_hours_means_always_open_except_holidays() -> None:
    hours = OfficeHours.build([])
    assert hours.check(utc(2026, 11, 29, 20, 0)).open
    assert not hours.check(utc(2027, 2, 6, 3, 0)).open
