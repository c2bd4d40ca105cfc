"""Clocks and local time: UTC storage, local days, Vietnamese date format."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter import localtime
from callcenter.clock import ManualClock, ScaledClock, SystemClock

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_calls_at_2359_and_0001_local_fall_on_different_days() -> None:
    late = datetime(2026, 3, 10, 23, 59, tzinfo=HCM).astimezone(UTC)
    early = datetime(2026, 3, 11, 0, 1, tzinfo=HCM).astimezone(UTC)
    # Both are on the same UTC date...
    assert late.date() == early.date() == date(2026, 3, 10)
    # ...but on different local days.
    assert localtime.local_date(late, HCM) == date(2026, 3, 10)
    assert localtime.local_date(early, HCM) == date(2026, 3, 11)
    start, end = localtime.day_bounds(date(2026, 3, 11), HCM)
    assert start <= early < end
    assert not start <= late < end
    assert start == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def test_vietnamese_date_format_and_parse() -> None:
    instant = datetime(2026, 1, 31, 20, 30, tzinfo=UTC)  # 03:30 on 1 Feb in Hanoi time
    assert localtime.format_date(instant, HCM) == "01/02/2026"
    assert localtime.format_datetime(instant, HCM) == "01/02/2026 03:30"
    assert localtime.parse_date("5/3/2024") == date(2024, 3, 5)
    assert localtime.parse_date("05-03-2024") == date(2024, 3, 5)
    for bad in ("31/02/2024", "2024/03/05x", "12/13/2024", "1/1/24", ""):
        with pytest.raises(ValueError):
            localtime.parse_date(bad)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        localtime.local_date(datetime(2026, 1, 1, 12, 0))


async def test_manual_clock_runs_a_day_of_timers_instantly() -> None:
    clock = ManualClock(datetime(2026, 3, 9, 1, 0, tzinfo=UTC))
    fired: list[tuple[str, datetime]] = []

    async def timer(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        fired.append((name, clock.now()))

    tasks = [asyncio.create_task(timer(n, s)) for n, s in [("b", 7200), ("a", 60), ("c", 86000)]]
    await asyncio.sleep(0)
    await clock.advance(3600)
    assert [name for name, _ in fired] == ["a"]
    assert fired[0][1] == datetime(2026, 3, 9, 1, 1, tzinfo=UTC)
    await clock.advance(86400)
    await asyncio.gather(*tasks)
    assert [name for name, _ in fired] == ["a", "b", "c"]
    assert fired[2][1] == datetime(2026, 3, 9, 1, 0, tzinfo=UTC) + timedelta(seconds=86000)
    assert clock.now() == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.set(datetime(2020, 1, 1, tzinfo=UTC))


async def test_scaled_clock_runs_faster() -> None:
    clock = ScaledClock(scale=600.0)
    start = clock.now()
    loop = asyncio.get_running_loop()
    wall = loop.time()
    await clock.sleep(60)  # one simulated minute = 0.1 s of wall time
    assert loop.time() - wall < 0.5
    assert clock.now() - start >= timedelta(seconds=59)
    with pytest.raises(ValueError):
        ScaledClock(scale=0)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
