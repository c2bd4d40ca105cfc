"""The audit log page for admins: who did what, when and from where, with filters.

Read-only by design: there is no route that edits or deletes an entry.
Dates are typed dd/mm/yyyy and mean local calendar days of the centre.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from callcenter import localtime
from callcenter.core.roles import Role
from callcenter.db.repos.audit import ACTIONS, AuditFilter, search
from callcenter.i18n import N_
from callcenter.registry import SESSIONMAKER, SETTINGS
from callcenter.web.access import allow
from callcenter.web.auth import gettext_for

routes = web.RouteTableDef()

PAGE_SIZE = 100

BAD_DATE = N_("{value} is not a date; write it as dd/mm/yyyy (e.g. 23/11/2026).")
BAD_RANGE = N_("The start date is after the end date.")


@routes.get("/admin/audit", name="audit")
@allow(Role.ADMIN)
async def audit_page(request: web.Request) -> web.Response:
    zone = request.config_dict[SETTINGS].tz
    query = request.query
    values = {key: query.get(key, "").strip() for key in ("user", "action", "from", "to")}
    errors: list[str] = []
    days: dict[str, date | None] = {"from": None, "to": None}
    for key in ("from", "to"):
        if values[key]:
            try:
                days[key] = localtime.parse_date(values[key])
            except ValueError:
                errors.append(gettext_for(request, BAD_DATE, value=values[key]))
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors.append(gettext_for(request, BAD_RANGE))
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    entries: list[Any] = []
    total = 0
    if not errors:
        where = AuditFilter(
            username=values["user"],
            action=values["action"],
            since=localtime.day_bounds(days["from"], zone)[0] if days["from"] else None,
            until=localtime.day_bounds(days["to"], zone)[1] if days["to"] else None,
        )
        async with request.config_dict[SESSIONMAKER]() as session:
            rows, total = await search(
                session, where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
            entries = list(rows)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)

    def page_link(number: int) -> str:
        return "/admin/audit?" + urlencode({**values, "page": number})

    context = {
        "entries": entries,
        "total": total,
        "values": values,
        "errors": errors,
        "actions": ACTIONS,
        "page": page,
        "pages": pages,
        "prev_link": page_link(page - 1) if page > 1 else "",
        "next_link": page_link(page + 1) if page < pages else "",
    }
    response = aiohttp_jinja2.render_template("audit.html", request, context)
    if errors:
        response.set_status(400)
    return response


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
