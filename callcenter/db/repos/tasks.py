"""Tasks: callbacks and follow-ups (origin: abandoned call, voicemail, overflow, closed, ticket)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Task

KINDS = ("callback", "follow_up")
ORIGINS = ("abandoned", "voicemail", "overflow", "closed", "ticket_follow_up", "manual")
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
