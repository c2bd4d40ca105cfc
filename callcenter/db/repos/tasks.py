"""Tasks: callbacks and follow-ups (origin: abandoned call, voicemail, overflow, closed, ticket)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import localtime
from callcenter.core.tasks import (
    OPEN_TASK_STATUSES,
    TaskRuleError,
    TaskStatus,
    merges_into,
    plan_outcome,
)
from callcenter.db.models import AgentGroup, AgentGroupMember, Customer, Task, User

KINDS = ("callback", "follow_up", "lead_call", "care_call")
ORIGINS = (
    "abandoned", "voicemail", "overflow", "closed", "ticket_follow_up", "manual",
    "lead_list", "care_campaign", "care_schedule", "lead_callback",
)  # fmt: skip
#: Calls the outbound room plans (lead lists, campaigns, care schedules): on the agent's
#: list like callbacks, but only once due (a lead not reached returns at its retry time).
OUTBOUND_KINDS = ("lead_call", "care_call")
STATUSES = ("open", "in_progress", "done", "cancelled")


class InvalidTask(ValueError):
    """A task the caller must correct (unknown origin, no number and no customer...)."""


async def create_task(
    session: AsyncSession,
    *,
    origin: str,
    phone: str = "",
    customer_id: int | None = None,
    group: str = "",
    assignee_id: int | None = None,
    due_at: datetime | None = None,
    kind: str = "callback",
    notes: str = "",
    origin_call_id: int | None = None,
    origin_ticket_id: int | None = None,
    created_at: datetime,
) -> Task:
    if origin not in ORIGINS:
        raise InvalidTask(f"unknown task origin {origin!r}")
    if kind not in KINDS:
        raise InvalidTask(f"unknown task kind {kind!r}")
    if not phone and customer_id is None:
        raise InvalidTask("a task needs a phone number or a customer")
    task = Task(
        kind=kind,
        origin=origin,
        phone=phone,
        customer_id=customer_id,
        group=group,
        assignee_id=assignee_id,
        due_at=due_at or created_at,
        notes=notes,
        origin_call_id=origin_call_id,
        origin_ticket_id=origin_ticket_id,
        created_at=created_at,
        status="open",
    )
    session.add(task)
    await session.flush()
    return task


async def open_tasks(session: AsyncSession, *, group: str | None = None) -> Sequence[Task]:
    query = select(Task).where(Task.status.in_(("open", "in_progress")))
    if group is not None:
        query = query.where(Task.group == group)
    return (await session.scalars(query.order_by(Task.due_at, Task.id))).all()


async def open_callback_for(session: AsyncSession, phone: str) -> Task | None:
    """An open callback for this number already exists: don't create a second one."""
    query = (
        select(Task)
        .where(
            Task.phone == phone, Task.kind == "callback", Task.status.in_(("open", "in_progress"))
        )
        .limit(1)
    )
    return (await session.scalars(query)).first()


# ---------------------------------------------------------------------- callbacks (issue 13)
_OPEN = [str(s) for s in OPEN_TASK_STATUSES]


def _line(now: datetime, zone: ZoneInfo, text: str) -> str:
    return f"{localtime.format_datetime(now, zone)} {text}".rstrip()


async def record_callback(
    session: AsyncSession,
    *,
    origin: str,
    phone: str,
    customer_id: int | None,
    group: str,
    notes: str,
    now: datetime,
    zone: ZoneInfo = localtime.DEFAULT_ZONE,
) -> tuple[Task, bool]:
    """The ACD's one way to ask for a callback: ``(task, merged)``.

    A miss from a number that already has an open callback created on the same local day
    joins it (a line in its notes, the earliest due time kept), so one customer who tries
    five times before lunch is one call back, not five (:func:`core.tasks.merges_into`).
    The caller (the ACD) has already refused anonymous numbers."""
    start, end = localtime.day_bounds(localtime.local_date(now, zone), zone)
    # Two misses of one number at once must not both find "no task yet": the second waits
    # for the first's transaction before it looks.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("cb:" + phone))))
    else:  # a write that changes nothing takes SQLite's write gate (db/write_gate.py) now
        await session.execute(
            update(Task).where(false()).values(status=Task.status),
            execution_options={"synchronize_session": False},
        )
    same_day = (
        await session.scalars(
            select(Task)
            .where(
                Task.phone == phone,
                Task.kind == "callback",
                Task.status.in_(_OPEN),
                Task.created_at >= start,
                Task.created_at < end,
            )
            .order_by(Task.id)
            .limit(1)
            .with_for_update()
        )
    ).first()
    existing_day = None if same_day is None else localtime.local_date(same_day.created_at, zone)
    today = localtime.local_date(now, zone)
    if same_day is not None and merges_into(origin=origin, existing_day=existing_day, today=today):
        same_day.notes = "\n".join(
            filter(None, [same_day.notes, _line(now, zone, f"[{origin}] {notes}")])
        )
        if same_day.customer_id is None:
            same_day.customer_id = customer_id
        await session.flush()
        return same_day, True
    task = await create_task(
        session,
        origin=origin,
        phone=phone,
        customer_id=customer_id,
        group=group,
        notes=notes,  # the first line's time is the task's own
        created_at=now,
    )
    return task, False


async def groups_of(session: AsyncSession, user_id: int) -> list[str]:
    """Codes of the agent groups ``user_id`` answers for."""
    rows = await session.scalars(
        select(AgentGroup.code)
        .join(AgentGroupMember, AgentGroupMember.group_id == AgentGroup.id)
        .where(AgentGroupMember.user_id == user_id)
        .order_by(AgentGroup.code)
    )
    return list(rows)


def _visible_to(user_id: int, groups: Sequence[str], now: datetime | None = None):  # type: ignore[no-untyped-def]
    """An agent's callbacks: their groups' (and group-less ones), not claimed by another;
    with ``now``, also the outbound calls (lead lists, campaigns, care) that are due."""
    kinds = Task.kind == "callback"
    if now is not None:
        kinds = or_(kinds, and_(Task.kind.in_(OUTBOUND_KINDS), Task.due_at <= now))
    return (
        kinds,
        Task.status.in_(_OPEN),
        or_(Task.group.in_(list(groups)), Task.group == ""),
        or_(Task.assignee_id.is_(None), Task.assignee_id == user_id),
    )


async def callbacks_for_agent(
    session: AsyncSession, user_id: int, *, limit: int = 100, now: datetime | None = None
) -> Sequence[Task]:
    """What the agent page lists: mine first (claimed by me), then the earliest due."""
    groups = await groups_of(session, user_id)
    mine_first = (Task.assignee_id == user_id).desc()
    query = (
        select(Task)
        .where(*_visible_to(user_id, groups, now))
        .order_by(mine_first, Task.due_at, Task.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def callback_for_agent(
    session: AsyncSession, user_id: int, task_id: int, *, now: datetime | None = None
) -> Task | None:
    """One task, only if the agent may see it (None → 404: others' tasks do not exist)."""
    groups = await groups_of(session, user_id)
    query = select(Task).where(Task.id == task_id, *_visible_to(user_id, groups, now))
    return (await session.scalars(query)).first()


class TaskTaken(Exception):
    """Another agent claimed the task first (or it is no longer open)."""


async def claim_callback(session: AsyncSession, task_id: int, *, user_id: int) -> None:
    """Take a callback so no colleague calls the same customer: one conditional UPDATE,
    so two agents clicking together cannot both win (the loser gets :class:`TaskTaken`)."""
    result = await session.execute(
        update(Task)
        .where(
            Task.id == task_id,
            Task.status.in_(_OPEN),
            or_(Task.assignee_id.is_(None), Task.assignee_id == user_id),
        )
        .values(assignee_id=user_id, status=str(TaskStatus.IN_PROGRESS))
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise TaskTaken()
    await session.flush()


async def release_callback(session: AsyncSession, task_id: int, *, user_id: int) -> None:
    """Give a claimed callback back (open, nobody's) without an outcome."""
    result = await session.execute(
        update(Task)
        .where(Task.id == task_id, Task.assignee_id == user_id, Task.status.in_(_OPEN))
        .values(assignee_id=None, status=str(TaskStatus.OPEN))
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise TaskTaken()


async def record_outcome(
    session: AsyncSession,
    task_id: int,
    outcome: str,
    *,
    user_id: int,
    now: datetime,
    retry_at: datetime | None = None,
    note: str = "",
    zone: ZoneInfo = localtime.DEFAULT_ZONE,
) -> Task:
    """The agent's result of a callback (claiming it first if it was free).

    Reached / wrong number: done. Not reached: open again for anyone, due at ``retry_at``.
    Raises :class:`TaskRuleError` (bad outcome or retry time) before anything changes, and
    :class:`TaskTaken` when a colleague holds it."""
    plan = plan_outcome(outcome, now=now, retry_at=retry_at)
    await claim_callback(session, task_id, user_id=user_id)
    task = await session.get(Task, task_id, populate_existing=True)
    assert task is not None  # the claim just matched it
    task.outcome = str(plan.outcome)
    task.status = str(plan.status)
    if plan.due_at is not None:
        task.due_at = plan.due_at
    if plan.release:
        task.assignee_id = None
    else:
        task.assignee_id = user_id
    user = await session.get(User, user_id)
    who = "" if user is None else (user.full_name or user.username)
    line = f"→ {plan.outcome} ({who})" + (f": {note.strip()}" if note.strip() else "")
    task.notes = "\n".join(filter(None, [task.notes, _line(now, zone, line)]))
    await session.flush()
    return task


@dataclass(frozen=True)
class OpenTaskRow:
    task: Task
    assignee: str
    customer_name: str


async def all_open_tasks(session: AsyncSession, *, limit: int = 500) -> list[OpenTaskRow]:
    """Every open task (callbacks and follow-ups) for the supervisors, oldest first."""
    query = (
        select(Task, User.full_name, User.username, Customer.name)
        .outerjoin(User, User.id == Task.assignee_id)
        .outerjoin(Customer, Customer.id == Task.customer_id)
        .where(Task.status.in_(_OPEN))
        .order_by(Task.created_at, Task.id)
        .limit(limit)
    )
    return [
        OpenTaskRow(task, full or username or "", customer or "")
        for task, full, username, customer in (await session.execute(query)).all()
    ]


__all__ = [
    "InvalidTask",
    "OpenTaskRow",
    "TaskRuleError",
    "TaskTaken",
    "all_open_tasks",
    "callback_for_agent",
    "callbacks_for_agent",
    "claim_callback",
    "create_task",
    "groups_of",
    "open_callback_for",
    "open_tasks",
    "record_callback",
    "record_outcome",
    "release_callback",
]
