"""Surveys (issue 15): questionnaires with conditional questions and their responses;
issue 11's ``call_surveys`` scores move into them and ``call_surveys`` becomes a view

Every ``call_surveys`` row becomes an IVR response to the default post-call survey
("Khảo sát sau cuộc gọi", one 1–5 question) with its score as the answer; the customer
is taken from the call record with the same ``linkedid``. The view ``call_surveys``
keeps the old columns (id, linkedid, uniqueid, score, caller, agent_id, answered_at)
for readers of the old shape. Going down copies the view's rows back into a table.

Revision ID: 0010
Revises: 0008
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_SURVEY = "Khảo sát sau cuộc gọi"
DEFAULT_QUESTION = "Quý khách chấm điểm chất lượng phục vụ, từ một đến năm."
VIEW = """
CREATE VIEW call_surveys AS
SELECT a.id AS id, r.linkedid AS linkedid, r.uniqueid AS uniqueid,
       CAST(a.value_number AS INTEGER) AS score, r.caller AS caller,
       r.agent_id AS agent_id, r.created_at AS answered_at
FROM survey_answers a
JOIN survey_responses r ON r.id = a.response_id
JOIN survey_questions q ON q.id = a.question_id
WHERE r.channel = 'ivr' AND q.kind = 'scale_5' AND a.value_number IS NOT NULL
"""
UTC_TYPE = callcenter.db.base.UTCDateTime(timezone=True)


def _old_table() -> sa.Table:
    return sa.Table(
        "call_surveys",
        sa.MetaData(),
        sa.Column("id", sa.Integer),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("uniqueid", sa.String(64)),
        sa.Column("score", sa.Integer),
        sa.Column("caller", sa.String(40)),
        sa.Column("agent_id", sa.Integer),
        sa.Column("answered_at", UTC_TYPE),
    )


def _create_old_table() -> None:
    op.create_table(
        "call_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_call_surveys_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_surveys")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_call_surveys_uniqueid")),
    )  # fmt: skip
    with op.batch_alter_table("call_surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_surveys_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_call_surveys_answered_at"), ["answered_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_call_surveys_linkedid"), ["linkedid"], unique=False)


def upgrade() -> None:
    surveys = op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("after_call", sa.Boolean(), nullable=False),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("thanks_prompt", sa.String(length=120), nullable=False),
        sa.Column("created_at", UTC_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    questions = op.create_table(
        "survey_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("depends_on_id", sa.Integer(), nullable=True),
        sa.Column("depends_values", sa.JSON(), nullable=False),
        sa.Column("ivr_prompt", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["depends_on_id"], ["survey_questions.id"],
            name=op.f("fk_survey_questions_depends_on_id_survey_questions"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_questions_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_questions")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_survey_questions_survey_id"), "survey_questions", ["survey_id"], unique=False
    )
    responses = op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        sa.Column("uniqueid", sa.String(length=64), nullable=True),
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("respondent_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_survey_responses_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_survey_responses_customer_id_customers"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["respondent_user_id"], ["users.id"],
            name=op.f("fk_survey_responses_respondent_user_id_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_responses_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_survey_responses_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_survey_responses_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_survey_responses_uniqueid")),
    )  # fmt: skip
    for column in ("agent_id", "campaign_id", "created_at", "customer_id", "linkedid",
                   "survey_id", "task_id", "ticket_id"):  # fmt: skip
        op.create_index(
            op.f(f"ix_survey_responses_{column}"), "survey_responses", [column], unique=False
        )
    answers = op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("value_text", sa.Text(), nullable=False),
        sa.Column("value_number", sa.Float(), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"], ["survey_questions.id"],
            name=op.f("fk_survey_answers_question_id_survey_questions"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["survey_responses.id"],
            name=op.f("fk_survey_answers_response_id_survey_responses"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_survey_answers_question_id"), "survey_answers", ["question_id"], unique=False
    )
    op.create_index(
        op.f("ix_survey_answers_response_id"), "survey_answers", ["response_id"], unique=False
    )
    _move_scores(surveys, questions, responses, answers)
    op.drop_table("call_surveys")
    op.execute(VIEW)


def _move_scores(
    surveys: sa.Table, questions: sa.Table, responses: sa.Table, answers: sa.Table
) -> None:
    """The default post-call survey, and every old score as an IVR response to it."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    survey_id = bind.execute(
        surveys.insert()
        .values(name=DEFAULT_SURVEY, description="", active=True, after_call=True, follow_up=False,
                thanks_prompt="callcenter/survey-thanks", created_at=now)  # fmt: skip
        .returning(surveys.c.id)
    ).scalar_one()
    question_id = bind.execute(
        questions.insert()
        .values(survey_id=survey_id, position=1, kind="scale_5", text=DEFAULT_QUESTION,
                options=[], depends_values=[], ivr_prompt="callcenter/survey")  # fmt: skip
        .returning(questions.c.id)
    ).scalar_one()
    old = _old_table()
    calls = sa.table("calls", sa.column("linkedid", sa.String), sa.column("customer_id", sa.Integer))
    rows = bind.execute(
        sa.select(old, calls.c.customer_id)
        .select_from(old.outerjoin(calls, calls.c.linkedid == old.c.linkedid))
        .order_by(old.c.id)
    ).all()
    for row in rows:
        response_id = bind.execute(
            responses.insert()
            .values(survey_id=survey_id, channel="ivr", customer_id=row.customer_id,
                    linkedid=row.linkedid, uniqueid=row.uniqueid, caller=row.caller,
                    agent_id=row.agent_id, created_at=row.answered_at)  # fmt: skip
            .returning(responses.c.id)
        ).scalar_one()
        bind.execute(
            answers.insert().values(
                response_id=response_id,
                question_id=question_id,
                value_text="",
                value_number=float(row.score),
                choices=[],
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    old = _old_table()
    kept = [
        row._asdict()
        for row in bind.execute(sa.select(old).where(old.c.uniqueid.is_not(None))).all()
    ]
    op.execute("DROP VIEW call_surveys")
    _create_old_table()
    seen: set[str] = set()
    for row in kept:
        if row["uniqueid"] not in seen and row["linkedid"] is not None:
            seen.add(row["uniqueid"])
            row.pop("id")
            bind.execute(_old_table().insert().values(**row))
    op.drop_index(op.f("ix_survey_answers_response_id"), table_name="survey_answers")
    op.drop_index(op.f("ix_survey_answers_question_id"), table_name="survey_answers")
    op.drop_table("survey_answers")
    for column in ("agent_id", "campaign_id", "created_at", "customer_id", "linkedid",
                   "survey_id", "task_id", "ticket_id"):  # fmt: skip
        op.drop_index(op.f(f"ix_survey_responses_{column}"), table_name="survey_responses")
    op.drop_table("survey_responses")
    op.drop_index(op.f("ix_survey_questions_survey_id"), table_name="survey_questions")
    op.drop_table("survey_questions")
    op.drop_table("surveys")
