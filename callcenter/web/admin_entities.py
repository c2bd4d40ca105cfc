"""Admin pages for the configuration tables that follow one pattern: list, create, edit, delete.

Agent groups, hotlines, departments, categories and pause reasons each describe
their form once (:class:`Entity`); one set of handlers and two templates serve
them all. Groups and departments add a members section (who, in which order).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.roles import Role
from callcenter.db.models import AgentGroup, Category, Department, Hotline, PauseReason, User
from callcenter.db.repos import routing
from callcenter.db.repos.routing import (
    MENU_KEYS,
    OVERFLOW_ACTIONS,
    STRATEGIES,
    CategoryInput,
    DepartmentInput,
    DepartmentMember,
    GroupInput,
    HotlineInput,
    PauseReasonInput,
)
from callcenter.i18n import N_
from callcenter.registry import SESSIONMAKER
from callcenter.web.access import allow
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
from callcenter.web.auth import gettext_for

Options = list[tuple[str, str]]

STRATEGY_LABELS = {
    "least_recent": N_("Longest idle first"),
    "fewest_calls": N_("Fewest calls today"),
    "round_robin": N_("Round robin"),
    "ring_all": N_("Ring all"),
}
ACTION_LABELS = {
    "callback": N_("Offer a callback"),
    "voicemail": N_("Voicemail"),
}
MENU_ORDER = sorted(MENU_KEYS, key=lambda key: "123456789*0#".index(key))


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, number, select, checkbox, email
    required: bool = False
    help: str = ""
    options: str = ""  # name of an option list (see _options)


@dataclass(frozen=True)
class Entity:
    """One configuration table as the console shows it."""

    slug: str
    area: str
    title: str
    intro: str
    fields: tuple[Field, ...]
    columns: tuple[str, ...]
    model: Any
    parse: Callable[[Form], Any]
    save: Callable[[AsyncSession, Any, int | None], Awaitable[Any]]
    delete: Callable[[AsyncSession, int], Awaitable[Any]]
    label: Callable[[Any], str]
    order_by: Any = None
    defaults: dict[str, Any] = field(default_factory=dict)
    members: str = ""  # "group" or "department": the edit page lists members


def _group_input(form: Form) -> GroupInput:
    return GroupInput(
        code=form.text("code"),
        name=form.text("name"),
        strategy=form.text("strategy"),
        ring_timeout_seconds=form.integer("ring_timeout_seconds"),
        max_wait_seconds=form.integer("max_wait_seconds"),
        overflow_action=form.text("overflow_action"),
        active=form.checkbox("active"),
    )


def _hotline_input(form: Form) -> HotlineInput:
    return HotlineInput(
        number=form.text("number"),
        name=form.text("name"),
        group_id=form.optional_row_id("group_id"),
        menu_enabled=form.checkbox("menu_enabled"),
        menu={key: form.text(f"menu_{key}") for key in MENU_KEYS if form.text(f"menu_{key}")},
        menu_timeout_seconds=form.integer("menu_timeout_seconds"),
        closed_action=form.text("closed_action"),
        active=form.checkbox("active"),
    )


def _department_input(form: Form) -> DepartmentInput:
    return DepartmentInput(
        code=form.text("code"),
        name=form.text("name"),
        name_en=form.text("name_en"),
        email=form.text("email"),
        phone=form.text("phone"),
        active=form.checkbox("active"),
    )


def _category_input(form: Form) -> CategoryInput:
    return CategoryInput(
        code=form.text("code"),
        name=form.text("name"),
        name_en=form.text("name_en"),
        department_id=form.optional_row_id("department_id"),
        sla_hours=form.integer("sla_hours"),
        active=form.checkbox("active"),
    )


def _pause_input(form: Form) -> PauseReasonInput:
    return PauseReasonInput(
        code=form.text("code"),
        name=form.text("name"),
        name_en=form.text("name_en"),
        paid=form.checkbox("paid"),
        max_minutes=form.optional_integer("max_minutes"),
        active=form.checkbox("active"),
    )


CODE_HELP = N_("Short unique code: lowercase letters, digits, '-' or '_'.")
ACTIVE = Field("active", N_("Active"), "checkbox")

ENTITIES: tuple[Entity, ...] = (
    Entity(
        slug="groups",
        area="groups",
        title=N_("Agent groups"),
        intro=N_(
            "A hotline group is the set of agents who answer one kind of call. Calls go to "
            "the free member chosen by the strategy; on a tie, the lower priority number first."
        ),
        fields=(
            Field("code", N_("Code"), required=True, help=CODE_HELP),
            Field("name", N_("Name"), required=True),
            Field("strategy", N_("Strategy"), "select", options="strategies"),
            Field("ring_timeout_seconds", N_("Ring timeout (seconds)"), "number"),
            Field("max_wait_seconds", N_("Maximum wait (seconds)"), "number"),
            Field("overflow_action", N_("After the maximum wait"), "select", options="actions"),
            ACTIVE,
        ),
        columns=("code", "name", "strategy", "ring_timeout_seconds", "active"),
        model=AgentGroup,
        parse=_group_input,
        save=routing.save_group,
        delete=routing.delete_group,
        label=lambda g: f"group:{g.code}",
        order_by=AgentGroup.code,
        defaults={"strategy": "fewest_calls", "overflow_action": "callback", "active": True},
        members="group",
    ),
    Entity(
        slug="hotlines",
        area="hotlines",
        title=N_("Hotlines"),
        intro=N_(
            "Each number customers dial (DID) goes to its default group, or through a menu "
            "where a key chooses the group. Out of hours the caller gets the closed action."
        ),
        fields=(
            Field("number", N_("Number (DID)"), required=True),
            Field("name", N_("Name")),
            Field("group_id", N_("Default group"), "select", required=True, options="groups"),
            Field("menu_enabled", N_("Play a menu (IVR)"), "checkbox"),
            Field("menu", N_("Menu keys"), "menu", help=N_("Key pressed → group.")),
            Field("menu_timeout_seconds", N_("Menu timeout (seconds)"), "number"),
            Field("closed_action", N_("Out of hours"), "select", options="actions"),
            ACTIVE,
        ),
        columns=("number", "name", "group_id", "menu_enabled", "active"),
        model=Hotline,
        parse=_hotline_input,
        save=routing.save_hotline,
        delete=routing.delete_hotline,
        label=lambda h: f"hotline:{h.number}",
        order_by=Hotline.number,
        defaults={"menu_timeout_seconds": 5, "closed_action": "callback", "active": True},
    ),
    Entity(
        slug="departments",
        area="departments",
        title=N_("Departments"),
        intro=N_(
            "Departments handle the tickets of their categories. Members get tickets in "
            "their priority order; the head sees all of the department's tickets."
        ),
        fields=(
            Field("code", N_("Code"), required=True, help=CODE_HELP),
            Field("name", N_("Name"), required=True),
            Field("name_en", N_("English name")),
            Field("email", N_("Email"), "email"),
            Field("phone", N_("Phone or extension for transfers")),
            ACTIVE,
        ),
        columns=("code", "name", "email", "phone", "active"),
        model=Department,
        parse=_department_input,
        save=routing.save_department,
        delete=routing.delete_department,
        label=lambda d: f"department:{d.code}",
        order_by=Department.code,
        defaults={"active": True},
        members="department",
    ),
    Entity(
        slug="categories",
        area="categories",
        title=N_("Categories"),
        intro=N_(
            "What a call is about decides which department gets the ticket and how many "
            "hours it has to resolve it (SLA)."
        ),
        fields=(
            Field("code", N_("Code"), required=True, help=CODE_HELP),
            Field("name", N_("Name"), required=True),
            Field("name_en", N_("English name")),
            Field("department_id", N_("Department"), "select", options="departments"),
            Field("sla_hours", N_("SLA (hours)"), "number"),
            ACTIVE,
        ),
        columns=("code", "name", "department_id", "sla_hours", "active"),
        model=Category,
        parse=_category_input,
        save=routing.save_category,
        delete=routing.delete_category,
        label=lambda c: f"category:{c.code}",
        order_by=Category.code,
        defaults={"sla_hours": 24, "active": True},
    ),
    Entity(
        slug="pause-reasons",
        area="pause_reasons",
        title=N_("Pause reasons"),
        intro=N_("Reasons agents choose when they pause; reports show paid and unpaid pauses."),
        fields=(
            Field("code", N_("Code"), required=True, help=CODE_HELP),
            Field("name", N_("Name"), required=True),
            Field("name_en", N_("English name")),
            Field("paid", N_("Paid time"), "checkbox"),
            Field("max_minutes", N_("Maximum minutes"), "number", help=N_("Empty: no limit.")),
            ACTIVE,
        ),
        columns=("code", "name", "paid", "max_minutes", "active"),
        model=PauseReason,
        parse=_pause_input,
        save=routing.save_pause_reason,
        delete=routing.delete_pause_reason,
        label=lambda p: f"pause_reason:{p.code}",
        order_by=PauseReason.id,
        defaults={"paid": True, "active": True},
    ),
)


async def _options(request: web.Request, session: AsyncSession) -> dict[str, Options]:
    def tr(text: str) -> str:
        return gettext_for(request, text)

    groups = await routing.list_groups(session)
    departments = await routing.list_departments(session)
    return {
        "strategies": [(key, tr(STRATEGY_LABELS[key])) for key in STRATEGIES],
        "actions": [(key, tr(ACTION_LABELS[key])) for key in OVERFLOW_ACTIONS],
        "groups": [(str(g.id), f"{g.name} ({g.code})") for g in groups],
        "group_codes": [(g.code, f"{g.name} ({g.code})") for g in groups],
        "departments": [(str(d.id), d.name) for d in departments],
    }


def _values_of(entity: Entity, row: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in entity.fields:
        if spec.kind == "menu":
            for key, code in (row.menu or {}).items():
                values[f"menu_{key}"] = code
            continue
        value = getattr(row, spec.name)
        values[spec.name] = "" if value is None else value
    return values


def _display(entity: Entity, row: Any, column: str, options: dict[str, Options]) -> Any:
    value = getattr(row, column)
    spec = next(f for f in entity.fields if f.name == column)
    if spec.kind == "select" and spec.options:
        labels = dict(options[spec.options])
        return labels.get(str(value), "" if value is None else str(value))
    return value


async def _list_page(
    request: web.Request,
    entity: Entity,
    *,
    values: dict[str, Any] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[SESSIONMAKER]() as session:
        options = await _options(request, session)
        rows = (await session.scalars(select(entity.model).order_by(entity.order_by))).all()
        if values is None:
            values = dict(entity.defaults)
            if entity.slug == "groups":
                current = await routing.load_system_settings(session)
                values.update(
                    ring_timeout_seconds=current.ring_timeout_seconds,
                    max_wait_seconds=current.max_wait_seconds,
                )
    table = [
        {"id": row.id, "cells": [_display(entity, row, c, options) for c in entity.columns]}
        for row in rows
    ]
    return render(
        request,
        "admin/entity_list.html",
        {
            "entity": entity,
            "headers": [
                next(f.label for f in entity.fields if f.name == c) for c in entity.columns
            ],
            "table": table,
            "options": options,
            "values": values,
            "menu_keys": MENU_ORDER,
        },
        status=status,
        error=error,
    )


async def _edit_page(
    request: web.Request,
    entity: Entity,
    ident: int,
    *,
    values: dict[str, Any] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[SESSIONMAKER]() as session:
        row = await session.get(entity.model, ident)
        if row is None:
            raise web.HTTPNotFound(text=gettext_for(request, N_("This entry does not exist.")))
        options = await _options(request, session)
        members: list[MemberRow] = []
        candidates: list[User] = []
        if entity.members:
            members, candidates = await _members(session, entity.members, ident)
    return render(
        request,
        "admin/entity_edit.html",
        {
            "entity": entity,
            "row_id": ident,
            "row_label": entity.label(row),
            "options": options,
            "values": values if values is not None else _values_of(entity, row),
            "menu_keys": MENU_ORDER,
            "members": members,
            "candidates": candidates,
        },
        status=status,
        error=error,
    )


@dataclass(frozen=True)
class MemberRow:
    user: User
    priority: int
    is_head: bool


async def _members(
    session: AsyncSession, kind: str, ident: int
) -> tuple[list[MemberRow], list[User]]:
    """Current members (in priority order) and the active users who could be added."""
    users = (
        await session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    ).all()
    if kind == "group":
        priority = await routing.group_members(session, ident)
        members = [MemberRow(u, priority[u.id], False) for u in users if u.id in priority]
        candidates = [
            u for u in users if u.id not in priority and u.role in (Role.AGENT, Role.SUPERVISOR)
        ]
    else:
        staff = await routing.department_members(session, ident)
        members = [MemberRow(u, u.department_priority, u.is_department_head) for u in staff]
        ids = {u.id for u in staff}
        candidates = [u for u in users if u.id not in ids and u.role == Role.DEPARTMENT]
    members.sort(key=lambda m: (m.priority, m.user.username))
    return members, candidates


def _register(app: web.Application, entity: Entity) -> None:
    base = f"/admin/{entity.slug}"

    @allow(Role.ADMIN)
    async def list_page(request: web.Request) -> web.StreamResponse:
        return await _list_page(request, entity)

    @allow(Role.ADMIN)
    async def create(request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        try:
            data = entity.parse(form)

            async def change(session: AsyncSession) -> Change:
                row = await entity.save(session, data, None)
                return Change(entity.label(row), {"op": "create", **form.values()})

            await apply_change(request, entity.area, change)
        except RULE_ERRORS as exc:
            return await _list_page(
                request, entity, values=form.values(), error=form_error(request, exc), status=400
            )
        raise done(base, "created")

    @allow(Role.ADMIN)
    async def edit_page(request: web.Request) -> web.StreamResponse:
        return await _edit_page(request, entity, entity_id(request))

    @allow(Role.ADMIN)
    async def update(request: web.Request) -> web.StreamResponse:
        ident = entity_id(request)
        form = await read_form(request)
        try:
            data = entity.parse(form)

            async def change(session: AsyncSession) -> Change:
                row = await entity.save(session, data, ident)
                return Change(entity.label(row), {"op": "update", **form.values()})

            await apply_change(request, entity.area, change)
        except RULE_ERRORS as exc:
            return await _edit_page(
                request,
                entity,
                ident,
                values=form.values(),
                error=form_error(request, exc),
                status=400,
            )
        raise done(f"{base}/{ident}", "saved")

    @allow(Role.ADMIN)
    async def remove(request: web.Request) -> web.StreamResponse:
        ident = entity_id(request)

        async def change(session: AsyncSession) -> Change:
            row = await entity.delete(session, ident)
            return Change(entity.label(row), {"op": "delete"}, action="delete")

        try:
            await apply_change(request, entity.area, change)
        except RULE_ERRORS as exc:
            return await _edit_page(
                request, entity, ident, error=form_error(request, exc), status=400
            )
        raise done(base, "deleted")

    @allow(Role.ADMIN)
    async def set_members(request: web.Request) -> web.StreamResponse:
        ident = entity_id(request)
        form = await read_form(request)
        try:
            chosen = _parse_members(form)

            async def change(session: AsyncSession) -> Change:
                if entity.members == "group":
                    await routing.set_group_members(
                        session, ident, [(m.user_id, m.priority) for m in chosen]
                    )
                else:
                    await routing.set_department_members(session, ident, chosen)
                row = await session.get(entity.model, ident)
                return Change(
                    entity.label(row),
                    {
                        "op": "members",
                        "members": [
                            {"user_id": m.user_id, "priority": m.priority, "head": m.is_head}
                            for m in chosen
                        ],
                    },
                )

            await apply_change(request, entity.area, change)
        except RULE_ERRORS as exc:
            return await _edit_page(
                request, entity, ident, error=form_error(request, exc), status=400
            )
        raise done(f"{base}/{ident}", "saved")

    app.router.add_get(base, list_page, name=f"admin-{entity.slug}")
    app.router.add_post(base, create)
    app.router.add_get(base + "/{id}", edit_page)
    app.router.add_post(base + "/{id}", update)
    app.router.add_post(base + "/{id}/delete", remove)
    if entity.members:
        app.router.add_post(base + "/{id}/members", set_members)


def _parse_members(form: Form) -> Sequence[DepartmentMember]:
    """Rows ``member`` (user ids, in page order) with ``priority_<id>`` and ``head_<id>``;
    an ``add`` user id joins at the end; a ``remove_<id>`` box takes a member out."""
    chosen: list[DepartmentMember] = []
    ids = (
        [v for v in form.data.getall("member", []) if isinstance(v, str)]
        if hasattr(form.data, "getall")
        else []
    )
    for raw in ids:
        user_id = row_id(raw)
        if user_id is None:
            continue
        if form.checkbox(f"remove_{user_id}"):
            continue
        chosen.append(
            DepartmentMember(
                user_id=user_id,
                priority=form.integer(f"priority_{user_id}"),
                is_head=form.checkbox(f"head_{user_id}"),
            )
        )
    added = form.optional_row_id("add")
    if added is not None and all(m.user_id != added for m in chosen):
        last = max((m.priority for m in chosen), default=0)
        chosen.append(DepartmentMember(user_id=added, priority=last + 1 if chosen else 1))
    return chosen


def setup(app: web.Application) -> None:
    for entity in ENTITIES:
        _register(app, entity)
