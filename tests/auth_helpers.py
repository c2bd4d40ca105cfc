"""Log in like a browser and make users: shared by every area's web tests.

``login`` drives the real form (GET /login, read the hidden CSRF field, POST,
expect a redirect); ``csrf_headers`` gives the header a script would send;
``make_user`` creates an account through the real repository (password rules
included) and commits it.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.auth.sessions import COOKIE_NAME, peek_csrf
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models.users import User
from callcenter.db.repos.users import create_user
from callcenter.registry import SESSIONMAKER

DEFAULT_PASSWORD = "Mật-khẩu-đủ-mạnh-123"

_CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def csrf_from_html(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


async def login(client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> None:
    """Log in through the real login form; fails the test if the login is refused."""
    page = await client.get("/login")
    assert page.status == 200, f"GET /login answered {page.status}"
    token = csrf_from_html(await page.text())
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    location = response.headers.get("Location", "")
    assert response.status == 302 and not location.startswith("/login"), (
        f"login as {username!r} failed: {response.status} {await response.text()}"
    )


def session_cookie(client: TestClient) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == COOKIE_NAME:
            return cookie.value
    raise AssertionError("the client has no session cookie (GET a page or log in first)")


def csrf_headers(client: TestClient) -> dict[str, str]:
    """Headers for a JSON POST/PUT/PATCH/DELETE from this client's session."""
    return {"X-CSRF-Token": peek_csrf(session_cookie(client))}


async def make_user(
    target: async_sessionmaker[Any] | str | web.Application | TestClient,
    username: str,
    role: str,
    password: str = DEFAULT_PASSWORD,
    **fields: Any,
) -> User:
    """Create and commit a user; ``target`` is a session factory, a database URL, an app or a client."""
    if isinstance(target, TestClient):
        target = target.server.app  # type: ignore[union-attr]
    if isinstance(target, web.Application):
        target = target[SESSIONMAKER]
    if isinstance(target, str):
        engine = make_engine(target)
        try:
            return await make_user(sessionmaker(engine), username, role, password, **fields)
        finally:
            await engine.dispose()
    async with target() as session:
        user = await create_user(session, username=username, password=password, role=role, **fields)
        await session.commit()
        return user
