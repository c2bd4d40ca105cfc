"""The agents' task list (callbacks) on the agent page, and the supervisors' ``/tasks`` page.

The ACD writes a callback task for missed, abandoned, overflow and out-of-hours callers
(one per number per local day, never for anonymous callers: ``db/repos/tasks.py``). Here
the agents work them:

* **Who sees what.** An agent sees the open callbacks of the agent groups they answer for
  (and group-less ones), minus those a colleague has claimed: the callers were waiting for
  that group, and its members are the ones who can help them. A supervisor sees the same
  list for their own groups on their agent page, and every open task with its age on
  ``/tasks``. Other agents' claimed tasks and other groups' tasks answer 404 here.
* **Claiming.** Calling back (the page's click-to-call) claims the task first, with one
  conditional UPDATE, so two agents never call the same customer; the loser gets 409 and
  the list refreshes. A claim ends with an outcome, or when the agent gives it back.
* **Outcome.** Reached or wrong number: done. Not reached: open again for anyone of the
  group, due at the retry time the agent picked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from callcenter import localtime
from callcenter.agent_desk.schemas import json_body
from callcenter.core.phones import Phone, format_national, normalize_phone
from callcenter.core.roles import Role
from callcenter.core.screenpop import build_pop_history
from callcenter.core.tasks import (
    KIND_LABELS,
    ORIGIN_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    TaskRuleError,
    readable_notes,
)
from callcenter.db.models import AgentGroup, Customer, Task
from callcenter.db.repos import history as history_repo
from callcenter.db.repos import tasks as tasks_repo
from callcenter.i18n import N_, translations
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import request_language
from callcenter.web.openapi import describe

routes = web.RouteTableDef()

PAGE_ROLES = (Role.AGENT, Role.SUPERVISOR)
TAGS = ["agent"]
NOT_YOURS = {404: "no such task, or it is not yours to see"}
ASAP = N_("As soon as possible")
TAKEN = {409: "a colleague has already taken this task, or it is no longer open"}


class TaskOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    origin: str
    origin_label: str
    status: str
    status_label: str
    outcome: str
    outcome_label: str
    phone: str = Field(description="E.164, for click-to-call")
    phone_display: str = Field(description="the number as people write it (0912 345 678)")
    customer_id: int | None
    customer_name: str
    group: str
    notes: str
    mine: bool = Field(description="claimed by me")
    created_at: str
    created_text: str
    due_at: str | None
    due_text: str
    work_url: str = Field(description="outbound calls: the lead's page with its outcomes")


class TaskListOut(BaseModel):
    tasks: list[TaskOut]


class TaskDetailOut(BaseModel):
    task: TaskOut
    history: dict[str, Any] = Field(description="the caller's history, as in the screen-pop")
    customer: dict[str, Any] | None


class OutcomeBody(BaseModel):
    outcome: Literal["reached", "not_reached", "wrong_number"]
    retry_at: str = Field(
        default="",
        max_length=32,
        description="not reached: when to try again, local time (YYYY-MM-DDTHH:MM)",
    )
    note: str = Field(default="", max_length=2000)


def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware let only logged-in users through
    return user


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _display(phone: str) -> str:
    parsed = normalize_phone(phone)
    return format_national(parsed.e164) if isinstance(parsed, Phone) else phone


def task_json(
    task: Task, *, user_id: int, language: str, zone: Any, customer_name: str = ""
) -> dict[str, Any]:
    """One task for the page, with every code translated (people never see raw codes)."""
    catalog = translations(language)

    def label(table: dict[Any, str], code: str) -> str:
        text = table.get(code)
        return catalog.gettext(text) if text else ""

    return {
        "id": task.id,
        "kind": task.kind,
        "kind_label": label(KIND_LABELS, task.kind),
        "origin": task.origin,
        "origin_label": label(ORIGIN_LABELS, task.origin),
        "status": task.status,
        "status_label": label(STATUS_LABELS, task.status),
        "outcome": task.outcome,
        "outcome_label": label(OUTCOME_LABELS, task.outcome),
        "phone": task.phone,
        "phone_display": _display(task.phone),
        "customer_id": task.customer_id,
        "customer_name": customer_name,
        "group": task.group,
        "notes": readable_notes(task.notes, catalog.gettext, origin=task.origin),
        "mine": task.assignee_id == user_id,
        "created_at": task.created_at.isoformat(),
        "created_text": localtime.format_datetime(task.created_at, zone),
        "due_at": None if task.due_at is None else task.due_at.isoformat(),
        "due_text": "" if task.due_at is None else localtime.format_datetime(task.due_at, zone),
        # outbound calls (lead lists, campaigns) are worked on their own page
        "work_url": f"/outbound/tasks/{task.id}" if task.kind in tasks_repo.OUTBOUND_KINDS else "",
    }


async def _customer_names(session: Any, ids: list[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


async def _group_names(session: Any) -> dict[str, str]:
    rows = await session.execute(select(AgentGroup.code, AgentGroup.name))
    return {row[0]: row[1] for row in rows}


async def _visible(request: web.Request, session: Any, user_id: int, task_id: int) -> Task | None:
    return await tasks_repo.callback_for_agent(
        session, user_id, task_id, now=request.app[CLOCK].now()
    )


def _task_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(
            text='{"error": "no such task"}', content_type="application/json"
        ) from None


@routes.get("/api/agent/tasks", name="agent_tasks")
@allow(*PAGE_ROLES)
@describe(
    "My callback list: my groups' open callbacks not taken by a colleague, mine first",
    tags=TAGS,
    response=TaskListOut,
)
async def list_tasks(request: web.Request) -> web.Response:
    user = _user(request)
    zone = request.app[SETTINGS].tz
    language = request_language(request)
    async with request.app[SESSIONMAKER]() as session:
        tasks = await tasks_repo.callbacks_for_agent(session, user.id, now=request.app[CLOCK].now())
        names = await _customer_names(session, [t.customer_id for t in tasks])
        out = [
            task_json(
                t,
                user_id=user.id,
                language=language,
                zone=zone,
                customer_name=names.get(t.customer_id or 0, ""),
            )
            for t in tasks
        ]
    return web.json_response({"tasks": out})


@routes.get(r"/api/agent/tasks/{id:\d+}", name="agent_task")
@allow(*PAGE_ROLES)
@describe(
    "One of my callbacks with the caller's history (calls, tickets with their codes)",
    tags=TAGS,
    response=TaskDetailOut,
    errors=NOT_YOURS,
)
async def task_detail(request: web.Request) -> web.Response:
    user = _user(request)
    zone = request.app[SETTINGS].tz
    async with request.app[SESSIONMAKER]() as session:
        task = await tasks_repo.callback_for_agent(
            session, user.id, _task_id(request), now=request.app[CLOCK].now()
        )
        if task is None:
            return _error(404, "no such task")
        history = await history_repo.load_history(session, task.customer_id)
        body = task_json(
            task,
            user_id=user.id,
            language=request_language(request),
            zone=zone,
            customer_name="" if history.customer is None else history.customer.name,
        )
    customer, calls = build_pop_history(history, viewer_role=user.role, zone=zone)
    return web.json_response({"task": body, "history": calls, "customer": customer})


@routes.post(r"/api/agent/tasks/{id:\d+}/claim", name="agent_task_claim")
@allow(*PAGE_ROLES)
@describe(
    "Take a callback before calling (so no colleague calls the same customer)",
    tags=TAGS,
    response=TaskOut,
    errors={**NOT_YOURS, **TAKEN},
)
async def claim(request: web.Request) -> web.Response:
    user = _user(request)
    task_id = _task_id(request)
    async with request.app[SESSIONMAKER]() as session:
        if await _visible(request, session, user.id, task_id) is None:
            return _error(404, "no such task")
        try:
            await tasks_repo.claim_callback(session, task_id, user_id=user.id)
        except tasks_repo.TaskTaken:
            return _error(409, "a colleague has already taken this task")
        await session.commit()
        task = await session.get(Task, task_id, populate_existing=True)
        assert task is not None
        body = task_json(
            task,
            user_id=user.id,
            language=request_language(request),
            zone=request.app[SETTINGS].tz,
        )
    return web.json_response(body)


@routes.post(r"/api/agent/tasks/{id:\d+}/release", name="agent_task_release")
@allow(*PAGE_ROLES)
@describe(
    "Give a callback I took back to my group, without an outcome",
    tags=TAGS,
    response={"type": "object", "properties": {"ok": {"type": "boolean"}}},
    errors={**NOT_YOURS, 409: "the task is not mine (any more)"},
)
async def release(request: web.Request) -> web.Response:
    user = _user(request)
    task_id = _task_id(request)
    async with request.app[SESSIONMAKER]() as session:
        if await _visible(request, session, user.id, task_id) is None:
            return _error(404, "no such task")
        try:
            await tasks_repo.release_callback(session, task_id, user_id=user.id)
        except tasks_repo.TaskTaken:
            return _error(409, "the task is not yours")
        await session.commit()
    return web.json_response({"ok": True})


def _retry_time(text: str, zone: Any) -> datetime | None:
    """The page's ``datetime-local`` value (local time) as an aware UTC instant."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "retry_at: not a date and time"}', content_type="application/json"
        ) from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=zone)
    return localtime.ensure_utc(naive)


@routes.post(r"/api/agent/tasks/{id:\d+}/outcome", name="agent_task_outcome")
@allow(*PAGE_ROLES)
@describe(
    "Record the result of a callback: reached, not reached (with a retry time), wrong number",
    tags=TAGS,
    request=OutcomeBody,
    response=TaskOut,
    errors={
        400: "the body is invalid, or not reached without a retry time in the future",
        **NOT_YOURS,
        409: "a colleague has already taken this task, or it is a lead (use its page)",
    },
)
async def outcome(request: web.Request) -> web.Response:
    user = _user(request)
    task_id = _task_id(request)
    body: OutcomeBody = await json_body(request, OutcomeBody)
    zone = request.app[SETTINGS].tz
    language = request_language(request)
    now = request.app[CLOCK].now()
    retry_at = _retry_time(body.retry_at, zone)
    async with request.app[SESSIONMAKER]() as session:
        found = await _visible(request, session, user.id, task_id)
        if found is None:
            return _error(404, "no such task")
        if found.kind in tasks_repo.OUTBOUND_KINDS:  # a lead's result updates its list too
            return _error(409, "record this call's result on its lead page")
        try:
            task = await tasks_repo.record_outcome(
                session,
                task_id,
                body.outcome,
                user_id=user.id,
                now=now,
                retry_at=retry_at,
                note=body.note,
                zone=zone,
            )
        except TaskRuleError as exc:
            return _error(400, translations(language).gettext(exc.message))
        except tasks_repo.TaskTaken:
            return _error(409, "a colleague has already taken this task")
        out = task_json(task, user_id=user.id, language=language, zone=zone)
        await session.commit()
    return web.json_response(out)


# ---------------------------------------------------------------------- supervisors
@routes.get("/tasks", name="tasks_page")
@allow(Role.SUPERVISOR, Role.ADMIN)
async def tasks_page(request: web.Request) -> web.StreamResponse:
    """Every open task (callbacks and follow-ups) with its age, oldest first."""
    zone = request.app[SETTINGS].tz
    now = request.app[CLOCK].now()
    language = request_language(request)
    catalog = translations(language)
    async with request.app[SESSIONMAKER]() as session:
        rows = await tasks_repo.all_open_tasks(session)
        groups = await _group_names(session)
    items = []
    for row in rows:
        task = row.task
        age = max(0, int((now - task.created_at).total_seconds()))
        due = task.due_at
        retry = due is not None and due > task.created_at
        items.append(
            {
                "id": task.id,
                "kind": catalog.gettext(KIND_LABELS.get(task.kind, task.kind)),
                "origin": catalog.gettext(ORIGIN_LABELS.get(task.origin, task.origin)),
                "status": catalog.gettext(STATUS_LABELS.get(task.status, task.status)),
                "outcome": (
                    catalog.gettext(OUTCOME_LABELS[task.outcome])
                    if task.outcome in OUTCOME_LABELS
                    else ""
                ),
                "phone": _display(task.phone),
                "customer": row.customer_name,
                "customer_id": task.customer_id,
                "group": groups.get(task.group, task.group),
                "assignee": row.assignee,
                "created_text": localtime.format_datetime(task.created_at, zone),
                # A first callback is due at once ("as soon as possible", its age says how
                # long it waits); a retry time the agent chose can be overdue.
                "due_text": (
                    localtime.format_datetime(due, zone)
                    if due is not None and retry
                    else catalog.gettext(ASAP)
                ),
                "overdue": due is not None and retry and due < now,
                "age_hours": age // 3600,
                "age_minutes": (age % 3600) // 60,
                "notes": readable_notes(task.notes, catalog.gettext, origin=task.origin),
            }
        )
    return aiohttp_jinja2.render_template("tasks.html", request, {"tasks": items})


def setup(app: web.Application) -> None:
    """Registered by the agent desk's setup (the agent page's room)."""
    app.router.add_routes(routes)


__all__ = ["setup", "task_json"]
