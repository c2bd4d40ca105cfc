"""Login, logout and the session cookie, driven through the real pages like a browser."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from callcenter.auth.sessions import COOKIE_NAME, SessionCodec, logged_in, peek_csrf
from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.db.models import AuditEntry, User
from callcenter.db.repos.users import set_password, set_role
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.web.app import create_app
from callcenter.web.auth import safe_next
from tests.auth_helpers import (
    DEFAULT_PASSWORD,
    csrf_from_html,
    csrf_headers,
    login,
    make_user,
    session_cookie,
)


def set_cookie_header(response: Any) -> str:
    headers = [h for h in response.headers.getall("Set-Cookie", []) if h.startswith(COOKIE_NAME)]
    assert headers, "no session cookie was set"
    return headers[-1]


def replace_cookie(client: TestClient, value: str) -> None:
    """Make the client hold exactly this session cookie (as a stolen or edited one would be)."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE_NAME: value}, client.make_url("/"))


async def post_login(
    client: TestClient, username: str, password: str, **extra: str
) -> tuple[int, str, str]:
    page = await client.get("/login")
    token = csrf_from_html(await page.text())
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, **extra},
        allow_redirects=False,
    )
    return response.status, response.headers.get("Location", ""), await response.text()


async def whoami(client: TestClient) -> tuple[int, str]:
    """Status and Location of a protected page: 200 if logged in as admin, 302 if anonymous."""
    response = await client.get("/admin/audit", allow_redirects=False)
    return response.status, response.headers.get("Location", "")


async def test_login_page_is_vietnamese_with_a_secure_cookie(client: TestClient) -> None:
    response = await client.get("/login")
    assert response.status == 200
    html = await response.text()
    assert "Đăng nhập" in html and "Tên đăng nhập" in html and "Mật khẩu" in html
    assert csrf_from_html(html)
    cookie = set_cookie_header(response).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie.replace("samesite", "")


async def test_cookie_is_secure_behind_https(
    aiohttp_client: Any, migrated_settings: Settings
) -> None:
    settings = migrated_settings
    https = settings.model_copy(
        update={"http": settings.http.model_copy(update={"behind_https": True})}
    )
    client = await aiohttp_client(create_app(https))
    cookie = set_cookie_header(await client.get("/login")).lower()
    assert "; secure" in cookie and "httponly" in cookie


@pytest.mark.parametrize(
    ("role", "home", "link"),
    [
        ("agent", "/agent", "Trang điện thoại viên"),
        ("supervisor", "/supervisor", "Bảng giám sát"),  # the wallboard (issue 15)
        ("admin", "/admin", "Quản trị"),
        ("department", "/tickets/inbox", "Hộp việc"),  # the department inbox (issue 13)
    ],
)
async def test_login_redirects_by_role_and_home_shows_role_links(
    client: TestClient, role: str, home: str, link: str
) -> None:
    await make_user(client, "nguoi.dung", role, full_name="Nguyễn Văn A")
    status, location, _ = await post_login(client, "Nguoi.Dung", DEFAULT_PASSWORD)
    assert (status, location) == (302, home)
    html = await (await client.get("/")).text()
    assert link in html and "Nguyễn Văn A" in html and "Đăng xuất" in html
    # Links a role must not be offered (supervisors may take calls on the agent page).
    never = {
        "agent": {"Nhập dữ liệu", "Quản trị"},
        "supervisor": {"Quản trị"},
        "department": {"Trang điện thoại viên", "Nhập dữ liệu", "Quản trị"},
        "admin": set(),
    }[role]
    assert not any(other in html for other in never)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("/admin/audit?action=logout", "/admin/audit?action=logout"),
        ("//evil.example/x", "/admin"),
        ("https://evil.example/", "/admin"),
        ("/\\evil.example", "/admin"),
        ("/login", "/admin"),
        ("javascript:alert(1)", "/admin"),
    ],
)
async def test_next_is_followed_only_within_the_site(
    client: TestClient, asked: str, expected: str
) -> None:
    await make_user(client, "quan.tri", "admin")
    status, location, _ = await post_login(client, "quan.tri", DEFAULT_PASSWORD, next=asked)
    assert (status, location) == (302, expected)


def test_safe_next_rules() -> None:
    assert safe_next("/agent") == "/agent"
    for bad in (None, "", "agent", "//x", "/\\x", "http://x/", "/a\nb", "/logout"):
        assert safe_next(bad) is None


async def test_protected_page_sends_anonymous_to_login_and_back(client: TestClient) -> None:
    await make_user(client, "quan.tri", "admin")
    response = await client.get("/admin/audit", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")
    page = await client.get(response.headers["Location"])
    html = await page.text()
    assert 'name="next" value="/admin/audit"' in html
    response = await client.post(
        "/login",
        data={
            "username": "quan.tri",
            "password": DEFAULT_PASSWORD,
            "next": "/admin/audit",
            "csrf_token": csrf_from_html(html),
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/admin/audit"
    assert await whoami(client) == (200, "")


async def test_wrong_password_and_unknown_user_get_the_same_generic_message(
    client: TestClient,
) -> None:
    await make_user(client, "an.nguyen", "agent")
    wrong = await post_login(client, "an.nguyen", "Sai-mật-khẩu-000")
    unknown = await post_login(client, "khong.ai", "Sai-mật-khẩu-000")
    empty = await post_login(client, "", "")
    for status, location, html in (wrong, unknown, empty):
        assert status == 401 and location == ""
        assert "Sai tên đăng nhập hoặc mật khẩu." in html
    # Same page for both (apart from the echoed username): nothing tells which names exist.
    assert wrong[2].replace("an.nguyen", "X") == unknown[2].replace("khong.ai", "X").replace(
        csrf_from_html(unknown[2]), csrf_from_html(wrong[2])
    )
    assert (await whoami(client))[0] == 302


async def test_inactive_user_cannot_log_in(client: TestClient) -> None:
    await make_user(client, "nghi.viec", "agent", active=False)
    status, _, html = await post_login(client, "nghi.viec", DEFAULT_PASSWORD)
    assert status == 401 and "Sai tên đăng nhập hoặc mật khẩu." in html


async def test_tampered_cookie_is_anonymous_and_replaced(client: TestClient) -> None:
    await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    assert await whoami(client) == (200, "")
    good = session_cookie(client)
    payload, signature = good.split(".")
    # Flip the user id inside the payload but keep the old signature.
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["u"] = data["u"] + 1
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    for bad in (f"{forged}.{signature}", f"{payload}.{signature[:-2]}AA", "garbage", ""):
        replace_cookie(client, bad)
        status, location = await whoami(client)
        assert status == 302 and location.startswith("/login"), bad
    # A well-formed cookie for the same user, signed with another secret, is refused too.
    now = client.server.app[CLOCK].now()
    other = SessionCodec("y" * 40).dumps(logged_in(now, data["u"] - 1, 1))
    replace_cookie(client, other)
    assert (await whoami(client))[0] == 302
    replace_cookie(client, good)
    assert await whoami(client) == (200, "")


async def test_session_expires_after_its_lifetime(client: TestClient, clock: ManualClock) -> None:
    await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    await clock.advance(11 * 3600)
    assert await whoami(client) == (200, "")
    await clock.advance(2 * 3600)  # 13 h after login: past the 12 h lifetime
    status, location = await whoami(client)
    assert status == 302 and location.startswith("/login")


@pytest.mark.parametrize("change", ["password", "role"])
async def test_password_or_role_change_ends_existing_sessions(
    client: TestClient, change: str
) -> None:
    created = await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    assert await whoami(client) == (200, "")
    async with client.server.app[SESSIONMAKER]() as session:
        user = await session.get(User, created.id)
        assert user is not None
        if change == "password":
            await set_password(session, user, "Mật-khẩu-mới-tinh-789")
        else:
            await set_role(session, user, "supervisor")
            await set_role(session, user, "admin")
        await session.commit()
    status, location = await whoami(client)
    assert status == 302 and location.startswith("/login")


async def test_logout_ends_the_session_even_for_a_copied_cookie(client: TestClient) -> None:
    await make_user(client, "quan.tri", "admin")
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    copied = session_cookie(client)
    response = await client.post("/logout", headers=csrf_headers(client), allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")
    assert (await whoami(client))[0] == 302
    replace_cookie(client, copied)
    assert (await whoami(client))[0] == 302
    async with client.server.app[SESSIONMAKER]() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert actions == ["login.success", "logout"]


async def test_login_rotates_the_csrf_token(client: TestClient) -> None:
    await make_user(client, "quan.tri", "admin")
    await client.get("/login")
    before = peek_csrf(session_cookie(client))
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    assert peek_csrf(session_cookie(client)) != before


async def test_generated_secret_survives_a_restart(
    aiohttp_client: Any, migrated_settings: Settings
) -> None:
    settings = migrated_settings
    unset = settings.model_copy(update={"session_secret": SecretStr("")})
    first = await aiohttp_client(create_app(unset))
    await make_user(first, "quan.tri", "admin")
    await login(first, "quan.tri", DEFAULT_PASSWORD)
    cookie = session_cookie(first)
    second = await aiohttp_client(create_app(unset))  # a restarted daemon, same database
    replace_cookie(second, cookie)
    assert await whoami(second) == (200, "")


async def test_login_upgrades_an_old_hash_and_notes_the_time(
    client: TestClient, clock: ManualClock
) -> None:
    from argon2 import PasswordHasher

    created = await make_user(client, "cu.qua", "agent")
    async with client.server.app[SESSIONMAKER]() as session:
        user = await session.get(User, created.id)
        assert user is not None
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(DEFAULT_PASSWORD)
        await session.commit()
    await login(client, "cu.qua", DEFAULT_PASSWORD)
    async with client.server.app[SESSIONMAKER]() as session:
        user = await session.get(User, created.id)
        assert user is not None
        assert "m=19456,t=2,p=1" in user.password_hash
        assert user.last_login_at == clock.now()


async def test_next_keeps_the_whole_query_string(client: TestClient) -> None:
    await make_user(client, "quan.tri", "admin")
    asked = "/admin/audit?user=an&action=logout"
    response = await client.get(asked, allow_redirects=False)
    page = await client.get(response.headers["Location"])
    html = await page.text()
    assert 'name="next" value="/admin/audit?user=an&amp;action=logout"' in html
    status, location, _ = await post_login(client, "quan.tri", DEFAULT_PASSWORD, next=asked)
    assert (status, location) == (302, asked)


async def test_a_websocket_can_check_that_its_session_is_still_current(
    aiohttp_client: Any, migrated_settings: Settings, clock: ManualClock
) -> None:
    from aiohttp import web

    from callcenter.core.roles import Role
    from callcenter.web.access import allow
    from callcenter.web.auth import session_is_current

    def plugin(app: web.Application) -> None:
        @allow(Role.AGENT)
        async def socket(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for _ in ws:
                await ws.send_str("yes" if await session_is_current(request) else "no")
            return ws

        app.router.add_get("/api/probe/ws", socket)

    client = await aiohttp_client(
        create_app(migrated_settings, clock=clock, extra_plugins=[plugin])
    )
    created = await make_user(client, "an", "agent")
    await login(client, "an", DEFAULT_PASSWORD)
    ws = await client.ws_connect("/api/probe/ws")
    await ws.send_str("?")
    assert await ws.receive_str() == "yes"
    async with client.server.app[SESSIONMAKER]() as session:
        user = await session.get(User, created.id)
        assert user is not None
        await set_role(session, user, "supervisor")
        await session.commit()
    await ws.send_str("?")
    assert await ws.receive_str() == "no"
    await ws.close()
