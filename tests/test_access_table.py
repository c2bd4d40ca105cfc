"""Who may use which route: a HAND-WRITTEN table, checked against the real application.

Every route of the real app (method + path pattern) must have a row here, and
every row must match a route. Each row says the status each kind of caller
gets: anonymous, agent, supervisor, department staff, admin. Conventions:

* a page refused to an anonymous caller answers 302 to ``/login?next=...``
  (write ``LOGIN``); an ``/api/`` route or websocket answers 401;
* a logged-in user whose role is not allowed gets 403;
* an allowed user gets what the handler answers to the request the test sends:
  no query, and for POST/PUT/PATCH/DELETE an EMPTY form with a valid CSRF token
  (so the status is usually 400 for "missing fields", 302 for a redirect, ...).

Routes with path parameters give a concrete ``sample`` path. The data the
samples refer to is created by :func:`seed`; add what your rows need there.
Add your rows in your area's block, keep the blocks in route-module order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.auth.sessions import COOKIE_NAME, anonymous, logged_in
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.models import Customer, CustomerPhone, Department, Ticket, User
from callcenter.outbound.plugin import PLUGIN as OUTBOUND
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.reports.plugin import PLUGIN as REPORTS
from callcenter.softphone.plugin import PLUGIN as SOFTPHONE
from callcenter.supervisor.plugin import PLUGIN as SUPERVISOR
from callcenter.surveys.plugin import PLUGIN as SURVEYS
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.transcripts.plugin import PLUGIN as TRANSCRIPTS
from callcenter.web.access import declared_roles
from callcenter.web.app import create_app
from callcenter.web.auth import AUTH
from tests.auth_helpers import make_user

LOGIN = 302  # anonymous on a page: redirected to the login form
ROLES = ("agent", "supervisor", "department", "admin")


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    anonymous: int
    agent: int
    supervisor: int
    department: int
    admin: int
    sample: str = ""
    websocket: bool = False

    def expected(self, who: str) -> int:
        value: int = getattr(self, who)
        return value

    @property
    def url(self) -> str:
        return self.sample or self.path


# One row per line reads like a table: keep the formatter away.
# fmt: off
TABLE: list[Row] = [
    # --- foundation: health, metrics, landing page (callcenter/web/health.py, pages.py) ---
    Row("GET", "/healthz", 200, 200, 200, 200, 200),
    Row("GET", "/metrics", 200, 200, 200, 200, 200),
    Row("GET", "/", 200, 200, 200, 200, 200),
    # --- issue 3: login, logout, language, audit (callcenter/web/auth.py, audit.py) ---
    Row("GET", "/login", 200, 302, 302, 302, 302),  # logged in: sent to their home page
    Row("POST", "/login", 401, 401, 401, 401, 401),  # empty form: wrong username or password
    Row("POST", "/logout", 302, 302, 302, 302, 302),
    Row("GET", "/language/{lang}", 302, 302, 302, 302, 302, sample="/language/en"),
    Row("GET", "/admin/audit", LOGIN, 403, 403, 403, 200),
    Row("GET", "/api/openapi.json", 401, 200, 200, 200, 200),
    Row("GET", "/account", LOGIN, 200, 200, 200, 200),
    Row("POST", "/account/password", LOGIN, 400, 400, 400, 400),  # empty form: wrong password
    # --- issue 3: admin console (callcenter/web/admin.py, admin_entities.py, admin_schedule.py) ---
    # Empty forms: 400 (the first missing field); id 999 does not exist: 404 (or, where the
    # page is a list, 400 "no longer exists"). An empty hours form clears the common hours: 302.
    Row("GET", "/admin", LOGIN, 403, 403, 403, 200),
    Row("GET", "/admin/users", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/users", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/users/{id}", LOGIN, 403, 403, 403, 200, sample="/admin/users/1"),
    Row("POST", r"/admin/users/{id}", LOGIN, 403, 403, 403, 400, sample="/admin/users/1"),
    Row("POST", r"/admin/users/{id}/password", LOGIN, 403, 403, 403, 400,
        sample="/admin/users/1/password"),
    # issue 17: a new SIP password for a browser phone (user 1 has a desk phone: 400)
    Row("POST", r"/admin/users/{id}/sip-secret", LOGIN, 403, 403, 403, 400,
        sample="/admin/users/1/sip-secret"),
    Row("GET", "/admin/groups", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/groups", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/groups/{id}", LOGIN, 403, 403, 403, 404, sample="/admin/groups/999"),
    Row("POST", r"/admin/groups/{id}", LOGIN, 403, 403, 403, 404, sample="/admin/groups/999"),
    Row("POST", r"/admin/groups/{id}/delete", LOGIN, 403, 403, 403, 404,
        sample="/admin/groups/999/delete"),
    Row("POST", r"/admin/groups/{id}/members", LOGIN, 403, 403, 403, 404,
        sample="/admin/groups/999/members"),
    Row("GET", "/admin/hotlines", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/hotlines", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/hotlines/{id}", LOGIN, 403, 403, 403, 404, sample="/admin/hotlines/999"),
    Row("POST", r"/admin/hotlines/{id}", LOGIN, 403, 403, 403, 404, sample="/admin/hotlines/999"),
    Row("POST", r"/admin/hotlines/{id}/delete", LOGIN, 403, 403, 403, 404,
        sample="/admin/hotlines/999/delete"),
    Row("GET", "/admin/departments", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/departments", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/departments/{id}", LOGIN, 403, 403, 403, 200,
        sample="/admin/departments/1"),
    Row("POST", r"/admin/departments/{id}", LOGIN, 403, 403, 403, 400,
        sample="/admin/departments/1"),
    Row("POST", r"/admin/departments/{id}/delete", LOGIN, 403, 403, 403, 404,
        sample="/admin/departments/999/delete"),
    Row("POST", r"/admin/departments/{id}/members", LOGIN, 403, 403, 403, 404,
        sample="/admin/departments/999/members"),
    Row("GET", "/admin/categories", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/categories", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/categories/{id}", LOGIN, 403, 403, 403, 404,
        sample="/admin/categories/999"),
    Row("POST", r"/admin/categories/{id}", LOGIN, 403, 403, 403, 404,
        sample="/admin/categories/999"),
    Row("POST", r"/admin/categories/{id}/delete", LOGIN, 403, 403, 403, 404,
        sample="/admin/categories/999/delete"),
    Row("GET", "/admin/pause-reasons", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/pause-reasons", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/pause-reasons/{id}", LOGIN, 403, 403, 403, 404,
        sample="/admin/pause-reasons/999"),
    Row("POST", r"/admin/pause-reasons/{id}", LOGIN, 403, 403, 403, 404,
        sample="/admin/pause-reasons/999"),
    Row("POST", r"/admin/pause-reasons/{id}/delete", LOGIN, 403, 403, 403, 404,
        sample="/admin/pause-reasons/999/delete"),
    Row("GET", "/admin/hours", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/hours", LOGIN, 403, 403, 403, 302),
    Row("POST", "/admin/holidays", LOGIN, 403, 403, 403, 400),
    Row("POST", r"/admin/holidays/{id}/delete", LOGIN, 403, 403, 403, 400,
        sample="/admin/holidays/999/delete"),
    Row("GET", "/admin/settings", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/settings", LOGIN, 403, 403, 403, 400),
    Row("GET", "/admin/prompts", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/prompts", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/prompts/{id}/audio", LOGIN, 403, 403, 403, 404,
        sample="/admin/prompts/999/audio"),
    Row("POST", r"/admin/prompts/{id}/delete", LOGIN, 403, 403, 403, 400,
        sample="/admin/prompts/999/delete"),
    # --- issue 4: customers, Excel import/export (callcenter/web/customers.py) ---
    # Customer 1 (seeded) was served by nobody: agents get 404 (data scope), not 403.
    # Empty forms: 400 (name / VIN / file missing); import 1 does not exist: 404.
    Row("GET", "/customers", LOGIN, 200, 200, 403, 200),
    Row("GET", "/customers/new", LOGIN, 200, 200, 403, 200),
    Row("POST", "/customers/new", LOGIN, 400, 400, 403, 400),
    Row("GET", r"/customers/{id}", LOGIN, 404, 200, 403, 200, sample="/customers/1"),
    Row("GET", r"/customers/{id}/edit", LOGIN, 404, 200, 403, 200, sample="/customers/1/edit"),
    Row("POST", r"/customers/{id}/edit", LOGIN, 404, 400, 403, 400, sample="/customers/1/edit"),
    Row("POST", r"/customers/{id}/do-not-call", LOGIN, 404, 400, 403, 400,
        sample="/customers/1/do-not-call"),
    Row("POST", r"/customers/{id}/vehicles", LOGIN, 404, 400, 403, 400,
        sample="/customers/1/vehicles"),
    Row("POST", r"/customers/{id}/vehicles/{vin}/delete", LOGIN, 404, 404, 403, 404,
        sample="/customers/1/vehicles/RL4TH1234AB000001/delete"),
    Row("GET", "/api/customers", 401, 200, 200, 403, 200),
    Row("GET", "/api/customers/by-phone/{number}", 401, 404, 200, 403, 200,
        sample="/api/customers/by-phone/0912345678"),
    Row("GET", "/customers/import", LOGIN, 403, 200, 403, 200),
    Row("POST", "/customers/import", LOGIN, 403, 400, 403, 400),
    Row("GET", r"/customers/import/{id}", LOGIN, 403, 404, 403, 404, sample="/customers/import/1"),
    Row("GET", r"/api/customers/imports/{id}", 401, 403, 404, 403, 404,
        sample="/api/customers/imports/1"),
    Row("POST", r"/customers/import/{id}/mapping", LOGIN, 403, 404, 403, 404,
        sample="/customers/import/1/mapping"),
    Row("POST", r"/customers/import/{id}/confirm", LOGIN, 403, 404, 403, 404,
        sample="/customers/import/1/confirm"),
    Row("GET", r"/customers/import/{id}/rejected.xlsx", LOGIN, 403, 404, 403, 404,
        sample="/customers/import/1/rejected.xlsx"),
    Row("GET", "/customers/export.xlsx", LOGIN, 403, 200, 403, 200),
    # --- issue 8: agent page, its websocket and actions (callcenter/agent_desk/) ---
    Row("GET", "/agent", LOGIN, 200, 200, 403, 403),
    Row("GET", "/agent/ws", 401, 101, 101, 403, 403, websocket=True),
    Row("POST", "/api/agent/state", 401, 400, 400, 403, 403),  # empty body: not JSON
    Row(
        "POST",
        "/api/agent/calls/{linkedid}/wrapup",
        401,
        400,
        400,
        403,
        403,
        sample="/api/agent/calls/1.1/wrapup",
    ),
    Row(
        "POST",
        "/api/agent/calls/{linkedid}/hangup",
        401,
        404,
        404,
        403,
        403,
        sample="/api/agent/calls/1.1/hangup",
    ),  # not the caller's current call
    Row(
        "POST",
        "/api/agent/calls/{linkedid}/transfer",
        401,
        404,
        404,
        403,
        403,
        sample="/api/agent/calls/1.1/transfer",
    ),
    Row(
        "POST",
        "/api/agent/calls/{linkedid}/park",
        401,
        404,
        404,
        403,
        403,
        sample="/api/agent/calls/1.1/park",
    ),
    Row(
        "POST",
        "/api/agent/calls/{linkedid}/mute",
        401,
        404,
        404,
        403,
        403,
        sample="/api/agent/calls/1.1/mute",
    ),
    Row(
        "POST",
        "/api/agent/calls/{linkedid}/retrieve",
        401,
        404,
        404,
        403,
        403,
        sample="/api/agent/calls/1.1/retrieve",
    ),
    Row("POST", "/api/agent/originate", 401, 400, 400, 403, 403),
    Row("POST", "/api/agent/customers", 401, 400, 400, 403, 403),
    # --- issue 13: the agents' task list (callcenter/agent_desk/tasks_http.py) ---
    # Task 999 does not exist: 404 (the same answer as another group's task); the outcome's
    # empty body is refused first (400). Supervisors see every open task on /tasks.
    Row("GET", "/api/agent/tasks", 401, 200, 200, 403, 403),
    Row("GET", "/api/agent/tasks/{id}", 401, 404, 404, 403, 403, sample="/api/agent/tasks/999"),
    Row("POST", "/api/agent/tasks/{id}/claim", 401, 404, 404, 403, 403,
        sample="/api/agent/tasks/999/claim"),
    Row("POST", "/api/agent/tasks/{id}/release", 401, 404, 404, 403, 403,
        sample="/api/agent/tasks/999/release"),
    Row("POST", "/api/agent/tasks/{id}/outcome", 401, 400, 400, 403, 403,
        sample="/api/agent/tasks/999/outcome"),
    Row("GET", "/tasks", LOGIN, 403, 200, 403, 200),
    # --- issue 7: supervisor control of the ACD (callcenter/web/acd_api.py) ---
    # This app runs without the ACD service (daemon plugin), so allowed roles get 503.
    Row("GET", "/api/acd/agents", 401, 403, 503, 403, 503),
    Row(
        "POST",
        "/api/acd/agents/{agent_id}/pause",
        401,
        403,
        503,
        403,
        503,
        sample="/api/acd/agents/1/pause",
    ),
    Row(
        "POST",
        "/api/acd/agents/{agent_id}/unpause",
        401,
        403,
        503,
        403,
        503,
        sample="/api/acd/agents/1/unpause",
    ),
    Row(
        "POST",
        "/api/acd/agents/{agent_id}/logout",
        401,
        403,
        503,
        403,
        503,
        sample="/api/acd/agents/1/logout",
    ),
    Row(
        "PUT",
        "/api/acd/groups/{code}/strategy",
        401,
        403,
        503,
        403,
        503,
        sample="/api/acd/groups/care/strategy",
    ),
    Row("GET", "/api/acd/waiting", 401, 403, 503, 403, 503),
    # --- issue 13: tickets room (callcenter/tickets/http.py) ---
    # Ticket TK-2026-000001 (seeded) is in department 1 and unassigned; the agent has no
    # part in it: 404 (data scope). Empty forms are not JSON: 400. Claim: only department
    # members (the table's department user is free, so it gets the ticket).
    Row("GET", "/tickets/inbox", LOGIN, 403, 200, 200, 200),
    Row("GET", "/tickets/inbox/events", LOGIN, 403, 406, 406, 406),  # no Accept: event-stream
    Row("GET", "/api/tickets/inbox", 401, 403, 200, 200, 200),
    Row("GET", "/tickets", LOGIN, 403, 200, 200, 200),
    Row("GET", "/api/tickets", 401, 403, 200, 200, 200),
    Row("GET", "/tickets/export.xlsx", LOGIN, 403, 200, 403, 200),
    Row("GET", "/tickets/{code}", LOGIN, 404, 200, 200, 200, sample="/tickets/TK-2026-000001"),
    Row("GET", "/tickets/{code}/print", LOGIN, 404, 200, 200, 200,
        sample="/tickets/TK-2026-000001/print"),
    Row("GET", "/tickets/{code}/sheet.pdf", LOGIN, 404, 200, 200, 200,
        sample="/tickets/TK-2026-000001/sheet.pdf"),
    Row("GET", "/tickets/{code}/files/{file_id}", LOGIN, 404, 404, 404, 404,
        sample="/tickets/TK-2026-000001/files/999"),
    Row("GET", "/api/tickets/{code}", 401, 404, 200, 200, 200, sample="/api/tickets/TK-2026-000001"),
    Row("POST", "/api/tickets/{code}/claim", 401, 403, 403, 200, 403,
        sample="/api/tickets/TK-2026-000001/claim"),
    Row("POST", "/api/tickets/{code}/status", 401, 403, 400, 400, 400,
        sample="/api/tickets/TK-2026-000001/status"),
    Row("POST", "/api/tickets/{code}/transfer", 401, 403, 400, 400, 400,
        sample="/api/tickets/TK-2026-000001/transfer"),
    Row("POST", "/api/tickets/{code}/comments", 401, 400, 400, 400, 400,
        sample="/api/tickets/TK-2026-000001/comments"),
    Row("POST", "/api/tickets/{code}/category", 401, 403, 400, 403, 400,
        sample="/api/tickets/TK-2026-000001/category"),
    Row("POST", "/api/tickets/{code}/follow-up", 401, 403, 400, 403, 400,
        sample="/api/tickets/TK-2026-000001/follow-up"),
    Row("POST", "/api/tickets/{code}/files", 401, 403, 400, 400, 400,
        sample="/api/tickets/TK-2026-000001/files"),
    Row("POST", "/api/tickets/{code}/call", 401, 403, 400, 400, 400,
        sample="/api/tickets/TK-2026-000001/call"),
    Row("POST", "/api/tickets/notifications/{id}/retry", 401, 403, 404, 404, 404,
        sample="/api/tickets/notifications/999/retry"),
    # --- issue 15: the supervisor's wallboard and listening in (callcenter/supervisor/) ---
    # Listen with an empty form: not JSON (400). Agents and department staff: 403.
    Row("GET", "/supervisor", LOGIN, 403, 200, 403, 200),
    Row("GET", "/supervisor/ws", 401, 403, 101, 403, 101, websocket=True),
    Row("GET", "/api/supervisor/wallboard", 401, 403, 200, 403, 200),
    Row("POST", "/api/supervisor/listen", 401, 403, 400, 403, 400),
    # --- issue 17: the browser softphone (callcenter/softphone/): only for its owner ---
    Row("GET", "/api/softphone/credentials", 401, 200, 200, 403, 403),
    Row("GET", "/softphone/jssip.min.js", LOGIN, 200, 200, 403, 403),  # scripts/_setup.sh
    # --- issue 15: surveys room (callcenter/surveys/): builder, forms' API, report ---
    # Survey 1 is the default post-call survey migration 0010 creates; empty forms: 400.
    Row("GET", "/admin/surveys", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/surveys", LOGIN, 403, 403, 403, 400),
    Row("GET", r"/admin/surveys/{id}", LOGIN, 403, 403, 403, 200, sample="/admin/surveys/1"),
    Row("POST", r"/admin/surveys/{id}", LOGIN, 403, 403, 403, 400, sample="/admin/surveys/1"),
    Row("POST", r"/admin/surveys/{id}/questions", LOGIN, 403, 403, 403, 400,
        sample="/admin/surveys/1/questions"),
    Row("POST", r"/admin/surveys/{id}/questions/{question}", LOGIN, 403, 403, 403, 404,
        sample="/admin/surveys/1/questions/999"),
    Row("POST", r"/admin/surveys/{id}/questions/{question}/delete", LOGIN, 403, 403, 403, 404,
        sample="/admin/surveys/1/questions/999/delete"),
    Row("POST", r"/admin/surveys/{id}/questions/{question}/move", LOGIN, 403, 403, 403, 404,
        sample="/admin/surveys/1/questions/999/move"),
    Row("GET", "/api/surveys", 401, 200, 200, 200, 200),
    Row("POST", r"/api/surveys/{id}/responses", 401, 400, 400, 400, 400,
        sample="/api/surveys/1/responses"),  # empty body: not JSON
    Row("GET", "/surveys/report", LOGIN, 403, 200, 403, 200),
    Row("GET", "/surveys/report.xlsx", LOGIN, 403, 200, 403, 200),
    # --- issue 16: outbound room (callcenter/outbound/http.py) ---
    # Supervisors and admins build lists and campaigns, watch progress, keep care rules;
    # agents (and supervisors at their desk) work leads. List/lead/rule 999 do not exist.
    Row("GET", "/outbound", LOGIN, 403, 200, 403, 200),
    Row("POST", "/outbound/lists", LOGIN, 403, 400, 403, 400),
    Row("GET", r"/outbound/lists/{id}", LOGIN, 403, 404, 403, 404, sample="/outbound/lists/999"),
    Row("GET", r"/outbound/lists/{id}/results.xlsx", LOGIN, 403, 404, 403, 404,
        sample="/outbound/lists/999/results.xlsx"),
    Row("GET", r"/api/outbound/lists/{id}/progress", 401, 403, 404, 403, 404,
        sample="/api/outbound/lists/999/progress"),
    Row("GET", "/outbound/progress/events", LOGIN, 403, 406, 403, 406),  # no Accept: event-stream
    Row("GET", "/outbound/reports", LOGIN, 403, 200, 403, 200),
    Row("GET", r"/outbound/tasks/{id}", LOGIN, 404, 404, 403, 403, sample="/outbound/tasks/999"),
    Row("POST", r"/api/outbound/tasks/{id}/outcome", 401, 400, 400, 403, 403,
        sample="/api/outbound/tasks/999/outcome"),
    Row("POST", "/outbound/care-rules", LOGIN, 403, 400, 403, 400),
    Row("POST", "/api/outbound/mode", 401, 400, 400, 403, 403),  # not JSON: refused first
    Row("GET", "/api/outbound/mode", 401, 503, 503, 403, 403),  # no ACD in this app
    Row("GET", "/outbound/opportunities", LOGIN, 200, 200, 403, 200),
    Row("POST", r"/api/outbound/opportunities/{id}/stage", 401, 400, 400, 403, 400,
        sample="/api/outbound/opportunities/999/stage"),  # not JSON: refused first
    Row("POST", "/outbound/blending", LOGIN, 403, 400, 403, 400),
    Row("POST", r"/outbound/care-rules/{id}/toggle", LOGIN, 403, 404, 403, 404,
        sample="/outbound/care-rules/999/toggle"),
    # --- issue 15: reports room (callcenter/reports/http.py): supervisors and admins only ---
    Row("GET", "/reports", LOGIN, 403, 302, 403, 302),
    Row("GET", "/reports/{kind}", LOGIN, 403, 200, 403, 200,
        sample="/reports/calls"),
    Row("GET", "/reports/schedule", LOGIN, 403, 403, 403, 200),
    Row("POST", "/reports/schedule", LOGIN, 403, 403, 403, 400),  # empty form: no hour
    Row("GET", "/reports/{kind}.xlsx", LOGIN, 403, 200, 403, 200,
        sample="/reports/tickets.xlsx"),
    # --- recordings (callcenter/web/recordings.py): supervisors, admins, the call's agent,
    # the department of its ticket listen (a call not theirs is "not found") ---
    Row("GET", r"/recordings/{call_id}", LOGIN, 404, 404, 404, 404, sample="/recordings/999"),
    # --- transcripts (callcenter/transcripts/http.py): calls each role may see ---
    Row("GET", "/calls", LOGIN, 200, 200, 200, 200),
    Row("GET", r"/calls/{call_id}", LOGIN, 404, 404, 404, 404, sample="/calls/999"),
    Row("POST", r"/calls/{call_id}/category", LOGIN, 403, 404, 403, 404,
        sample="/calls/999/category"),
    Row("GET", "/admin/category-keywords", LOGIN, 403, 403, 403, 200),
    Row("POST", "/admin/category-keywords", LOGIN, 403, 403, 403, 302),  # nothing to change
]
# fmt: on


async def seed(factory: async_sessionmaker[Any]) -> dict[str, User]:
    """One user per role (ids 1-4 in this order) and a department (id 1)."""
    async with factory() as session:
        session.add(Department(code="dv", name="Dịch vụ"))
        # issue 4: customer 1 with one phone, created by nobody (agents do not see it)
        session.add(
            Customer(
                name="Khách mẫu",
                name_search="khach mau",
                phones=[CustomerPhone(number="+84912345678", is_primary=True)],
            )
        )
        await session.commit()
    async with factory() as session:  # issue 13: an unassigned ticket of department 1
        session.add(Ticket(code="TK-2026-000001", department_id=1, subject="Mẫu"))
        await session.commit()
    users = {}
    for role in ROLES:
        department = {"department_id": 1} if role == "department" else {}
        users[role] = await make_user(factory, f"table.{role}", role, **department)
    return users


def route_keys(app: web.Application) -> set[tuple[str, str]]:
    keys = set()
    for route in app.router.routes():
        resource = route.resource
        canonical = resource.canonical if resource is not None else ""
        if route.method == "HEAD" or canonical.startswith("/static"):
            continue
        keys.add((route.method, canonical))
    return keys


@pytest.fixture
async def app_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    await migrate.upgrade_async(settings.database.url)
    return await aiohttp_client(
        create_app(
            settings,
            extra_plugins=[TICKETS, SUPERVISOR, SOFTPHONE, SURVEYS, REPORTS, TRANSCRIPTS, OUTBOUND],
        )
    )


def test_table_has_no_duplicate_rows() -> None:
    keys = [(row.method, row.path) for row in TABLE]
    assert len(keys) == len(set(keys)), "a route is listed twice"


async def test_every_route_is_in_the_table_and_every_row_is_a_route(
    app_client: TestClient,
) -> None:
    actual = route_keys(app_client.server.app)
    listed = {(row.method, row.path) for row in TABLE}
    missing = sorted(actual - listed)
    stale = sorted(listed - actual)
    assert not missing, "routes missing from the access table: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "table rows without a route: " + ", ".join(f"{m} {p}" for m, p in stale)


async def _cookie_for(client: TestClient, user: User | None) -> tuple[str, str]:
    """A fresh signed session (cookie value, CSRF token) for ``user`` or for a visitor."""
    app = client.server.app
    now = app[CLOCK].now()
    if user is None:
        session = anonymous(now)
    else:
        async with app[SESSIONMAKER]() as db:
            current = await db.get(User, user.id)
            assert current is not None
            version = current.session_version  # logout rows bump it
        session = logged_in(now, user.id, version)
    return app[AUTH].codec.dumps(session), session.csrf


async def _status(client: TestClient, row: Row, user: User | None) -> tuple[int, str]:
    cookie, token = await _cookie_for(client, user)
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE_NAME: cookie}, client.make_url("/"))
    if row.websocket:
        try:
            ws = await client.ws_connect(row.url)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status, ""
        await ws.close()
        return 101, ""
    data = {"csrf_token": token} if row.method not in ("GET", "HEAD") else None
    response = await client.request(
        row.method,
        row.url,
        data=data,
        headers={"X-CSRF-Token": token} if data is not None else None,
        allow_redirects=False,
    )
    await response.read()
    return response.status, response.headers.get("Location", "")


async def test_each_route_answers_each_role_as_the_table_says(app_client: TestClient) -> None:
    app = app_client.server.app
    users = await seed(app[SESSIONMAKER])
    actual = route_keys(app)
    handlers = {
        (route.method, route.resource.canonical): route.handler
        for route in app.router.routes()
        if route.resource is not None
    }
    wrong: list[str] = []
    for row in TABLE:
        if (row.method, row.path) not in actual:
            continue  # reported by the completeness test
        protected = declared_roles(handlers[(row.method, row.path)]) is not None
        for who in ("anonymous", *ROLES):
            status, location = await _status(app_client, row, users.get(who))
            expected = row.expected(who)
            if status != expected:
                wrong.append(f"{row.method} {row.url} as {who}: {status}, table says {expected}")
            elif (
                who == "anonymous"
                and protected
                and status == LOGIN
                and not location.startswith("/login?next=")
            ):
                wrong.append(f"{row.method} {row.url} as anonymous: redirected to {location}")
    assert not wrong, "\n".join(wrong)
