"""Admin pages for time and sound: business hours, holidays, system settings and prompts.

Hours are edited per weekday with up to two intervals (a lunch break is common);
holidays show Vietnam's public calendar (lunar Tết included) next to the
admin's own overrides; prompts are uploaded recordings converted with sox.
"""

from __future__ import annotations

import asyncio
from datetime import date, time
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import localtime
from callcenter.core.roles import Role
from callcenter.db.models import Hotline, Prompt
from callcenter.db.repos import routing
from callcenter.db.repos.routing import SETTING_SPECS, OpeningInterval
from callcenter.i18n import N_
from callcenter.prompts import (
    DEFAULT_MAX_BYTES,
    PromptRejected,
    convert_prompt,
    discard_prompt,
    install_prompt,
    menu_prompt_code,
    remove_prompt_file,
)
from callcenter.prompts_default import PROMPTS as DEFAULT_PROMPTS
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.web.access import allow, current_user
from callcenter.web.admin_common import (
    RULE_ERRORS,
    Change,
    Form,
    FormError,
    FormInputError,
    apply_change,
    done,
    entity_id,
    form_error,
    read_form,
    render,
    row_id,
)
from callcenter.web.auth import gettext_for

routes = web.RouteTableDef()

#: Upload limit for prompt recordings (tests set a small one).
PROMPT_MAX_BYTES = web.AppKey("prompt_max_bytes", int)

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
INTERVALS_PER_DAY = 2


# --------------------------------------------------------------------------- hours and holidays


def _parse_time(form: Form, name: str, day: int) -> time | None:
    raw = form.text(name)
    if not raw:
        return None
    try:
        hours, minutes = raw.split(":")[:2]
        return time(int(hours), int(minutes))
    except ValueError:
        raise FormInputError(
            N_("Enter a time as HH:MM, e.g. 07:30."), field=f"hours-{day}"
        ) from None


def _parse_hours(form: Form) -> list[OpeningInterval]:
    intervals: list[OpeningInterval] = []
    for day in range(7):
        for slot in range(INTERVALS_PER_DAY):
            opens = _parse_time(form, f"opens_{day}_{slot}", day)
            closes = _parse_time(form, f"closes_{day}_{slot}", day)
            if opens is None and closes is None:
                continue
            if opens is None or closes is None:
                raise FormInputError(
                    N_("Enter both the opening and the closing time."), field=f"hours-{day}"
                )
            intervals.append(OpeningInterval(day, opens, closes))
    return intervals


def _hours_values(intervals: list[OpeningInterval]) -> dict[str, str]:
    values: dict[str, str] = {}
    slots = [0] * 7
    for interval in intervals:
        slot = slots[interval.weekday]
        if slot >= INTERVALS_PER_DAY:
            continue
        values[f"opens_{interval.weekday}_{slot}"] = interval.opens.strftime("%H:%M")
        values[f"closes_{interval.weekday}_{slot}"] = interval.closes.strftime("%H:%M")
        slots[interval.weekday] += 1
    return values


def _hotline_scope(raw: str | None) -> int | None:
    if not raw:
        return None
    scope = row_id(raw)
    if scope is None:
        raise web.HTTPNotFound()
    return scope


async def _hours_page(
    request: web.Request,
    scope: int | None,
    *,
    values: dict[str, str] | None = None,
    holiday_values: dict[str, str] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    today = localtime.local_date(request.app[CLOCK].now(), request.app[SETTINGS].tz)
    async with request.app[SESSIONMAKER]() as session:
        hotlines = await routing.list_hotlines(session)
        if scope is not None and await session.get(Hotline, scope) is None:
            raise web.HTTPNotFound()
        own = await routing.business_hours(session, scope)
        overrides = await routing.list_holidays(session)
    public = routing.public_holidays((today.year, today.year + 1))
    by_day = {o.day: o for o in overrides}
    calendar = [
        {"day": day, "name": name, "override": by_day.get(day)}
        for day, name in public.items()
        if day >= today
    ]
    return render(
        request,
        "admin/hours.html",
        {
            "weekdays": WEEKDAYS,
            "slots": range(INTERVALS_PER_DAY),
            "hotlines": hotlines,
            "scope": scope,
            "uses_common": scope is not None and not own,
            "values": values if values is not None else _hours_values(own),
            "holiday_values": holiday_values or {"closed": "1"},
            "calendar": calendar,
            "overrides": [o for o in overrides if o.day >= today or o.day.year == today.year],
        },
        status=status,
        error=error,
    )


def _scope_path(scope: int | None) -> str:
    return "/admin/hours" if scope is None else f"/admin/hours?hotline={scope}"


@routes.get("/admin/hours")
@allow(Role.ADMIN)
async def hours_page(request: web.Request) -> web.StreamResponse:
    return await _hours_page(request, _hotline_scope(request.query.get("hotline")))


@routes.post("/admin/hours")
@allow(Role.ADMIN)
async def hours_save(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    scope = _hotline_scope(form.text("hotline"))
    try:
        intervals = [] if form.checkbox("use_common") else _parse_hours(form)

        async def change(session: AsyncSession) -> Change:
            await routing.set_business_hours(session, scope, intervals)
            target = "hours:common" if scope is None else f"hours:hotline:{scope}"
            return Change(
                target,
                {
                    "intervals": [
                        [i.weekday, i.opens.strftime("%H:%M"), i.closes.strftime("%H:%M")]
                        for i in intervals
                    ]
                },
            )

        await apply_change(request, "hours", change)
    except RULE_ERRORS as exc:
        return await _hours_page(
            request, scope, values=form.values(), error=form_error(request, exc), status=400
        )
    separator = "&" if scope is not None else "?"
    raise web.HTTPFound(f"{_scope_path(scope)}{separator}done=saved")


def _parse_day(raw: str) -> date:
    if not raw:
        raise FormInputError(N_("Enter the date."), field="day")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return localtime.parse_date(raw)
    except ValueError:
        raise FormInputError(N_("Enter the date as dd/mm/yyyy."), field="day") from None


@routes.post("/admin/holidays")
@allow(Role.ADMIN)
async def holiday_save(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    try:
        day = _parse_day(form.text("day"))
        closed = form.text("closed") != "0"
        name = form.text("name")

        async def change(session: AsyncSession) -> Change:
            await routing.save_holiday(session, day, name, closed)
            return Change(f"holiday:{day.isoformat()}", {"name": name, "closed": closed})

        await apply_change(request, "holidays", change)
    except RULE_ERRORS as exc:
        return await _hours_page(
            request, None, holiday_values=form.values(), error=form_error(request, exc), status=400
        )
    raise done("/admin/hours", "saved")


@routes.post("/admin/holidays/{id}/delete")
@allow(Role.ADMIN)
async def holiday_delete(request: web.Request) -> web.StreamResponse:
    ident = entity_id(request)

    async def change(session: AsyncSession) -> Change:
        holiday = await routing.delete_holiday(session, ident)
        return Change(f"holiday:{holiday.day.isoformat()}", {"name": holiday.name}, "delete")

    try:
        await apply_change(request, "holidays", change)
    except RULE_ERRORS as exc:
        return await _hours_page(request, None, error=form_error(request, exc), status=400)
    raise done("/admin/hours", "deleted")


# --------------------------------------------------------------------------- system settings


async def _settings_page(
    request: web.Request,
    *,
    values: dict[str, Any] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    if values is None:
        async with request.app[SESSIONMAKER]() as session:
            current = await routing.load_system_settings(session)
        values = {spec.key: getattr(current, spec.key) for spec in SETTING_SPECS}
    return render(
        request,
        "admin/settings.html",
        {"specs": SETTING_SPECS, "values": values},
        status=status,
        error=error,
    )


@routes.get("/admin/settings")
@allow(Role.ADMIN)
async def settings_page(request: web.Request) -> web.StreamResponse:
    return await _settings_page(request)


@routes.post("/admin/settings")
@allow(Role.ADMIN)
async def settings_save(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    try:
        values = {spec.key: form.integer(spec.key) for spec in SETTING_SPECS}

        async def change(session: AsyncSession) -> Change:
            changed = await routing.save_settings(session, values, request.app[CLOCK].now())
            return Change("settings", {key: list(pair) for key, pair in changed.items()})

        await apply_change(request, "settings", change)
    except RULE_ERRORS as exc:
        return await _settings_page(
            request, values=form.values(), error=form_error(request, exc), status=400
        )
    raise done("/admin/settings", "saved")


# --------------------------------------------------------------------------- prompts


async def _prompts_page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[SESSIONMAKER]() as session:
        prompts = await routing.list_prompts(session)
        hotlines = await routing.list_hotlines(session)
    uploaded = {p.code for p in prompts}
    menu_text = gettext_for(request, N_("Menu of hotline {number}"))
    known = list(DEFAULT_PROMPTS.items()) + [
        (menu_prompt_code(h.number), menu_text.format(number=h.number))
        for h in hotlines
        if h.menu_enabled
    ]
    return render(
        request,
        "admin/prompts.html",
        {
            "prompts": prompts,
            "known": [(code, text, code in uploaded) for code, text in known],
            "values": values or {"code": request.query.get("code", "")},
            "max_bytes": request.app[PROMPT_MAX_BYTES],
        },
        status=status,
        error=error,
    )


@routes.get("/admin/prompts")
@allow(Role.ADMIN)
async def prompts_page(request: web.Request) -> web.StreamResponse:
    return await _prompts_page(request)


@routes.post("/admin/prompts")
@allow(Role.ADMIN)
async def prompt_upload(request: web.Request) -> web.StreamResponse:
    try:
        data = await request.post()
    except web.HTTPRequestEntityTooLarge:
        error = PromptRejected(
            N_("The file is too large; the limit is {limit}."),
            limit=f"{request.app[SETTINGS].http.max_upload_mb:g} MB",
        )
        return await _prompts_page(request, error=form_error(request, error), status=413)
    form = Form(data)
    upload = data.get("audio")
    try:
        code = routing.check_code(form.text("code"))
        if not isinstance(upload, web.FileField):
            raise PromptRejected(N_("The file is empty; choose a recording to upload."))
        # Off the loop: aiohttp keeps a large upload in a file on disk.
        payload = await asyncio.to_thread(upload.file.read, request.app[PROMPT_MAX_BYTES] + 1)
        converted = await convert_prompt(
            payload,
            code=code,
            prompts_dir=request.app[SETTINGS].prompts_dir,
            max_bytes=request.app[PROMPT_MAX_BYTES],
        )
        user = current_user(request)

        async def change(session: AsyncSession) -> Change:
            await routing.save_prompt(
                session,
                code=code,
                name=form.text("name"),
                filename=converted.filename,
                duration_seconds=converted.duration_seconds,
                uploaded_by_id=user.id if user else None,
                now=request.app[CLOCK].now(),
            )
            return Change(
                f"prompt:{code}",
                {
                    "op": "upload",
                    "original": upload.filename,
                    "bytes": len(payload),
                    "seconds": converted.duration_seconds,
                },
            )

        try:
            await apply_change(request, "prompts", change)
        except BaseException:
            await asyncio.to_thread(discard_prompt, converted)
            raise
        await asyncio.to_thread(install_prompt, converted)
    except RULE_ERRORS as exc:
        return await _prompts_page(
            request, values=form.values(), error=form_error(request, exc), status=400
        )
    raise done("/admin/prompts", "uploaded")


async def _prompt_row(request: web.Request) -> Prompt:
    async with request.app[SESSIONMAKER]() as session:
        prompt = await session.get(Prompt, entity_id(request))
    if prompt is None:
        raise web.HTTPNotFound(text=gettext_for(request, N_("This entry does not exist.")))
    return prompt


@routes.get("/admin/prompts/{id}/audio")
@allow(Role.ADMIN)
async def prompt_audio(request: web.Request) -> web.StreamResponse:
    prompt = await _prompt_row(request)
    folder = request.app[SETTINGS].prompts_dir
    path = folder / prompt.filename
    if path.resolve().parent != folder.resolve() or not path.is_file():
        raise web.HTTPNotFound(text=gettext_for(request, N_("The recording file is missing.")))
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


@routes.post("/admin/prompts/{id}/delete")
@allow(Role.ADMIN)
async def prompt_delete(request: web.Request) -> web.StreamResponse:
    ident = entity_id(request)
    removed: list[str] = []

    async def change(session: AsyncSession) -> Change:
        prompt = await routing.delete_prompt(session, ident)
        removed.append(prompt.filename)
        return Change(f"prompt:{prompt.code}", {"filename": prompt.filename}, "delete")

    try:
        await apply_change(request, "prompts", change)
    except RULE_ERRORS as exc:
        return await _prompts_page(request, error=form_error(request, exc), status=400)
    for filename in removed:  # only once the database no longer points at it
        await asyncio.to_thread(remove_prompt_file, request.app[SETTINGS].prompts_dir, filename)
    raise done("/admin/prompts", "deleted")


def setup(app: web.Application) -> None:
    if PROMPT_MAX_BYTES not in app:
        app[PROMPT_MAX_BYTES] = DEFAULT_MAX_BYTES
    app.router.add_routes(routes)
