"""The three reports (calls, agents, tickets) as plain rows with their KPIs, built from
``queries`` (aggregates in SQL) and folded into local periods; ``docs/kpi.md`` defines
every number. The page, the Excel export and the daily email all read these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Category, Department, PauseReason, User
from callcenter.db.repos.routing import load_system_settings
from callcenter.localtime import DEFAULT_ZONE
from callcenter.reports import queries, rollup
from callcenter.reports.periods import (
    Grouping,
    local_hour,
    period_label,
    period_of,
    zone_shift,
)
from callcenter.reports.queries import CALL_MEASURES, TICKET_MEASURES, Filters, Thresholds


def ratio(part: float, whole: float) -> float | None:
    """part ÷ whole as a percentage with one decimal; None when there is nothing to divide."""
    return round(100.0 * part / whole, 1) if whole else None


def mean(total: float, count: float) -> float | None:
    return round(total / count, 1) if count else None


def call_kpis(m: Mapping[str, Any]) -> dict[str, Any]:
    """The derived call KPIs of one row of summed measures."""
    answered, abandoned = m["answered"], m["abandoned"]
    return {
        "service_level": ratio(m["answered_in_sl"], answered + abandoned),
        "asa": mean(m["wait_answered"], answered),
        "aht": mean(m["talk"] + m["hold"] + m["wrapup"], answered),
        "abandon_rate": ratio(abandoned, answered + abandoned),
        "avg_abandon_wait": mean(m["wait_abandoned"], abandoned),
    }


def ticket_kpis(m: Mapping[str, Any]) -> dict[str, Any]:
    created = m["created"]
    return {
        "within_sla_rate": ratio(m["within_sla"], m["within_sla"] + m["overdue"]),
        "reopen_rate": ratio(m["reopened"], m["finished"]),
        "avg_work_hours": round(m["work"] / created / 3600.0, 2) if created else None,
        "avg_waiting_hours": round(m["waiting"] / created / 3600.0, 2) if created else None,
    }


def _add(into: dict[str, Any], row: Mapping[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        into[name] = into.get(name, 0) + (row.get(name) or 0)


def _zero(names: tuple[str, ...]) -> dict[str, Any]:
    return dict.fromkeys(names, 0)


@dataclass
class CallsReport:
    periods: list[dict[str, Any]]
    total: dict[str, Any]
    by_route: list[dict[str, Any]]
    #: offered calls per local weekday (0 = Monday) and hour
    heat: list[list[int]]
    hours: list[int] = field(default_factory=lambda: [0] * 24)


@dataclass
class AgentsReport:
    agents: list[dict[str, Any]]
    pause_reasons: list[tuple[str, str]]


@dataclass
class TicketsReport:
    groups: list[dict[str, Any]]
    periods: list[dict[str, Any]]
    total: dict[str, Any]


async def thresholds(session: AsyncSession) -> Thresholds:
    settings = await load_system_settings(session)
    return Thresholds(
        service_level_seconds=float(settings.service_level_seconds),
        short_abandon_seconds=float(settings.short_abandon_seconds),
    )


async def calls_report(
    session: AsyncSession,
    filters: Filters,
    grouping: Grouping,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> CallsReport:
    limits = await thresholds(session)
    shift = zone_shift(zone, filters.start)
    when = now or datetime.now(UTC)
    buckets = await rollup.call_buckets(session, filters, limits, shift, zone, when)
    periods: dict[Any, dict[str, Any]] = {}
    total = _zero(CALL_MEASURES)
    heat = [[0] * 24 for _ in range(7)]
    hours = [0] * 24
    routes: dict[tuple[str, str], dict[str, Any]] = {}
    for row in buckets:
        route = routes.setdefault(
            (row["hotline"], row["group"]),
            {"hotline": row["hotline"], "group": row["group"], **_zero(CALL_MEASURES)},
        )
        _add(route, row, CALL_MEASURES)
        local = local_hour(row["bucket"], shift, zone)
        start = period_of(local.date(), grouping)
        into = periods.setdefault(start, {"start": start, **_zero(CALL_MEASURES)})
        _add(into, row, CALL_MEASURES)
        _add(total, row, CALL_MEASURES)
        heat[local.weekday()][local.hour] += row["offered"]
        hours[local.hour] += row["offered"]
    rows = []
    for start in sorted(periods):
        row = periods[start]
        rows.append({**row, "label": period_label(start, grouping), **call_kpis(row)})
    by_route = [{**routes[key], **call_kpis(routes[key])} for key in sorted(routes)]
    return CallsReport(rows, {**total, **call_kpis(total)}, by_route, heat, hours)


async def agents_report(
    session: AsyncSession, filters: Filters, now: datetime, zone: ZoneInfo = DEFAULT_ZONE
) -> AgentsReport:
    parts = await rollup.agent_parts(session, filters, now, zone)
    answers, missed, states = parts.answers, parts.missed, parts.states
    tickets, surveys = parts.tickets, parts.surveys
    involved = set(answers) | set(missed) | {k[0] for k in states} | set(surveys)
    involved |= {user for user, counts in tickets.items() if user in involved}
    users = (
        await session.scalars(select(User).where(User.id.in_(involved)).order_by(User.full_name))
        if involved
        else None
    )
    reasons = {
        r.code: r.name
        for r in (await session.scalars(select(PauseReason).order_by(PauseReason.id))).all()
    }
    used_reasons = sorted({k[2] for k in states if k[1] == "paused"})
    rows = []
    for user in users.all() if users is not None else []:
        mine = {(state, reason): secs for (uid, state, reason), secs in states.items()
                if uid == user.id}  # fmt: skip
        staffed = sum(mine.get((s, ""), 0.0) for s in queries.STAFFED_STATES)
        busy = sum(mine.get((s, ""), 0.0) for s in queries.BUSY_STATES)
        count, score_sum = surveys.get(user.id, (0, 0.0))
        rows.append(
            {
                "agent_id": user.id,
                "name": user.full_name or user.username,
                "answered": answers.get(user.id, {}).get("answered", 0),
                "talk": round(answers.get(user.id, {}).get("talk", 0.0), 1),
                "missed": missed.get(user.id, 0),
                "staffed": round(staffed, 1),
                "pause": {r: round(mine.get(("paused", r), 0.0), 1) for r in used_reasons},
                "pause_total": round(sum(mine.get(("paused", r), 0.0) for r in used_reasons), 1),
                "occupancy": ratio(busy, staffed),
                "tickets_created": tickets.get(user.id, {}).get("created", 0),
                "tickets_closed": tickets.get(user.id, {}).get("closed", 0),
                "surveys": count,
                "survey_avg": round(score_sum / count, 2) if count else None,
            }
        )
    return AgentsReport(rows, [(code, reasons.get(code, code)) for code in used_reasons])


async def tickets_report(
    session: AsyncSession, filters: Filters, grouping: Grouping, zone: ZoneInfo, now: datetime
) -> TicketsReport:
    categories = dict((await session.execute(select(Category.id, Category.name))).all())
    departments = dict((await session.execute(select(Department.id, Department.name))).all())
    shift = zone_shift(zone, filters.start)
    stored = await rollup.ticket_days(session, filters, now, zone)
    rows, edges = stored if stored is not None else ([], [(filters.start, filters.end)])
    by_group: dict[tuple[Any, Any], dict[str, Any]] = {}
    by_day: dict[Any, dict[str, Any]] = {}
    for row in rows:
        _add(by_day.setdefault(row["day"], _zero(TICKET_MEASURES)), row, TICKET_MEASURES)
    for start, end in edges:
        edge = replace(filters, start=start, end=end)
        rows += await queries.ticket_groups(session, edge, now)
        for row in await queries.ticket_groups(session, edge, now, by=("bucket",), shift=shift):
            day = local_hour(row["bucket"], shift, zone).date()
            _add(by_day.setdefault(day, _zero(TICKET_MEASURES)), row, TICKET_MEASURES)
    for row in rows:
        key = (row["category_id"], row["department_id"])
        _add(by_group.setdefault(key, _zero(TICKET_MEASURES)), row, TICKET_MEASURES)
    groups = []
    total = _zero(TICKET_MEASURES)
    nulls_first = session.get_bind().dialect.name == "sqlite"  # as ORDER BY puts them
    for category_id, department_id in sorted(by_group, key=lambda k: _null_order(k, nulls_first)):
        row = {"category_id": category_id, "department_id": department_id,
               **by_group[(category_id, department_id)]}  # fmt: skip
        _add(total, row, TICKET_MEASURES)
        groups.append(
            {
                **row,
                "category": categories.get(category_id, ""),
                "department": departments.get(department_id, ""),
                **ticket_kpis(row),
            }
        )
    periods: dict[Any, dict[str, Any]] = {}
    for day, measures in by_day.items():
        first = period_of(day, grouping)
        _add(periods.setdefault(first, {"start": first, **_zero(TICKET_MEASURES)}), measures,
             TICKET_MEASURES)  # fmt: skip
    period_rows = [
        {**periods[s], "label": period_label(s, grouping), **ticket_kpis(periods[s])}
        for s in sorted(periods)
    ]
    return TicketsReport(groups, period_rows, {**total, **ticket_kpis(total)})


def _null_order(key: tuple[Any, ...], nulls_first: bool) -> tuple[Any, ...]:
    return tuple(((value is not None) if nulls_first else (value is None), value or 0)
                 for value in key)  # fmt: skip
