"""Outbound pages and API.

Supervisors (and admins) build lead lists and care campaigns on ``/outbound``, watch a
campaign's progress live (server-sent events), download results and reports as Excel,
and keep the care rules. Agents work each lead from their task list: the lead's page
``/outbound/tasks/{id}`` shows the lead's details and script, rings the agent's phone
then the customer (the agent page's click-to-call), and records the outcome.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select, update

from callcenter import localtime
from callcenter.core.outbound import (
    CHANNEL_LABELS,
    CONVERSION_LABELS,
    ITEM_STATUS_LABELS,
    LIST_KIND_LABELS,
    ORDER_LABELS,
    OUTCOME_LABELS,
    STAGE_LABELS,
    STAGE_MOVES,
    TEMPLATE_FIELDS,
    TRIGGER_LABELS,
    OpportunityInput,
    OutboundRuleError,
    StageMoveError,
    check_opportunity,
    unknown_placeholders,
)
from callcenter.core.phones import Phone, format_national, normalize_phone
from callcenter.core.roles import Role
from callcenter.db.models import (
    AgentGroup,
    CallList,
    CallListItem,
    CareRule,
    Customer,
    CustomerImport,
    Survey,
    SystemSetting,
    Task,
    User,
    Vehicle,
)
from callcenter.db.repos import outbound as repo
from callcenter.db.repos import tasks as tasks_repo
from callcenter.excel.export import XlsxWriter
from callcenter.i18n import N_, translations
from callcenter.outbound import services
from callcenter.outbound.services import PROGRESS_HUB, ListRequest
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.services.plugin import ACD_SERVICE
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import request_language, session_is_current
from callcenter.web.openapi import describe

routes = web.RouteTableDef()

MANAGE_ROLES = (Role.SUPERVISOR, Role.ADMIN)
WORK_ROLES = (Role.AGENT, Role.SUPERVISOR)
TAGS = ["outbound"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEARTBEAT_SECONDS = 20.0


def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware let only logged-in users through
    return user


def _gettext(request: web.Request) -> Any:
    return translations(request_language(request)).gettext


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _national(number: str) -> str:
    parsed = normalize_phone(number)
    return format_national(parsed.e164) if isinstance(parsed, Phone) else number


def _local_instant(text: str, zone: Any) -> datetime | None:
    """A ``datetime-local`` value (local time) as an aware instant; None when empty."""
    if not text.strip():
        return None
    naive = datetime.fromisoformat(text.strip())
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=zone)
    return localtime.ensure_utc(naive)


def _date(text: str) -> date | None:
    return localtime.parse_date(text) if text.strip() else None


def _labels(request: web.Request) -> dict[str, dict[str, str]]:
    gettext = _gettext(request)

    def tr(table: dict[str, str]) -> dict[str, str]:
        return {code: gettext(text) for code, text in table.items()}

    return {
        "outcome": tr(OUTCOME_LABELS),
        "status": tr(ITEM_STATUS_LABELS),
        "conversion": tr(CONVERSION_LABELS),
        "stage": tr(STAGE_LABELS),
        "kind": tr(LIST_KIND_LABELS),
        "order": tr(ORDER_LABELS),
        "trigger": tr(TRIGGER_LABELS),
        "channel": tr(CHANNEL_LABELS),
    }


# ----------------------------------------------------------------------- the lists
async def _page_context(request: web.Request, session: Any) -> dict[str, Any]:
    lists = (await session.scalars(select(CallList).order_by(CallList.id.desc()))).all()
    progress = await repo.campaign_progress(session, [item.id for item in lists])
    agents = (
        await session.execute(
            select(User.id, User.full_name, User.username)
            .where(User.role.in_(("agent", "supervisor")))
            .order_by(User.full_name, User.username)
        )
    ).all()
    groups = (await session.execute(select(AgentGroup.code, AgentGroup.name))).all()
    imports = (
        await session.execute(
            select(CustomerImport.id, CustomerImport.filename)
            .where(CustomerImport.status == "previewed")
            .order_by(CustomerImport.id.desc())
            .limit(20)
        )
    ).all()
    rules = (await session.scalars(select(CareRule).order_by(CareRule.id))).all()
    surveys = (
        await session.execute(
            select(Survey.id, Survey.name).where(Survey.active).order_by(Survey.name)
        )
    ).all()
    return {
        "lists": lists,
        "progress": progress,
        "agents": agents,
        "groups": groups,
        "imports": imports,
        "rules": rules,
        "surveys": surveys,  # a campaign's survey is picked by name
        "labels": _labels(request),
        "template_fields": TEMPLATE_FIELDS,
        "blend_wait_seconds": await blend_wait_seconds(session),
        # supervisors switch agents' outbound mode here (what the ACD routes by)
        "may_switch_modes": _user(request).role == Role.SUPERVISOR,
        "modes": _modes(request),
        "error": "",
    }


def _modes(request: web.Request) -> dict[int, bool]:
    service = request.app.get(ACD_SERVICE)
    if service is None:
        return {}
    return {agent_id: agent.outbound_mode for agent_id, agent in service.acd.agents.items()}


@routes.get("/outbound", name="outbound")
@allow(*MANAGE_ROLES)
async def outbound_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        context = await _page_context(request, session)
    return aiohttp_jinja2.render_template("outbound/index.html", request, context)


def _list_request(form: Any) -> ListRequest:
    def number(name: str, default: int | None) -> int | None:
        text = str(form.get(name, "")).strip()
        return int(text) if text else default

    try:
        return ListRequest(
            kind=str(form.get("kind", "lead")),
            name=str(form.get("name", "")),
            order_by=str(form.get("order_by", "priority")),
            agent_ids=[int(value) for value in form.getall("agent_ids", []) if str(value)],
            group=str(form.get("group", "")),
            max_attempts=number("max_attempts", 3) or 3,
            script=str(form.get("script", "")),
            survey_id=number("survey_id", None),
            starts_on=_date(str(form.get("starts_on", ""))),
            ends_on=_date(str(form.get("ends_on", ""))),
        )
    except ValueError:
        raise OutboundRuleError(N_("Check the numbers and dates (dd/mm/yyyy).")) from None


def _filter(form: Any) -> repo.CustomerFilter:
    try:
        return repo.CustomerFilter(
            tags=[tag.strip() for tag in str(form.get("tags", "")).split(",") if tag.strip()],
            province=str(form.get("province", "")).strip(),
            model=str(form.get("model", "")).strip(),
            purchased_from=_date(str(form.get("purchased_from", ""))),
            purchased_to=_date(str(form.get("purchased_to", ""))),
            customer_type=str(form.get("customer_type", "")),
        )
    except ValueError:
        raise OutboundRuleError(N_("Check the numbers and dates (dd/mm/yyyy).")) from None


@routes.post("/outbound/lists", name="outbound_list_create")
@allow(*MANAGE_ROLES)
async def list_create(request: web.Request) -> web.StreamResponse:
    """A list or campaign from a customer filter, or from a previewed Excel import."""
    form = await request.post()
    user = _user(request)
    gettext = _gettext(request)
    sessions = request.app[SESSIONMAKER]
    try:
        wanted = _list_request(form)
        if str(form.get("source", "filter")) == "import":
            import_id = int(str(form.get("import_id", "0")) or 0)
            summary, _counts = await services.list_from_import(
                sessions, wanted, import_id, clock=request.app[CLOCK], actor=user,
                translate=gettext, created_by_id=user.id, zone=request.app[SETTINGS].tz,
            )  # fmt: skip
        else:
            summary = await services.list_from_filter(
                sessions, wanted, _filter(form), now=request.app[CLOCK].now(),
                created_by_id=user.id, zone=request.app[SETTINGS].tz,
            )  # fmt: skip
    except OutboundRuleError as exc:
        return await _page_error(request, gettext(exc.message))
    except (services.ImportNotReady, ValueError):
        return await _page_error(request, gettext(N_("Choose a previewed import.")))
    raise web.HTTPFound(f"/outbound/lists/{summary.call_list.id}")


async def _page_error(request: web.Request, message: str) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        context = await _page_context(request, session)
    context["error"] = message
    response = aiohttp_jinja2.render_template("outbound/index.html", request, context)
    response.set_status(400)
    return response


async def _list_rows(session: Any, list_id: int) -> list[Any]:
    return list(
        (
            await session.execute(
                select(CallListItem, Customer.name, Customer.province, Task.phone, User.full_name)
                .join(Customer, Customer.id == CallListItem.customer_id)
                .outerjoin(Task, Task.id == CallListItem.task_id)
                .outerjoin(User, User.id == CallListItem.agent_id)
                .where(CallListItem.list_id == list_id)
                .order_by(CallListItem.position)
            )
        ).all()
    )


def _list_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get(r"/outbound/lists/{id:\d+}", name="outbound_list")
@allow(*MANAGE_ROLES)
async def list_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        call_list = await session.get(CallList, _list_id(request))
        if call_list is None:
            raise web.HTTPNotFound(text=_gettext(request)(N_("No such list.")))
        rows = await _list_rows(session, call_list.id)
        progress = (await repo.campaign_progress(session, [call_list.id]))[call_list.id]
        report = await repo.report(session, by="agent", list_id=call_list.id)
    context = {
        "call_list": call_list,
        "rows": rows,
        "progress": progress,
        "report": report,
        "labels": _labels(request),
        "national": _national,
    }
    return aiohttp_jinja2.render_template("outbound/list.html", request, context)


@routes.get(r"/api/outbound/lists/{id:\d+}/progress", name="api_outbound_progress")
@allow(*MANAGE_ROLES)
@describe(
    "A list's or campaign's progress: items, called, reached, survey answered",
    tags=TAGS,
    response={"type": "object"},
    errors={404: "no such list"},
)
async def api_progress(request: web.Request) -> web.Response:
    async with request.app[SESSIONMAKER]() as session:
        if await session.get(CallList, _list_id(request)) is None:
            return _error(404, "no such list")
        progress = await repo.campaign_progress(session, [_list_id(request)])
    return web.json_response({"list_id": _list_id(request), **progress[_list_id(request)]})


@routes.get("/outbound/progress/events", name="outbound_progress_events")
@allow(*MANAGE_ROLES)
async def progress_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``progress`` message per outcome recorded on any list."""
    if "text/event-stream" not in request.headers.get("Accept", ""):
        raise web.HTTPNotAcceptable(text="this is an event stream (text/event-stream)")
    hub = request.app[PROGRESS_HUB]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                 "X-Accel-Buffering": "no"}
    )  # fmt: skip
    await response.prepare(request)
    stream = hub.open()
    try:
        await response.write(b"retry: 3000\n\n")
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    message = await stream.queue.get()
            except TimeoutError:
                if not await session_is_current(request):
                    break
                await response.write(b": keep-alive\n\n")
                continue
            if message is None:
                break
            await response.write(f"event: progress\ndata: {json.dumps(message)}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.close(stream)
    return response


async def _xlsx(
    title: str, headers: list[str], rows: list[list[Any]], filename: str
) -> web.Response:
    def build() -> bytes:
        import io

        writer = XlsxWriter(title, headers)
        writer.append_many(rows)
        buffer = io.BytesIO()
        writer.workbook.save(buffer)
        return buffer.getvalue()

    body = await asyncio.to_thread(build)
    return web.Response(
        body=body,
        headers={
            "Content-Type": XLSX_TYPE,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@routes.get(r"/outbound/lists/{id:\d+}/results.xlsx", name="outbound_list_results")
@allow(*MANAGE_ROLES)
async def list_results(request: web.Request) -> web.StreamResponse:
    """Each lead's outcome as Excel (every code in words)."""
    gettext = _gettext(request)
    labels = _labels(request)
    async with request.app[SESSIONMAKER]() as session:
        call_list = await session.get(CallList, _list_id(request))
        if call_list is None:
            raise web.HTTPNotFound(text=gettext(N_("No such list.")))
        rows = await _list_rows(session, call_list.id)
    headers = [gettext(text) for text in (
        N_("Customer"), N_("Phone"), N_("Province"), N_("Agent"), N_("Status"),
        N_("Tries"), N_("Last outcome"), N_("Reason"), N_("Conversion"),
    )]  # fmt: skip
    body = [
        [
            name, _national(phone or ""), province, agent or "",
            labels["status"].get(item.status, item.status), item.attempts,
            labels["outcome"].get(item.last_outcome, ""), item.reason,
            labels["conversion"].get(item.conversion, ""),
        ]
        for item, name, province, phone, agent in rows
    ]  # fmt: skip
    return await _xlsx(gettext(N_("Results")), headers, body, f"list-{call_list.id}.xlsx")


REPORT_HEADERS = (
    N_("Leads"), N_("Called"), N_("Reached"), N_("Not interested"), N_("Wrong or fake number"),
    N_("Unreachable"), N_("To call"), N_("Converted: not buying yet"), N_("Converted: buying"),
    N_("Opportunity value (VND)"),
)  # fmt: skip


@routes.get("/outbound/reports", name="outbound_reports")
@allow(*MANAGE_ROLES)
async def reports_page(request: web.Request) -> web.StreamResponse:
    """Outcomes and conversions per agent or per list; ``?format=xlsx`` for Excel."""
    by = "list" if request.query.get("by") == "list" else "agent"
    gettext = _gettext(request)
    async with request.app[SESSIONMAKER]() as session:
        rows = await repo.report(session, by=by)
    if request.query.get("format") == "xlsx":
        first = gettext(N_("Agent") if by == "agent" else N_("List"))
        return await _xlsx(
            gettext(N_("Report")),
            [first, *(gettext(h) for h in REPORT_HEADERS)],
            [[row["name"] or "—", *(row[c] for c in repo.REPORT_COLUMNS)] for row in rows],
            f"outbound-{by}.xlsx",
        )
    context = {"by": by, "rows": rows, "columns": repo.REPORT_COLUMNS, "headers": REPORT_HEADERS}
    return aiohttp_jinja2.render_template("outbound/reports.html", request, context)


# ----------------------------------------------------------------------- the agent
async def _lead(
    request: web.Request, session: Any, user: CurrentUser
) -> tuple[Task, CallListItem, CallList]:
    try:
        task_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    task = await tasks_repo.callback_for_agent(
        session, user.id, task_id, now=request.app[CLOCK].now()
    )
    item = await repo.item_for_task(session, task_id) if task is not None else None
    if task is None or item is None:
        raise web.HTTPNotFound(text=_gettext(request)(N_("No such lead, or it is not yours.")))
    call_list = await session.get(CallList, item.list_id)
    assert call_list is not None
    return task, item, call_list


@routes.get(r"/outbound/tasks/{id:\d+}", name="outbound_lead")
@allow(*WORK_ROLES)
async def lead_page(request: web.Request) -> web.StreamResponse:
    user = _user(request)
    async with request.app[SESSIONMAKER]() as session:
        task, item, call_list = await _lead(request, session, user)
        customer = await session.get(Customer, item.customer_id)
        vehicles = (
            await session.scalars(select(Vehicle).where(Vehicle.customer_id == item.customer_id))
        ).all()
    zone = request.app[SETTINGS].tz
    service = request.app.get(ACD_SERVICE)
    agent = service.acd.agents.get(user.id) if service is not None else None
    context = {
        "outbound_mode": agent is not None and agent.outbound_mode,
        "task": task,
        "item": item,
        "call_list": call_list,
        "customer": customer,
        "vehicles": vehicles,
        "phone": _national(task.phone),
        "labels": _labels(request),
        # the retry picker starts an hour from now, in local time
        "retry_default": (request.app[CLOCK].now() + timedelta(hours=1))
        .astimezone(zone)
        .strftime("%Y-%m-%dT%H:%M"),
    }
    return aiohttp_jinja2.render_template("outbound/lead.html", request, context)


class OutcomeBody(BaseModel):
    outcome: Literal["reached", "not_reached", "not_interested", "wrong_number"]
    retry_at: str = Field(default="", max_length=32, description="not reached: local time")
    reason: str = Field(default="", max_length=2000, description="not interested: why")
    conversion: Literal["", "not_buying", "buying"] = ""
    vehicle_model: str = Field(default="", max_length=120)
    quantity: int = 1
    value_vnd: int = 0
    stage: str = "new"


class OutcomeOut(BaseModel):
    status: str
    status_label: str
    attempts: int
    callback_task_id: int | None
    opportunity_id: int | None


@routes.post(r"/api/outbound/tasks/{id:\d+}/outcome", name="api_outbound_outcome")
@allow(*WORK_ROLES)
@describe(
    "Record a lead call's outcome (and a reached lead's conversion)",
    tags=TAGS,
    request=OutcomeBody,
    response=OutcomeOut,
    errors={
        400: "the body is invalid, or a rule is broken (retry time, reason, opportunity)",
        404: "no such lead, or it is not mine",
        409: "a colleague has taken this lead",
    },
)
async def api_outcome(request: web.Request) -> web.Response:
    user = _user(request)
    gettext = _gettext(request)
    try:
        body = OutcomeBody.model_validate(await request.json())
    except (ValueError, ValidationError):
        return _error(400, gettext(N_("Invalid request.")))
    zone = request.app[SETTINGS].tz
    try:
        retry_at = _local_instant(body.retry_at, zone)
    except ValueError:
        return _error(400, gettext(N_("Not reached: choose when to try again")))
    opportunity: OpportunityInput | None = None
    async with request.app[SESSIONMAKER]() as session:
        await _lead(request, session, user)
    try:
        if body.outcome == "reached" and body.conversion == "buying":
            opportunity = check_opportunity(
                body.vehicle_model, body.quantity, body.value_vnd, body.stage
            )
        result = await services.record_outcome(
            request.app[SESSIONMAKER],
            request.app[PROGRESS_HUB],
            int(request.match_info["id"]),
            body.outcome,
            user_id=user.id,
            now=request.app[CLOCK].now(),
            retry_at=retry_at,
            reason=body.reason,
            conversion=body.conversion,
            opportunity=opportunity,
        )
    except OutboundRuleError as exc:
        return _error(400, gettext(exc.message))
    except tasks_repo.TaskTaken:
        return _error(409, gettext(N_("A colleague has taken this lead.")))
    labels = _labels(request)
    return web.json_response(
        {
            "status": result.item.status,
            "status_label": labels["status"].get(result.item.status, ""),
            "attempts": result.item.attempts,
            "callback_task_id": result.callback.id if result.callback else None,
            "opportunity_id": result.opportunity.id if result.opportunity else None,
        }
    )


# ----------------------------------------------------------------------- opportunities
#: Who sees and moves opportunities: agents their own, supervisors and admins all.
OPPORTUNITY_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


def _owner_only(user: CurrentUser) -> bool:
    return user.role == Role.AGENT


def _stage_choices(labels: dict[str, str], stage: str) -> list[dict[str, str]]:
    return [{"stage": str(code), "label": labels[code]} for code in STAGE_MOVES.get(stage, ())]


def _change_json(change: Any, who: str, labels: dict[str, str], zone: Any) -> dict[str, str]:
    return {
        "from": change.from_stage,
        "to": change.to_stage,
        "from_label": labels.get(change.from_stage, change.from_stage),
        "to_label": labels.get(change.to_stage, change.to_stage),
        "by": who,
        "at": change.at.isoformat(),
        "at_text": localtime.format_datetime(change.at, zone),
    }


@routes.get("/outbound/opportunities", name="outbound_opportunities")
@allow(*OPPORTUNITY_ROLES)
async def opportunities_page(request: web.Request) -> web.StreamResponse:
    """Converted leads who are buying, with their stage, its history and the moves allowed."""
    user = _user(request)
    labels = _labels(request)
    zone = request.app[SETTINGS].tz
    async with request.app[SESSIONMAKER]() as session:
        rows = await repo.opportunities(session, owner_id=user.id if _owner_only(user) else None)
    context = {
        "rows": rows,
        "labels": labels,
        "choices": {
            row.opportunity.id: _stage_choices(labels["stage"], row.opportunity.stage)
            for row in rows
        },
        "history": {
            row.opportunity.id: [
                _change_json(change, who, labels["stage"], zone) for change, who in row.history
            ]
            for row in rows
        },
        "created_text": lambda at: localtime.format_datetime(at, zone),
    }
    return aiohttp_jinja2.render_template("outbound/opportunities.html", request, context)


class StageBody(BaseModel):
    stage: str = Field(max_length=16, description="new, quoted, negotiating, won or lost")


class StageOut(BaseModel):
    id: int
    stage: str
    stage_label: str
    next_stages: list[dict[str, str]]
    change: dict[str, str]


@routes.post(r"/api/outbound/opportunities/{id:\d+}/stage", name="api_opportunity_stage")
@allow(*OPPORTUNITY_ROLES)
@describe(
    "Move an opportunity to another stage (its owner, or a supervisor); each move is kept "
    "with who and when",
    tags=TAGS,
    request=StageBody,
    response=StageOut,
    errors={
        400: "the body is invalid, or the move is not allowed (back, or out of won/lost)",
        404: "no such opportunity, or it is not mine",
    },
)
async def api_opportunity_stage(request: web.Request) -> web.Response:
    user = _user(request)
    gettext = _gettext(request)
    try:
        body = StageBody.model_validate(await request.json())
    except (ValueError, ValidationError):
        return _error(400, gettext(N_("Invalid request.")))
    labels = _labels(request)["stage"]
    try:
        async with request.app[SESSIONMAKER]() as session, session.begin():
            found, change = await repo.move_stage(
                session, int(request.match_info["id"]), body.stage, user_id=user.id,
                owner_only=_owner_only(user), now=request.app[CLOCK].now(),
            )  # fmt: skip
            stage = found.stage
    except LookupError:
        return _error(404, gettext(N_("No such opportunity, or it is not yours.")))
    except StageMoveError as exc:
        return _error(
            400,
            gettext(exc.message)
            % {
                "from": labels.get(exc.from_stage, exc.from_stage),
                "to": labels.get(exc.to_stage, exc.to_stage),
            },
        )
    who = user.full_name or user.username
    return web.json_response(
        {
            "id": found.id,
            "stage": stage,
            "stage_label": labels[stage],
            "next_stages": _stage_choices(labels, stage),
            "change": _change_json(change, who, labels, request.app[SETTINGS].tz),
        }
    )


# ----------------------------------------------------------------------- care rules
@routes.post("/outbound/care-rules", name="outbound_care_rule_create")
@allow(*MANAGE_ROLES)
async def care_rule_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    gettext = _gettext(request)
    name = str(form.get("name", "")).strip()
    trigger = str(form.get("trigger", ""))
    channel = str(form.get("channel", ""))
    template = str(form.get("template", ""))
    try:
        offset = int(str(form.get("offset_days", "0")) or 0)
    except ValueError:
        return await _page_error(request, gettext(N_("Check the numbers and dates (dd/mm/yyyy).")))
    if not name or trigger not in TRIGGER_LABELS or channel not in CHANNEL_LABELS:
        return await _page_error(
            request, gettext(N_("Give the rule a name, a trigger and a channel."))
        )
    unknown = unknown_placeholders(template)
    if unknown:
        return await _page_error(
            request,
            gettext(N_("Unknown fields in the template: %(fields)s"))
            % {"fields": ", ".join(unknown)},
        )
    async with request.app[SESSIONMAKER]() as session, session.begin():
        session.add(
            CareRule(
                name=name[:200], trigger=trigger, offset_days=offset, channel=channel,
                subject=str(form.get("subject", ""))[:300], template=template,
                group=str(form.get("group", ""))[:48], active=True,
                created_at=request.app[CLOCK].now(),
            )
        )  # fmt: skip
    raise web.HTTPFound("/outbound#care-rules")


@routes.post(r"/outbound/care-rules/{id:\d+}/toggle", name="outbound_care_rule_toggle")
@allow(*MANAGE_ROLES)
async def care_rule_toggle(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session, session.begin():
        rule = await session.get(CareRule, int(request.match_info["id"]))
        if rule is None:
            raise web.HTTPNotFound(text=_gettext(request)(N_("No such rule.")))
        rule.active = not rule.active
    raise web.HTTPFound("/outbound#care-rules")


def setup(app: web.Application) -> None:
    app[PROGRESS_HUB] = services.ProgressHub()
    app.router.add_routes(routes)
    app.on_shutdown.append(_close_streams)


async def _close_streams(app: web.Application) -> None:
    app[PROGRESS_HUB].close_all()


__all__ = ["routes", "setup"]


# ----------------------------------------------------------------------- blending
BLEND_KEY = "outbound_blend_wait_seconds"
DEFAULT_BLEND_WAIT_SECONDS = 60.0


async def blend_wait_seconds(session: Any) -> float:
    """How long an inbound caller waits before agents in outbound mode are offered them."""
    row = await session.get(SystemSetting, BLEND_KEY)
    return DEFAULT_BLEND_WAIT_SECONDS if row is None else float(row.value)


class ModeBody(BaseModel):
    outbound: bool
    agent_id: int | None = Field(
        default=None, description="a supervisor switching an agent's mode; default: my own"
    )


class ModeOut(BaseModel):
    outbound: bool
    blend_wait_seconds: float


def _mode_target(request: web.Request, user: CurrentUser, agent_id: int | None) -> int:
    """Whose mode: my own, or (supervisors only) the agent named."""
    if agent_id is None or agent_id == user.id:
        return user.id
    if user.role != Role.SUPERVISOR:
        raise web.HTTPForbidden(
            text=json.dumps({"error": _gettext(request)(N_("Only a supervisor may do this."))}),
            content_type="application/json",
        )
    return agent_id


@routes.get("/api/outbound/mode", name="api_outbound_mode_get")
@allow(*WORK_ROLES)
@describe(
    "Whether I (or, for a supervisor, ``agent_id``) work in outbound mode",
    tags=TAGS,
    query={"agent_id": "a supervisor asking about an agent"},
    response=ModeOut,
    errors={400: "agent_id is not a number", 403: "only supervisors ask about others",
            404: "no such agent", 503: "the ACD is not running"},
)  # fmt: skip
async def api_mode_get(request: web.Request) -> web.Response:
    user = _user(request)
    gettext = _gettext(request)
    try:
        wanted = int(request.query["agent_id"]) if request.query.get("agent_id") else None
    except ValueError:
        return _error(400, gettext(N_("Invalid request.")))
    target = _mode_target(request, user, wanted)
    service = request.app.get(ACD_SERVICE)
    if service is None:
        return _error(503, gettext(N_("The call distribution is not running.")))
    agent = service.acd.agents.get(target)
    if agent is None:
        return _error(404, gettext(N_("No such agent.")))
    async with request.app[SESSIONMAKER]() as session:
        wait = await blend_wait_seconds(session)
    return web.json_response({"outbound": agent.outbound_mode, "blend_wait_seconds": wait})


@routes.post("/api/outbound/mode", name="api_outbound_mode")
@allow(*WORK_ROLES)
@describe(
    "Outbound mode on or off: while on, no inbound calls unless a caller waits longer "
    "than the blend threshold; kept across daemon restarts",
    tags=TAGS,
    request=ModeBody,
    response=ModeOut,
    errors={400: "the body is invalid", 403: "only supervisors switch others",
            409: "log in to the queue first", 503: "the ACD is not running"},
)  # fmt: skip
async def api_mode(request: web.Request) -> web.Response:
    user = _user(request)
    gettext = _gettext(request)
    try:
        body = ModeBody.model_validate(await request.json())
    except (ValueError, ValidationError):
        return _error(400, gettext(N_("Invalid request.")))
    target = _mode_target(request, user, body.agent_id)
    service = request.app.get(ACD_SERVICE)
    if service is None:
        return _error(503, gettext(N_("The call distribution is not running.")))
    agent = service.acd.agents.get(target)
    if agent is None:
        return _error(409, gettext(N_("Log in to the queue first.")))
    async with request.app[SESSIONMAKER]() as session, session.begin():
        wait = await blend_wait_seconds(session)
        await session.execute(
            update(User).where(User.id == target).values(outbound_mode=body.outbound)
        )
    agent.outbound_mode = body.outbound
    agent.blend_wait_seconds = wait
    return web.json_response({"outbound": agent.outbound_mode, "blend_wait_seconds": wait})


async def restore_outbound_modes(app: web.Application) -> list[int]:
    """At start-up, once the ACD has its agents back: those who were in outbound mode are
    again (``users.outbound_mode``), with the current blend threshold."""
    service = app.get(ACD_SERVICE)
    if service is None:
        return []
    async with app[SESSIONMAKER]() as session:
        wait = await blend_wait_seconds(session)
        ids = list(
            (await session.scalars(select(User.id).where(User.outbound_mode.is_(True)))).all()
        )
    restored = []
    for user_id in ids:
        agent = service.acd.agents.get(user_id)
        if agent is not None:
            agent.outbound_mode, agent.blend_wait_seconds = True, wait
            restored.append(user_id)
    return restored


@routes.post("/outbound/blending", name="outbound_blending")
@allow(*MANAGE_ROLES)
async def blending_settings(request: web.Request) -> web.StreamResponse:
    """The blend threshold (seconds an inbound caller waits before outbound agents ring)."""
    form = await request.post()
    gettext = _gettext(request)
    try:
        wait = float(str(form.get("wait_seconds", "")).strip())
    except ValueError:
        return await _page_error(request, gettext(N_("Check the numbers and dates (dd/mm/yyyy).")))
    if not 0 <= wait <= 3600:
        return await _page_error(request, gettext(N_("Check the numbers and dates (dd/mm/yyyy).")))
    async with request.app[SESSIONMAKER]() as session, session.begin():
        await session.merge(
            SystemSetting(key=BLEND_KEY, value=wait, updated_at=request.app[CLOCK].now())
        )
    service = request.app.get(ACD_SERVICE)
    if service is not None:  # agents already in outbound mode follow the new threshold
        for agent in service.acd.agents.values():
            if agent.outbound_mode:
                agent.blend_wait_seconds = wait
    raise web.HTTPFound("/outbound#blending")
