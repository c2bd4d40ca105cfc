"""The reports' rollup: closed local days computed once, read instead of the raw rows.

A report over a range reads the raw tables only for its edges (a range starting
mid-day, today's open day) and, for every whole local day in between that has ended,
the day's stored sums and counts (never averages: the page divides, so KPIs stay exact).
A day is computed lazily the first time a report needs it, by the very queries that
compute the raw edges (``queries``), so both ways give the same numbers by construction.

Staleness: triggers on every table the reports read (migration 0016) append a
``report_stale`` mark (kind, first and last instant touched) for every write, whoever
does it. A day stored with ``horizon`` h is stale once a mark with id > h overlaps it, and
is recomputed on the next read. A fill holds a lock the writers' marks need (PostgreSQL:
SHARE ROW EXCLUSIVE on ``report_stale``, at most 5 s, else the report reads raw; SQLite:
the write lock, taken first), so every mark up to ``horizon`` is committed and in what it
read, and every later one gets a higher id. Each fill ends by dropping the days its marks
made stale, moving the others' horizon up and deleting those marks: the table stays short.
Tickets also depend on "now" (open intervals keep running, a due time passes): running
time is stored as a count and a sum of start instants, and a tickets day holds only for
the window of "now" its overdue counts are true for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import (
    ReportAgentDay,
    ReportAgentState,
    ReportCallHour,
    ReportRollupDay,
    ReportStale,
    ReportTicketDay,
)
from callcenter.localtime import day_bounds, local_date
from callcenter.reports import queries
from callcenter.reports.queries import CALL_MEASURES, Filters, Thresholds

CALLS, AGENTS, TICKETS = "calls", "agents", "tickets"
#: days filled per transaction: a fill holds back the writers' marks (and so their
#: commits) while it runs, so it computes one day at a time
CHUNK_DAYS = 1

Span = tuple[datetime, datetime]
Parts = list[tuple[Any, list[dict[str, Any]]]]
Compute = Callable[[AsyncSession, datetime, datetime], Awaitable[tuple[Parts, Any, Any]]]


@dataclass(frozen=True)
class Split:
    """A range cut into whole closed local days (contiguous) and the raw edges around them."""

    days: list[Span]
    edges: list[Span]


def split(start: datetime, end: datetime, now: datetime, zone: ZoneInfo) -> Split:
    days: list[Span] = []
    day = local_date(start, zone)
    last = local_date(end - timedelta(microseconds=1), zone)
    while day <= last:
        first, after = day_bounds(day, zone)
        if first >= start and after <= end and after <= now:
            days.append((first, after))
        day += timedelta(days=1)
    if not days:
        return Split([], [(start, end)] if start < end else [])
    edges = []
    if start < days[0][0]:
        edges.append((start, days[0][0]))
    if days[-1][1] < end:
        edges.append((days[-1][1], end))
    return Split(days, edges)


def _rollup_session(session: AsyncSession) -> AsyncSession:
    """Its own session: fills commit, and the caller's (read) transaction must not see
    half of them nor be committed by them."""
    return AsyncSession(bind=session.bind, expire_on_commit=False)


async def _usable_days(
    rs: AsyncSession, kind: str, params: str, days: Sequence[Span], now: datetime
) -> dict[datetime, int]:
    """day start -> rollup day id, for the stored days still true."""
    block_start, block_end = days[0][0], days[-1][1]
    wanted = dict(days)
    rows = await rs.execute(
        select(ReportRollupDay).where(
            ReportRollupDay.kind == kind,
            ReportRollupDay.params == params,
            ReportRollupDay.day_start >= block_start,
            ReportRollupDay.day_start < block_end,
        )
    )
    found: dict[datetime, ReportRollupDay] = {}
    for (row,) in rows:
        if wanted.get(row.day_start) != row.day_end:
            continue
        if row.valid_after is not None and not now > row.valid_after:
            continue
        if row.valid_until is not None and not now <= row.valid_until:
            continue
        found[row.day_start] = row
    if found:
        lowest = min(row.horizon for row in found.values())
        marks = await rs.execute(
            select(ReportStale.id, ReportStale.at_from, ReportStale.at_to).where(
                ReportStale.kind == kind,
                ReportStale.id > lowest,
                ReportStale.at_to >= block_start,
                ReportStale.at_from < block_end,
            )
        )
        for mark_id, at_from, at_to in marks:
            for start, row in list(found.items()):
                if mark_id > row.horizon and at_from < row.day_end and at_to >= start:
                    del found[start]
    return {start: row.id for start, row in found.items()}


def _chunks(days: Sequence[Span]) -> list[list[Span]]:
    """Runs of at most CHUNK_DAYS days."""
    return [list(days[i : i + CHUNK_DAYS]) for i in range(0, len(days), CHUNK_DAYS)]


async def _fill(
    rs: AsyncSession, kind: str, params: str, days: Sequence[Span], now: datetime,
    compute: Compute,
) -> None:  # fmt: skip
    postgres = rs.get_bind().dialect.name == "postgresql"
    await rs.commit()  # SQLite must start the write on the newest snapshot
    chunks = _chunks(days)
    for index, chunk in enumerate(chunks):
        if postgres:
            # bounded: a caller holding a mark in an open transaction would wait for us
            await rs.execute(text("SET LOCAL lock_timeout = '5s'"))
            await rs.execute(text("LOCK TABLE report_stale IN SHARE ROW EXCLUSIVE MODE"))
        # on SQLite this first write takes the write lock: no mark can appear meanwhile
        await rs.execute(
            delete(ReportRollupDay).where(
                ReportRollupDay.kind == kind,
                ReportRollupDay.params == params,
                ReportRollupDay.day_start.in_([start for start, _ in chunk]),
            )
        )
        horizon = int(await rs.scalar(select(func.coalesce(func.max(ReportStale.id), 0))) or 0)
        for start, end in chunk:
            parts, after, until = await compute(rs, start, end)
            day_id = await rs.scalar(
                insert(ReportRollupDay)
                .values(
                    kind=kind, params=params, day_start=start, day_end=end, horizon=horizon,
                    valid_after=after, valid_until=until, computed_at=now,
                )
                .returning(ReportRollupDay.id)
            )  # fmt: skip
            for model, rows in parts:
                if rows:
                    await rs.execute(insert(model), [{**row, "day_id": day_id} for row in rows])
        if index == len(chunks) - 1:
            await _compact(rs, horizon)
        await rs.commit()


async def compact(session: AsyncSession) -> int:
    """Fold every mark written so far into the stored days now (what each fill does at its
    end), in a session of its own; the number of marks dropped.

    Every write to a table a report reads leaves a mark, and a fill runs only when a report
    needs a day it lacks: on a busy line with nobody reading reports the marks would pile
    up (hundreds a second at 20 calls/s). The reports room's upkeep calls this every few
    minutes, so the table holds minutes of marks, not days."""
    async with _rollup_session(session) as rs:
        if rs.get_bind().dialect.name == "postgresql":
            await rs.execute(text("SET LOCAL lock_timeout = '5s'"))
            await rs.execute(text("LOCK TABLE report_stale IN SHARE ROW EXCLUSIVE MODE"))
        else:  # SQLite: take the write lock first, so no mark appears meanwhile
            await rs.execute(update(ReportStale).where(ReportStale.id < 0).values(kind=""))
        horizon = int(await rs.scalar(select(func.coalesce(func.max(ReportStale.id), 0))) or 0)
        dropped = int(
            await rs.scalar(select(func.count()).select_from(ReportStale).where(
                ReportStale.id <= horizon)) or 0
        )  # fmt: skip
        await _compact(rs, horizon)
        await rs.commit()
    return dropped


async def _compact(rs: AsyncSession, horizon: int) -> None:
    """Keep ``report_stale`` short (under the fill's lock, so every mark up to ``horizon`` is
    committed): drop the stored days a mark up to ``horizon`` made stale (of every report),
    tell the others they are true as of ``horizon``, and drop those marks."""
    day, mark = ReportRollupDay, ReportStale
    overlapped = (
        select(mark.id)
        .where(
            mark.kind == day.kind,
            mark.id > day.horizon,
            mark.id <= horizon,
            mark.at_from < day.day_end,
            mark.at_to >= day.day_start,
        )
        .exists()
    )
    await rs.execute(delete(day).where(day.horizon < horizon, overlapped))
    await rs.execute(update(day).where(day.horizon < horizon).values(horizon=horizon))
    await rs.execute(delete(mark).where(mark.id <= horizon))


async def _day_ids(
    rs: AsyncSession, kind: str, params: str, days: Sequence[Span], now: datetime,
    compute: Compute,
) -> list[int]:  # fmt: skip
    usable = await _usable_days(rs, kind, params, days, now)
    missing = [day for day in days if day[0] not in usable]
    if missing:
        try:
            await _fill(rs, kind, params, missing, now, compute)
        except (DBAPIError, sqlite3.OperationalError) as error:  # lock or gate timeout: raw
            await rs.rollback()
            raise _Changed from error
        usable = await _usable_days(rs, kind, params, days, now)
        if len(usable) < len(days):  # changed again meanwhile: read it raw
            raise _Changed
    return list(usable.values())


class _Changed(Exception):
    """A day went stale between its fill and its read, or could not be filled now."""


# ---------------------------------------------------------------------------- calls


def _call_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "bucket": row["bucket"],
        "hotline": row["hotline"],
        "route_group": row["group"],
        **{name: row[name] for name in CALL_MEASURES},
    }


async def call_buckets(
    session: AsyncSession, filters: Filters, limits: Thresholds, shift: int, zone: ZoneInfo,
    now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """``queries.call_buckets`` over the range: raw edges, stored closed days."""
    if (
        filters.agent_id is not None
        or filters.category_id is not None
        or (filters.department_id is not None)
    ):
        # the rollup is not kept per agent, category or department: a filtered report
        # reads fewer rows anyway
        return await queries.call_buckets(session, filters, limits, shift)
    parts = split(filters.start, filters.end, now, zone)
    rows: list[dict[str, Any]] = []
    for start, end in parts.edges:
        edge = replace(filters, start=start, end=end)
        rows += await queries.call_buckets(session, edge, limits, shift)
    if not parts.days:
        return rows
    params = f"{shift}|{limits.service_level_seconds}|{limits.short_abandon_seconds}"

    async def compute(rs: AsyncSession, start: datetime, end: datetime) -> tuple[Parts, Any, Any]:
        day = await queries.call_buckets(rs, Filters(start=start, end=end), limits, shift)
        return [(ReportCallHour, [_call_row(row) for row in day])], None, None

    async with _rollup_session(session) as rs:
        try:
            ids = await _day_ids(rs, CALLS, params, parts.days, now, compute)
        except _Changed:
            return await queries.call_buckets(session, filters, limits, shift)
        query = select(
            ReportCallHour.bucket,
            ReportCallHour.hotline,
            ReportCallHour.route_group.label("group"),
            *(getattr(ReportCallHour, name) for name in CALL_MEASURES),
        ).where(ReportCallHour.day_id.in_(ids))
        if filters.hotline:
            query = query.where(ReportCallHour.hotline == filters.hotline)
        if filters.group:
            query = query.where(ReportCallHour.route_group == filters.group)
        rows += [dict(row._mapping) for row in await rs.execute(query)]
    return rows


# ---------------------------------------------------------------------------- agents


@dataclass
class AgentParts:
    """What ``services.agents_report`` reads, as the raw queries return it."""

    answers: dict[int, dict[str, float]]
    missed: dict[int, int]
    states: dict[tuple[int, str, str], float]
    tickets: dict[int, dict[str, int]]
    surveys: dict[int, tuple[int, float]]

    def add(self, other: AgentParts) -> None:
        for agent, value in other.answers.items():
            mine = self.answers.setdefault(agent, {"answered": 0, "talk": 0.0})
            mine["answered"] += value["answered"]
            mine["talk"] += value["talk"]
        for agent, count in other.missed.items():
            self.missed[agent] = self.missed.get(agent, 0) + count
        for key, seconds in other.states.items():
            self.states[key] = self.states.get(key, 0.0) + seconds
        for agent, counts in other.tickets.items():
            mine_t = self.tickets.setdefault(agent, {"created": 0, "closed": 0})
            mine_t["created"] += counts["created"]
            mine_t["closed"] += counts["closed"]
        for agent, (count, total) in other.surveys.items():
            had = self.surveys.get(agent, (0, 0.0))
            self.surveys[agent] = (had[0] + count, had[1] + total)


async def _raw_agent_parts(session: AsyncSession, filters: Filters, now: datetime) -> AgentParts:
    return AgentParts(
        await queries.agent_answers(session, filters),
        await queries.agent_missed(session, filters),
        await queries.agent_state_seconds(session, filters, now),
        await queries.agent_tickets(session, filters),
        await queries.survey_scores_by_agent(session, filters),
    )


def _agent_rows(parts: AgentParts) -> Parts:
    agents = (set(parts.answers) | set(parts.missed) | set(parts.tickets)
              | set(parts.surveys))  # fmt: skip
    days = []
    for agent in sorted(agents):
        answers = parts.answers.get(agent, {"answered": 0, "talk": 0.0})
        tickets = parts.tickets.get(agent, {"created": 0, "closed": 0})
        count, total = parts.surveys.get(agent, (0, 0.0))
        days.append(
            {"agent_id": agent, "answered": answers["answered"], "talk": answers["talk"],
             "missed": parts.missed.get(agent, 0), "tickets_created": tickets["created"],
             "tickets_closed": tickets["closed"], "surveys": count, "survey_sum": total}
        )  # fmt: skip
    states = [
        {"agent_id": agent, "state": state, "reason": reason, "seconds": seconds}
        for (agent, state, reason), seconds in parts.states.items()
    ]
    return [(ReportAgentDay, days), (ReportAgentState, states)]


async def agent_parts(
    session: AsyncSession, filters: Filters, now: datetime, zone: ZoneInfo
) -> AgentParts:
    """The agents' sheet's five aggregates over the range: raw edges, stored closed days
    (an agent's state row is clipped to each day, which adds up to clipping it to the range)."""
    parts = split(filters.start, filters.end, now, zone)
    result = AgentParts({}, {}, {}, {}, {})
    for start, end in parts.edges:
        result.add(await _raw_agent_parts(session, replace(filters, start=start, end=end), now))
    if not parts.days:
        return result

    async def compute(rs: AsyncSession, start: datetime, end: datetime) -> tuple[Parts, Any, Any]:
        day = await _raw_agent_parts(rs, Filters(start=start, end=end), now)
        return _agent_rows(day), None, None

    async with _rollup_session(session) as rs:
        try:
            ids = await _day_ids(rs, AGENTS, "", parts.days, now, compute)
        except _Changed:
            return await _raw_agent_parts(session, filters, now)
        mine = [ReportAgentDay.agent_id == filters.agent_id] if filters.agent_id else []
        day = ReportAgentDay
        rows = await rs.execute(
            select(
                day.agent_id, func.sum(day.answered), func.sum(day.talk), func.sum(day.missed),
                func.sum(day.tickets_created), func.sum(day.tickets_closed),
                func.sum(day.surveys), func.sum(day.survey_sum),
            )
            .where(day.day_id.in_(ids), *mine)
            .group_by(day.agent_id)
        )  # fmt: skip
        stored = AgentParts({}, {}, {}, {}, {})
        for agent, answered, talk, missed, created, closed, surveys, score in rows:
            if answered:
                stored.answers[agent] = {"answered": int(answered), "talk": float(talk)}
            if missed:
                stored.missed[agent] = int(missed)
            if created or closed:
                stored.tickets[agent] = {"created": int(created), "closed": int(closed)}
            if surveys:
                stored.surveys[agent] = (int(surveys), float(score))
        state = ReportAgentState
        mine_s = [state.agent_id == filters.agent_id] if filters.agent_id else []
        for agent, name, reason, seconds in await rs.execute(
            select(state.agent_id, state.state, state.reason, func.sum(state.seconds))
            .where(state.day_id.in_(ids), *mine_s)
            .group_by(state.agent_id, state.state, state.reason)
        ):
            stored.states[(agent, name, reason)] = float(seconds)
        result.add(stored)
    return result


# ---------------------------------------------------------------------------- tickets


def _epoch(instant: datetime) -> float:
    return instant.astimezone(UTC).timestamp()


def finish_ticket_row(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A stored tickets row's measures as ``queries.ticket_groups`` gives them at ``now``."""
    clock = _epoch(now)
    return {
        "created": row["created"],
        "handled": row["handled"],
        "unhandled": row["unhandled"],
        "cancelled": row["cancelled"],
        "within_sla": row["within_sla"],
        "overdue": row["overdue_finished"] + row["overdue_open"],
        "finished": row["finished"],
        "reopened": row["reopened"],
        "work": row["work_closed"] + row["work_open_n"] * clock - row["work_open_start"],
        "waiting": row["waiting_closed"]
        + row["waiting_open_n"] * clock
        - row["waiting_open_start"],
    }


async def ticket_days(
    session: AsyncSession, filters: Filters, now: datetime, zone: ZoneInfo
) -> tuple[list[dict[str, Any]], list[Span]] | None:
    """Stored rows (per closed day, category, department; ``day`` is the local date) for
    the range's whole closed days, and the edges left to read raw; None: read it all raw."""
    if filters.agent_id is not None:
        return None
    parts = split(filters.start, filters.end, now, zone)
    if not parts.days:
        return None

    async def compute(rs: AsyncSession, start: datetime, end: datetime) -> tuple[Parts, Any, Any]:
        rows, after, until = await queries.ticket_day_parts(rs, start, end, now)
        return [(ReportTicketDay, rows)], after, until

    async with _rollup_session(session) as rs:
        try:
            ids = await _day_ids(rs, TICKETS, "", parts.days, now, compute)
        except _Changed:
            return None
        stored = ReportTicketDay
        columns = [c for c in stored.__table__.columns if c.key not in ("id", "day_id")]
        query = (
            select(ReportRollupDay.day_start, *columns)
            .join(ReportRollupDay, ReportRollupDay.id == stored.day_id)
            .where(stored.day_id.in_(ids))
        )
        if filters.category_id is not None:
            query = query.where(stored.category_id == filters.category_id)
        if filters.department_id is not None:
            query = query.where(stored.department_id == filters.department_id)
        rows = []
        for row in await rs.execute(query):
            values = dict(row._mapping)
            rows.append(
                {
                    "day": values["day_start"].astimezone(zone).date(),
                    "category_id": values["category_id"],
                    "department_id": values["department_id"],
                    **finish_ticket_row(values, now),
                }
            )
    return rows, parts.edges
