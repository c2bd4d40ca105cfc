"""The survey builder in the admin console (/admin/surveys): surveys and their questions.

Server-rendered forms like the rest of the console: every change is checked by
:func:`callcenter.core.surveys.check_question`, audited, and a refused form comes back
with what the admin typed and one translated message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core import surveys as rules
from callcenter.core.roles import Role
from callcenter.db.models import Survey, SurveyAnswer, SurveyQuestion
from callcenter.db.repos import routing
from callcenter.db.repos import surveys as surveys_repo
from callcenter.db.repos.routing import InvalidConfig
from callcenter.i18n import N_
from callcenter.prompts_default import PromptToolMissing, synthesize
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.web.access import allow, current_user
from callcenter.web.admin_common import (
    RULE_ERRORS,
    Change,
    Form,
    FormError,
    apply_change,
    done,
    entity_id,
    form_error,
    read_form,
    render,
    row_id,
)

routes = web.RouteTableDef()
BASE = "/admin/surveys"
AREA = "surveys"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _rule(exc: rules.AnswerError, field: str = "") -> InvalidConfig:
    return InvalidConfig(exc.message, field=field, **exc.params)


async def _list_page(
    request: web.Request, *, values: dict[str, str] | None = None,
    error: FormError | None = None, status: int = 200,
) -> web.Response:  # fmt: skip
    async with request.app[SESSIONMAKER]() as session:
        surveys = await surveys_repo.list_surveys(session)
        counts = dict(
            (
                await session.execute(
                    select(SurveyQuestion.survey_id, func.count()).group_by(
                        SurveyQuestion.survey_id
                    )
                )
            ).all()
        )
    return render(
        request,
        "surveys/admin_list.html",
        {"surveys": surveys, "counts": counts, "values": values or {"active": "on"}},
        status=status,
        error=error,
    )


async def _edit_page(
    request: web.Request, survey_id: int, *, values: dict[str, str] | None = None,
    error: FormError | None = None, status: int = 200,
) -> web.Response:  # fmt: skip
    async with request.app[SESSIONMAKER]() as session:
        survey = await surveys_repo.get_survey(session, survey_id)
        if survey is None:
            raise web.HTTPNotFound()
        answered = set(
            (
                await session.scalars(
                    select(SurveyAnswer.question_id)
                    .where(SurveyAnswer.question_id.in_([q.id for q in survey.questions]))
                    .distinct()
                )
            ).all()
        )
    return render(
        request,
        "surveys/admin_edit.html",
        {
            "survey": survey,
            "answered": answered,
            "kinds": rules.KIND_LABELS,
            "values": values or {},
            "base": BASE,
        },
        status=status,
        error=error,
    )


def _survey_fields(form: Form) -> dict[str, Any]:
    name = form.text("name")
    if not name:
        raise InvalidConfig(N_("Give the survey a name."), field="name")
    return {
        "name": name[:120],
        "description": form.text("description")[:2000],
        "active": form.checkbox("active"),
        "after_call": form.checkbox("after_call"),
        "follow_up": form.checkbox("follow_up"),
        "thanks_prompt": form.text("thanks_prompt")[:120],
    }


@routes.get(BASE, name="admin_surveys")
@allow(Role.ADMIN)
async def list_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


@routes.post(BASE, name="admin_survey_create")
@allow(Role.ADMIN)
async def create(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    created: list[int] = []
    try:
        fields = _survey_fields(form)

        async def change(session: AsyncSession) -> Change:
            survey = Survey(**fields)
            session.add(survey)
            await session.flush()
            created.append(survey.id)
            return Change(f"survey {survey.id}", {"op": "create", "name": survey.name})

        await apply_change(request, AREA, change)
    except RULE_ERRORS as exc:
        return await _list_page(
            request, values=form.values(), error=form_error(request, exc), status=400
        )
    raise done(f"{BASE}/{created[0]}", "created")


@routes.get(BASE + r"/{id:\d+}", name="admin_survey")
@allow(Role.ADMIN)
async def edit_page(request: web.Request) -> web.StreamResponse:
    return await _edit_page(request, entity_id(request))


@routes.post(BASE + r"/{id:\d+}", name="admin_survey_update")
@allow(Role.ADMIN)
async def update(request: web.Request) -> web.StreamResponse:
    ident = entity_id(request)
    form = await read_form(request)
    try:
        fields = _survey_fields(form)

        async def change(session: AsyncSession) -> Change:
            survey = await session.get(Survey, ident)
            if survey is None:
                raise web.HTTPNotFound()
            for key, value in fields.items():
                setattr(survey, key, value)
            return Change(f"survey {ident}", {"op": "update", **form.values()})

        await apply_change(request, AREA, change)
    except RULE_ERRORS as exc:
        return await _edit_page(request, ident, error=form_error(request, exc), status=400)
    raise done(f"{BASE}/{ident}", "saved")


@routes.post(BASE + r"/{id:\d+}/questions", name="admin_survey_question_add")
@allow(Role.ADMIN)
async def add_question(request: web.Request) -> web.StreamResponse:
    """Add a question at the end; a condition may name any question already there."""
    ident = entity_id(request)
    form = await read_form(request)
    try:
        depends_raw = form.text("depends_on_id")
        depends_on_id = row_id(depends_raw) if depends_raw else None
        if depends_raw and depends_on_id is None:
            raise InvalidConfig(N_("A question can only depend on an earlier question."),
                                field="depends_on_id")  # fmt: skip
        kind = form.text("kind")
        speak = form.checkbox("generate_speech")
        draft = rules.Question(
            id=0,
            kind=kind,
            text=form.text("text")[:1000],
            options=tuple(_lines(form.text("options"))) if kind in rules.CHOICE_KINDS else (),
            depends_on_id=depends_on_id,
            depends_values=tuple(_lines(form.text("depends_values"))) if depends_on_id else (),
            ivr_prompt=form.text("ivr_prompt")[:120],
        )

        async def change(session: AsyncSession) -> Change:
            if await session.get(Survey, ident) is None:
                raise web.HTTPNotFound()
            earlier = await surveys_repo.load_questions(session, ident)
            try:
                rules.check_question(draft, earlier)
            except rules.AnswerError as exc:
                raise _rule(exc, "text") from None
            position = max((q.position for q in await _rows(session, ident)), default=0) + 1
            row = SurveyQuestion(
                survey_id=ident, position=position, kind=draft.kind, text=draft.text,
                options=list(draft.options), depends_on_id=draft.depends_on_id,
                depends_values=list(draft.depends_values), ivr_prompt=draft.ivr_prompt,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            if speak:
                row.ivr_prompt = await _generate_prompt(request, session, row, draft)
            return Change(f"survey {ident}", {"op": "add question", "question": row.id,
                                              "kind": row.kind, "text": row.text})  # fmt: skip

        await apply_change(request, AREA, change)
    except RULE_ERRORS as exc:
        return await _edit_page(
            request, ident, values=form.values(), error=form_error(request, exc), status=400
        )
    raise done(f"{BASE}/{ident}", "saved")


async def _generate_prompt(
    request: web.Request, session: AsyncSession, row: SurveyQuestion, draft: rules.Question
) -> str:
    """Speak the question and its keys with espeak-ng into the prompts folder (off the loop);
    the prompt is listed on the Prompts page, where a recording can replace it."""
    if draft.kind not in rules.SCALES and draft.kind != rules.SINGLE_CHOICE:
        raise InvalidConfig(N_("Only scales and single choices are asked on the phone."),
                            field="generate_speech")  # fmt: skip
    code = f"survey-{row.id}"
    filename = f"{code}.wav"
    target = request.app[SETTINGS].prompts_dir / filename
    try:
        await asyncio.to_thread(synthesize, rules.phone_script(draft), target)
    except PromptToolMissing:
        raise InvalidConfig(N_("espeak-ng and sox are needed to generate speech."),
                            field="generate_speech") from None  # fmt: skip
    user = current_user(request)
    await routing.save_prompt(
        session, code=code, name=draft.text[:160], filename=filename, duration_seconds=0.0,
        uploaded_by_id=user.id if user else None, now=request.app[CLOCK].now(),
    )  # fmt: skip
    return code


@routes.post(BASE + r"/{id:\d+}/questions/{question:\d+}", name="admin_survey_question_update")
@allow(Role.ADMIN)
async def update_question(request: web.Request) -> web.StreamResponse:
    """Reword a question or change its phone prompt; its options only while nobody has
    answered it and every dependent question's condition still names one of them."""
    ident = entity_id(request)
    question_id = row_id(request.match_info["question"])
    form = await read_form(request)
    try:

        async def change(session: AsyncSession) -> Change:
            rows = sorted(await _rows(session, ident), key=lambda q: (q.position, q.id))
            row = next((q for q in rows if q.id == question_id), None)
            if row is None:
                raise web.HTTPNotFound()
            options = tuple(row.options or ())
            if row.kind in rules.CHOICE_KINDS and "options" in form.data:
                options = tuple(_lines(form.text("options")))
            answered = await session.scalar(
                select(func.count()).where(SurveyAnswer.question_id == row.id)
            )
            if answered and options != tuple(row.options or ()):
                raise InvalidConfig(
                    N_("This question has answers; its options can no longer change.")
                )
            draft = rules.Question(
                id=row.id, kind=row.kind, text=form.text("text")[:1000], options=options,
                depends_on_id=row.depends_on_id, depends_values=tuple(row.depends_values or ()),
                ivr_prompt=form.text("ivr_prompt")[:120],
            )  # fmt: skip
            earlier = [surveys_repo.question_of(q) for q in rows[: rows.index(row)]]
            later = [surveys_repo.question_of(q) for q in rows[rows.index(row) + 1 :]]
            try:
                rules.check_question(draft, earlier)
                for dependent in later:
                    if dependent.depends_on_id == row.id:
                        rules.check_question(dependent, [*earlier, draft])
            except rules.AnswerError as exc:
                raise _rule(exc) from None
            row.text, row.options, row.ivr_prompt = draft.text, list(options), draft.ivr_prompt
            if form.checkbox("generate_speech"):
                row.ivr_prompt = await _generate_prompt(request, session, row, draft)
            return Change(f"survey {ident}", {"op": "update question", "question": row.id,
                                              "text": row.text})  # fmt: skip

        await apply_change(request, AREA, change)
    except RULE_ERRORS as exc:
        return await _edit_page(request, ident, error=form_error(request, exc), status=400)
    raise done(f"{BASE}/{ident}", "saved")


async def _rows(session: AsyncSession, survey_id: int) -> list[SurveyQuestion]:
    return list(
        (
            await session.scalars(
                select(SurveyQuestion).where(SurveyQuestion.survey_id == survey_id)
            )
        ).all()
    )


@routes.post(BASE + r"/{id:\d+}/questions/{question:\d+}/move",
             name="admin_survey_question_move")  # fmt: skip
@allow(Role.ADMIN)
async def move_question(request: web.Request) -> web.StreamResponse:
    """Swap a question with the one above (``direction=up``) or below (``down``). A
    condition names an earlier question (the form shows it, the phone asks it, first), so
    a question cannot pass the one it depends on, nor a question depending on it."""
    ident = entity_id(request)
    question_id = row_id(request.match_info["question"])
    form = await read_form(request)
    direction = form.text("direction")
    try:

        async def change(session: AsyncSession) -> Change:
            rows = sorted(await _rows(session, ident), key=lambda q: (q.position, q.id))
            row = next((q for q in rows if q.id == question_id), None)
            if row is None:
                raise web.HTTPNotFound()
            if direction not in ("up", "down"):
                raise InvalidConfig(N_("Move a question up or down."))
            index = rows.index(row)
            other = index - 1 if direction == "up" else index + 1
            if 0 <= other < len(rows):
                first, second = sorted((row, rows[other]), key=rows.index)
                if second.depends_on_id == first.id:
                    raise InvalidConfig(
                        N_("A question must stay below the question it depends on.")
                    )
                rows[index], rows[other] = rows[other], rows[index]
            for position, question in enumerate(rows, start=1):
                question.position = position
            return Change(f"survey {ident}", {"op": "move question", "question": row.id,
                                              "direction": direction})  # fmt: skip

        await apply_change(request, AREA, change)
    except RULE_ERRORS as exc:
        return await _edit_page(request, ident, error=form_error(request, exc), status=400)
    raise done(f"{BASE}/{ident}", "saved")


@routes.post(BASE + r"/{id:\d+}/questions/{question:\d+}/delete",
             name="admin_survey_question_delete")  # fmt: skip
@allow(Role.ADMIN)
async def delete_question(request: web.Request) -> web.StreamResponse:
    """Remove a question nobody answered yet and no other question depends on."""
    ident = entity_id(request)
    question_id = row_id(request.match_info["question"])
    try:

        async def change(session: AsyncSession) -> Change:
            rows = await _rows(session, ident)
            row = next((q for q in rows if q.id == question_id), None)
            if row is None:
                raise web.HTTPNotFound()
            if any(q.depends_on_id == row.id for q in rows):
                raise InvalidConfig(N_("Another question depends on this one; remove it first."))
            answered = await session.scalar(
                select(func.count()).where(SurveyAnswer.question_id == row.id)
            )
            if answered:
                raise InvalidConfig(
                    N_("This question has answers; switch the survey off and build a new one.")
                )
            await session.delete(row)
            return Change(f"survey {ident}", {"op": "delete question", "question": row.id})

        await apply_change(request, AREA, change)
    except RULE_ERRORS as exc:
        return await _edit_page(request, ident, error=form_error(request, exc), status=400)
    raise done(f"{BASE}/{ident}", "deleted")
