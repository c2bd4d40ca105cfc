"""CSRF protection: every state-changing request needs the session's token; websockets need our Origin."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.core.roles import Role
from callcenter.web.access import allow
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html, csrf_headers, login, make_user

CHANGES: list[str] = []


def probe_routes(app: web.Application) -> None:
    """A JSON endpoint that records each change, and a websocket, for admins."""

    @allow(Role.ADMIN)
    async def change(request: web.Request) -> web.Response:
        CHANGES.append(request.method)
        return web.json_response({"ok": True})

    @allow(Role.ADMIN)
    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("hello")
        await ws.close()
        return ws

    for method in ("POST", "PUT", "PATCH", "DELETE"):
        app.router.add_route(method, "/api/probe", change)
    app.router.add_get("/api/probe/ws", socket)


@pytest.fixture
async def admin(aiohttp_client: Any, migrated_settings: Settings, clock: ManualClock) -> TestClient:
    CHANGES.clear()
    client = await aiohttp_client(
        create_app(migrated_settings, clock=clock, extra_plugins=[probe_routes])
    )
    await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    return client


async def logged_in(client: TestClient) -> bool:
    return (await client.get("/admin/audit", allow_redirects=False)).status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_json_change_needs_the_header(admin: TestClient, method: str) -> None:
    missing = await admin.request(method, "/api/probe", json={"x": 1})
    assert missing.status == 403
    assert "Mã bảo mật" in (await missing.json())["error"]
    forged = await admin.request(
        method, "/api/probe", json={"x": 1}, headers={"X-CSRF-Token": "forged-token"}
    )
    assert forged.status == 403 and "không hợp lệ" in (await forged.json())["error"]
    assert CHANGES == []
    good = await admin.request(method, "/api/probe", json={"x": 1}, headers=csrf_headers(admin))
    assert good.status == 200
    assert [method] == CHANGES


async def test_token_of_another_session_is_refused(admin: TestClient, aiohttp_client: Any) -> None:
    other = await aiohttp_client(admin.server)
    await other.get("/login")
    stolen_elsewhere = csrf_headers(other)
    response = await admin.post("/api/probe", json={}, headers=stolen_elsewhere)
    assert response.status == 403 and CHANGES == []


async def test_logout_form_without_or_with_forged_token_changes_nothing(admin: TestClient) -> None:
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = await admin.post("/logout", data=data, allow_redirects=False)
        assert response.status == 403, data
        text = await response.text()
        assert "Mã bảo mật" in text and "Hãy tải lại trang" in text
        assert await logged_in(admin)
    page = await admin.get("/")
    response = await admin.post(
        "/logout", data={"csrf_token": csrf_from_html(await page.text())}, allow_redirects=False
    )
    assert response.status == 302 and not await logged_in(admin)


async def test_login_form_needs_the_token(client: TestClient) -> None:
    await make_user(client, "quan.tri", "admin")
    for data in ({}, {"csrf_token": "forged"}):
        response = await client.post(
            "/login",
            data={"username": "quan.tri", "password": DEFAULT_PASSWORD, **data},
            allow_redirects=False,
        )
        assert response.status == 403
    assert not await logged_in(client)


async def test_anonymous_change_is_refused_before_csrf(
    admin: TestClient, aiohttp_client: Any
) -> None:
    # Access is decided first: an anonymous caller learns only that a login is needed.
    anonymous = await aiohttp_client(admin.server)
    response = await anonymous.post("/api/probe", json={})
    assert response.status == 401 and CHANGES == []


async def test_websocket_refuses_a_foreign_origin(admin: TestClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await admin.ws_connect("/api/probe/ws", headers={"Origin": "https://evil.example"})
    assert caught.value.status == 403
    origin = f"http://{admin.host}:{admin.port}"
    ws = await admin.ws_connect("/api/probe/ws", headers={"Origin": origin})
    assert (await ws.receive_str()) == "hello"
    await ws.close()


async def test_websocket_needs_a_login(admin: TestClient, aiohttp_client: Any) -> None:
    anonymous = await aiohttp_client(admin.server)
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await anonymous.ws_connect("/api/probe/ws")
    assert caught.value.status == 401
