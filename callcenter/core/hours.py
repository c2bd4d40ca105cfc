"""Is the hotline open now? Weekly hours, the Vietnamese public calendar and admin overrides.

Computed in the centre's zone (default Asia/Ho_Chi_Minh): 07:59 local on a
Monday is closed even though it is 00:59 UTC. The public calendar comes from the
``holidays`` package, which knows Vietnam's lunar holidays (Tết, Hùng Kings);
the admin's ``Holiday`` rows win over it (closed=True closes a normal day,
closed=False opens a public holiday).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

from callcenter.localtime import DEFAULT_ZONE, to_local


@dataclass(frozen=True)
class OpeningSpan:
    weekday: int  # 0 = Monday
    opens: time
    closes: time


@dataclass(frozen=True)
class HoursDecision:
    open: bool
    reason: str  # "open", "outside_hours", "holiday", "closed_day"
    holiday_name: str = ""


@lru_cache(maxsize=32)
def _public_holidays(country: str, year: int) -> dict[date, str]:
    calendar = holiday_calendars.country_holidays(country, years=year)
    return {day: str(name) for day, name in calendar.items()}


def public_holiday(day: date, country: str = "VN") -> str | None:
    """The public holiday's name on ``day`` (e.g. the days of Tết), or None."""
    return _public_holidays(country, day.year).get(day)


@dataclass
class OfficeHours:
    """Weekly spans plus overrides; an empty week means "always open" (a 24/7 hotline)."""

    spans: list[OpeningSpan] = field(default_factory=list)
    overrides: Mapping[date, tuple[bool, str]] = field(default_factory=dict)
    zone: ZoneInfo = DEFAULT_ZONE
    country: str = "VN"
    use_public_holidays: bool = True

    @classmethod
    def build(
        cls,
        spans: Iterable[tuple[int, time, time]],
        overrides: Iterable[tuple[date, bool, str]] = (),
        *,
        zone: ZoneInfo = DEFAULT_ZONE,
        use_public_holidays: bool = True,
    ) -> OfficeHours:
        return cls(
            spans=[OpeningSpan(weekday, opens, closes) for weekday, opens, closes in spans],
            overrides={day: (closed, name) for day, closed, name in overrides},
            zone=zone,
            use_public_holidays=use_public_holidays,
        )

    def check(self, instant: datetime) -> HoursDecision:
        local = to_local(instant, self.zone)
        day = local.date()
        override = self.overrides.get(day)
        if override is not None:
            closed, name = override
            if closed:
                return HoursDecision(False, "holiday", name)
        elif self.use_public_holidays:
            public = public_holiday(day, self.country)
            if public is not None:
                return HoursDecision(False, "holiday", public)
        if not self.spans:
            return HoursDecision(True, "open")
        todays = [span for span in self.spans if span.weekday == local.weekday()]
        if not todays:
            return HoursDecision(False, "closed_day")
        now = local.time().replace(tzinfo=None)
        for span in todays:
            if span.opens <= now < span.closes:
                return HoursDecision(True, "open")
        return HoursDecision(False, "outside_hours")
