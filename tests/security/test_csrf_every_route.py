"""CSRF on every state-changing route the application has, enumerated from its router.

``tests/auth/test_csrf.py`` proves the rule on probe routes; this proves no real route
escapes it: each POST/PUT/PATCH/DELETE, sent by a user who may use it, without a
token (form or JSON), or with another token, is refused with 403 by the CSRF check
before the handler runs.
"""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient

from callcenter.auth.sessions import COOKIE_NAME
from callcenter.config import Settings
from callcenter.daemon import PLUGINS
from callcenter.registry import ENGINE
from callcenter.web.access import declared_roles
from callcenter.web.app import create_app
from tests.test_access_table import ROLES, TABLE, Row, _cookie_for, route_keys

CHANGING = ("POST", "PUT", "PATCH", "DELETE")
MISSING = "Mã bảo mật"  # "The security token of this form is missing or expired"
INVALID = "không hợp lệ"  # "... is not valid"


def _message(body: str) -> str:
    """The refusal's text: /api/ routes answer ``{"error": ...}``, pages answer text."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return str(parsed.get("error", body)) if isinstance(parsed, dict) else body


def _allowed_caller(row: Row, public: bool) -> str | None:
    """A caller the table lets through the access check (the CSRF check comes after it)."""
    if public:
        return "anonymous"  # e.g. the login form: its 401 is the handler's, not the access check's
    for who in ROLES:
        if row.expected(who) not in (401, 403):
            return who
    return None


def test_every_route_of_the_daemon_is_in_the_access_table(settings: Settings) -> None:
    """The access table's app is built with the tickets plugin only; the daemon runs more
    plugins. A route added by any of them without a table row fails here."""
    app = create_app(settings, extra_plugins=PLUGINS)  # built, never started
    try:
        listed = {(row.method, row.path) for row in TABLE}
        missing = sorted(route_keys(app) - listed)
    finally:
        app[ENGINE].sync_engine.dispose()
    assert not missing, "daemon routes missing from tests/test_access_table.py: " + ", ".join(
        f"{method} {path}" for method, path in missing
    )


async def test_no_state_changing_route_works_without_the_sessions_token(
    app_client: TestClient,
) -> None:
    app = app_client.server.app
    users = app_client.users  # type: ignore[attr-defined]
    rows = {(row.method, row.path): row for row in TABLE}
    public = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method in CHANGING
        and route.resource is not None
        and declared_roles(route.handler) is None
    }
    changing = sorted(key for key in route_keys(app) if key[0] in CHANGING)
    assert len(changing) >= 20, "the router enumeration found too few routes"
    unchecked: list[str] = []
    wrong: list[str] = []
    for method, path in changing:
        row = rows.get((method, path))
        who = _allowed_caller(row, (method, path) in public) if row is not None else None
        if row is None or who is None:
            unchecked.append(f"{method} {path}")
            continue
        cookie, token = await _cookie_for(app_client, users.get(who))
        app_client.session.cookie_jar.clear()
        app_client.session.cookie_jar.update_cookies(
            {COOKIE_NAME: cookie}, app_client.make_url("/")
        )
        attempts = {
            "empty form": ({"data": {}}, MISSING),
            "form with another token": ({"data": {"csrf_token": "x" + token}}, INVALID),
            "JSON without header": ({"json": {"id": 1}}, MISSING),
            "JSON with a forged header": (
                {"json": {}, "headers": {"X-CSRF-Token": token[::-1]}},
                INVALID,
            ),
        }
        for label, (kwargs, words) in attempts.items():
            response = await app_client.request(method, row.url, allow_redirects=False, **kwargs)
            body = _message(await response.text())
            if response.status != 403 or words not in body:
                wrong.append(f"{method} {row.url} as {who}, {label}: {response.status} {body[:80]}")
    assert not unchecked, "no caller may use these routes, CSRF unchecked: " + ", ".join(unchecked)
    assert not wrong, "\n".join(wrong)
