"""The room's rule on top of the core and the repository: store a response filled in by
staff (checked by :mod:`callcenter.core.surveys`), tied to its call, ticket and task."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth.scope import call_filter, can_read, task_filter, ticket_filter
from callcenter.core import surveys as rules
from callcenter.core.roles import Role
from callcenter.db.models import (
    Call,
    CallList,
    CallListItem,
    Customer,
    SurveyResponse,
    Task,
    Ticket,
)
from callcenter.db.repos import surveys as surveys_repo
from callcenter.i18n import N_


class OutOfReach(Exception):
    """An id in the body names a row the user may not touch (or none): "not found", as the
    other rooms answer for rows outside a user's scope; nothing is stored."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def check_reach(
    session: AsyncSession,
    user: Any,
    *,
    linkedid: str | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    task_id: int | None = None,
    campaign_id: int | None = None,
) -> None:
    """Refuse a response filed against a call, customer, ticket, task or campaign outside
    the user's data scope (``auth.scope``): the body's ids are the client's word, and a
    response names whom it is about in every report and on the customer's page.

    A customer is reachable if the user may read them or they are the customer of the
    call, task or ticket the response is tied to (a care agent holding a follow-up task
    reaches its customer and ticket through the task)."""
    reached: set[int | None] = set()
    task: Task | None = None
    if linkedid:
        call = (
            await session.execute(
                select(Call.id, Call.customer_id).where(
                    Call.linkedid == linkedid, call_filter(user)
                )
            )
        ).first()
        if call is None:
            raise OutOfReach(N_("No such call, or it is not yours."))
        reached.add(call.customer_id)
    if task_id is not None:
        task = await session.scalar(select(Task).where(Task.id == task_id, task_filter(user)))
        if task is None:
            raise OutOfReach(N_("No such task, or it is not yours."))
        reached.add(task.customer_id)
    if ticket_id is not None:
        through_task = task is not None and task.origin_ticket_id == ticket_id
        scope = true() if through_task else ticket_filter(user)
        ticket = (
            await session.execute(
                select(Ticket.id, Ticket.customer_id).where(Ticket.id == ticket_id, scope)
            )
        ).first()
        if ticket is None:
            raise OutOfReach(N_("No such ticket."))
        reached.add(ticket.customer_id)
    if (
        customer_id is not None
        and customer_id not in reached
        and not await can_read(session, user, Customer, customer_id)
    ):
        raise OutOfReach(N_("No such customer, or it is not yours."))
    if campaign_id is not None:
        await _check_campaign(session, user, campaign_id, task)


async def _check_campaign(
    session: AsyncSession, user: Any, campaign_id: int, task: Task | None
) -> None:
    """A campaign's survey count is its result: supervisors and admins may name any
    campaign, others only the one whose call (task) they are answering for."""
    refused = OutOfReach(N_("No such campaign, or it is not yours."))
    if await session.get(CallList, campaign_id) is None:
        raise refused
    if Role(str(user.role)) in (Role.SUPERVISOR, Role.ADMIN):
        return
    if task is None or not await session.scalar(
        select(CallListItem.id).where(
            CallListItem.list_id == campaign_id, CallListItem.task_id == task.id
        )
    ):
        raise refused


async def submit(
    session: AsyncSession,
    *,
    survey_id: int,
    channel: str,
    submitted: Mapping[str, object],
    respondent_id: int,
    at: datetime,
    linkedid: str | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    task_id: int | None = None,
    campaign_id: int | None = None,
) -> SurveyResponse:
    """Store a staff member's response; the call, ticket or task fills in the customer.

    Raises :class:`rules.AnswerError` for an answer the survey cannot take (nothing stored)."""
    survey = await surveys_repo.get_survey(session, survey_id)
    if survey is None or not survey.active:
        raise rules.AnswerError(N_("This survey no longer exists or is switched off."))
    questions = [surveys_repo.question_of(q) for q in survey.questions]
    answers = rules.collect(questions, submitted)
    if linkedid and customer_id is None:  # the call record may still be on its way
        customer_id = await session.scalar(
            select(Call.customer_id).where(Call.linkedid == linkedid).limit(1)
        )
    if task_id is not None:
        task = await session.get(Task, task_id)
        if task is None:
            raise rules.AnswerError(N_("This task no longer exists."))
        customer_id = customer_id or task.customer_id
        ticket_id = ticket_id or task.origin_ticket_id
    if ticket_id is not None:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise rules.AnswerError(N_("This ticket no longer exists."))
        customer_id = customer_id or ticket.customer_id
    return await surveys_repo.save_response(
        session,
        survey_id=survey_id,
        channel=channel,
        answers=answers,
        at=at,
        customer_id=customer_id,
        linkedid=linkedid,
        ticket_id=ticket_id,
        task_id=task_id,
        campaign_id=campaign_id,
        agent_id=respondent_id if channel == rules.CHANNEL_AGENT else None,
        respondent_user_id=respondent_id,
    )
