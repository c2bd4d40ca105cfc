"""The report pages (calls, agents, tickets) and their Excel exports, for supervisors and
admins. Filters come from the query string; a bad date or number is a 400 that names
it, never a silent empty report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from callcenter.core.roles import Role
from callcenter.db.models import AgentGroup, Category, Department, Hotline, SystemSetting, User
from callcenter.db.repos.routing import EMAIL_RE, load_system_settings, save_settings
from callcenter.i18n import N_, translations
from callcenter.localtime import day_bounds, local_date, parse_date
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.reports import charts, excel, schedule, services
from callcenter.reports.periods import GROUPING_LABELS, Grouping
from callcenter.reports.queries import Filters
from callcenter.web.access import allow
from callcenter.web.admin_common import Change, apply_change
from callcenter.web.auth import gettext_for, request_language

routes = web.RouteTableDef()

ROLES = (Role.SUPERVISOR, Role.ADMIN)
KINDS = {"calls": N_("Calls"), "agents": N_("Agents"), "tickets": N_("Tickets")}
MAX_DAYS = 400


class BadFilter(ValueError):
    pass


def _int(request: web.Request, name: str) -> int | None:
    text = request.query.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise BadFilter(gettext_for(request, N_("{field} must be a number."), field=name))
    return int(text)


def read_filters(request: web.Request) -> tuple[Filters, Grouping, dict[str, str]]:
    """The report's range and filters from the query; default: the last 7 local days."""
    zone = request.app[SETTINGS].tz
    today = local_date(request.app[CLOCK].now(), zone)
    try:
        first = (
            parse_date(request.query["from"])
            if request.query.get("from")
            else today - timedelta(days=6)
        )
        last = parse_date(request.query["to"]) if request.query.get("to") else today
    except ValueError:
        raise BadFilter(gettext_for(request, N_("Dates are written dd/mm/yyyy."))) from None
    if last < first:
        raise BadFilter(gettext_for(request, N_("The end date is before the start date.")))
    if (last - first).days >= MAX_DAYS:
        raise BadFilter(
            gettext_for(request, N_("A report covers at most {days} days."), days=MAX_DAYS)
        )
    try:
        grouping = Grouping(request.query.get("by") or "day")
    except ValueError:
        raise BadFilter(gettext_for(request, N_("Group by day, week or month."))) from None
    filters = Filters(
        start=day_bounds(first, zone)[0],
        end=day_bounds(last, zone)[1],
        agent_id=_int(request, "agent"),
        group=request.query.get("group") or None,
        hotline=request.query.get("hotline") or None,
        category_id=_int(request, "category"),
        department_id=_int(request, "department"),
    )
    shown = {k: v for k, v in request.query.items() if v}
    shown.setdefault("from", first.strftime("%d/%m/%Y"))
    shown.setdefault("to", last.strftime("%d/%m/%Y"))
    shown.setdefault("by", grouping.value)
    return filters, grouping, shown


async def _choices(session: Any) -> dict[str, list[tuple[Any, str]]]:
    agents = await session.execute(
        select(User.id, User.full_name, User.username)
        .where(User.role == "agent", User.active.is_(True))
        .order_by(User.full_name)
    )
    return {
        "agents": [(i, full or name) for i, full, name in agents],
        "groups": list((await session.execute(select(AgentGroup.code, AgentGroup.name))).all()),
        "hotlines": list((await session.execute(select(Hotline.number, Hotline.name))).all()),
        "categories": list((await session.execute(select(Category.id, Category.name))).all()),
        "departments": list((await session.execute(select(Department.id, Department.name))).all()),
    }


async def build(request: web.Request, kind: str) -> tuple[Any, Grouping, dict[str, str]]:
    filters, grouping, shown = read_filters(request)
    zone = request.app[SETTINGS].tz
    now = request.app[CLOCK].now()
    async with request.app[SESSIONMAKER]() as session:
        report: Any
        if kind == "calls":
            report = await services.calls_report(session, filters, grouping, zone, now)
        elif kind == "agents":
            report = await services.agents_report(session, filters, now, zone)
        else:
            report = await services.tickets_report(session, filters, grouping, zone, now)
    return report, grouping, shown


def _chart(kind: str, report: Any, _: Any) -> str:
    if kind == "calls":
        labels = [p["label"] for p in report.periods]
        return charts.bars(
            _("Calls per period"),
            labels,
            {
                _("Answered"): [p["answered"] for p in report.periods],
                _("Abandoned"): [p["abandoned"] for p in report.periods],
                _("Short abandons"): [p["short_abandoned"] for p in report.periods],
            },
        )
    if kind == "agents":
        return charts.bars(
            _("Calls answered and missed per agent"),
            [a["name"] for a in report.agents],
            {
                _("Calls answered"): [a["answered"] for a in report.agents],
                _("Missed"): [a["missed"] for a in report.agents],
            },
        )
    return charts.bars(
        _("Handled and unhandled tickets"),
        [p["label"] for p in report.periods],
        {
            _("Handled"): [p["handled"] for p in report.periods],
            _("Unhandled"): [p["unhandled"] for p in report.periods],
        },
    )


@routes.get("/reports", name="reports_home")
@allow(*ROLES)
async def reports_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/reports/calls")


@routes.get(r"/reports/{kind:calls|agents|tickets}", name="report_page")
@allow(*ROLES)
async def report_page(request: web.Request) -> web.StreamResponse:
    """One report as a table and a chart, with its filters, export link and print view."""
    kind = request.match_info["kind"]
    _ = translations(request_language(request)).gettext
    try:
        report, grouping, shown = await build(request, kind)
    except BadFilter as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    async with request.app[SESSIONMAKER]() as session:
        choices = await _choices(session)
    context = {
        "kind": kind,
        "kinds": KINDS,
        "report": report,
        "chart": _chart(kind, report, _),
        "query": shown,
        "groupings": GROUPING_LABELS,
        "grouping": grouping.value,
        "export_url": f"/reports/{kind}.xlsx?{urlencode(shown)}",
        "choices": choices,
    }
    return aiohttp_jinja2.render_template("reports/report.html", request, context)


@routes.get(r"/reports/{kind:calls|agents|tickets}.xlsx", name="report_export")
@allow(*ROLES)
async def report_export(request: web.Request) -> web.StreamResponse:
    """The report as a formatted workbook, with the same filters as the page."""
    kind = request.match_info["kind"]
    _ = translations(request_language(request)).gettext
    try:
        report, _grouping, _shown = await build(request, kind)
    except BadFilter as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    if kind == "calls":
        body = excel.calls_workbook(report, _)
    elif kind == "agents":
        body = excel.agents_workbook(report, _)
    else:
        body = excel.tickets_workbook(report, _)
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="report-{kind}.xlsx"'},
    )


async def _schedule_values(request: web.Request) -> tuple[int, list[str], bool]:
    async with request.app[SESSIONMAKER]() as session:
        hour = (await load_system_settings(session)).daily_report_hour
        stored = await session.get(SystemSetting, schedule.RECIPIENTS_KEY)
        chosen = stored is not None and isinstance(stored.value, list)
        return hour, await schedule.recipients(session), chosen


@routes.get("/reports/schedule", name="report_schedule")
@allow(Role.ADMIN)
async def schedule_page(request: web.Request) -> web.StreamResponse:
    """Who gets the daily summary email, and at what hour."""
    hour, recipients, chosen = await _schedule_values(request)
    context = {"hour": hour, "recipients": "\n".join(recipients), "chosen": chosen,
               "error": "", "saved": request.query.get("done") == "1"}  # fmt: skip
    return aiohttp_jinja2.render_template("reports/schedule.html", request, context)


@routes.post("/reports/schedule", name="report_schedule_save")
@allow(Role.ADMIN)
async def schedule_save(request: web.Request) -> web.StreamResponse:
    """Save the hour and the recipients (empty list: every supervisor with an email)."""
    form = await request.post()
    hour_text = str(form.get("hour", "")).strip()
    text = str(form.get("recipients", ""))
    addresses = [a.strip() for a in text.replace(",", "\n").splitlines() if a.strip()]
    error = ""
    if not hour_text.lstrip("-").isdigit() or not -1 <= int(hour_text) <= 23:
        error = gettext_for(request, N_("The hour is a number from 0 to 23, or -1 for off."))
    else:
        wrong = [a for a in addresses if not EMAIL_RE.match(a)]
        if wrong:
            error = gettext_for(request, N_("Not an email address: {value}"), value=wrong[0])
    if error:
        context = {"hour": hour_text, "recipients": text, "chosen": True, "error": error,
                   "saved": False}  # fmt: skip
        response = aiohttp_jinja2.render_template("reports/schedule.html", request, context)
        response.set_status(400)
        return response
    hour = int(hour_text)

    async def change(session: Any) -> Change:
        now = request.app[CLOCK].now()
        await save_settings(session, {"daily_report_hour": hour}, now)
        row = await session.get(SystemSetting, schedule.RECIPIENTS_KEY)
        if addresses:
            row = row or SystemSetting(key=schedule.RECIPIENTS_KEY)
            row.value = addresses
            row.updated_at = now
            session.add(row)
        elif row is not None:
            await session.delete(row)
        return Change("daily_report", {"hour": hour, "recipients": addresses})

    await apply_change(request, "settings", change)
    raise web.HTTPFound("/reports/schedule?done=1")
