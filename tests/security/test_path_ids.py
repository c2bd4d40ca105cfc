"""A numeric id in a URL beyond any row id is a translated 404, never a database overflow."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from callcenter.auth.sessions import COOKIE_NAME
from tests.test_access_table import _cookie_for

HUGE = "99999999999999999999999"  # over SQLite's and PostgreSQL's integers
OVER_INT32 = "2147483648"  # PostgreSQL's INTEGER ids end at 2**31 - 1


@pytest.mark.parametrize(
    ("role", "method", "path", "api"),
    [
        ("supervisor", "GET", "/customers/{id}", False),
        ("supervisor", "GET", "/customers/import/{id}", False),
        ("supervisor", "GET", "/api/customers/imports/{id}", True),
        ("admin", "GET", "/recordings/{id}", False),
        ("agent", "GET", "/api/agent/tasks/{id}", True),
        ("agent", "POST", "/api/agent/tasks/{id}/outcome", True),
        ("supervisor", "POST", "/api/tickets/notifications/{id}/retry", True),
        ("admin", "GET", "/tickets/TK-2026-000001/files/{id}", False),
    ],
)
@pytest.mark.parametrize("number", [HUGE, OVER_INT32])
async def test_an_id_beyond_any_row_is_not_found(
    app_client: TestClient, role: str, method: str, path: str, api: bool, number: str
) -> None:
    cookie, token = await _cookie_for(app_client, app_client.users[role])  # type: ignore[attr-defined]
    app_client.session.cookie_jar.update_cookies({COOKIE_NAME: cookie}, app_client.make_url("/"))
    response = await app_client.request(
        method, path.format(id=number), json={}, headers={"X-CSRF-Token": token}
    )
    assert response.status == 404
    if api:
        assert await response.json() == {"error": "Không có mục nào mang số này."}
    else:
        assert "Không có mục nào mang số này." in await response.text()
