"""The supervisor room's rules on top of the database and the call-control port: what the
wallboard reads from the database (today's earlier calls, ticket and callback summaries,
names and thresholds) and the listen-in, which is audited in the same step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import localtime
from callcenter.core.call_control import ListenMode
from callcenter.core.tasks import OPEN_TASK_STATUSES
from callcenter.core.tickets import OPEN_STATUSES
from callcenter.core.wallboard import COUNTED_DISPOSITIONS, KpiThresholds
from callcenter.db.models import Call, CallWrapUp, Department, Task, Ticket, User
from callcenter.db.repos import audit as audit_repo
from callcenter.db.repos.routing import load_routing_config
from callcenter.supervisor.board import Summaries, Talk

#: The audit action of each listen-in mode (labels in ``db/repos/audit.ACTIONS``).
AUDIT_ACTIONS = {
    ListenMode.LISTEN: "call.listen",
    ListenMode.WHISPER: "call.whisper",
    ListenMode.BARGE: "call.barge",
}


@dataclass(frozen=True)
class BoardConfig:
    """What the board shows by name and the KPI limits, from the routing configuration."""

    thresholds: KpiThresholds
    group_names: dict[str, str]


async def load_board_config(session: AsyncSession) -> BoardConfig:
    config = await load_routing_config(session)
    settings = config.settings
    return BoardConfig(
        thresholds=KpiThresholds(
            service_level_seconds=float(settings.service_level_seconds),
            short_abandon_seconds=float(settings.short_abandon_seconds),
        ),
        group_names={code: group.name for code, group in config.groups.items()},
    )


async def todays_history(
    session: AsyncSession, day: date, zone: Any
) -> tuple[list[tuple[str, float, float, float]], list[float]]:
    """The day's finished inbound calls (disposition, wait, talk, hold) and the wrap-up
    time of each answered one (``call_wrapups.saved_at − calls.ended_at``, at least 0, as
    ``docs/kpi.md`` defines it): the board's counters at start-up."""
    start, end = localtime.day_bounds(day, zone)
    today = (
        Call.direction == "inbound",
        Call.started_at >= start,
        Call.started_at < end,
        Call.disposition.in_(sorted(COUNTED_DISPOSITIONS)),
    )
    calls = await session.execute(
        select(Call.disposition, Call.wait_seconds, Call.talk_seconds, Call.hold_seconds).where(
            *today
        )
    )
    wrapups = await session.execute(
        select(Call.ended_at, CallWrapUp.saved_at)
        .join(CallWrapUp, CallWrapUp.call_id == Call.id)
        .where(*today, Call.disposition == "answered", Call.ended_at.is_not(None))
    )
    return (
        [(d, float(w or 0), float(t or 0), float(h or 0)) for d, w, t, h in calls.all()],
        [
            max(0.0, (localtime.ensure_utc(saved) - localtime.ensure_utc(ended)).total_seconds())
            for ended, saved in wrapups.all()
            if ended is not None
        ],
    )


async def summaries(session: AsyncSession, now: datetime) -> Summaries:
    """Open tickets per department and overdue; open callback tasks and the oldest."""
    open_statuses = [str(s) for s in OPEN_STATUSES]
    rows = await session.execute(
        select(
            Department.id,
            Department.name,
            Department.name_en,
            func.count(Ticket.id),
            func.count(Ticket.id).filter(Ticket.due_at.is_not(None), Ticket.due_at <= now),
        )
        .select_from(Ticket)
        .outerjoin(Department, Department.id == Ticket.department_id)
        .where(Ticket.status.in_(open_statuses))
        .group_by(Department.id, Department.name, Department.name_en)
        .order_by(func.count(Ticket.id).desc())
    )
    departments: list[dict[str, Any]] = [
        {"id": dep_id, "name": name or "", "name_en": name_en or "", "open": n, "overdue": late}
        for dep_id, name, name_en, n, late in rows.all()
    ]
    callbacks = await session.execute(
        select(func.count(Task.id), func.min(Task.created_at)).where(
            Task.kind == "callback", Task.status.in_([str(s) for s in OPEN_TASK_STATUSES])
        )
    )
    count, oldest = callbacks.one()
    return Summaries(
        departments=departments,
        overdue=sum(int(d["overdue"]) for d in departments),
        open_tickets=sum(int(d["open"]) for d in departments),
        callbacks_open=int(count or 0),
        oldest_callback=localtime.ensure_utc(oldest) if oldest is not None else None,
    )


def problem(status: type[web.HTTPException], message: str) -> web.HTTPException:
    """A JSON error answer with a plain message."""
    return status(text=json.dumps({"error": message}), content_type="application/json")


async def supervisor_phone(session: AsyncSession, user_id: int, phones_in_use: Any) -> str:
    """The phone that rings for the supervisor: where they are logged in to the ACD (hot-
    desking), else the one on their user record."""
    for interface, agent_id in (phones_in_use() if phones_in_use else {}).items():
        if agent_id == user_id:
            return str(interface)
    user = await session.get(User, user_id)
    return "" if user is None else user.interface


async def audit_listen(
    session: AsyncSession,
    *,
    user: Any,
    mode: ListenMode,
    agent: Any,
    talk: Talk,
    phone: str,
    address: str,
    action_id: str,
) -> None:
    await audit_repo.record(
        session,
        action=AUDIT_ACTIONS[mode],
        user=user,
        target=f"{agent.username} ({talk.caller_number or '-'})",
        address=address,
        details={
            "agent": agent.full_name or agent.username,
            "call": talk.linkedid,
            "phone": phone,
            "action_id": action_id,
        },
    )


__all__ = [
    "AUDIT_ACTIONS",
    "BoardConfig",
    "audit_listen",
    "load_board_config",
    "problem",
    "summaries",
    "supervisor_phone",
    "todays_history",
]
