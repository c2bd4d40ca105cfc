"""The surveys JSON API the agent panel and the care team's forms act through."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter import localtime
from callcenter.core import surveys as rules
from callcenter.core.events import SurveyAnswered
from callcenter.core.roles import Role
from callcenter.db.repos import surveys as surveys_repo
from callcenter.i18n import N_, translate
from callcenter.registry import BUS, CLOCK, SESSIONMAKER, SETTINGS
from callcenter.surveys import report, schemas, services
from callcenter.web.access import allow, current_user
from callcenter.web.auth import gettext_for, request_language
from callcenter.web.openapi import describe

routes = web.RouteTableDef()

FILL_ROLES = (Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
TAGS = ["surveys"]


@routes.get("/api/surveys", name="api_surveys")
@allow(*FILL_ROLES)
@describe("The active surveys with their questions, for the forms", tags=TAGS,
          response=schemas.SurveysOut)  # fmt: skip
async def api_surveys(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        surveys = await surveys_repo.list_surveys(session, active_only=True)
    return web.json_response({"surveys": [surveys_repo.form_of(s) for s in surveys]})


@routes.post(r"/api/surveys/{id:\d+}/responses", name="api_survey_respond")
@allow(*FILL_ROLES)
@describe("Store a response: agents answer for the caller on a call, the care team in a "
          "follow-up task. Every id in the body must be within the user's data scope "
          "(their calls and tasks, their department's tickets...)", tags=TAGS,
          request=schemas.ResponseBody, response=schemas.ResponseOut, status=201,
          errors={400: "an answer the survey cannot take (nothing is stored)",
                  404: "no such survey, or a call, customer, ticket, task or campaign not "
                       "yours to touch (nothing is stored)"})  # fmt: skip
async def api_respond(request: web.Request) -> web.StreamResponse:
    body: schemas.ResponseBody = await schemas.body_of(request, schemas.ResponseBody)
    user = current_user(request)
    assert user is not None  # @allow let a logged-in user in
    channel = rules.CHANNEL_AGENT if user.role == Role.AGENT else rules.CHANNEL_CARE
    if body.linkedid and body.task_id is None and body.ticket_id is None:
        channel = rules.CHANNEL_AGENT
    survey_id = int(request.match_info["id"])
    async with request.app[SESSIONMAKER]() as session:
        try:
            if await surveys_repo.get_survey(session, survey_id) is None:
                raise services.OutOfReach(N_("No such survey."))
            # Out-of-scope rows are "not found", as on the ticket pages and the task list.
            await services.check_reach(
                session, user, linkedid=body.linkedid, customer_id=body.customer_id,
                ticket_id=body.ticket_id, task_id=body.task_id, campaign_id=body.campaign_id,
            )  # fmt: skip
            response = await services.submit(
                session,
                survey_id=survey_id,
                channel=channel,
                submitted=body.answers,
                respondent_id=user.id,
                at=request.app[CLOCK].now(),
                linkedid=body.linkedid,
                customer_id=body.customer_id,
                ticket_id=body.ticket_id,
                task_id=body.task_id,
                campaign_id=body.campaign_id,
            )
            await session.commit()
        except services.OutOfReach as exc:
            await session.rollback()
            return web.json_response({"error": gettext_for(request, exc.message)}, status=404)
        except rules.AnswerError as exc:
            await session.rollback()
            return web.json_response(
                {"error": gettext_for(request, exc.message, **exc.params)}, status=400
            )
    request.app[BUS].publish(  # a campaign's page shows its surveys answered live
        SurveyAnswered(survey_id=survey_id, response_id=response.id, channel=channel,
                       campaign_id=response.campaign_id)
    )  # fmt: skip
    return web.json_response(
        {"id": response.id, "survey_id": survey_id, "channel": channel,
         "customer_id": response.customer_id},
        status=201,
    )  # fmt: skip


# --- the report -------------------------------------------------------------------------

REPORT_ROLES = (Role.SUPERVISOR, Role.ADMIN)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_DAYS = 30


async def _report(request: web.Request) -> dict[str, Any]:
    """The report's choices from the query string (unreadable values fall back, with a note)."""
    zone = request.app[SETTINGS].tz
    today = localtime.local_date(request.app[CLOCK].now(), zone)
    error = ""
    try:
        first = (
            localtime.parse_date(request.query["from"])
            if request.query.get("from")
            else (today - timedelta(days=DEFAULT_DAYS - 1))
        )
        last = localtime.parse_date(request.query["to"]) if request.query.get("to") else today
    except ValueError:
        first, last = today - timedelta(days=DEFAULT_DAYS - 1), today
        error = N_("Write dates as dd/mm/yyyy.")
    if last < first:
        first, last = last, first
    by = request.query.get("by", "day")
    by = by if by in report.PERIODS else "day"
    async with request.app[SESSIONMAKER]() as session:
        surveys = await surveys_repo.list_surveys(session)
        wanted = request.query.get("survey", "")
        survey = next((s for s in surveys if str(s.id) == wanted), None) or (
            surveys[0] if surveys else None
        )
        built = None
        if survey is not None:
            questions = [surveys_repo.question_of(q) for q in survey.questions]
            start, _end = localtime.day_bounds(first, zone)
            _start, end = localtime.day_bounds(last, zone)
            rows = await surveys_repo.report_rows(session, survey.id, start, end)
            built = report.build(questions, rows, by=by, zone=zone)
    return {"surveys": surveys, "survey": survey, "report": built, "first": first,
            "last": last, "by": by, "date_error": error, "zone": zone}  # fmt: skip


@routes.get("/surveys/report", name="survey_report")
@allow(*REPORT_ROLES)
async def report_page(request: web.Request) -> web.StreamResponse:
    context = await _report(request)
    return aiohttp_jinja2.render_template(
        "surveys/report.html",
        request,
        {**context, "kinds": rules.KIND_LABELS, "periods": PERIOD_LABELS,
         "date_error": gettext_for(request, context["date_error"]) if context["date_error"]
         else ""},
    )  # fmt: skip


@routes.get("/surveys/report.xlsx", name="survey_report_xlsx")
@allow(*REPORT_ROLES)
async def report_xlsx(request: web.Request) -> web.StreamResponse:
    context = await _report(request)
    if context["report"] is None:
        raise web.HTTPNotFound(text=gettext_for(request, N_("No survey yet.")))
    language = request_language(request)

    def _(message: str) -> str:
        return translate(language, message)

    body = await asyncio.to_thread(
        report.workbook, context["report"], title=context["survey"].name, _=_,
        zone=context["zone"],
    )  # fmt: skip
    return web.Response(
        body=body,
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="survey-report.xlsx"'},
    )


PERIOD_LABELS = {"day": N_("By day"), "week": N_("By week"), "month": N_("By month")}
