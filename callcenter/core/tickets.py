"""Ticket workflow: the statuses a ticket moves through, and how every call ends as one.

Reports count every call by category, so after-call work always produces a
ticket decision: a new ticket forwarded to the category's department, an
addition to the customer's open ticket, an information-only ticket closed at
once, or (when the wrap-up time runs out before the agent saves) an
"uncategorized" ticket a supervisor reviews. This module is pure: it turns the
agent's form and the facts it needs into a :class:`TicketPlan` the database
adapter applies; time comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class TicketStatus(StrEnum):
    NEW = "new"
    FORWARDED = "forwarded"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    UNCATEGORIZED = "uncategorized"


OPEN_STATUSES = frozenset(
    {
        TicketStatus.NEW,
        TicketStatus.FORWARDED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.UNCATEGORIZED,
    }
)

#: Allowed moves. Reopening a resolved ticket is allowed; a closed one stays closed
#: (a new call about it becomes a new ticket, so reports keep the first outcome).
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset(
        {TicketStatus.FORWARDED, TicketStatus.IN_PROGRESS, TicketStatus.CLOSED}
    ),
    TicketStatus.UNCATEGORIZED: frozenset({TicketStatus.FORWARDED, TicketStatus.CLOSED}),
    TicketStatus.FORWARDED: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {TicketStatus.FORWARDED, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.IN_PROGRESS}),
    TicketStatus.CLOSED: frozenset(),
}


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class WrapUpOutcome(StrEnum):
    """What the agent decided the call becomes."""

    NEW_TICKET = "new_ticket"
    ADD_TO_OPEN = "add_to_open"
    INFO_ONLY = "info_only"
    UNCATEGORIZED = "uncategorized"  # only ever chosen by the wrap-up timeout


class TicketWorkflowError(ValueError):
    """The request breaks a workflow rule; the message says which, in plain words."""


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: int
    name: str
    department_id: int | None
    sla_hours: int = 24


@dataclass(frozen=True, slots=True)
class OpenTicketInfo:
    id: int
    customer_id: int | None
    status: TicketStatus


@dataclass(frozen=True, slots=True)
class WrapUpForm:
    """The after-call form as the agent submitted it (already parsed, not yet trusted)."""

    outcome: WrapUpOutcome
    category_id: int | None = None
    department_id: int | None = None
    priority: Priority = Priority.NORMAL
    notes: str = ""
    open_ticket_id: int | None = None


@dataclass(frozen=True, slots=True)
class TicketEventPlan:
    kind: str
    from_status: str = ""
    to_status: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class TicketPlan:
    """What the database adapter must write: a new ticket, or events on an existing one."""

    outcome: WrapUpOutcome
    create: bool
    target_ticket_id: int | None
    status: TicketStatus
    category_id: int | None
    department_id: int | None
    priority: Priority
    subject: str
    description: str
    due_at: datetime | None
    closed_at: datetime | None
    events: tuple[TicketEventPlan, ...] = field(default_factory=tuple)


MAX_NOTES = 10_000


def check_transition(current: TicketStatus, new: TicketStatus) -> None:
    if new not in TRANSITIONS[current]:
        raise TicketWorkflowError(f"a ticket cannot go from {current} to {new}")


def default_department(category: CategoryInfo | None) -> int | None:
    """The department a category sends its tickets to (the form's default)."""
    return None if category is None else category.department_id


def _subject(category: CategoryInfo | None, notes: str) -> str:
    first_line = notes.strip().splitlines()[0][:120] if notes.strip() else ""
    if category is None:
        return first_line
    return f"{category.name}: {first_line}" if first_line else category.name


def plan_wrap_up(
    form: WrapUpForm,
    *,
    category: CategoryInfo | None,
    open_ticket: OpenTicketInfo | None,
    customer_id: int | None,
    now: datetime,
) -> TicketPlan:
    """Turn the agent's saved form into a ticket plan, or explain why it cannot be saved."""
    notes = form.notes.strip()
    if len(notes) > MAX_NOTES:
        raise TicketWorkflowError(f"notes are longer than {MAX_NOTES} characters")
    if form.outcome is WrapUpOutcome.UNCATEGORIZED:
        raise TicketWorkflowError("choose a category; uncategorized is for timed-out wrap-ups")
    if form.category_id is not None and (category is None or category.id != form.category_id):
        raise TicketWorkflowError("unknown category")
    if category is None:
        raise TicketWorkflowError("choose a category")
    department_id = (
        form.department_id if form.department_id is not None else default_department(category)
    )

    if form.outcome is WrapUpOutcome.ADD_TO_OPEN:
        if form.open_ticket_id is None or open_ticket is None:
            raise TicketWorkflowError("choose the customer's open ticket to add this call to")
        if open_ticket.id != form.open_ticket_id or (
            customer_id is None or open_ticket.customer_id != customer_id
        ):
            raise TicketWorkflowError("that ticket does not belong to this caller")
        if open_ticket.status not in OPEN_STATUSES:
            raise TicketWorkflowError("that ticket is no longer open")
        return TicketPlan(
            outcome=form.outcome,
            create=False,
            target_ticket_id=open_ticket.id,
            status=open_ticket.status,
            category_id=category.id,
            department_id=department_id,
            priority=form.priority,
            subject="",
            description=notes,
            due_at=None,
            closed_at=None,
            events=(TicketEventPlan("call_added", note=notes),),
        )

    if form.outcome is WrapUpOutcome.INFO_ONLY:
        return TicketPlan(
            outcome=form.outcome,
            create=True,
            target_ticket_id=None,
            status=TicketStatus.CLOSED,
            category_id=category.id,
            department_id=department_id,
            priority=form.priority,
            subject=_subject(category, notes),
            description=notes,
            due_at=None,
            closed_at=now,
            events=(
                TicketEventPlan("created", to_status=TicketStatus.NEW, note=notes),
                TicketEventPlan(
                    "closed",
                    from_status=TicketStatus.NEW,
                    to_status=TicketStatus.CLOSED,
                    note="information only",
                ),
            ),
        )

    # NEW_TICKET
    if department_id is None:
        raise TicketWorkflowError("this category has no department: choose one")
    return TicketPlan(
        outcome=form.outcome,
        create=True,
        target_ticket_id=None,
        status=TicketStatus.FORWARDED,
        category_id=category.id,
        department_id=department_id,
        priority=form.priority,
        subject=_subject(category, notes),
        description=notes,
        due_at=now + timedelta(hours=category.sla_hours),
        closed_at=None,
        events=(
            TicketEventPlan("created", to_status=TicketStatus.NEW, note=notes),
            TicketEventPlan(
                "forwarded", from_status=TicketStatus.NEW, to_status=TicketStatus.FORWARDED
            ),
        ),
    )


def plan_timed_out(*, notes: str, now: datetime) -> TicketPlan:
    """Wrap-up ran out before the agent saved: keep what they typed, flag it for review."""
    notes = notes.strip()[:MAX_NOTES]
    return TicketPlan(
        outcome=WrapUpOutcome.UNCATEGORIZED,
        create=True,
        target_ticket_id=None,
        status=TicketStatus.UNCATEGORIZED,
        category_id=None,
        department_id=None,
        priority=Priority.NORMAL,
        subject=_subject(None, notes),
        description=notes,
        due_at=None,
        closed_at=None,
        events=(
            TicketEventPlan(
                "created",
                to_status=TicketStatus.UNCATEGORIZED,
                note="wrap-up time ran out before the agent saved",
            ),
        ),
    )
