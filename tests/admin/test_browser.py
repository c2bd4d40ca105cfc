"""The admin console in a real browser: headless Chromium (Playwright) against a real server.

An admin logs in, creates an agent with a phone, puts them in a hotline group
and logs out; the agent logs in; the admin's audit log shows both. The admin
console's overview is saved as ``test-artifacts/screenshots/admin.png``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.repos import routing
from callcenter.db.repos.routing import GroupInput, HotlineInput, OpeningInterval
from callcenter.registry import SESSIONMAKER
from callcenter.seed import seed_reference_data
from callcenter.web.app import create_app
from tests.auth_helpers import make_user
from tests.browser import chromium

pytestmark = pytest.mark.browser

#: Test output goes to the ignored ``test-artifacts/``; copy it to ``docs/screenshots/``
#: by hand to refresh the documentation (a test run leaves the checkout clean).
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "admin.png"
ADMIN, ADMIN_PASSWORD = "quan.tri", "Tong-dai-Quan-tri-7391"
AGENT, AGENT_PASSWORD = "hoa.nguyen", "Hoa-tong-dai-2026"


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """The real application on a free loopback port, with reference data and one group."""
    settings = settings.model_copy(update={"prompts_dir": tmp_path / "prompts"})
    await migrate.upgrade_async(settings.database.url)
    # A fixed Monday 10:00 in Hà Nội: the hotline is open and the screenshot is reproducible.
    app = create_app(settings, clock=ManualClock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC)))
    async with app[SESSIONMAKER]() as session:
        await seed_reference_data(session)
        sales = await routing.save_group(session, GroupInput(code="sales", name="Kinh doanh"))
        await routing.save_group(session, GroupInput(code="service", name="Dịch vụ"))
        await routing.save_hotline(session, HotlineInput("19001234", "CSKH", sales.id))
        await routing.set_business_hours(
            session, None, [OpeningInterval(d, time(7, 30), time(17, 30)) for d in range(6)]
        )
        await session.commit()
    await make_user(app, ADMIN, "admin", ADMIN_PASSWORD, full_name="Quản trị viên")
    await make_user(app, "minh.tran", "agent", full_name="Trần Văn Minh", interface="PJSIP/102")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def test_admin_creates_an_agent_who_can_log_in_and_the_audit_shows_it(
    server: str,
) -> None:
    from playwright.async_api import expect

    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page.set_default_timeout(10_000)

        async def log_in(username: str, password: str) -> None:
            await page.goto(f"{server}/login")
            await page.fill("#username", username)
            await page.fill("#password", password)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_load_state()

        # The admin logs in and lands on the console, in Vietnamese.
        await log_in(ADMIN, ADMIN_PASSWORD)
        assert page.url.endswith("/admin")
        await expect(page.locator("h1")).to_have_text("Quản trị")

        # A mistyped phone is refused with a clear message and nothing typed is lost.
        await page.click("a[href='/admin/users']")
        await page.fill("#f-username", AGENT)
        await page.fill("#f-full_name", "Nguyễn Thị Hoa")
        await page.fill("#f-password", AGENT_PASSWORD)
        await page.select_option("#f-role", "agent")
        await page.fill("#f-interface", "101")
        await page.click("#user-form button[type=submit]")
        await expect(page.locator(".error-box")).to_contain_text(
            "không phải chuỗi gọi Asterisk hợp lệ"
        )
        await expect(page.locator("#f-full_name")).to_have_value("Nguyễn Thị Hoa")

        # Corrected: the agent is created with their phone.
        await page.fill("#f-password", AGENT_PASSWORD)
        await page.fill("#f-interface", "PJSIP/105")
        await page.click("#user-form button[type=submit]")
        await expect(page.locator(".notice")).to_have_text("Đã tạo.")
        row = page.locator("#users-table tr", has_text=AGENT)
        await expect(row).to_contain_text("PJSIP/105")

        # Assign them to the "Kinh doanh" group from the group's page.
        await page.click("a[href='/admin/groups']")
        await page.locator("tr", has_text="Kinh doanh").get_by_role("link").click()
        await page.select_option("#f-add", label="Nguyễn Thị Hoa (hoa.nguyen, PJSIP/105)")
        await page.click("#members-form button[type=submit]")
        await expect(page.locator(".notice")).to_contain_text("Đã lưu")
        await expect(page.locator("#members-form tbody")).to_contain_text("Nguyễn Thị Hoa")
        # A second member, then the ↑ button puts them first (admin.js renumbers).
        await page.select_option("#f-add", label="Trần Văn Minh (minh.tran, PJSIP/102)")
        await page.click("#members-form button[type=submit]")
        rows = page.locator("#members-form tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(1)).to_contain_text("Trần Văn Minh")
        await rows.nth(1).locator("button.up").click()
        await page.click("#members-form button[type=submit]")
        await expect(rows.nth(0)).to_contain_text("Trần Văn Minh")
        await expect(rows.nth(1)).to_contain_text("Nguyễn Thị Hoa")

        # Deleting asks first: "cancel" keeps the group, "OK" deletes it.
        await page.click("a[href='/admin/groups']")
        await page.locator("tr", has_text="Dịch vụ").get_by_role("link").click()
        page.once("dialog", lambda dialog: dialog.dismiss())
        await page.click(".danger-zone button")
        await expect(page.locator("h1")).to_have_text("group:service")
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click(".danger-zone button")
        await expect(page.locator(".notice")).to_have_text("Đã xóa.")
        await expect(page.locator("table.list")).not_to_contain_text("Dịch vụ")

        await page.click("a[href='/admin/users']")
        await expect(page.locator("#users-table tr", has_text=AGENT)).to_contain_text("sales")

        # The overview, for the documentation.
        await page.click("a[href='/admin']")
        await expect(page.locator(".tiles")).to_contain_text("19001234")
        await expect(page.locator(".tiles .ok")).to_have_text("Đang mở")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        # Log out; the agent logs in with the password the admin set.
        await page.click("form.logout button")
        await page.wait_for_url("**/login")
        await log_in(AGENT, AGENT_PASSWORD)
        assert "/login" not in page.url, await page.content()
        await page.click("form.logout button")
        await page.wait_for_url("**/login")

        # Back as admin: the audit log shows the creation and the agent's login.
        await log_in(ADMIN, ADMIN_PASSWORD)
        await page.goto(f"{server}/admin/audit")
        created = page.locator("tr[data-action='user.create']")
        await expect(created).to_contain_text(f"user:{AGENT}")
        await expect(created).to_contain_text(ADMIN)
        agent_login = page.locator("tr[data-action='login.success']", has_text=AGENT)
        await expect(agent_login).to_have_count(1)
        group_change = page.locator("tr[data-action='config.change']", has_text="group:sales")
        await expect(group_change).to_have_count(3)  # add, add, reorder
        deleted = page.locator("tr[data-action='delete']", has_text="group:service")
        await expect(deleted).to_have_count(1)
    assert SCREENSHOT.stat().st_size > 10_000
