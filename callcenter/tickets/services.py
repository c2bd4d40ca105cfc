"""What the ticket pages and the wrap-up call: who may do what, each move in its own
transaction, the announcements of new tickets and the live-inbox event.

Role rules (the workflow's own rules are in ``core/tickets.py``):

- reading: ``auth.scope.ticket_filter`` (department staff: their department; agents: the
  tickets of their calls; supervisors and admins: all) — a ticket outside it is "not found";
- claim: a member of the ticket's department (free or only waiting);
- status moves and transfers: the holder, the department head, supervisors and admins;
  cancelling: the head, supervisors and admins; agents only read and comment;
- the customer follow-up (satisfied / not satisfied): the care team — supervisors and
  admins, who read every department's tickets;
- retrying a failed notification: the head, supervisors and admins.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import Clock
from callcenter.core import surveys as survey_rules
from callcenter.core.bus import EventBus
from callcenter.core.events import TicketChanged
from callcenter.core.roles import Role
from callcenter.core.tickets import (
    EventKind,
    FollowUpOutcome,
    TicketStatus,
    TicketWorkflowError,
    allowed_moves,
    check_attachment,
    check_transition,
)
from callcenter.db.models import Call, Notification, Ticket, TicketEvent
from callcenter.db.repos import surveys as surveys_repo
from callcenter.db.repos import ticket_queries, ticket_work
from callcenter.db.repos import transcripts as transcripts_repo
from callcenter.i18n import N_
from callcenter.notify import outbox
from callcenter.notify.tickets import NEW_TICKET, announce_ticket, escalate_overdue

log = logging.getLogger(__name__)

#: The bus event of the live inbox (one helper publishes it: :meth:`TicketService.publish`).

MANAGER_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
FOLLOW_UP_ROLES = MANAGER_ROLES


class Forbidden(TicketWorkflowError):
    """The user may read the ticket but not do this to it (a 403 with a clear message)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: what the role rules need (``web.access.CurrentUser`` fits)."""

    id: int
    role: Role
    department_id: int | None = None
    is_department_head: bool = False


def _is_manager(user: Any) -> bool:
    return Role(user.role) in MANAGER_ROLES


def _is_head_of(user: Any, ticket: Ticket) -> bool:
    return bool(
        Role(user.role) is Role.DEPARTMENT
        and user.is_department_head
        and user.department_id is not None
        and user.department_id == ticket.department_id
    )


def may_work(user: Any, ticket: Ticket) -> bool:
    """Move or transfer: the holder, the head of its department, supervisors, admins."""
    return _is_manager(user) or _is_head_of(user, ticket) or ticket.assignee_id == user.id


def may_claim(user: Any, ticket: Ticket) -> bool:
    return (
        ticket.status == TicketStatus.UNASSIGNED
        and user.department_id is not None
        and user.department_id == ticket.department_id
        and Role(user.role) is Role.DEPARTMENT
    )


def moves_for(user: Any, ticket: Ticket) -> list[TicketStatus]:
    """The status buttons this user gets: the table's moves, minus the ones that change
    who holds it (claim/transfer do that) and those their role may not make."""
    if not may_work(user, ticket):
        return []
    current = TicketStatus(ticket.status)
    moves: list[TicketStatus] = []
    for target in allowed_moves(current):
        if target in (TicketStatus.ASSIGNED, TicketStatus.UNASSIGNED):
            continue  # assign, claim and transfer change the holder
        if target is TicketStatus.CANCELLED and not (
            _is_manager(user) or _is_head_of(user, ticket)
        ):
            continue
        if current in (TicketStatus.DONE, TicketStatus.CLOSED) and not _is_manager(user):
            continue  # closing and reopening belong to the care team's follow-up
        moves.append(target)
    return moves


def may_follow_up(user: Any, ticket: Ticket) -> bool:
    return Role(user.role) in FOLLOW_UP_ROLES and ticket.status == TicketStatus.DONE


def may_retry(user: Any, ticket: Ticket) -> bool:
    return _is_manager(user) or _is_head_of(user, ticket)


def may_comment(user: Any, ticket: Ticket) -> bool:
    return True  # whoever may read it (the query already checked that)


@dataclass
class TicketService:
    """The room's service: one per application (``plugin.TICKET_SERVICE``)."""

    sessions: async_sessionmaker[Any]
    clock: Clock
    bus: EventBus
    base_url: str
    domain: str
    zone: ZoneInfo
    attachments_dir: Path
    max_attachment_bytes: int
    language: str = "vi"
    #: set after an enqueue so the outbox loop does not wait out its idle time
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------------ events
    def publish(self, ticket: Ticket, change: str) -> None:
        """THE live-inbox event: whoever shows this ticket refreshes (``bus_consume``)."""
        self.bus.publish(
            TicketChanged(
                ticket_id=ticket.id,
                code=ticket.code or "",
                change=change,
                status=str(ticket.status),
                department_id=ticket.department_id,
                assignee_id=ticket.assignee_id,
            )
        )

    # ------------------------------------------------------------------ creation
    async def announce(self, session: AsyncSession, ticket: Ticket) -> list[int]:
        """Queue the new ticket's notices (in the caller's transaction)."""
        ids = await announce_ticket(
            session,
            ticket,
            base_url=self.base_url,
            now=self.clock.now(),
            language=self.language,
            domain=self.domain,
            zone=self.zone,
        )
        return ids

    async def ticket_saved(self, ticket_id: int) -> None:
        """After the wrap-up committed a ticket: announce it once (a ticket that already
        has its ``new_ticket`` notices is left alone) and show it in the live inboxes."""
        async with self.sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                return
            if ticket.status in (TicketStatus.UNASSIGNED, TicketStatus.ASSIGNED):
                already = await session.scalar(
                    select(Notification.id).where(
                        Notification.ticket_id == ticket.id, Notification.kind == NEW_TICKET
                    )
                )
                if already is None and await self.announce(session, ticket):
                    self.outbox_wake.set()
            await session.commit()
            self.publish(ticket, "created")

    # ------------------------------------------------------------------ moves
    async def _act(
        self,
        user: Any,
        code: str,
        action: Callable[[AsyncSession, Ticket, datetime], Any],
        change: str,
    ) -> Ticket:
        async with self.sessions() as session:
            ticket = await ticket_queries.ticket_for(session, user, code)
            if ticket is None:
                raise LookupError(code)
            await action(session, ticket, self.clock.now())
            await session.commit()
            await session.refresh(ticket)
        self.publish(ticket, change)
        return ticket

    async def claim(self, user: Any, code: str) -> Ticket:
        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            if Role(user.role) is not Role.DEPARTMENT:
                raise Forbidden(N_("Only members of the ticket's department can claim it."))
            await ticket_work.claim(session, ticket.id, user_id=user.id, now=now)

        return await self._act(user, code, run, "claimed")

    async def move(self, user: Any, code: str, status: str, note: str = "") -> Ticket:
        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            try:
                target = TicketStatus(status)
            except ValueError:
                raise TicketWorkflowError(N_("Unknown status.")) from None
            if not may_work(user, ticket):
                raise Forbidden(
                    N_("Only the holder, the department head or a supervisor can do this.")
                )
            if target not in moves_for(user, ticket):
                # an illegal move gets the table's own message; a role refusal its own
                check_transition(TicketStatus(ticket.status), target)
                raise Forbidden(N_("Your role may not make this change."))
            await ticket_work.transition(
                session, ticket.id, target, user_id=user.id, now=now, note=note
            )

        return await self._act(user, code, run, "status")

    async def transfer(
        self,
        user: Any,
        code: str,
        *,
        reason: str,
        to_user_id: int | None,
        to_department_id: int | None,
    ) -> Ticket:
        moved: dict[str, bool] = {}

        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            if not may_work(user, ticket):
                raise Forbidden(
                    N_("Only the holder, the department head or a supervisor can do this.")
                )
            before = ticket.department_id
            await ticket_work.transfer(
                session,
                ticket.id,
                user_id=user.id,
                now=now,
                reason=reason,
                to_user_id=to_user_id,
                to_department_id=to_department_id,
            )
            moved["department"] = ticket.department_id != before
            if moved["department"] and await self.announce(session, ticket):
                self.outbox_wake.set()

        return await self._act(user, code, run, "transferred")

    async def categorise(
        self, user: Any, code: str, *, category_id: int, department_id: int | None
    ) -> Ticket:
        """A ticket whose wrap-up timed out gets its category (supervisors and admins),
        goes to its department and is announced there. Made from a call with a
        transcript, the transcript's suggestion is marked accepted or not, as a choice
        on the call page marks it (accepting it on the ticket page is this same path)."""

        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            if not _is_manager(user):
                raise Forbidden(N_("Only a supervisor can categorise a ticket."))
            await ticket_work.categorise(
                session,
                ticket.id,
                category_id=category_id,
                department_id=department_id,
                user_id=user.id,
                now=now,
            )
            if ticket.call_id is not None:
                linkedid = await session.scalar(
                    select(Call.linkedid).where(Call.id == ticket.call_id)
                )
                if linkedid:
                    await transcripts_repo.record_choice(session, linkedid, category_id)
            if await self.announce(session, ticket):
                self.outbox_wake.set()

        return await self._act(user, code, run, "created")

    async def comment(self, user: Any, code: str, text: str) -> Ticket:
        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            await ticket_work.comment(session, ticket.id, text, user_id=user.id, now=now)

        return await self._act(user, code, run, "commented")

    async def follow_up(
        self,
        user: Any,
        code: str,
        outcome: str,
        comment: str,
        *,
        survey_id: int | None = None,
        answers: Mapping[str, object] | None = None,
    ) -> Ticket:
        """The care team's answer: plain satisfied / not satisfied, or the follow-up
        survey's answers (stored as a response to the ticket and its follow-up task; the
        answers decide the outcome unless one is given)."""

        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            if Role(user.role) not in FOLLOW_UP_ROLES:
                raise Forbidden(N_("Only the care team records the customer's answer."))
            chosen, note = outcome, comment
            if survey_id is not None:
                chosen, note = await self._follow_up_survey(
                    session, ticket, user, survey_id, answers or {}, outcome, comment, now
                )
            try:
                result = FollowUpOutcome(chosen)
            except ValueError:
                raise TicketWorkflowError(N_("Choose satisfied or not satisfied.")) from None
            await ticket_work.record_follow_up(
                session, ticket.id, result, comment=note, user_id=user.id, now=now
            )

        return await self._act(user, code, run, "follow_up")

    @staticmethod
    async def _follow_up_survey(
        session: AsyncSession,
        ticket: Ticket,
        user: Any,
        survey_id: int,
        submitted: Mapping[str, object],
        outcome: str,
        comment: str,
        now: datetime,
    ) -> tuple[str, str]:
        """Store the survey response; (outcome, comment) as the answers say."""
        survey = await surveys_repo.get_survey(session, survey_id)
        if survey is None or not survey.active:
            raise TicketWorkflowError(N_("This survey no longer exists or is switched off."))
        questions = [surveys_repo.question_of(q) for q in survey.questions]
        try:
            answers = survey_rules.collect(questions, submitted)
        except survey_rules.AnswerError as exc:
            raise TicketWorkflowError(exc.message, **exc.params) from None
        by_id = {a.question_id: a for a in answers}
        if not outcome:
            satisfied = survey_rules.verdict(questions, by_id)
            if satisfied is None:
                raise TicketWorkflowError(N_("Choose satisfied or not satisfied."))
            outcome = FollowUpOutcome.SATISFIED if satisfied else FollowUpOutcome.NOT_SATISFIED
        task = await ticket_work.follow_up_task(session, ticket.id)
        await surveys_repo.save_response(
            session,
            survey_id=survey.id,
            channel=survey_rules.CHANNEL_CARE,
            answers=answers,
            at=now,
            customer_id=ticket.customer_id,
            ticket_id=ticket.id,
            task_id=task.id if task else None,
            respondent_user_id=user.id,
        )
        return str(outcome), comment.strip() or survey_rules.free_text_of(questions, by_id)

    async def retry_notification(self, user: Any, notification_id: int) -> Notification:
        async with self.sessions() as session:
            row = await session.get(Notification, notification_id)
            ticket = None
            if row is not None and row.ticket_id is not None:
                ticket = await session.get(Ticket, row.ticket_id)
                if ticket is not None:
                    ticket = await ticket_queries.ticket_for(session, user, ticket.code)
            if row is None or ticket is None:
                raise LookupError(notification_id)
            if not may_retry(user, ticket):
                raise Forbidden(N_("Only the department head or a supervisor can do this."))
            try:
                await outbox.retry(session, notification_id, now=self.clock.now())
            except ValueError:
                raise TicketWorkflowError(
                    N_("Only a failed notification can be sent again.")
                ) from None
            await session.commit()
            await session.refresh(row)
        self.outbox_wake.set()
        return row

    # ------------------------------------------------------------------ files
    async def attach(self, user: Any, code: str, *, name: str, data: bytes) -> Ticket:
        """Check, store under ``attachments_dir/<ticket id>/<random>``, record; the file is
        removed again when the record is refused."""
        relative = Path("pending") / uuid.uuid4().hex

        async def run(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
            nonlocal relative
            relative = Path(str(ticket.id)) / uuid.uuid4().hex
            target = self.attachments_dir / relative
            # type and size first (cheap, no disk write for a refused file)
            check_attachment(name, len(data), data[:64], self.max_attachment_bytes)
            await asyncio.to_thread(_write, target, data)
            try:
                await ticket_work.attach(
                    session,
                    ticket.id,
                    name=name,
                    size=len(data),
                    head=data[:64],
                    stored_path=str(relative),
                    user_id=user.id,
                    now=now,
                    max_bytes=self.max_attachment_bytes,
                )
            except BaseException:
                await asyncio.to_thread(target.unlink, True)
                raise

        return await self._act(user, code, run, "attached")

    def attachment_path(self, stored_path: str) -> Path | None:
        """The stored file, only if it is inside the attachments folder."""
        root = self.attachments_dir.resolve()
        path = (root / stored_path).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    # ------------------------------------------------------------------ background
    async def escalate_once(self) -> int:
        """One SLA sweep in its own transaction (a second sweeper loses on the unique key)."""
        async with self.sessions() as session:
            count = await escalate_overdue(
                session,
                now=self.clock.now(),
                base_url=self.base_url,
                language=self.language,
                domain=self.domain,
                zone=self.zone,
            )
            await session.commit()
        if count:
            self.outbox_wake.set()
        return count

    async def announce_missed(self, window: timedelta = timedelta(hours=24)) -> int:
        """Announce recent new tickets that never were: the daemon stopped between the
        wrap-up's commit and its ``ticket_saved`` call. Run once at start-up."""
        now = self.clock.now()
        notified = select(TicketEvent.id).where(
            TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == EventKind.NOTIFIED
        )
        async with self.sessions() as session:
            missed = (
                await session.scalars(
                    select(Ticket).where(
                        Ticket.created_at >= now - window,
                        Ticket.department_id.is_not(None),
                        Ticket.status.in_([TicketStatus.UNASSIGNED, TicketStatus.ASSIGNED]),
                        ~exists(notified),
                    )
                )
            ).all()
            count = 0
            for ticket in missed:
                count += bool(await self.announce(session, ticket))
            await session.commit()
        if count:
            self.outbox_wake.set()
            log.info("announced %d new tickets that were saved but not announced", count)
        return count

    async def run_escalations(self, every: float) -> None:
        await self.announce_missed()
        while True:
            await self.escalate_once()
            await self.clock.sleep(every)


#: The room's service on the application (set by ``plugin.setup``).
TICKET_SERVICE = web.AppKey("ticket_service", TicketService)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
