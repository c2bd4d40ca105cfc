"""The room's rule on top of the core and the repository: store a response filled in by
staff (checked by :mod:`callcenter.core.surveys`), tied to its call, ticket and task."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core import surveys as rules
from callcenter.db.models import Call, SurveyResponse, Task, Ticket
from callcenter.db.repos import surveys as surveys_repo
from callcenter.i18n import N_


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
