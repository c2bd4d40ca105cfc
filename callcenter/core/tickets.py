"""Ticket workflow: statuses, the one transition table, assignment, SLA and time accounting.

Every call ends as a ticket decision: a new ticket sent to the category's
department, an addition to the customer's open ticket, an information-only
ticket closed at once, or (when the wrap-up time runs out before the agent
saves) a ticket flagged for a supervisor's review. Inside the department the
ticket moves through the statuses the care teams use:

    unassigned → assigned → in_progress ⇄ waiting → done → closed
    cancelled from any open status; reopen: done/closed → in_progress

This module is pure: it decides and the database adapter writes; time comes in
as an argument (the caller's Clock). Messages are English msgids with
``{params}``, translated where they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown."""
    return message


class TicketStatus(StrEnum):
    UNASSIGNED = "unassigned"  # chưa giao việc: nobody in the department was free
    ASSIGNED = "assigned"  # chưa thực hiện: has an assignee, work not started
    IN_PROGRESS = "in_progress"  # đang thực hiện
    WAITING = "waiting"  # đang chờ: for the customer or a part
    DONE = "done"  # đã hoàn tất: the department's work is done
    CLOSED = "closed"  # đã đóng: the care team confirmed with the customer
    CANCELLED = "cancelled"  # hủy


#: The department still has work to do on these.
OPEN_STATUSES = frozenset(
    {
        TicketStatus.UNASSIGNED,
        TicketStatus.ASSIGNED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING,
    }
)
#: Not finished for the customer yet (open, or done and waiting for the care team's call).
UNFINISHED_STATUSES = OPEN_STATUSES | {TicketStatus.DONE}
FINISHED_STATUSES = frozenset({TicketStatus.CLOSED, TicketStatus.CANCELLED})

#: Statuses of the schema before issue 13, and where the migration puts them.
#: ``uncategorized`` is not a status any more: it is the ``needs_review`` flag on an
#: unassigned ticket (the wrap-up timed out), which a supervisor clears by categorising.
LEGACY_STATUS_MAP: dict[str, TicketStatus] = {
    "new": TicketStatus.UNASSIGNED,
    "forwarded": TicketStatus.UNASSIGNED,  # ASSIGNED when the row has an assignee
    "uncategorized": TicketStatus.UNASSIGNED,
    "in_progress": TicketStatus.IN_PROGRESS,
    "resolved": TicketStatus.DONE,
    "closed": TicketStatus.CLOSED,
}

STATUS_LABELS: dict[TicketStatus, str] = {
    TicketStatus.UNASSIGNED: N_("Unassigned"),
    TicketStatus.ASSIGNED: N_("Not started"),
    TicketStatus.IN_PROGRESS: N_("Being worked on"),
    TicketStatus.WAITING: N_("Waiting"),
    TicketStatus.DONE: N_("Completed"),
    TicketStatus.CLOSED: N_("Ticket closed"),
    TicketStatus.CANCELLED: N_("Cancelled"),
}


class EventKind(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    CLAIMED = "claimed"
    TRANSFERRED = "transferred"
    STATUS_CHANGED = "status_changed"
    COMMENTED = "commented"
    NOTIFIED = "notified"
    REOPENED = "reopened"
    CALL_ADDED = "call_added"
    ATTACHED = "attached"
    FOLLOW_UP = "follow_up"


EVENT_LABELS: dict[str, str] = {
    EventKind.CREATED: N_("Created"),
    EventKind.ASSIGNED: N_("Assigned"),
    EventKind.CLAIMED: N_("Claimed"),
    EventKind.TRANSFERRED: N_("Transferred"),
    EventKind.STATUS_CHANGED: N_("Status changed"),
    EventKind.COMMENTED: N_("Comment"),
    EventKind.NOTIFIED: N_("Notification sent"),
    EventKind.REOPENED: N_("Reopened"),
    EventKind.CALL_ADDED: N_("Call added"),
    EventKind.ATTACHED: N_("File attached"),
    EventKind.FOLLOW_UP: N_("Customer follow-up"),
    # Kinds written before issue 13; old rows keep them.
    "forwarded": N_("Forwarded to the department"),
    "closed": N_("Ticket closed"),
}


class TicketWorkflowError(ValueError):
    """The request breaks a workflow rule. ``args[0]`` is an English msgid; ``params``
    fill its ``{placeholders}`` (statuses as codes: translate them with STATUS_LABELS)."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return self.message.format(**self.params) if self.params else self.message


_S = TicketStatus
#: THE transition table: (from, to) → the event kind the move is logged as.
#: Assignment moves (unassigned → assigned, back to unassigned or to a colleague) are
#: logged by the assign/claim/transfer operations themselves, which pass through here too.
TRANSITIONS: dict[tuple[TicketStatus, TicketStatus], EventKind] = {
    (_S.UNASSIGNED, _S.ASSIGNED): EventKind.ASSIGNED,
    (_S.UNASSIGNED, _S.CANCELLED): EventKind.STATUS_CHANGED,
    (_S.ASSIGNED, _S.UNASSIGNED): EventKind.TRANSFERRED,
    (_S.ASSIGNED, _S.IN_PROGRESS): EventKind.STATUS_CHANGED,
    (_S.ASSIGNED, _S.CANCELLED): EventKind.STATUS_CHANGED,
    (_S.IN_PROGRESS, _S.WAITING): EventKind.STATUS_CHANGED,
    (_S.IN_PROGRESS, _S.DONE): EventKind.STATUS_CHANGED,
    (_S.IN_PROGRESS, _S.ASSIGNED): EventKind.TRANSFERRED,
    (_S.IN_PROGRESS, _S.UNASSIGNED): EventKind.TRANSFERRED,
    (_S.IN_PROGRESS, _S.CANCELLED): EventKind.STATUS_CHANGED,
    (_S.WAITING, _S.IN_PROGRESS): EventKind.STATUS_CHANGED,
    (_S.WAITING, _S.DONE): EventKind.STATUS_CHANGED,
    (_S.WAITING, _S.ASSIGNED): EventKind.TRANSFERRED,
    (_S.WAITING, _S.UNASSIGNED): EventKind.TRANSFERRED,
    (_S.WAITING, _S.CANCELLED): EventKind.STATUS_CHANGED,
    (_S.DONE, _S.CLOSED): EventKind.STATUS_CHANGED,
    (_S.DONE, _S.IN_PROGRESS): EventKind.REOPENED,
    (_S.CLOSED, _S.IN_PROGRESS): EventKind.REOPENED,
}

#: Statuses a ticket may be created in (information-only calls are closed at once).
INITIAL_STATUSES = frozenset({_S.UNASSIGNED, _S.ASSIGNED, _S.CLOSED})


def allowed_moves(current: TicketStatus) -> list[TicketStatus]:
    """Where a ticket in ``current`` may go (the status buttons a page offers)."""
    return [to for (frm, to) in TRANSITIONS if frm is current]


def check_transition(current: TicketStatus, new: TicketStatus) -> EventKind:
    """The event kind of the move, or :class:`TicketWorkflowError` if the table forbids it."""
    kind = TRANSITIONS.get((TicketStatus(current), TicketStatus(new)))
    if kind is None:
        raise TicketWorkflowError(
            N_("A ticket cannot go from {current} to {new}."), current=current, new=new
        )
    return kind


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_LABELS: dict[Priority, str] = {
    Priority.LOW: N_("Low"),
    Priority.NORMAL: N_("Normal"),
    Priority.HIGH: N_("High"),
    Priority.URGENT: N_("Urgent"),
}
#: Sort key: urgent first.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


# ---------------------------------------------------------------------- readable codes
CODE_PREFIX = "TK"


def format_code(year: int, number: int) -> str:
    """``TK-2026-000123``: the year of creation (local) and that year's running number."""
    return f"{CODE_PREFIX}-{year:04d}-{number:06d}"


def parse_code(text: str) -> tuple[int, int] | None:
    """(year, number) of a ticket code as people type it (any case, spaces), else None."""
    parts = text.strip().upper().replace(" ", "").split("-")
    if len(parts) != 3 or parts[0] != CODE_PREFIX or not all(p.isdigit() for p in parts[1:]):
        return None
    return int(parts[1]), int(parts[2])


# ---------------------------------------------------------------------- wrap-up plans
class WrapUpOutcome(StrEnum):
    """What the agent decided the call becomes."""

    NEW_TICKET = "new_ticket"
    ADD_TO_OPEN = "add_to_open"
    INFO_ONLY = "info_only"
    UNCATEGORIZED = "uncategorized"  # only ever chosen by the wrap-up timeout


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
    needs_review: bool = False


MAX_NOTES = 10_000


def default_department(category: CategoryInfo | None) -> int | None:
    """The department a category sends its tickets to (the form's default)."""
    return None if category is None else category.department_id


def sla_due(created_at: datetime, sla_hours: int) -> datetime:
    return created_at + timedelta(hours=sla_hours)


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
        if open_ticket.status not in UNFINISHED_STATUSES:
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
            events=(TicketEventPlan(EventKind.CALL_ADDED, note=notes),),
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
                TicketEventPlan(
                    EventKind.CREATED, to_status=TicketStatus.CLOSED, note="information only"
                ),
            ),
        )

    # NEW_TICKET: unassigned in its department; the adapter then auto-assigns it.
    if department_id is None:
        raise TicketWorkflowError("this category has no department: choose one")
    return TicketPlan(
        outcome=form.outcome,
        create=True,
        target_ticket_id=None,
        status=TicketStatus.UNASSIGNED,
        category_id=category.id,
        department_id=department_id,
        priority=form.priority,
        subject=_subject(category, notes),
        description=notes,
        due_at=sla_due(now, category.sla_hours),
        closed_at=None,
        events=(TicketEventPlan(EventKind.CREATED, to_status=TicketStatus.UNASSIGNED, note=notes),),
    )


def plan_timed_out(*, notes: str, now: datetime) -> TicketPlan:
    """Wrap-up ran out before the agent saved: keep what they typed, flag it for review."""
    notes = notes.strip()[:MAX_NOTES]
    return TicketPlan(
        outcome=WrapUpOutcome.UNCATEGORIZED,
        create=True,
        target_ticket_id=None,
        status=TicketStatus.UNASSIGNED,
        category_id=None,
        department_id=None,
        priority=Priority.NORMAL,
        subject=_subject(None, notes),
        description=notes,
        due_at=None,
        closed_at=None,
        events=(
            TicketEventPlan(
                EventKind.CREATED,
                to_status=TicketStatus.UNASSIGNED,
                note="wrap-up time ran out before the agent saved",
            ),
        ),
        needs_review=True,
    )


# ---------------------------------------------------------------------- assignment
class Availability(StrEnum):
    FREE = "free"  # nothing assigned or in progress
    WAITING = "waiting"  # only tickets waiting for the customer or a part
    BUSY = "busy"  # a ticket assigned or in progress
    AWAY = "away"  # inactive account


AVAILABILITY_LABELS = {
    Availability.FREE: N_("Free"),
    Availability.WAITING: N_("Waiting"),
    Availability.BUSY: N_("Busy"),
    Availability.AWAY: N_("Away"),
}


@dataclass(frozen=True, slots=True)
class MemberLoad:
    """A department member and the tickets they hold now, by status."""

    user_id: int
    priority: int  # the head's order: lower gets tickets first
    active: bool = True
    assigned: int = 0
    in_progress: int = 0
    waiting: int = 0


def availability(member: MemberLoad) -> Availability:
    if not member.active:
        return Availability.AWAY
    if member.in_progress or member.assigned:
        return Availability.BUSY
    if member.waiting:
        return Availability.WAITING
    return Availability.FREE


def choose_assignee(members: Iterable[MemberLoad]) -> int | None:
    """The free member who ranks highest in the head's order; None when all are busy."""
    free = [m for m in members if availability(m) is Availability.FREE]
    if not free:
        return None
    return min(free, key=lambda m: (m.priority, m.user_id)).user_id


def check_claim(status: TicketStatus, member: MemberLoad | None) -> None:
    """A member of the ticket's department who is free or only waiting may claim it."""
    if status is not TicketStatus.UNASSIGNED:
        raise TicketWorkflowError(N_("This ticket is already assigned."))
    if member is None:
        raise TicketWorkflowError(N_("Only members of the ticket's department can claim it."))
    if availability(member) not in (Availability.FREE, Availability.WAITING):
        raise TicketWorkflowError(
            N_("Finish or put on hold the ticket you are working on before claiming another.")
        )


@dataclass(frozen=True, slots=True)
class TransferPlan:
    status: TicketStatus
    assignee_id: int | None
    department_id: int


MAX_REASON = 2_000


def plan_transfer(
    *,
    status: TicketStatus,
    department_id: int | None,
    to_department_id: int,
    to_user_id: int | None,
    reason: str,
) -> TransferPlan:
    """To a colleague: assigned to them, not started. To another department: unassigned there
    (the adapter then auto-assigns). Always with a reason."""
    if status not in OPEN_STATUSES:
        raise TicketWorkflowError(N_("Only an open ticket can be transferred."))
    if not reason.strip():
        raise TicketWorkflowError(N_("Give a reason for the transfer."))
    if len(reason) > MAX_REASON:
        raise TicketWorkflowError(N_("The reason is too long."))
    if to_department_id == department_id and to_user_id is None:
        raise TicketWorkflowError(N_("Choose a colleague or another department."))
    new_status = TicketStatus.UNASSIGNED if to_user_id is None else TicketStatus.ASSIGNED
    if new_status is not status:
        check_transition(status, new_status)
    return TransferPlan(new_status, to_user_id, to_department_id)


# ---------------------------------------------------------------------- time accounting
@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One row of a ticket's event log, as the time accounting needs it."""

    at: datetime
    kind: str
    to_status: str = ""
    to_user_id: int | None = None


#: Kinds whose ``to_user_id`` is the assignee from then on (None: nobody).
ASSIGNING_KINDS = frozenset(
    {EventKind.CREATED, EventKind.ASSIGNED, EventKind.CLAIMED, EventKind.TRANSFERRED}
)


@dataclass
class PersonTime:
    work: timedelta = timedelta(0)
    wait: timedelta = timedelta(0)


@dataclass
class TimeTotals:
    """Time in progress (work) and waiting, for the ticket and per assignee (None: nobody)."""

    work: timedelta = timedelta(0)
    wait: timedelta = timedelta(0)
    per_person: dict[int | None, PersonTime] = field(default_factory=dict)


def time_totals(events: Sequence[LoggedEvent], now: datetime) -> TimeTotals:
    """Replay the log in order; an interval still open is counted up to ``now``."""
    totals = TimeTotals()
    status: str = ""
    assignee: int | None = None
    since: datetime | None = None

    def close(until: datetime) -> None:
        if since is None or until <= since:
            return
        span = until - since
        person = totals.per_person.setdefault(assignee, PersonTime())
        if status == TicketStatus.IN_PROGRESS:
            totals.work += span
            person.work += span
        elif status == TicketStatus.WAITING:
            totals.wait += span
            person.wait += span

    for event in sorted(events, key=lambda e: e.at):
        close(event.at)
        if event.kind in ASSIGNING_KINDS:
            assignee = event.to_user_id
        if event.to_status:
            status = event.to_status
        since = event.at
    close(now)
    totals.per_person = {k: v for k, v in totals.per_person.items() if v.work or v.wait}
    return totals


# ---------------------------------------------------------------------- SLA
@dataclass(frozen=True, slots=True)
class Threshold:
    key: str  # stored once sent, e.g. "due", "due+4h"
    after_due: timedelta


DEFAULT_ESCALATIONS: tuple[Threshold, ...] = (
    Threshold("due", timedelta(0)),
    Threshold("due+4h", timedelta(hours=4)),
    Threshold("due+24h", timedelta(hours=24)),
)


def is_overdue(status: TicketStatus, due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and status in OPEN_STATUSES and now >= due_at


@dataclass(frozen=True, slots=True)
class EscalationDecision:
    record: tuple[str, ...]  # threshold keys to mark as handled
    notify: Threshold | None  # the one to announce (the latest passed), if any


def escalation_decision(
    status: TicketStatus,
    due_at: datetime | None,
    now: datetime,
    already_sent: Iterable[str],
    thresholds: Sequence[Threshold] = DEFAULT_ESCALATIONS,
) -> EscalationDecision:
    """Which thresholds are passed and not yet handled. When several passed at once (the
    daemon was down), one message names the latest and all are recorded: each is sent once,
    and nobody gets three mails about one ticket in the same minute."""
    if not is_overdue(status, due_at, now):
        return EscalationDecision((), None)
    assert due_at is not None
    sent = set(already_sent)
    passed = [t for t in thresholds if now >= due_at + t.after_due and t.key not in sent]
    if not passed:
        return EscalationDecision((), None)
    latest = max(passed, key=lambda t: t.after_due)
    return EscalationDecision(tuple(t.key for t in passed), latest)


# ---------------------------------------------------------------------- closing the loop
class FollowUpOutcome(StrEnum):
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"


FOLLOW_UP_LABELS = {
    FollowUpOutcome.SATISFIED: N_("Customer satisfied"),
    FollowUpOutcome.NOT_SATISFIED: N_("Customer not satisfied"),
}


def needs_follow_up(new_status: TicketStatus) -> bool:
    """Marking a ticket done sends the care team a task to confirm with the customer."""
    return new_status is TicketStatus.DONE


def follow_up_result(status: TicketStatus, outcome: FollowUpOutcome, comment: str) -> TicketStatus:
    """Satisfied closes the ticket; not satisfied (a comment is required) reopens it."""
    if status is not TicketStatus.DONE:
        raise TicketWorkflowError(
            N_("Only a ticket marked done can be confirmed with the customer.")
        )
    if outcome is FollowUpOutcome.SATISFIED:
        return TicketStatus.CLOSED
    if not comment.strip():
        raise TicketWorkflowError(N_("Say why the customer is not satisfied."))
    return TicketStatus.IN_PROGRESS


# ---------------------------------------------------------------------- attachments
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

#: Accepted types: extension → (content type, magic-bytes prefixes). Office files are zips.
ATTACHMENT_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "webp": ("image/webp", (b"RIFF",)),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    "txt": ("text/plain", ()),
}


@dataclass(frozen=True, slots=True)
class AttachmentCheck:
    name: str
    content_type: str


def check_attachment(
    name: str, size: int, head: bytes, max_bytes: int = MAX_ATTACHMENT_BYTES
) -> AttachmentCheck:
    """Accept a file by its extension AND its first bytes; the client's type is not trusted."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or base in (".", ".."):
        raise TicketWorkflowError(N_("The file has no name."))
    extension = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    known = ATTACHMENT_TYPES.get(extension)
    if known is None:
        raise TicketWorkflowError(
            N_("Files of type {extension} are not accepted."), extension=extension or "?"
        )
    if size <= 0:
        raise TicketWorkflowError(N_("The file is empty."))
    if size > max_bytes:
        raise TicketWorkflowError(
            N_("The file is larger than {limit} MB."), limit=max_bytes // (1024 * 1024)
        )
    content_type, magics = known
    if magics and not any(head.startswith(m) for m in magics):
        raise TicketWorkflowError(N_("The file's content does not match its type."))
    if extension == "webp" and head[8:12] != b"WEBP":
        raise TicketWorkflowError(N_("The file's content does not match its type."))
    if extension == "txt":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # not just a character cut at the end
                raise TicketWorkflowError(
                    N_("The file's content does not match its type.")
                ) from None
    return AttachmentCheck(base[:200], content_type)
