"""The reports' SQL: every aggregation runs in the database, grouped by hour bucket.

Why hour buckets: local days, weeks and months depend on the configured zone, and
SQLite and PostgreSQL spell time-zone arithmetic differently. Both can count per
UTC hour (shifted by the zone's sub-hour offset, e.g. +5:30), and every KPI here is a
sum or a count, so the room folds at most 24 rows per day per key into local periods
(``periods.py``) without reading a single call row. Definitions: ``docs/kpi.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from callcenter.core.surveys import SCALE_5
from callcenter.db.models import (
    AgentStateLog,
    Call,
    CallAttempt,
    CallWrapUp,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    Ticket,
    TicketEvent,
)
from callcenter.db.models.calls import CallTransfer

UNANSWERED = ("abandoned", "missed")
FINISHED_DISPOSITIONS = ("answered", "abandoned", "missed")
MISSED_OUTCOMES = ("noanswer", "busy", "rejected")
HANDLED_STATUSES = ("done", "closed")
UNHANDLED_STATUSES = ("unassigned", "assigned", "in_progress", "waiting")
STAFFED_STATES = ("available", "ringing", "on_call", "wrapup")
BUSY_STATES = ("on_call", "wrapup")


@dataclass(frozen=True)
class Filters:
    """What the supervisor narrowed the report to; None means any."""

    start: datetime
    end: datetime
    agent_id: int | None = None
    group: str | None = None
    hotline: str | None = None
    category_id: int | None = None
    department_id: int | None = None


@dataclass(frozen=True)
class Thresholds:
    service_level_seconds: float = 20.0
    short_abandon_seconds: float = 5.0


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def epoch(column: Any, dialect: str) -> ColumnElement[float]:
    """Seconds since 1970 as a float, with sub-second precision on both databases."""
    if dialect == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", column), Float)


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[float]:
    return epoch(end, dialect) - epoch(start, dialect)


def hour_bucket(column: Any, dialect: str, shift: int) -> ColumnElement[int]:
    """floor((epoch + shift) / 3600): the hour a row falls in, exact to the second."""
    if dialect == "sqlite":
        seconds = cast(func.strftime("%s", column), Integer)
        return cast((seconds + shift) / 3600, Integer)
    return cast(func.floor((func.extract("epoch", column) + shift) / 3600), Integer)


def _greatest(a: Any, b: Any, dialect: str) -> Any:
    return func.max(a, b) if dialect == "sqlite" else func.greatest(a, b)


def _least(a: Any, b: Any, dialect: str) -> Any:
    return func.min(a, b) if dialect == "sqlite" else func.least(a, b)


def _key(value: Any) -> int:
    """A grouping key the query filtered to non-NULL ids."""
    return int(value)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0.0)), 0.0)


# ---------------------------------------------------------------------------- calls

CALL_MEASURES = (
    "offered", "answered", "answered_in_sl", "abandoned", "short_abandoned", "transferred",
    "wait_answered", "wait_abandoned", "talk", "hold", "wrapup",
    "abandon_0_5", "abandon_5_20", "abandon_20_60", "abandon_60_120", "abandon_120",
)  # fmt: skip


def _call_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [
        Call.direction == "inbound",
        Call.disposition.in_(FINISHED_DISPOSITIONS),
        Call.started_at >= filters.start,
        Call.started_at < filters.end,
    ]
    if filters.agent_id is not None:
        conditions.append(Call.agent_id == filters.agent_id)
    if filters.group:
        conditions.append(Call.route_group == filters.group)
    if filters.hotline:
        conditions.append(Call.dialed_number == filters.hotline)
    if filters.category_id is not None:
        conditions.append(CallWrapUp.category_id == filters.category_id)
    if filters.department_id is not None:
        conditions.append(CallWrapUp.department_id == filters.department_id)
    return conditions


def _call_measures(dialect: str, thresholds: Thresholds) -> list[Any]:
    wait = Call.wait_seconds
    answered = Call.disposition == "answered"
    unanswered = Call.disposition.in_(UNANSWERED)
    long_abandon = and_(unanswered, wait >= thresholds.short_abandon_seconds)
    wrapup = case(
        (
            CallWrapUp.saved_at.is_not(None),
            _greatest(seconds_between(Call.ended_at, CallWrapUp.saved_at, dialect), 0.0, dialect),
        ),
        else_=0.0,
    )
    # IN over an uncorrelated subquery: one hashed set, not a lookup per call.
    transferred = Call.id.in_(select(CallTransfer.call_id))
    return [
        func.count(Call.id).label("offered"),
        _count_if(answered).label("answered"),
        _count_if(and_(answered, wait <= thresholds.service_level_seconds)).label("answered_in_sl"),
        _count_if(long_abandon).label("abandoned"),
        _count_if(and_(unanswered, wait < thresholds.short_abandon_seconds)).label(
            "short_abandoned"
        ),
        _count_if(transferred).label("transferred"),
        _sum_if(answered, wait).label("wait_answered"),
        _sum_if(long_abandon, wait).label("wait_abandoned"),
        _sum_if(answered, Call.talk_seconds).label("talk"),
        _sum_if(answered, Call.hold_seconds).label("hold"),
        _sum_if(answered, wrapup).label("wrapup"),
        _count_if(and_(unanswered, wait < 5)).label("abandon_0_5"),
        _count_if(and_(unanswered, wait >= 5, wait < 20)).label("abandon_5_20"),
        _count_if(and_(unanswered, wait >= 20, wait < 60)).label("abandon_20_60"),
        _count_if(and_(unanswered, wait >= 60, wait < 120)).label("abandon_60_120"),
        _count_if(and_(unanswered, wait >= 120)).label("abandon_120"),
    ]


async def call_buckets(
    session: AsyncSession, filters: Filters, thresholds: Thresholds, shift: int
) -> list[dict[str, Any]]:
    """Call measures per hour bucket, hotline and routed group (one pass over the calls:
    ``bucket``, ``hotline``, ``group`` plus every name of ``CALL_MEASURES``); the room
    folds them into periods and into the hotline/IVR table."""
    dialect = _dialect(session)
    bucket = hour_bucket(Call.started_at, dialect, shift).label("bucket")
    query = (
        select(
            bucket,
            Call.dialed_number.label("hotline"),
            Call.route_group.label("group"),
            *_call_measures(dialect, thresholds),
        )
        .select_from(Call)
        .outerjoin(CallWrapUp, CallWrapUp.call_id == Call.id)
        .where(*_call_conditions(filters))
        .group_by(bucket, Call.dialed_number, Call.route_group)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


# ---------------------------------------------------------------------------- agents


async def agent_answers(session: AsyncSession, filters: Filters) -> dict[int, dict[str, float]]:
    """Per agent: calls answered and connected time (answer to end of their leg, hold in),
    one per answered offer, so both agents of a transferred call count it."""
    dialect = _dialect(session)
    conditions = [
        CallAttempt.agent_id.is_not(None),
        CallAttempt.offered_at >= filters.start,
        CallAttempt.offered_at < filters.end,
        CallAttempt.answered_at.is_not(None),
        CallAttempt.ended_at.is_not(None),
    ]
    if filters.agent_id is not None:
        conditions.append(CallAttempt.agent_id == filters.agent_id)
    query = (
        select(
            CallAttempt.agent_id,
            func.count(CallAttempt.id),
            func.coalesce(
                func.sum(seconds_between(CallAttempt.answered_at, CallAttempt.ended_at, dialect)),
                0.0,
            ),
        )
        .where(*conditions)
        .group_by(CallAttempt.agent_id)
    )
    rows = await session.execute(query)
    return {_key(agent): {"answered": count, "talk": float(talk)} for agent, count, talk in rows}


async def agent_missed(session: AsyncSession, filters: Filters) -> dict[int, int]:
    """Per agent: offers the agent's phone did not take (no answer, busy, rejected)."""
    conditions = [
        CallAttempt.agent_id.is_not(None),
        CallAttempt.offered_at >= filters.start,
        CallAttempt.offered_at < filters.end,
        CallAttempt.outcome.in_(MISSED_OUTCOMES),
    ]
    if filters.agent_id is not None:
        conditions.append(CallAttempt.agent_id == filters.agent_id)
    query = (
        select(CallAttempt.agent_id, func.count(CallAttempt.id))
        .where(*conditions)
        .group_by(CallAttempt.agent_id)
    )
    return {_key(agent): count for agent, count in await session.execute(query)}


async def agent_state_seconds(
    session: AsyncSession, filters: Filters, now: datetime
) -> dict[tuple[int, str, str], float]:
    """Per (agent, state, pause reason): seconds in that state inside the range (each row
    of the state log clipped to the range; a row still open ends at ``now``)."""
    dialect = _dialect(session)
    until = func.coalesce(AgentStateLog.ended_at, literal(now, AgentStateLog.started_at.type))
    clipped_start = _greatest(
        AgentStateLog.started_at, literal(filters.start, AgentStateLog.started_at.type), dialect
    )
    clipped_end = _least(until, literal(filters.end, AgentStateLog.started_at.type), dialect)
    conditions = [
        AgentStateLog.started_at < filters.end,
        or_(AgentStateLog.ended_at.is_(None), AgentStateLog.ended_at > filters.start),
    ]
    if filters.agent_id is not None:
        conditions.append(AgentStateLog.user_id == filters.agent_id)
    seconds = func.sum(
        _greatest(seconds_between(clipped_start, clipped_end, dialect), 0.0, dialect)
    )
    query = (
        select(AgentStateLog.user_id, AgentStateLog.state, AgentStateLog.reason, seconds)
        .where(*conditions)
        .group_by(AgentStateLog.user_id, AgentStateLog.state, AgentStateLog.reason)
    )
    result: dict[tuple[int, str, str], float] = {}
    for user_id, state, reason, total in await session.execute(query):
        key = (user_id, state, reason if state == "paused" else "")
        result[key] = result.get(key, 0.0) + float(total or 0.0)
    return result


async def agent_tickets(session: AsyncSession, filters: Filters) -> dict[int, dict[str, int]]:
    """Per agent: tickets created, and tickets moved to closed by the agent (an
    information-only call's ticket is created closed: it counts as both)."""
    created = await session.execute(
        select(Ticket.created_by_id, func.count(Ticket.id))
        .where(
            Ticket.created_by_id.is_not(None),
            Ticket.created_at >= filters.start,
            Ticket.created_at < filters.end,
            *([Ticket.created_by_id == filters.agent_id] if filters.agent_id is not None else []),
        )
        .group_by(Ticket.created_by_id)
    )
    closed = await session.execute(
        select(TicketEvent.user_id, func.count(TicketEvent.id))
        .where(
            TicketEvent.user_id.is_not(None),
            TicketEvent.to_status == "closed",
            TicketEvent.at >= filters.start,
            TicketEvent.at < filters.end,
            *([TicketEvent.user_id == filters.agent_id] if filters.agent_id is not None else []),
        )
        .group_by(TicketEvent.user_id)
    )
    result: dict[int, dict[str, int]] = {}
    for user_id, count in created:
        result.setdefault(_key(user_id), {"created": 0, "closed": 0})["created"] = count
    for user_id, count in closed:
        result.setdefault(_key(user_id), {"created": 0, "closed": 0})["closed"] = count
    return result


async def survey_scores_by_agent(
    session: AsyncSession, filters: Filters
) -> dict[int, tuple[int, float]]:
    """THE one place the reports read survey answers: per agent who took the call
    (answers, sum of scores) of 1-5 questions, from any channel (the caller on the keypad
    after the call, or answers an agent took down), by when the response was given."""
    conditions = [
        SurveyQuestion.kind == SCALE_5,
        SurveyAnswer.value_number.is_not(None),
        SurveyResponse.agent_id.is_not(None),
        SurveyResponse.created_at >= filters.start,
        SurveyResponse.created_at < filters.end,
    ]
    if filters.agent_id is not None:
        conditions.append(SurveyResponse.agent_id == filters.agent_id)
    query = (
        select(
            SurveyResponse.agent_id,
            func.count(SurveyAnswer.id),
            func.sum(SurveyAnswer.value_number),
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(*conditions)
        .group_by(SurveyResponse.agent_id)
    )
    return {
        _key(agent): (count, float(total or 0))
        for agent, count, total in await session.execute(query)
    }


# ---------------------------------------------------------------------------- tickets

TICKET_MEASURES = (
    "created", "handled", "unhandled", "cancelled", "within_sla", "overdue",
    "finished", "reopened", "work", "waiting",
)  # fmt: skip


def _ticket_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [Ticket.created_at >= filters.start, Ticket.created_at < filters.end]
    if filters.category_id is not None:
        conditions.append(Ticket.category_id == filters.category_id)
    if filters.department_id is not None:
        conditions.append(Ticket.department_id == filters.department_id)
    if filters.agent_id is not None:
        conditions.append(Ticket.created_by_id == filters.agent_id)
    return conditions


def _status_moves(filters: Filters) -> Any:
    """Each status a ticket created in the range went through: (ticket_id, status, at,
    next_at — the next move, NULL while it lasts). A ticket's events count from its
    creation; ``at >= start`` is implied by that but lets the index serve."""
    in_range = select(Ticket.id).where(*_ticket_conditions(filters)).scalar_subquery()
    return (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            TicketEvent.to_status.label("status"),
            TicketEvent.at.label("at"),
            func.lead(TicketEvent.at)
            .over(partition_by=TicketEvent.ticket_id, order_by=(TicketEvent.at, TicketEvent.id))
            .label("next_at"),
        )
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            TicketEvent.to_status != "",
            TicketEvent.at >= filters.start,
            TicketEvent.at >= Ticket.created_at,
            TicketEvent.ticket_id.in_(in_range),
        )
        .subquery("moves")
    )


async def ticket_groups(
    session: AsyncSession,
    filters: Filters,
    now: datetime,
    *,
    by: Sequence[str] = ("category_id", "department_id"),
    shift: int = 0,
) -> list[dict[str, Any]]:
    """Ticket measures of tickets created in the range, grouped by ``by`` (columns of
    ``tickets``, or ``"bucket"`` for the creation hour)."""
    dialect = _dialect(session)
    now_literal = literal(now, TicketEvent.at.type)
    moves = _status_moves(filters)
    span = seconds_between(moves.c.at, func.coalesce(moves.c.next_at, now_literal), dialect)
    finished_statuses = moves.c.status.in_(HANDLED_STATUSES)
    per_ticket = (
        select(
            moves.c.ticket_id.label("ticket_id"),
            _sum_if(moves.c.status == "in_progress", span).label("work"),
            _sum_if(moves.c.status == "waiting", span).label("waiting"),
            func.min(case((finished_statuses, moves.c.at), else_=None)).label("finished_at"),
        )
        .group_by(moves.c.ticket_id)
        .subquery("per_ticket")
    )
    reopened = Ticket.id.in_(select(TicketEvent.ticket_id).where(TicketEvent.kind == "reopened"))
    finished_at = per_ticket.c.finished_at
    has_due = Ticket.due_at.is_not(None)
    keys: list[Any] = []
    for name in by:
        if name == "bucket":
            keys.append(hour_bucket(Ticket.created_at, dialect, shift).label("bucket"))
        else:
            keys.append(getattr(Ticket, name).label(name))
    query = (
        select(
            *keys,
            func.count(Ticket.id).label("created"),
            _count_if(Ticket.status.in_(HANDLED_STATUSES)).label("handled"),
            _count_if(Ticket.status.in_(UNHANDLED_STATUSES)).label("unhandled"),
            _count_if(Ticket.status == "cancelled").label("cancelled"),
            _count_if(and_(has_due, finished_at.is_not(None), finished_at <= Ticket.due_at)).label(
                "within_sla"
            ),
            _count_if(
                and_(
                    has_due,
                    or_(
                        and_(finished_at.is_(None), Ticket.due_at < now_literal),
                        finished_at > Ticket.due_at,
                    ),
                )
            ).label("overdue"),
            _count_if(finished_at.is_not(None)).label("finished"),
            _count_if(reopened).label("reopened"),
            func.coalesce(func.sum(per_ticket.c.work), 0.0).label("work"),
            func.coalesce(func.sum(per_ticket.c.waiting), 0.0).label("waiting"),
        )
        .select_from(Ticket)
        .outerjoin(per_ticket, per_ticket.c.ticket_id == Ticket.id)
        .where(*_ticket_conditions(filters))
        .group_by(*keys)
        .order_by(*keys)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


async def ticket_day_parts(
    session: AsyncSession, start: datetime, end: datetime, now: datetime
) -> tuple[list[dict[str, Any]], datetime | None, datetime | None]:
    """``ticket_groups`` for one closed day (per category and department) split into what
    "now" cannot change and what it can: open intervals as a count and a sum of start
    instants, overdue of unfinished tickets as of ``now``. Also the window of "now" over
    which those overdue counts hold: (latest passed due time, next due time]."""
    dialect = _dialect(session)
    now_literal = literal(now, TicketEvent.at.type)
    filters = Filters(start=start, end=end)
    moves = _status_moves(filters)
    closed = moves.c.next_at.is_not(None)
    span = seconds_between(moves.c.at, moves.c.next_at, dialect)
    started = epoch(moves.c.at, dialect)
    working, waiting = moves.c.status == "in_progress", moves.c.status == "waiting"
    per_ticket = (
        select(
            moves.c.ticket_id.label("ticket_id"),
            _sum_if(and_(working, closed), span).label("work_closed"),
            _sum_if(and_(waiting, closed), span).label("waiting_closed"),
            _count_if(and_(working, ~closed)).label("work_open_n"),
            _sum_if(and_(working, ~closed), started).label("work_open_start"),
            _count_if(and_(waiting, ~closed)).label("waiting_open_n"),
            _sum_if(and_(waiting, ~closed), started).label("waiting_open_start"),
            func.min(case((moves.c.status.in_(HANDLED_STATUSES), moves.c.at), else_=None)).label(
                "finished_at"
            ),
        )
        .group_by(moves.c.ticket_id)
        .subquery("per_ticket")
    )
    reopened = Ticket.id.in_(select(TicketEvent.ticket_id).where(TicketEvent.kind == "reopened"))
    finished_at = per_ticket.c.finished_at
    has_due = Ticket.due_at.is_not(None)
    unfinished_due = and_(has_due, finished_at.is_(None))
    sums = [
        func.coalesce(func.sum(getattr(per_ticket.c, name)), 0).label(name)
        for name in ("work_closed", "waiting_closed", "work_open_n", "work_open_start",
                     "waiting_open_n", "waiting_open_start")
    ]  # fmt: skip
    query = (
        select(
            Ticket.category_id.label("category_id"),
            Ticket.department_id.label("department_id"),
            func.count(Ticket.id).label("created"),
            _count_if(Ticket.status.in_(HANDLED_STATUSES)).label("handled"),
            _count_if(Ticket.status.in_(UNHANDLED_STATUSES)).label("unhandled"),
            _count_if(Ticket.status == "cancelled").label("cancelled"),
            _count_if(and_(has_due, finished_at.is_not(None), finished_at <= Ticket.due_at)).label(
                "within_sla"
            ),
            _count_if(and_(has_due, finished_at > Ticket.due_at)).label("overdue_finished"),
            _count_if(and_(unfinished_due, Ticket.due_at < now_literal)).label("overdue_open"),
            _count_if(finished_at.is_not(None)).label("finished"),
            _count_if(reopened).label("reopened"),
            *sums,
            func.max(
                case((and_(unfinished_due, Ticket.due_at < now_literal), Ticket.due_at))
            ).label("passed_due"),
            func.min(
                case((and_(unfinished_due, Ticket.due_at >= now_literal), Ticket.due_at))
            ).label("next_due"),
        )
        .select_from(Ticket)
        .outerjoin(per_ticket, per_ticket.c.ticket_id == Ticket.id)
        .where(*_ticket_conditions(filters))
        .group_by(Ticket.category_id, Ticket.department_id)
    )
    rows = [dict(row._mapping) for row in await session.execute(query)]
    passed = [row.pop("passed_due") for row in rows]
    upcoming = [row.pop("next_due") for row in rows]
    after = max((_as_instant(p) for p in passed if p is not None), default=None)
    until = min((_as_instant(u) for u in upcoming if u is not None), default=None)
    return rows, after, until


def _as_instant(value: Any) -> datetime:
    """min()/max() over a UTC column come back untyped on SQLite (text): parse them."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
