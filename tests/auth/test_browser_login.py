"""Login in a real browser (headless Chromium): the form, its messages, the cookie, a CSRF attack.

A second server on another port plays the attacker's page: it auto-submits a
form to our /logout. The browser sends our cookie along (same host), but not
the token, so the request is refused and the user stays logged in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from callcenter.config import Settings
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium

pytestmark = pytest.mark.browser


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def servers(migrated_settings: Settings) -> AsyncIterator[tuple[str, str]]:
    app = create_app(migrated_settings)
    await make_user(app, "quan.tri", "admin", full_name="Quản trị viên")
    ours, base = await start(app)

    async def evil(request: web.Request) -> web.Response:
        page = (
            f'<form id="f" method="post" action="{base}/logout"></form>'
            "<script>document.getElementById('f').submit()</script>"
        )
        return web.Response(text=page, content_type="text/html")

    attacker = web.Application()
    attacker.router.add_get("/", evil)
    theirs, evil_base = await start(attacker)
    try:
        yield base, evil_base
    finally:
        await theirs.cleanup()
        await ours.cleanup()


async def test_login_logout_language_and_csrf_in_chromium(servers: tuple[str, str]) -> None:
    base, evil_base = servers
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{base}/admin/audit")
        assert page.url.startswith(f"{base}/login?next=")
        assert await page.locator("h1").inner_text() == "Đăng nhập"

        await page.fill("#username", "quan.tri")
        await page.fill("#password", "sai-mat-khau-roi")
        await page.click("button[type=submit] >> text=Đăng nhập")
        assert await page.locator("p.error").inner_text() == "Sai tên đăng nhập hoặc mật khẩu."

        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("button[type=submit] >> text=Đăng nhập")
        await page.wait_for_url(f"{base}/admin/audit")
        assert await page.locator("h1").inner_text() == "Nhật ký hệ thống"
        assert "Quản trị viên" in await page.locator(".user-name").inner_text()
        cookies = await context.cookies()
        session = next(c for c in cookies if c["name"] == "cc_session")
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        assert await page.evaluate("document.cookie") == ""  # scripts cannot read it

        # The attacker's page posts to /logout with our cookie but without the token.
        attack = await context.new_page()
        response_seen = []
        attack.on(
            "response",
            lambda r: response_seen.append(r.status) if r.url.endswith("/logout") else None,
        )
        await attack.goto(evil_base)
        await attack.wait_for_load_state("networkidle")
        assert response_seen == [403]
        await attack.close()
        await page.reload()
        assert await page.locator("h1").inner_text() == "Nhật ký hệ thống"  # still in

        await page.click("a.lang-switch")
        assert await page.locator("h1").inner_text() == "Audit log"
        await page.click("form.logout button")
        await page.wait_for_url(f"{base}/login")
        assert await page.locator("h1").inner_text() == "Log in"
        await page.goto(f"{base}/admin/audit")
        assert page.url.startswith(f"{base}/login?next=")
