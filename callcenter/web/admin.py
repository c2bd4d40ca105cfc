"""The admin console (/admin): run the centre from a browser, no developer or shell needed.

This module wires the console's pages together and owns two of them: the
overview (is each hotline open right now, who is configured) and users with
their phones. Table-like settings live in :mod:`callcenter.web.admin_entities`,
hours, settings and prompts in :mod:`callcenter.web.admin_schedule`. Every
change is validated, audited, and announced on the bus as ``config_changed``
so the ACD reloads without a restart.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import localtime
from callcenter.core.roles import Role
from callcenter.core.softphone import PhoneKind
from callcenter.db.models import User
from callcenter.db.repos import routing, users
from callcenter.i18n import N_, SUPPORTED_LANGUAGES
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.web import admin_entities, admin_schedule
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
)
from callcenter.web.auth import gettext_for

routes = web.RouteTableDef()

ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.AGENT: N_("Agent"),
    Role.DEPARTMENT: N_("Department staff"),
}
LANGUAGE_LABELS = {"vi": "Tiếng Việt", "en": "English"}
PHONE_KIND_LABELS = {
    PhoneKind.DESK: N_("Desk phone (SIP)"),
    PhoneKind.BROWSER: N_("Browser (agent page)"),
}


@routes.get("/admin", name="admin")
@allow(Role.ADMIN)
async def overview(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    now = request.app[CLOCK].now()
    local_now = localtime.to_local(now, settings.tz)
    async with request.app[SESSIONMAKER]() as session:
        config = await routing.load_routing_config(session)
        people = (await session.scalars(select(User))).all()
        departments = await routing.list_departments(session)
        categories = await routing.list_categories(session)
    roles = Counter(u.role for u in people if u.active)
    today = local_now.date()
    upcoming = [
        (day, name)
        for day, name in routing.public_holidays((today.year, today.year + 1)).items()
        if day >= today
    ][:3]
    return render(
        request,
        "admin/overview.html",
        {
            "now": now,
            "closed_today": config.closed_reason(today),
            "hotlines": [
                {"hotline": h, "open": config.is_open(h.number, now, settings.tz)}
                for h in config.hotlines.values()
            ],
            "groups": list(config.groups.values()),
            "roles": [(gettext_for(request, ROLE_LABELS[r]), roles.get(r.value, 0)) for r in Role],
            "agents_without_phone": sorted(
                u.username for u in people if u.active and u.role == Role.AGENT and not u.interface
            ),
            "department_count": len(departments),
            "unmapped_categories": [c for c in categories if c.active and c.department_id is None],
            "upcoming": upcoming,
            "settings": config.settings,
        },
    )


# --------------------------------------------------------------------------- users


async def _user_context(session: AsyncSession, request: web.Request) -> dict[str, Any]:
    departments = await routing.list_departments(session)
    return {
        "roles": [(r.value, gettext_for(request, ROLE_LABELS[r])) for r in Role],
        "role_labels": {r.value: gettext_for(request, ROLE_LABELS[r]) for r in Role},
        "languages": [(code, LANGUAGE_LABELS[code]) for code in SUPPORTED_LANGUAGES],
        "phone_kinds": [(k.value, gettext_for(request, PHONE_KIND_LABELS[k])) for k in PhoneKind],
        "phone_kind_labels": {
            k.value: gettext_for(request, PHONE_KIND_LABELS[k]) for k in PhoneKind
        },
        "departments": departments,
        "department_options": [(str(d.id), d.name) for d in departments],
        "groups": await routing.list_groups(session),
    }


async def _users_page(
    request: web.Request,
    *,
    values: dict[str, Any] | None = None,
    chosen_groups: set[int] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[SESSIONMAKER]() as session:
        context = await _user_context(session, request)
        people = await users.list_users(session)
        memberships = await routing.groups_of_users(session)
    names = {d.id: d.name for d in context["departments"]}
    return render(
        request,
        "admin/users.html",
        {
            **context,
            "users": people,
            "memberships": memberships,
            "department_names": names,
            "values": values or {"role": Role.AGENT.value, "language": "vi"},
            "chosen_groups": chosen_groups or set(),
        },
        status=status,
        error=error,
    )


def _chosen_groups(form: Form) -> set[int]:
    chosen: set[int] = set()
    getall = getattr(form.data, "getall", None)
    for raw in getall("groups", []) if getall else []:
        if isinstance(raw, str) and raw.isdigit():
            chosen.add(int(raw))
    return chosen


@routes.get("/admin/users")
@allow(Role.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@routes.post("/admin/users")
@allow(Role.ADMIN)
async def user_create(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    groups = _chosen_groups(form)
    try:
        interface = routing.normalize_interface(form.text("interface"))
        department_id = form.optional_row_id("department_id")

        async def change(session: AsyncSession) -> Change:
            user = await users.create_user(
                session,
                username=form.text("username"),
                password=str(form.data.get("password", "")),
                role=form.text("role"),
                full_name=form.text("full_name"),
                interface=interface,
                department_id=department_id,
                is_department_head=form.checkbox("is_department_head"),
                language=form.text("language") or "vi",
            )
            await routing.set_user_groups(session, user.id, groups)
            return Change(
                f"user:{user.username}",
                {
                    "role": user.role,
                    "interface": user.interface,
                    "department_id": user.department_id,
                    "groups": sorted(groups),
                },
                action="user.create",
            )

        await apply_change(request, "users", change)
    except RULE_ERRORS as exc:
        values = form.values()
        values.pop("password", None)  # never echo a password back into the page
        return await _users_page(
            request,
            values=values,
            chosen_groups=groups,
            error=form_error(request, exc),
            status=400,
        )
    raise done("/admin/users", "created")


async def _user_page(
    request: web.Request,
    ident: int,
    *,
    values: dict[str, Any] | None = None,
    chosen_groups: set[int] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[SESSIONMAKER]() as session:
        user = await users.get_user(session, ident)
        if user is None:
            raise web.HTTPNotFound(text=gettext_for(request, N_("This entry does not exist.")))
        context = await _user_context(session, request)
        memberships = (await routing.groups_of_users(session)).get(ident, [])
    if values is None:
        values = {
            name: getattr(user, name)
            for name in (
                "full_name",
                "role",
                "interface",
                "department_id",
                "is_department_head",
                "language",
                "active",
                "phone_kind",
            )
        }
        values["department_id"] = values["department_id"] or ""
    if chosen_groups is None:
        chosen_groups = {g.id for g in context["groups"] if g.code in memberships}
    return render(
        request,
        "admin/user_edit.html",
        {**context, "user": user, "values": values, "chosen_groups": chosen_groups},
        status=status,
        error=error,
    )


def _is_active_admin(user: User) -> bool:
    return user.role == Role.ADMIN and user.active


async def _keep_one_admin(session: AsyncSession, leaving_id: int) -> None:
    """Refuse the change that would leave the centre without an administrator to undo it."""
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != leaving_id)
    )
    if not others:
        raise routing.InvalidConfig(
            N_(
                "At least one active administrator must remain; make someone else an "
                "administrator first."
            ),
            field="role",
        )


@routes.get("/admin/users/{id}")
@allow(Role.ADMIN)
async def user_page(request: web.Request) -> web.StreamResponse:
    return await _user_page(request, entity_id(request))


@routes.post("/admin/users/{id}")
@allow(Role.ADMIN)
async def user_update(request: web.Request) -> web.StreamResponse:
    ident = entity_id(request)
    form = await read_form(request)
    groups = _chosen_groups(form)
    try:
        interface = routing.normalize_interface(form.text("interface"))
        department_id = form.optional_row_id("department_id")

        async def change(session: AsyncSession) -> Change:
            user = await users.get_user(session, ident)
            if user is None:
                raise routing.InvalidConfig(
                    N_("This entry no longer exists; it may have been deleted.")
                )
            old_role, was_active = user.role, user.active
            await users.update_user(
                session,
                user,
                full_name=form.text("full_name"),
                interface=interface,
                department_id=department_id,
                is_department_head=form.checkbox("is_department_head"),
                language=form.text("language") or "vi",
                active=form.checkbox("active"),
            )
            await users.set_role(session, user, form.text("role"))
            await users.set_phone_kind(
                session, user, form.text("phone_kind") or user.phone_kind, interface
            )
            if old_role == Role.ADMIN and was_active and not _is_active_admin(user):
                await _keep_one_admin(session, user.id)
            await routing.set_user_groups(session, user.id, groups)
            details = {
                "role": user.role,
                "interface": user.interface,
                "phone_kind": user.phone_kind,
                "department_id": user.department_id,
                "active": user.active,
                "groups": sorted(groups),
            }
            if old_role != user.role:
                return Change(
                    f"user:{user.username}", {**details, "old_role": old_role}, "user.role"
                )
            return Change(f"user:{user.username}", details, "user.update")

        await apply_change(request, "users", change)
    except RULE_ERRORS as exc:
        return await _user_page(
            request,
            ident,
            values={**form.values(), "active": form.checkbox("active")},
            chosen_groups=groups,
            error=form_error(request, exc),
            status=400,
        )
    raise done(f"/admin/users/{ident}", "saved")


@routes.post("/admin/users/{id}/password")
@allow(Role.ADMIN)
async def user_password(request: web.Request) -> web.StreamResponse:
    ident = entity_id(request)
    form = await read_form(request)
    try:

        async def change(session: AsyncSession) -> Change:
            user = await users.get_user(session, ident)
            if user is None:
                raise routing.InvalidConfig(
                    N_("This entry no longer exists; it may have been deleted.")
                )
            await users.set_password(session, user, str(form.data.get("password", "")))
            return Change(f"user:{user.username}", {}, "user.password")

        await apply_change(request, "users", change)
    except RULE_ERRORS as exc:
        return await _user_page(request, ident, error=form_error(request, exc), status=400)
    raise done(f"/admin/users/{ident}", "saved")


@routes.post("/admin/users/{id}/sip-secret")
@allow(Role.ADMIN)
async def user_sip_secret(request: web.Request) -> web.StreamResponse:
    """A new SIP password for the user's browser phone (never shown to the admin: the
    agent page fetches it for its owner; the old one stops working at the next sync)."""
    ident = entity_id(request)
    try:

        async def change(session: AsyncSession) -> Change:
            user = await users.get_user(session, ident)
            if user is None:
                raise routing.InvalidConfig(
                    N_("This entry no longer exists; it may have been deleted.")
                )
            if user.phone_kind != PhoneKind.BROWSER:
                raise routing.InvalidConfig(N_("This user has no browser phone."))
            await users.rotate_sip_secret(session, user)
            return Change(f"user:{user.username}", {}, "user.sip_secret")

        await apply_change(request, "users", change)
    except RULE_ERRORS as exc:
        return await _user_page(request, ident, error=form_error(request, exc), status=400)
    raise done(f"/admin/users/{ident}", "saved")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    admin_entities.setup(app)
    admin_schedule.setup(app)
