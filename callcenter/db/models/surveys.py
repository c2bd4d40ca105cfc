"""Surveys: questionnaires an admin builds, and the responses people give.

A survey is an ordered list of questions; a question may depend on an earlier
answer (shown only when that answer is one of ``depends_values``). A response
is one person answering one survey once, through one channel (an agent on the
phone, the care team in a follow-up task, the caller on the IVR) and is tied to
the customer, call (``linkedid``), ticket, task and outbound campaign it belongs
to. ``campaign_id`` has no foreign key: the campaigns table is another room's.

``call_surveys`` (issue 11's 1–5 IVR score) became a read-only view over these
tables (migration 0010); :class:`CallSurvey` maps that view for readers of the
old shape, on a metadata of its own so the schema checks see only tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from callcenter.db.base import Base, UTCDateTime
from callcenter.db.models._common import utcnow


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    after_call: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="The survey the caller hears after the agent hangs up"
    )
    follow_up: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="The survey the care team fills in a ticket's follow-up"
    )
    thanks_prompt: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey",
        order_by="SurveyQuestion.position",
        cascade="all, delete-orphan",
        foreign_keys="SurveyQuestion.survey_id",
    )


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(
        String(16), doc="single_choice | multiple_choice | scale_5 | scale_10 | free_text"
    )
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    depends_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="SET NULL")
    )
    depends_values: Mapped[list[str]] = mapped_column(
        JSON, default=list, doc="Shown only if the earlier answer is one of these"
    )
    ivr_prompt: Mapped[str] = mapped_column(
        String(120), default="", doc="Sound played on the phone (a prompt name); empty: skipped"
    )

    survey: Mapped[Survey] = relationship(back_populates="questions", foreign_keys=[survey_id])


class SurveyResponse(Base):
    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8), doc="agent | care | ivr")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True, doc="calls.linkedid")
    uniqueid: Mapped[str | None] = mapped_column(
        String(64), unique=True, doc="IVR: the caller's channel (one response per channel)"
    )
    caller: Mapped[str] = mapped_column(String(40), default="")
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, doc="Who took the call"
    )
    respondent_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), doc="Who filled it in (none: the caller)"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    answers: Mapped[list[SurveyAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="SurveyAnswer.id"
    )


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    value_text: Mapped[str] = mapped_column(Text, default="")
    value_number: Mapped[float | None] = mapped_column(Float)
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")


class _Views(DeclarativeBase):
    """Read-only views: kept out of ``Base.metadata`` (the schema checks compare tables)."""

    metadata = MetaData()
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class CallSurvey(_Views):
    """The view ``call_surveys``: each IVR 1–5 answer as issue 11's score row."""

    __tablename__ = "call_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str | None] = mapped_column(String(64))
    uniqueid: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    caller: Mapped[str] = mapped_column(String(40))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column()
