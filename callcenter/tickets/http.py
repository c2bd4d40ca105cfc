"""The ticket pages (inbox, ticket page, list, print sheet, attachments, Excel export, the
live inbox's event stream) and the JSON API under ``/api/tickets/`` the pages act through.

Every read goes through ``ticket_queries`` (``ticket_filter``): a ticket the user may not
read is "not found" on every route, page or API. Recordings are linked only for
``screenpop.LISTEN_ROLES``; ``/recordings/{call_id}`` checks it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from callcenter.agent_desk import services as desk  # click-to-call: the desk's one path
from callcenter.auth.scope import call_filter
from callcenter.core.phones import format_national
from callcenter.core.roles import Role
from callcenter.core.screenpop import LISTEN_ROLES
from callcenter.core.tickets import (
    EVENT_LABELS,
    FOLLOW_UP_LABELS,
    PRIORITY_LABELS,
    STATUS_LABELS,
    TicketStatus,
    TicketWorkflowError,
    is_overdue,
)
from callcenter.db.models import (
    Call,
    Category,
    Customer,
    CustomerPhone,
    Department,
    TicketAttachment,
    User,
)
from callcenter.db.repos import surveys as surveys_repo
from callcenter.db.repos import ticket_queries, ticket_work
from callcenter.db.repos import transcripts as transcripts_repo
from callcenter.db.repos.ticket_queries import TicketFilters
from callcenter.excel.export import XlsxWriter
from callcenter.i18n import N_, translations
from callcenter.localtime import day_bounds, parse_date
from callcenter.notify.outbox import CHANNEL_LABELS, STATE_LABELS, notifications_of
from callcenter.notify.pdf import render_pdf
from callcenter.notify.tickets import render_print_sheet, ticket_sheet
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.tickets import schemas, services
from callcenter.tickets.bus_consume import CLOSE, LIVE_INBOX, InboxStream
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import request_language, session_is_current
from callcenter.web.openapi import describe

routes = web.RouteTableDef()

READ_ROLES = (Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
INBOX_ROLES = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
LIST_ROLES = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
WORK_ROLES = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
TAGS = ["tickets"]
CODE = r"{code:[Tt][Kk]-\d{4}-\d{1,9}}"
PAGE_SIZE = 50
HEARTBEAT_SECONDS = 20.0
NOT_FOUND = {404: "no such ticket, or not yours to read"}
REFUSED = {400: "the body is invalid, or the move breaks a workflow rule",
           403: "your role may not do this to this ticket", **NOT_FOUND}  # fmt: skip

LABELS: dict[str, dict[str, str]] = {
    "status": {str(k): v for k, v in STATUS_LABELS.items()},
    "priority": {str(k): v for k, v in PRIORITY_LABELS.items()},
    "event": {str(k): v for k, v in EVENT_LABELS.items()},
    "follow_up": {str(k): v for k, v in FOLLOW_UP_LABELS.items()},
    "state": {str(k): v for k, v in STATE_LABELS.items()},
    "channel": {str(k): v for k, v in CHANNEL_LABELS.items()},
    "change": {
        "created": N_("New ticket"),
        "claimed": N_("Claimed"),
        "status": N_("Status changed"),
        "transferred": N_("Transferred"),
        "commented": N_("Comment"),
        "attached": N_("File attached"),
        "follow_up": N_("Customer follow-up"),
    },
}
CALL_OUTCOMES = {
    "answered": N_("Answered"), "missed": N_("Missed"), "abandoned": N_("Abandoned"),
    "failed": N_("Failed"), "active": N_("In progress"),
}  # fmt: skip


def _service(request: web.Request) -> services.TicketService:
    return request.app[services.TICKET_SERVICE]


def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware let only logged-in users through
    return user


def _gettext(request: web.Request) -> Any:
    return translations(request_language(request)).gettext


def _error(request: web.Request, status: int, message: str, **params: Any) -> web.Response:
    text = _gettext(request)(message)
    with contextlib.suppress(KeyError, IndexError, ValueError):
        text = text.format(**{k: _param(request, v) for k, v in params.items()})
    return web.json_response({"error": text}, status=status)


def _param(request: web.Request, value: Any) -> str:
    label = LABELS["status"].get(str(value))
    return _gettext(request)(label) if label else str(value)


def _refusal(request: web.Request, exc: TicketWorkflowError) -> web.Response:
    status = 403 if isinstance(exc, services.Forbidden) else 400
    return _error(request, status, exc.message, **exc.params)


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(await request.json())
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        where = ""
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
        raise web.HTTPBadRequest(
            text=json.dumps({"error": where or "the body is not JSON"}),
            content_type="application/json",
        ) from None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def filters_from(request: web.Request) -> TicketFilters:
    """The list's filters from the query string; anything unreadable is ignored."""
    q = request.query
    zone = request.app[SETTINGS].tz
    statuses = [s for s in q.getall("status", []) if s in LABELS["status"]]
    created_from = created_to = None
    with contextlib.suppress(ValueError):
        if q.get("from"):
            created_from = day_bounds(parse_date(q["from"]), zone)[0]
    with contextlib.suppress(ValueError):
        if q.get("to"):
            created_to = day_bounds(parse_date(q["to"]), zone)[1]
    priority = q.get("priority", "")
    return TicketFilters(
        statuses=statuses,
        department_id=_int(q.get("department")),
        category_id=_int(q.get("category")),
        assignee_id=_int(q.get("assignee")),
        priority=priority if priority in LABELS["priority"] else None,
        created_from=created_from,
        created_to=created_to,
        overdue=True if q.get("overdue") == "1" else None,
        needs_review=True if q.get("review") == "1" else None,
        text=q.get("q", "")[:100],
    )


async def _choices(session: Any) -> dict[str, Any]:
    departments = (
        await session.execute(select(Department.id, Department.name).order_by(Department.name))
    ).all()
    categories = (
        await session.execute(select(Category.id, Category.name).order_by(Category.name))
    ).all()
    people = (
        await session.execute(
            select(User.id, User.full_name, User.username, User.department_id)
            .where(User.active.is_(True), User.role.in_(["department", "agent"]))
            .order_by(User.full_name, User.username)
        )
    ).all()
    return {"departments": departments, "categories": categories, "people": people}


def _page_context(request: web.Request, page: ticket_queries.Page, number: int) -> dict[str, Any]:
    return {
        "page": page,
        "rows": page.rows,
        "labels": LABELS,
        "number": number,
        "pages": max((page.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "query": request.query,
        "query_string": request.query_string,
        "page_url": lambda n: (
            "?"
            + urlencode(
                [
                    *((k, v) for k, v in request.query.items() if k not in ("page", "partial")),
                    ("page", n),
                ]
            )
        ),
    }


def _page_number(request: web.Request) -> int:
    return max(_int(request.query.get("page")) or 1, 1)


# ---------------------------------------------------------------------- inbox
@routes.get("/tickets/inbox", name="ticket_inbox")
@allow(*INBOX_ROLES)
async def inbox_page(request: web.Request) -> web.StreamResponse:
    """Department staff land here: my tickets and my department's unassigned, overdue first."""
    user = _user(request)
    number = _page_number(request)
    async with request.app[SESSIONMAKER]() as session:
        page = await ticket_queries.inbox(
            session,
            user,
            now=request.app[CLOCK].now(),
            filters=filters_from(request),
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
        department = (
            await session.get(Department, user.department_id) if user.department_id else None
        )
    context = {**_page_context(request, page, number), "department": department, "user": user}
    template = "tickets/_rows.html" if request.query.get("partial") == "1" else "tickets/inbox.html"
    return aiohttp_jinja2.render_template(template, request, context)


@routes.get("/tickets/inbox/events", name="ticket_inbox_events")
@allow(*INBOX_ROLES)
async def inbox_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``ticket`` message when a ticket this user sees changes."""
    if "text/event-stream" not in request.headers.get("Accept", ""):
        raise web.HTTPNotAcceptable(text="this is an event stream (text/event-stream)")
    user = _user(request)
    live = request.app[LIVE_INBOX]
    stream = InboxStream(user.id, user.role, user.department_id)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                 "X-Accel-Buffering": "no"}
    )  # fmt: skip
    await response.prepare(request)
    live.open(stream)
    try:
        await response.write(b"retry: 3000\n\n")
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    message = await stream.queue.get()
            except TimeoutError:
                if not await session_is_current(request):
                    break  # logged out, password or role changed: the page reconnects to /login
                await response.write(b": keep-alive\n\n")
                continue
            if message is CLOSE:
                break
            await response.write(f"event: ticket\ndata: {json.dumps(message)}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        live.close(stream)
    return response


@routes.get("/api/tickets/inbox", name="api_ticket_inbox")
@allow(*INBOX_ROLES)
@describe(
    "My department inbox",
    description="My open tickets and my department's unassigned ones, overdue first.",
    tags=TAGS,
    query={"status": "a status (repeatable)", "overdue": "1: only overdue", "q": "code or words",
           "priority": "low, normal, high or urgent", "page": "page number (50 a page)"},
    response=schemas.PAGE_SCHEMA,
)  # fmt: skip
async def api_inbox(request: web.Request) -> web.StreamResponse:
    number = _page_number(request)
    async with request.app[SESSIONMAKER]() as session:
        page = await ticket_queries.inbox(
            session, _user(request), now=request.app[CLOCK].now(), filters=filters_from(request),
            limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
        )  # fmt: skip
    return web.json_response(schemas.page_json(page, _gettext(request), LABELS))


# ---------------------------------------------------------------------- list + export
@routes.get("/tickets", name="ticket_list")
@allow(*LIST_ROLES)
async def list_page(request: web.Request) -> web.StreamResponse:
    """Supervisors and the care team: every ticket they may read, with filters."""
    number = _page_number(request)
    async with request.app[SESSIONMAKER]() as session:
        page = await ticket_queries.list_tickets(
            session, _user(request), now=request.app[CLOCK].now(), filters=filters_from(request),
            limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
        )  # fmt: skip
        choices = await _choices(session)
    context = {**_page_context(request, page, number), **choices}
    return aiohttp_jinja2.render_template("tickets/list.html", request, context)


@routes.get("/api/tickets", name="api_ticket_list")
@allow(*LIST_ROLES)
@describe(
    "Search tickets",
    description="Newest first, within what the user may read.",
    tags=TAGS,
    query={"status": "a status (repeatable)", "department": "department id",
           "category": "category id", "assignee": "user id", "from": "dd/mm/yyyy",
           "to": "dd/mm/yyyy", "overdue": "1", "review": "1: needs review", "q": "code or words",
           "page": "page number (50 a page)"},
    response=schemas.PAGE_SCHEMA,
)  # fmt: skip
async def api_list(request: web.Request) -> web.StreamResponse:
    number = _page_number(request)
    async with request.app[SESSIONMAKER]() as session:
        page = await ticket_queries.list_tickets(
            session, _user(request), now=request.app[CLOCK].now(), filters=filters_from(request),
            limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
        )  # fmt: skip
    return web.json_response(schemas.page_json(page, _gettext(request), LABELS))


EXPORT_LIMIT = 100_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@routes.get("/tickets/export.xlsx", name="ticket_export")
@allow(Role.SUPERVISOR, Role.ADMIN)
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    """The filtered list as .xlsx, labels in the reader's language."""
    _ = _gettext(request)
    zone = request.app[SETTINGS].tz
    headers = [_(h) for h in ("Ticket", "Subject", "Status", "Priority", "Department",
               "Category", "Assignee", "Customer", "Created", "Due", "Overdue")]  # fmt: skip
    writer = XlsxWriter(_("Tickets"), headers)
    async with request.app[SESSIONMAKER]() as session:
        offset = 0
        while offset < EXPORT_LIMIT:
            page = await ticket_queries.list_tickets(
                session, _user(request), now=request.app[CLOCK].now(),
                filters=filters_from(request), limit=ticket_queries.MAX_PAGE, offset=offset,
            )  # fmt: skip
            for r in page.rows:
                writer.append([
                    r.code, r.subject, _(LABELS["status"].get(r.status, r.status)),
                    _(LABELS["priority"].get(r.priority, r.priority)), r.department_name,
                    r.category_name, r.assignee_name, r.customer_name,
                    r.created_at.astimezone(zone).replace(tzinfo=None),
                    r.due_at.astimezone(zone).replace(tzinfo=None) if r.due_at else None,
                    _("Yes") if r.overdue else "",
                ])  # fmt: skip
            offset += len(page.rows)
            if len(page.rows) < ticket_queries.MAX_PAGE:
                break
    buffer = io.BytesIO()
    await asyncio.to_thread(writer.workbook.save, buffer)
    return web.Response(
        body=buffer.getvalue(),
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="tickets.xlsx"'},
    )


# ---------------------------------------------------------------------- ticket page
async def _readable(request: web.Request, session: Any) -> Any:
    ticket = await ticket_queries.ticket_for(session, _user(request), request.match_info["code"])
    if ticket is None:
        raise web.HTTPNotFound(text=_gettext(request)(N_("No such ticket.")))
    return ticket


async def _names(session: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = await session.execute(
        select(User.id, User.full_name, User.username).where(User.id.in_(wanted))
    )
    return {i: full or name for i, full, name in rows}


@routes.get("/tickets/" + CODE, name="ticket_page")
@allow(*READ_ROLES)
async def ticket_page(request: web.Request) -> web.StreamResponse:
    """Details, the event log, calls (recordings for the roles allowed), the customer,
    notifications with their delivery status, work and waiting time."""
    user = _user(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONMAKER]() as session:
        ticket = await _readable(request, session)
        events = await ticket_work.events_of(session, ticket.id)
        linked = await ticket_work.linked_calls(session, ticket.id)
        visible = set(
            (await session.scalars(
                select(Call.id).where(Call.id.in_([c.id for c in linked]), call_filter(user))
            )).all()
        )  # fmt: skip
        calls = [c for c in linked if c.id in visible]
        # The category the call's transcript suggests (keyword rules), shown to whoever
        # may see the call; read through the repository, not the transcripts room.
        suggestion = None
        if ticket.call_id is not None and ticket.call_id in visible:
            suggestion = await transcripts_repo.suggestion_for_call(session, ticket.call_id)
        people = await _names(
            session,
            {ticket.assignee_id, ticket.created_by_id}
            | {e.user_id for e in events} | {e.from_user_id for e in events}
            | {e.to_user_id for e in events},
        )  # fmt: skip
        departments = dict((await session.execute(select(Department.id, Department.name))).all())
        category = await session.get(Category, ticket.category_id) if ticket.category_id else None
        customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        phones = []
        if customer is not None:
            phones = list((await session.scalars(
                select(CustomerPhone.number).where(CustomerPhone.customer_id == customer.id)
                .order_by(CustomerPhone.is_primary.desc(), CustomerPhone.id)
            )).all())  # fmt: skip
        notifications = await notifications_of(session, ticket.id)
        files = await ticket_work.attachments(session, ticket.id)
        times = await ticket_work.ticket_times(session, ticket.id, now)
        follow_up = await ticket_work.follow_up_task(session, ticket.id)
        survey = await surveys_repo.follow_up_survey(session)
        categories = (
            await session.execute(select(Category.id, Category.name).order_by(Category.name))
        ).all()
        colleagues = []
        if ticket.department_id is not None:
            colleagues = (await session.execute(
                select(User.id, User.full_name, User.username)
                .where(User.department_id == ticket.department_id, User.active.is_(True),
                       User.id != (ticket.assignee_id or 0))
                .order_by(User.department_priority, User.id)
            )).all()  # fmt: skip
    context = {
        "ticket": ticket,
        "status_label": LABELS["status"].get(ticket.status, ticket.status),
        "overdue": ticket_queries_overdue(ticket, now),
        "events": events,
        "calls": calls,
        "people": people,
        "departments": departments,
        "category": category,
        "customer": customer,
        "phones": phones,
        "national": format_national,
        "notifications": notifications,
        "files": files,
        "times": times,
        "follow_up": follow_up,
        "follow_up_survey": surveys_repo.form_of(survey) if survey else None,
        "colleagues": colleagues,
        "labels": LABELS,
        "outcomes": CALL_OUTCOMES,
        "duration": _duration,
        "event_note": lambda event: event_note(event, _gettext(request)),
        "can_listen": user.role in LISTEN_ROLES,
        "moves": services.moves_for(user, ticket),
        "can_claim": services.may_claim(user, ticket),
        "can_work": services.may_work(user, ticket) and ticket.status in _OPEN,
        "can_follow_up": services.may_follow_up(user, ticket),
        "can_categorise": ticket.needs_review and user.role in (Role.SUPERVISOR, Role.ADMIN),
        "suggestion": suggestion,
        "categories": categories,
        "can_retry": services.may_retry(user, ticket),
        "can_call": user.role in WORK_ROLES and bool(phones),
        "can_attach": user.role in WORK_ROLES,
    }
    return aiohttp_jinja2.render_template("tickets/ticket.html", request, context)


_OPEN = {str(s) for s in (TicketStatus.UNASSIGNED, TicketStatus.ASSIGNED,
                          TicketStatus.IN_PROGRESS, TicketStatus.WAITING)}  # fmt: skip


def ticket_queries_overdue(ticket: Any, now: Any) -> bool:
    return is_overdue(TicketStatus(ticket.status), ticket.due_at, now)


#: Notes the system writes on events, shown translated (people's notes are shown as typed).
SYSTEM_NOTES = {
    "information only": N_("Information only"),
    "wrap-up time ran out before the agent saved": N_("Wrap-up time ran out before saving"),
}
THRESHOLD_LABELS = {"due": N_("Due time passed"), "due+4h": N_("4 hours past due"),
                    "due+24h": N_("24 hours past due")}  # fmt: skip


def event_note(event: Any, gettext: Any) -> str:
    """An event's note for people: the follow-up's outcome, the channels and recipients
    of a notification and the system's own notes in their language, no codes."""
    note: str = event.note or ""
    if event.kind == "follow_up":
        outcome, _sep, comment = note.partition(": ")
        label = LABELS["follow_up"].get(outcome)
        if label:
            return gettext(label) + (f": {comment}" if comment else "")
    if event.kind == "notified":
        head, sep, rest = note.partition(": ")
        if sep and head in THRESHOLD_LABELS:  # an SLA escalation: "<threshold>: a, b"
            return f"{gettext(THRESHOLD_LABELS[head])}: {rest}"
        parts = []
        for item in note.split(", "):
            channel, sep, recipient = item.partition(":")
            label = LABELS["channel"].get(channel)
            parts.append(f"{gettext(label)}: {recipient}" if sep and label else item)
        return ", ".join(parts)
    system = SYSTEM_NOTES.get(note)
    return gettext(system) if system else note


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d}" if hours else f"{minutes} min"


@routes.get("/tickets/" + CODE + "/print", name="ticket_print")
@allow(*READ_ROLES)
async def print_sheet(request: web.Request) -> web.StreamResponse:
    """The print-ready A4 job sheet."""
    _code, html = await _sheet_html(request)
    return web.Response(text=html, content_type="text/html")


async def _sheet_html(request: web.Request) -> tuple[str, str]:
    """(ticket code, the job sheet's HTML in the reader's language), for a reader only."""
    async with request.app[SESSIONMAKER]() as session:
        ticket = await _readable(request, session)
        sheet = await ticket_sheet(session, ticket, request.app[SETTINGS].tz)
    return ticket.code, render_print_sheet(sheet, request_language(request))


@routes.get("/tickets/" + CODE + "/sheet.pdf", name="ticket_pdf")
@allow(*READ_ROLES)
async def pdf_sheet(request: web.Request) -> web.StreamResponse:
    """The same job sheet as a PDF, to send on or print where no browser prints well."""
    code, html = await _sheet_html(request)
    document = await asyncio.to_thread(render_pdf, html)
    return web.Response(
        body=document,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f"inline; filename={code}.pdf",
        },
    )


@routes.get("/tickets/" + CODE + r"/files/{file_id:\d+}", name="ticket_file")
@allow(*READ_ROLES)
async def attachment_file(request: web.Request) -> web.StreamResponse:
    """An attachment, only to who may read its ticket; always as a download."""
    async with request.app[SESSIONMAKER]() as session:
        ticket = await _readable(request, session)
        row = await session.get(TicketAttachment, int(request.match_info["file_id"]))
    if row is None or row.ticket_id != ticket.id:
        raise web.HTTPNotFound(text=_gettext(request)(N_("No such file.")))
    path = _service(request).attachment_path(row.stored_path)
    if path is None:
        raise web.HTTPNotFound(text=_gettext(request)(N_("No such file.")))
    return web.FileResponse(
        path,
        headers={"Content-Type": row.content_type,
                 "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(row.name)}"},
    )  # fmt: skip


def _quote(name: str) -> str:
    return quote(name, safe="")


# ---------------------------------------------------------------------- JSON actions
def _ticket_out(request: web.Request, ticket: Any) -> web.Response:
    return web.json_response({
        "code": ticket.code, "status": ticket.status,
        "status_label": _gettext(request)(LABELS["status"].get(ticket.status, ticket.status)),
        "department_id": ticket.department_id, "assignee_id": ticket.assignee_id,
    })  # fmt: skip


async def _run(request: web.Request, action: Any) -> web.Response:
    try:
        ticket = await action
    except LookupError:
        return _error(request, 404, N_("No such ticket."))
    except TicketWorkflowError as exc:
        return _refusal(request, exc)
    return _ticket_out(request, ticket)


@routes.get("/api/tickets/" + CODE, name="api_ticket")
@allow(*READ_ROLES)
@describe("A ticket", tags=TAGS, response=schemas.TicketOut, errors=NOT_FOUND)
async def api_ticket(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        ticket = await _readable(request, session)
    return _ticket_out(request, ticket)


@routes.post("/api/tickets/" + CODE + "/claim", name="api_ticket_claim")
@allow(*WORK_ROLES)
@describe("Claim an unassigned ticket of my department", tags=TAGS,
          response=schemas.TicketOut, errors=REFUSED)  # fmt: skip
async def api_claim(request: web.Request) -> web.StreamResponse:
    return await _run(request, _service(request).claim(_user(request), request.match_info["code"]))


@routes.post("/api/tickets/" + CODE + "/status", name="api_ticket_status")
@allow(*WORK_ROLES)
@describe("Move a ticket to another status", tags=TAGS, request=schemas.StatusBody,
          response=schemas.TicketOut, errors=REFUSED)  # fmt: skip
async def api_status(request: web.Request) -> web.StreamResponse:
    body: schemas.StatusBody = await _body(request, schemas.StatusBody)
    return await _run(
        request,
        _service(request).move(_user(request), request.match_info["code"], body.status, body.note),
    )


@routes.post("/api/tickets/" + CODE + "/transfer", name="api_ticket_transfer")
@allow(*WORK_ROLES)
@describe("Transfer a ticket to a colleague or another department, with a reason",
          tags=TAGS, request=schemas.TransferBody, response=schemas.TicketOut, errors=REFUSED)  # fmt: skip
async def api_transfer(request: web.Request) -> web.StreamResponse:
    body: schemas.TransferBody = await _body(request, schemas.TransferBody)
    return await _run(request, _service(request).transfer(
        _user(request), request.match_info["code"], reason=body.reason,
        to_user_id=body.to_user_id, to_department_id=body.to_department_id,
    ))  # fmt: skip


@routes.post("/api/tickets/" + CODE + "/comments", name="api_ticket_comment")
@allow(*READ_ROLES)
@describe("Comment on a ticket", tags=TAGS, request=schemas.CommentBody,
          response=schemas.TicketOut, errors=REFUSED)  # fmt: skip
async def api_comment(request: web.Request) -> web.StreamResponse:
    body: schemas.CommentBody = await _body(request, schemas.CommentBody)
    return await _run(
        request, _service(request).comment(_user(request), request.match_info["code"], body.text)
    )


@routes.post("/api/tickets/" + CODE + "/category", name="api_ticket_categorise")
@allow(Role.SUPERVISOR, Role.ADMIN)
@describe("Categorise a ticket waiting for review (its wrap-up timed out): it goes to the "
          "department", tags=TAGS, request=schemas.CategoriseBody, response=schemas.TicketOut,
          errors=REFUSED)  # fmt: skip
async def api_categorise(request: web.Request) -> web.StreamResponse:
    body: schemas.CategoriseBody = await _body(request, schemas.CategoriseBody)
    return await _run(request, _service(request).categorise(
        _user(request), request.match_info["code"], category_id=body.category_id,
        department_id=body.department_id))  # fmt: skip


@routes.post("/api/tickets/" + CODE + "/follow-up", name="api_ticket_follow_up")
@allow(Role.SUPERVISOR, Role.ADMIN)
@describe("Record the customer's answer: satisfied closes the ticket, not satisfied reopens it",
          tags=TAGS, request=schemas.FollowUpBody, response=schemas.TicketOut, errors=REFUSED)  # fmt: skip
async def api_follow_up(request: web.Request) -> web.StreamResponse:
    body: schemas.FollowUpBody = await _body(request, schemas.FollowUpBody)
    return await _run(request, _service(request).follow_up(
        _user(request), request.match_info["code"], body.outcome, body.comment,
        survey_id=body.survey_id, answers=body.answers))  # fmt: skip


@routes.post("/api/tickets/" + CODE + "/files", name="api_ticket_attach")
@allow(*WORK_ROLES)
@describe("Attach a file (multipart field 'file'; pdf, images, docx, xlsx, txt; 10 MB at most)",
          tags=TAGS, response=schemas.TicketOut,
          errors={**REFUSED, 413: "the file is larger than the upload limit"})  # fmt: skip
async def api_attach(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return _error(request, 400, N_("Choose a file to attach."))
    data = await asyncio.to_thread(upload.file.read, _service(request).max_attachment_bytes + 1)
    return await _run(request, _service(request).attach(
        _user(request), request.match_info["code"], name=upload.filename or "", data=data))  # fmt: skip


@routes.post("/api/tickets/notifications/{id:\\d+}/retry", name="api_ticket_notification_retry")
@allow(*WORK_ROLES)
@describe("Send a failed notification again", tags=TAGS, response=schemas.OkOut, errors=REFUSED)
async def api_retry(request: web.Request) -> web.StreamResponse:
    try:
        await _service(request).retry_notification(_user(request), int(request.match_info["id"]))
    except LookupError:
        return _error(request, 404, N_("No such notification."))
    except TicketWorkflowError as exc:
        return _refusal(request, exc)
    return web.json_response({"ok": True})


@routes.post("/api/tickets/" + CODE + "/call", name="api_ticket_call")
@allow(*WORK_ROLES)
@describe("Click-to-call the ticket's customer: ring my phone, then the customer",
          tags=TAGS, request=schemas.CallBody, response=schemas.OkOut,
          errors={**NOT_FOUND, 400: "no number to call",
                  409: "I have no phone, or the customer is do-not-call (send a reason)",
                  502: "the telephone system refused", 503: "the telephone system is not connected"})  # fmt: skip
async def api_call(request: web.Request) -> web.StreamResponse:
    """Through the agent page's click-to-call path (same dial rules, same AMI action)."""
    body: schemas.CallBody = await _body(request, schemas.CallBody)
    user = _user(request)
    async with request.app[SESSIONMAKER]() as session:
        ticket = await _readable(request, session)
        numbers: list[str] = []
        if ticket.customer_id is not None:
            numbers = list((await session.scalars(
                select(CustomerPhone.number).where(CustomerPhone.customer_id == ticket.customer_id)
            )).all())  # fmt: skip
        if body.number and body.number not in numbers:
            return _error(request, 400, N_("Call one of the customer's numbers."))
        number = body.number or (numbers[0] if numbers else "")
        if not number:
            return _error(request, 400, N_("The customer has no phone number."))
        refused = await desk.do_not_call_gate(
            session,
            number,
            override_reason=body.do_not_call_reason,
            user=user,
            language=request_language(request),
            at=request.app[CLOCK].now(),
        )
        if refused is not None:
            return refused
        interface = await desk.agent_interface(session, user.id, request.app)
        hotline = await desk.hotline_number(session)
        await session.commit()
    if not interface:
        return _error(request, 409, N_("You have no phone: ask an administrator to set yours."))
    exten = desk.dial_string(number)
    await desk.ami_action(
        desk.call_control(request.app).originate(
            interface, context=desk.OUTBOUND_CONTEXT, exten=exten, caller_id=hotline
        )
    )
    return web.json_response({"ok": True})


__all__ = ["routes"]
