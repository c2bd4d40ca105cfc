"""Surveys, their questions and responses: the queries the rest of the code calls.

Answers are written here only after :mod:`callcenter.core.surveys` accepted them.
:func:`agent_scores` replaces reading ``call_surveys.score`` per agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from callcenter.core import surveys as rules
from callcenter.core.screenpop import SurveyAnswer as PopAnswer
from callcenter.db.models import (
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    User,
)

POP_LIMIT = 30


def question_of(row: SurveyQuestion) -> rules.Question:
    return rules.Question(
        id=row.id,
        kind=row.kind,
        text=row.text,
        options=tuple(row.options or ()),
        depends_on_id=row.depends_on_id,
        depends_values=tuple(row.depends_values or ()),
        ivr_prompt=row.ivr_prompt or "",
    )


class _AnswerColumns(Protocol):
    """An answer's stored values: a ``SurveyAnswer`` or a Core row selecting its columns."""

    @property
    def question_id(self) -> int: ...
    @property
    def value_number(self) -> float | None: ...
    @property
    def choices(self) -> Any: ...
    @property
    def value_text(self) -> str | None: ...


def answer_of(row: _AnswerColumns) -> rules.Answer:
    return rules.Answer(
        row.question_id,
        number=row.value_number,
        choices=tuple(row.choices or ()),
        text=row.value_text or "",
    )


def form_of(survey: Survey) -> dict[str, Any]:
    """A survey as the forms' script needs it (questions in order, conditions by id)."""
    return {
        "id": survey.id,
        "name": survey.name,
        "description": survey.description,
        "questions": [
            {
                "id": q.id,
                "kind": q.kind,
                "text": q.text,
                "options": list(q.options or ()),
                "depends_on_id": q.depends_on_id,
                "depends_values": list(q.depends_values or ()),
            }
            for q in survey.questions
        ],
    }


async def follow_up_survey(session: AsyncSession) -> Survey | None:
    """The active survey the care team fills in a ticket's follow-up (the oldest if several)."""
    return await session.scalar(
        select(Survey)
        .options(selectinload(Survey.questions))
        .where(Survey.active.is_(True), Survey.follow_up.is_(True))
        .order_by(Survey.id)
        .limit(1)
    )


async def list_surveys(session: AsyncSession, *, active_only: bool = False) -> Sequence[Survey]:
    query = select(Survey).options(selectinload(Survey.questions)).order_by(Survey.id)
    if active_only:
        query = query.where(Survey.active.is_(True))
    return (await session.scalars(query)).all()


async def get_survey(session: AsyncSession, survey_id: int) -> Survey | None:
    return await session.scalar(
        select(Survey).options(selectinload(Survey.questions)).where(Survey.id == survey_id)
    )


async def load_questions(session: AsyncSession, survey_id: int) -> list[rules.Question]:
    rows = await session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == survey_id)
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    )
    return [question_of(r) for r in rows]


async def after_call_survey(session: AsyncSession) -> Survey | None:
    """The active survey the caller hears after the agent hangs up (the oldest if several)."""
    return await session.scalar(
        select(Survey)
        .where(Survey.active.is_(True), Survey.after_call.is_(True))
        .order_by(Survey.id)
        .limit(1)
    )


def _answer_row(response_id: int, answer: rules.Answer) -> SurveyAnswer:
    return SurveyAnswer(
        response_id=response_id,
        question_id=answer.question_id,
        value_text=answer.text,
        value_number=answer.number,
        choices=list(answer.choices),
    )


async def save_response(
    session: AsyncSession,
    *,
    survey_id: int,
    channel: str,
    answers: Iterable[rules.Answer],
    at: datetime,
    customer_id: int | None = None,
    linkedid: str | None = None,
    uniqueid: str | None = None,
    caller: str = "",
    ticket_id: int | None = None,
    task_id: int | None = None,
    campaign_id: int | None = None,
    agent_id: int | None = None,
    respondent_user_id: int | None = None,
) -> SurveyResponse:
    if channel not in rules.CHANNELS:
        raise ValueError(f"unknown survey channel {channel!r}")
    response = SurveyResponse(
        survey_id=survey_id,
        channel=channel,
        customer_id=customer_id,
        linkedid=linkedid,
        uniqueid=uniqueid,
        caller=caller[:40],
        ticket_id=ticket_id,
        task_id=task_id,
        campaign_id=campaign_id,
        agent_id=agent_id,
        respondent_user_id=respondent_user_id,
        created_at=at,
    )
    session.add(response)
    await session.flush()
    for answer in answers:
        session.add(_answer_row(response.id, answer))
    await session.flush()
    return response


async def response_by_uniqueid(session: AsyncSession, uniqueid: str) -> SurveyResponse | None:
    return await session.scalar(select(SurveyResponse).where(SurveyResponse.uniqueid == uniqueid))


async def answers_of(session: AsyncSession, response_id: int) -> dict[int, rules.Answer]:
    rows = await session.scalars(
        select(SurveyAnswer).where(SurveyAnswer.response_id == response_id)
    )
    return {r.question_id: answer_of(r) for r in rows}


async def put_answer(session: AsyncSession, response_id: int, answer: rules.Answer) -> None:
    """Store one answer of a response (a replayed keypress replaces the earlier one)."""
    await session.execute(
        delete(SurveyAnswer).where(
            SurveyAnswer.response_id == response_id,
            SurveyAnswer.question_id == answer.question_id,
        )
    )
    session.add(_answer_row(response_id, answer))
    await session.flush()


@dataclass(frozen=True, slots=True)
class ResponseView:
    id: int
    survey_name: str
    channel: str
    at: datetime
    respondent: str
    linkedid: str | None
    ticket_id: int | None
    task_id: int | None
    answers: tuple[tuple[str, str], ...]  # (question, answer)


async def responses_of_customer(
    session: AsyncSession, customer_id: int, *, limit: int = POP_LIMIT
) -> list[ResponseView]:
    """A customer's responses, newest first, with every answer in question order."""
    responses = (
        await session.execute(
            select(SurveyResponse, Survey.name, User.full_name)
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .outerjoin(User, User.id == SurveyResponse.respondent_user_id)
            .where(SurveyResponse.customer_id == customer_id)
            .order_by(SurveyResponse.created_at.desc(), SurveyResponse.id.desc())
            .limit(limit)
        )
    ).all()
    if not responses:
        return []
    ids = [r[0].id for r in responses]
    rows = await session.execute(
        select(SurveyAnswer, SurveyQuestion.text)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyAnswer.response_id.in_(ids))
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    )
    by_response: dict[int, list[tuple[str, str]]] = {}
    for answer, text in rows:
        by_response.setdefault(answer.response_id, []).append((text, answer_of(answer).display()))
    return [
        ResponseView(
            id=response.id,
            survey_name=name,
            channel=response.channel,
            at=response.created_at,
            respondent=full_name or "",
            linkedid=response.linkedid,
            ticket_id=response.ticket_id,
            task_id=response.task_id,
            answers=tuple(by_response.get(response.id, ())),
        )
        for response, name, full_name in responses
    ]


# The pop's statements, built once (see ``history``: building them cost more CPU than
# running them on the pop's hot path).
_POP_RESPONSES = (
    select(SurveyResponse.id, SurveyResponse.created_at)
    .where(SurveyResponse.customer_id == bindparam("customer_id"))
    .order_by(SurveyResponse.created_at.desc(), SurveyResponse.id.desc())
    .limit(10)
)
_POP_ANSWERS = (
    select(
        SurveyAnswer.response_id,
        SurveyQuestion.text,
        SurveyAnswer.question_id,
        SurveyAnswer.value_number,
        SurveyAnswer.choices,
        SurveyAnswer.value_text,
    )
    .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
    .where(SurveyAnswer.response_id.in_(bindparam("ids", expanding=True)))
    .order_by(SurveyQuestion.position, SurveyQuestion.id)
)


async def pop_answers(session: AsyncSession, customer_id: int) -> tuple[PopAnswer, ...]:
    """The pop's survey section: one line per answer, newest response first (the answers of
    the customer's latest 10 responses, as ``responses_of_customer`` lists them)."""
    connection = await session.connection()
    responses = (await connection.execute(_POP_RESPONSES, {"customer_id": customer_id})).all()
    if not responses:
        return ()
    by_response: dict[int, list[tuple[str, str]]] = {}
    rows = await connection.execute(_POP_ANSWERS, {"ids": [r[0] for r in responses]})
    for row in rows:
        by_response.setdefault(row.response_id, []).append((row.text, answer_of(row).display()))
    return tuple(
        PopAnswer(at=at, question=question, answer=answer)
        for response_id, at in responses
        for question, answer in by_response.get(response_id, ())
    )[:POP_LIMIT]


async def agent_scores(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[int, tuple[int, float]]:
    """Per agent who took the call: (answers, average) of 1–5 answers in [start, end).

    This replaces reading ``call_surveys.score`` per agent (any channel counts: the
    caller on the IVR and answers taken down by staff)."""
    rows = await session.execute(
        select(SurveyResponse.agent_id, func.count(), func.avg(SurveyAnswer.value_number))
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(
            SurveyQuestion.kind == rules.SCALE_5,
            SurveyAnswer.value_number.is_not(None),
            SurveyResponse.agent_id.is_not(None),
            SurveyResponse.created_at >= start,
            SurveyResponse.created_at < end,
        )
        .group_by(SurveyResponse.agent_id)
    )
    return {int(agent): (int(n), float(avg)) for agent, n, avg in rows}


async def report_rows(
    session: AsyncSession, survey_id: int, start: datetime, end: datetime
) -> Sequence[Any]:
    """Every answer of a survey's responses in [start, end): the report's raw material.

    (response id, created_at, channel, question id, kind, number, choices, text, linkedid)."""
    rows = await session.execute(
        select(
            SurveyResponse.id,
            SurveyResponse.created_at,
            SurveyResponse.channel,
            SurveyAnswer.question_id,
            SurveyQuestion.kind,
            SurveyAnswer.value_number,
            SurveyAnswer.choices,
            SurveyAnswer.value_text,
            SurveyResponse.linkedid,
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(
            SurveyResponse.survey_id == survey_id,
            SurveyResponse.created_at >= start,
            SurveyResponse.created_at < end,
        )
        .order_by(SurveyResponse.created_at, SurveyResponse.id)
    )
    return rows.all()
