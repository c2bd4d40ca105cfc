"""The back office's writes on tickets: codes, create, assign/claim/transfer, status moves,
comments, attachments, the care team's follow-up and the SLA escalation records.

Every status change goes through :func:`callcenter.core.tickets.check_transition` and
writes one event (who, when, from → to). Functions flush and leave the commit to the
caller, so a change, its event and its outbox notifications are one transaction. The
ticket row is locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers) before
it is read for a change, and auto-assignment locks the department's row so two new
tickets cannot both go to the same "free" member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.tickets import (
    FINISHED_STATUSES,
    EventKind,
    FollowUpOutcome,
    LoggedEvent,
    MemberLoad,
    Priority,
    TicketStatus,
    TicketWorkflowError,
    TimeTotals,
    check_attachment,
    check_claim,
    check_transition,
    choose_assignee,
    follow_up_result,
    needs_follow_up,
    plan_transfer,
    sla_due,
    time_totals,
)
from callcenter.db.models import (
    Call,
    CallWrapUp,
    Category,
    Department,
    Task,
    Ticket,
    TicketAttachment,
    TicketEscalation,
    TicketEvent,
    User,
)
from callcenter.db.models.tickets import allocate_code
from callcenter.db.repos import tasks as task_repo
from callcenter.i18n import N_
from callcenter.localtime import DEFAULT_ZONE, to_local

HELD_STATUSES = (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.WAITING)
CARE_GROUP = "care"
FOLLOW_UP_DELAY = timedelta(hours=24)


# ---------------------------------------------------------------------- codes
async def next_code(session: AsyncSession, year: int) -> str:
    """The next code of ``year`` (``models.tickets.allocate_code``: unique under concurrent
    creation on both databases, and on PostgreSQL without waiting for other creations)."""
    return await session.run_sync(lambda sync: allocate_code(sync.connection(), year))


async def code_for(session: AsyncSession, now: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    return await next_code(session, to_local(now, zone).year)


async def by_code(session: AsyncSession, code: str) -> Ticket | None:
    found: Ticket | None = await session.scalar(
        select(Ticket).where(Ticket.code == code.strip().upper())
    )
    return found


# ---------------------------------------------------------------------- events
def add_event(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    *,
    user_id: int | None,
    at: datetime,
    from_status: str = "",
    to_status: str = "",
    from_user_id: int | None = None,
    to_user_id: int | None = None,
    from_department_id: int | None = None,
    to_department_id: int | None = None,
    note: str = "",
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=at,
        user_id=user_id,
        kind=str(kind),
        from_status=str(from_status),
        to_status=str(to_status),
        from_user_id=from_user_id,
        to_user_id=to_user_id,
        from_department_id=from_department_id,
        to_department_id=to_department_id,
        note=note,
    )
    session.add(event)
    ticket.updated_at = at
    return event


async def _locked(session: AsyncSession, ticket_id: int) -> Ticket:
    """The ticket, its row locked to the commit (FOR NO KEY UPDATE: events, comments and
    wrap-ups that reference it take a key-share lock, which this must not wait on)."""
    ticket = await session.get(
        Ticket, ticket_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if ticket is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    return ticket


# ---------------------------------------------------------------------- create
@dataclass(frozen=True, slots=True)
class NewTicket:
    """A ticket opened from a page (the wrap-up path uses ``tickets.apply_plan``)."""

    title: str
    department_id: int
    description: str = ""
    category_id: int | None = None
    priority: Priority = Priority.NORMAL
    customer_id: int | None = None
    call_id: int | None = None


async def create_ticket(
    session: AsyncSession,
    data: NewTicket,
    *,
    user_id: int | None,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
    auto_assign: bool = True,
) -> Ticket:
    """Create an unassigned ticket in the department (due by the category's SLA), then
    give it to the department's best free member."""
    title = data.title.strip()
    if not title:
        raise TicketWorkflowError(N_("Give the ticket a title."))
    if await session.get(Department, data.department_id) is None:
        raise TicketWorkflowError(N_("That department does not exist."))
    due_at = None
    if data.category_id is not None:
        category = await session.get(Category, data.category_id)
        if category is None:
            raise TicketWorkflowError(N_("That category does not exist."))
        due_at = sla_due(now, category.sla_hours)
    ticket = Ticket(
        code=await code_for(session, now, zone),
        customer_id=data.customer_id,
        call_id=data.call_id,
        category_id=data.category_id,
        department_id=data.department_id,
        status=str(TicketStatus.UNASSIGNED),
        priority=str(Priority(data.priority)),
        subject=title[:300],
        description=data.description.strip(),
        created_by_id=user_id,
        due_at=due_at,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    add_event(
        session,
        ticket,
        EventKind.CREATED,
        user_id=user_id,
        at=now,
        to_status=TicketStatus.UNASSIGNED,
        to_department_id=data.department_id,
    )
    if auto_assign:
        await auto_assign_ticket(session, ticket, now=now)
    await session.flush()
    return ticket


# ---------------------------------------------------------------------- assignment
async def member_loads(session: AsyncSession, department_id: int) -> list[MemberLoad]:
    """The department's members in the head's order, with the tickets each holds now."""
    members = (
        await session.scalars(
            select(User)
            .where(User.department_id == department_id)
            .order_by(User.department_priority, User.id)
        )
    ).all()
    counts: dict[tuple[int | None, str], int] = {}
    if members:
        rows = await session.execute(
            select(Ticket.assignee_id, Ticket.status, func.count())
            .where(
                Ticket.assignee_id.in_([m.id for m in members]),
                Ticket.status.in_([str(s) for s in HELD_STATUSES]),
            )
            .group_by(Ticket.assignee_id, Ticket.status)
        )
        counts = {(user_id, status): n for user_id, status, n in rows}
    return [
        MemberLoad(
            user_id=m.id,
            priority=m.department_priority,
            active=m.active,
            assigned=counts.get((m.id, TicketStatus.ASSIGNED), 0),
            in_progress=counts.get((m.id, TicketStatus.IN_PROGRESS), 0),
            waiting=counts.get((m.id, TicketStatus.WAITING), 0),
        )
        for m in members
    ]


async def auto_assign_ticket(
    session: AsyncSession, ticket: Ticket, *, now: datetime, user_id: int | None = None
) -> int | None:
    """Give an unassigned ticket to its department's best free member; None if all busy."""
    if ticket.status != TicketStatus.UNASSIGNED or ticket.department_id is None:
        return None
    await session.flush()
    # Serialise assignment per department (PostgreSQL; SQLite has one writer anyway) with
    # FOR NO KEY UPDATE: it leaves alone the key-share lock every new ticket takes on its
    # department's row (the foreign key), which FOR UPDATE waited on: two creations into
    # one department each held one and waited for the other's (a deadlock).
    await session.get(Department, ticket.department_id, with_for_update={"key_share": True})
    chosen = choose_assignee(await member_loads(session, ticket.department_id))
    if chosen is None:
        return None
    _set_holder(session, ticket, chosen, EventKind.ASSIGNED, user_id=user_id, now=now)
    await session.flush()
    return chosen


def _set_holder(
    session: AsyncSession,
    ticket: Ticket,
    assignee_id: int,
    kind: EventKind,
    *,
    user_id: int | None,
    now: datetime,
    note: str = "",
) -> None:
    current = TicketStatus(ticket.status)
    check_transition(current, TicketStatus.ASSIGNED)
    add_event(
        session,
        ticket,
        kind,
        user_id=user_id,
        at=now,
        from_status=current,
        to_status=TicketStatus.ASSIGNED,
        from_user_id=ticket.assignee_id,
        to_user_id=assignee_id,
        note=note,
    )
    ticket.assignee_id = assignee_id
    ticket.status = str(TicketStatus.ASSIGNED)


async def assign(
    session: AsyncSession, ticket_id: int, assignee_id: int, *, user_id: int | None, now: datetime
) -> Ticket:
    """The head (or a supervisor) hands an unassigned ticket to a member of its department."""
    ticket = await _locked(session, ticket_id)
    member = await session.get(User, assignee_id)
    if member is None or member.department_id != ticket.department_id or not member.active:
        raise TicketWorkflowError(
            N_("Only an active member of the ticket's department can hold it.")
        )
    _set_holder(session, ticket, assignee_id, EventKind.ASSIGNED, user_id=user_id, now=now)
    await session.flush()
    return ticket


async def claim(session: AsyncSession, ticket_id: int, *, user_id: int, now: datetime) -> Ticket:
    """A free or waiting member of the department takes an unassigned ticket."""
    ticket = await _locked(session, ticket_id)
    loads = await member_loads(session, ticket.department_id) if ticket.department_id else []
    check_claim(TicketStatus(ticket.status), next((m for m in loads if m.user_id == user_id), None))
    _set_holder(session, ticket, user_id, EventKind.CLAIMED, user_id=user_id, now=now)
    await session.flush()
    return ticket


async def transfer(
    session: AsyncSession,
    ticket_id: int,
    *,
    user_id: int | None,
    now: datetime,
    reason: str,
    to_user_id: int | None = None,
    to_department_id: int | None = None,
) -> Ticket:
    """To a colleague (assigned to them) or to another department (unassigned there, then
    auto-assigned), always with a reason."""
    ticket = await _locked(session, ticket_id)
    department_id = to_department_id if to_department_id is not None else ticket.department_id
    if department_id is None or await session.get(Department, department_id) is None:
        raise TicketWorkflowError(N_("That department does not exist."))
    if to_user_id is not None:
        colleague = await session.get(User, to_user_id)
        if colleague is None or colleague.department_id != department_id or not colleague.active:
            raise TicketWorkflowError(
                N_("Only an active member of the ticket's department can hold it.")
            )
        if to_user_id == ticket.assignee_id:
            raise TicketWorkflowError(N_("The ticket is already theirs."))
    plan = plan_transfer(
        status=TicketStatus(ticket.status),
        department_id=ticket.department_id,
        to_department_id=department_id,
        to_user_id=to_user_id,
        reason=reason,
    )
    add_event(
        session,
        ticket,
        EventKind.TRANSFERRED,
        user_id=user_id,
        at=now,
        from_status=ticket.status,
        to_status=plan.status,
        from_user_id=ticket.assignee_id,
        to_user_id=plan.assignee_id,
        from_department_id=ticket.department_id,
        to_department_id=plan.department_id,
        note=reason.strip(),
    )
    ticket.status = str(plan.status)
    ticket.assignee_id = plan.assignee_id
    ticket.department_id = plan.department_id
    await session.flush()
    if plan.assignee_id is None:
        await auto_assign_ticket(session, ticket, now=now, user_id=user_id)
    return ticket


async def categorise(
    session: AsyncSession,
    ticket_id: int,
    *,
    category_id: int,
    department_id: int | None,
    user_id: int | None,
    now: datetime,
) -> Ticket:
    """A supervisor categorises a ticket flagged for review (the wrap-up timed out): it
    gets its category, department (the category's unless chosen) and due time, loses the
    flag, and goes to the department's best free member."""
    ticket = await _locked(session, ticket_id)
    if not ticket.needs_review or ticket.status != TicketStatus.UNASSIGNED:
        raise TicketWorkflowError(N_("Only a ticket waiting for review can be categorised."))
    category = await session.get(Category, category_id)
    if category is None:
        raise TicketWorkflowError(N_("That category does not exist."))
    target = department_id if department_id is not None else category.department_id
    if target is None or await session.get(Department, target) is None:
        raise TicketWorkflowError(N_("This category has no department: choose one."))
    add_event(
        session,
        ticket,
        EventKind.TRANSFERRED,
        user_id=user_id,
        at=now,
        from_status=ticket.status,
        to_status=TicketStatus.UNASSIGNED,
        from_department_id=ticket.department_id,
        to_department_id=target,
        note=category.name,
    )
    ticket.category_id = category.id
    ticket.department_id = target
    ticket.needs_review = False
    ticket.due_at = sla_due(now, category.sla_hours)
    await session.flush()
    await auto_assign_ticket(session, ticket, now=now, user_id=user_id)
    return ticket


# ---------------------------------------------------------------------- status moves
async def transition(
    session: AsyncSession,
    ticket_id: int,
    to_status: TicketStatus | str,
    *,
    user_id: int | None,
    now: datetime,
    note: str = "",
    care_group: str = CARE_GROUP,
) -> Ticket:
    """Move the ticket through the one table. Who holds it changes only through assign,
    claim and transfer. Done sends the care team a follow-up task; a reopen cancels it."""
    ticket = await _locked(session, ticket_id)
    current = TicketStatus(ticket.status)
    target = TicketStatus(to_status)
    kind = check_transition(current, target)
    if kind in (EventKind.ASSIGNED, EventKind.TRANSFERRED):
        raise TicketWorkflowError(N_("Use assign, claim or transfer to change who holds it."))
    await _move(session, ticket, target, kind, user_id=user_id, now=now, note=note)
    if needs_follow_up(target):
        await _open_follow_up(session, ticket, now=now, care_group=care_group)
    elif current is TicketStatus.DONE:
        await _cancel_follow_ups(session, ticket)
    await session.flush()
    return ticket


async def _move(
    session: AsyncSession,
    ticket: Ticket,
    target: TicketStatus,
    kind: EventKind,
    *,
    user_id: int | None,
    now: datetime,
    note: str,
) -> None:
    add_event(
        session,
        ticket,
        kind,
        user_id=user_id,
        at=now,
        from_status=ticket.status,
        to_status=target,
        note=note.strip(),
    )
    ticket.status = str(target)
    ticket.closed_at = now if target in FINISHED_STATUSES else None


async def _open_follow_up(
    session: AsyncSession, ticket: Ticket, *, now: datetime, care_group: str
) -> Task | None:
    phone = ""
    if ticket.call_id is not None:
        phone = (
            await session.scalar(select(Call.caller_number).where(Call.id == ticket.call_id))
        ) or ""
    if ticket.customer_id is None and not phone:
        return None  # nobody to call back: the care team sees it in the "done" list
    return await task_repo.create_task(
        session,
        origin="ticket_follow_up",
        kind="follow_up",
        phone=phone,
        customer_id=ticket.customer_id,
        group=care_group,
        due_at=now + FOLLOW_UP_DELAY,
        notes=f"{ticket.code}: {ticket.subject}",
        origin_call_id=ticket.call_id,
        origin_ticket_id=ticket.id,
        created_at=now,
    )


async def _cancel_follow_ups(session: AsyncSession, ticket: Ticket) -> None:
    await session.execute(
        update(Task)
        .where(
            Task.origin_ticket_id == ticket.id,
            Task.kind == "follow_up",
            Task.status.in_(["open", "in_progress"]),
        )
        .values(status="cancelled")
    )


async def follow_up_task(session: AsyncSession, ticket_id: int) -> Task | None:
    found: Task | None = await session.scalar(
        select(Task)
        .where(
            Task.origin_ticket_id == ticket_id,
            Task.kind == "follow_up",
            Task.status.in_(["open", "in_progress"]),
        )
        .order_by(Task.id.desc())
    )
    return found


async def record_follow_up(
    session: AsyncSession,
    ticket_id: int,
    outcome: FollowUpOutcome | str,
    *,
    comment: str,
    user_id: int | None,
    now: datetime,
) -> Ticket:
    """The care team's call with the customer: satisfied closes the ticket, not satisfied
    (with a comment) reopens it for the department."""
    ticket = await _locked(session, ticket_id)
    result = FollowUpOutcome(outcome)
    target = follow_up_result(TicketStatus(ticket.status), result, comment)
    task = await follow_up_task(session, ticket_id)
    if task is not None:
        task.status = "done"
        task.outcome = str(result)
        task.assignee_id = task.assignee_id or user_id
    add_event(
        session,
        ticket,
        EventKind.FOLLOW_UP,
        user_id=user_id,
        at=now,
        note=f"{result}: {comment.strip()}" if comment.strip() else str(result),
    )
    kind = check_transition(TicketStatus(ticket.status), target)
    await _move(session, ticket, target, kind, user_id=user_id, now=now, note=comment)
    await session.flush()
    return ticket


# ---------------------------------------------------------------------- comments, files
MAX_COMMENT = 10_000


async def comment(
    session: AsyncSession, ticket_id: int, text: str, *, user_id: int | None, now: datetime
) -> TicketEvent:
    text = text.strip()
    if not text:
        raise TicketWorkflowError(N_("The comment is empty."))
    if len(text) > MAX_COMMENT:
        raise TicketWorkflowError(N_("The comment is too long."))
    ticket = await _locked(session, ticket_id)
    event = add_event(session, ticket, EventKind.COMMENTED, user_id=user_id, at=now, note=text)
    await session.flush()
    return event


async def attach(
    session: AsyncSession,
    ticket_id: int,
    *,
    name: str,
    size: int,
    head: bytes,
    stored_path: str,
    user_id: int | None,
    now: datetime,
    max_bytes: int | None = None,
) -> TicketAttachment:
    """Record a file already saved at ``stored_path`` (relative to the attachments folder).
    Type and size are checked here; the caller deletes the file if this raises."""
    checked = (
        check_attachment(name, size, head)
        if max_bytes is None
        else check_attachment(name, size, head, max_bytes)
    )
    relative = Path(stored_path)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError("stored_path must be relative to the attachments folder")
    ticket = await _locked(session, ticket_id)
    row = TicketAttachment(
        ticket_id=ticket.id,
        name=checked.name,
        content_type=checked.content_type,
        size=size,
        stored_path=str(relative),
        uploaded_by_id=user_id,
        uploaded_at=now,
    )
    session.add(row)
    add_event(session, ticket, EventKind.ATTACHED, user_id=user_id, at=now, note=checked.name)
    await session.flush()
    return row


async def attachments(session: AsyncSession, ticket_id: int) -> Sequence[TicketAttachment]:
    rows = await session.scalars(
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket_id)
        .order_by(TicketAttachment.id)
    )
    return rows.all()


# ---------------------------------------------------------------------- reading
async def events_of(session: AsyncSession, ticket_id: int) -> Sequence[TicketEvent]:
    rows = await session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return rows.all()


def _logged(event: TicketEvent) -> LoggedEvent:
    return LoggedEvent(event.at, event.kind, event.to_status, event.to_user_id)


async def ticket_times(session: AsyncSession, ticket_id: int, now: datetime) -> TimeTotals:
    """Work (in progress) and waiting time of one ticket, per person too."""
    return time_totals([_logged(e) for e in await events_of(session, ticket_id)], now)


async def person_times(
    session: AsyncSession,
    *,
    now: datetime,
    since: datetime | None = None,
    department_id: int | None = None,
) -> dict[int, TimeTotals]:
    """Per person: work and waiting time summed over the tickets they held (KPI input).
    ``since``/``department_id`` choose the tickets (created since, current department)."""
    query = select(TicketEvent).join(Ticket, Ticket.id == TicketEvent.ticket_id)
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    rows = (await session.scalars(query.order_by(TicketEvent.ticket_id, TicketEvent.id))).all()
    by_ticket: dict[int, list[LoggedEvent]] = {}
    for event in rows:
        by_ticket.setdefault(event.ticket_id, []).append(_logged(event))
    people: dict[int, TimeTotals] = {}
    for events in by_ticket.values():
        for person, spent in time_totals(events, now).per_person.items():
            if person is None:
                continue
            total = people.setdefault(person, TimeTotals())
            total.work += spent.work
            total.wait += spent.wait
    return people


async def linked_calls(session: AsyncSession, ticket_id: int) -> Sequence[Call]:
    """The call the ticket came from and every later call wrapped up onto it, oldest first."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        return []
    later = select(CallWrapUp.call_id).where(CallWrapUp.ticket_id == ticket_id)
    condition: ColumnElement[bool] = Call.id.in_(later)
    if ticket.call_id is not None:
        condition = or_(condition, Call.id == ticket.call_id)
    rows = await session.scalars(select(Call).where(condition).order_by(Call.started_at))
    return rows.all()


# ---------------------------------------------------------------------- SLA records
async def escalations_sent(session: AsyncSession, ticket_id: int) -> set[str]:
    rows = await session.scalars(
        select(TicketEscalation.threshold).where(TicketEscalation.ticket_id == ticket_id)
    )
    return set(rows.all())


async def record_escalations(
    session: AsyncSession, ticket: Ticket, keys: Sequence[str], *, now: datetime, note: str
) -> None:
    """Mark thresholds handled (the unique key stops a second worker sending them again)
    and log the notification on the ticket."""
    for key in keys:
        session.add(TicketEscalation(ticket_id=ticket.id, threshold=key, sent_at=now))
    add_event(session, ticket, EventKind.NOTIFIED, user_id=None, at=now, note=note)
    await session.flush()
