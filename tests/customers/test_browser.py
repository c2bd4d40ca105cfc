"""A supervisor imports a messy Excel file in a real browser (headless Chromium, Playwright).

Upload (customers.js sends it with the CSRF header and a progress bar), the
preview with counts and reasons, "Import now", the progress bar until the end,
then the customer search and the fleet customer's page. The preview is saved as
``test-artifacts/screenshots/customers-import.png``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.web.app import create_app
from tests.auth_helpers import make_user
from tests.customers.workbooks import messy_rows, write_workbook

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Test output goes to the ignored ``test-artifacts/``; copy it to ``docs/screenshots/``
#: by hand to refresh the documentation (a test run leaves the checkout clean).
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "customers-import.png"
)
SUPERVISOR, PASSWORD = "lan.giamsat", "Giam-sat-Tong-dai-2026"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} and CI=true: the browser tests must run in CI")
    pytest.skip(f"!!! SKIPPED: {reason}")


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    await migrate.upgrade_async(settings.database.url)
    app = create_app(settings)
    await make_user(app, SUPERVISOR, "supervisor", PASSWORD, full_name="Phạm Thị Lan")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def test_supervisor_imports_a_messy_workbook(server: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.async_api import async_playwright, expect

    workbook = write_workbook(tmp_path / "danh-sach-khach-hang.xlsx", messy_rows())
    not_excel = tmp_path / "bao-cao.xlsx"
    not_excel.write_text("Họ tên;SĐT", encoding="utf-8")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
            page.set_default_timeout(15_000)
            await page.goto(f"{server}/login")
            await page.fill("#username", SUPERVISOR)
            await page.fill("#password", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_load_state()

            await page.goto(f"{server}/customers/import")
            await expect(page.locator("h1")).to_have_text("Nhập khách hàng từ Excel")

            # A file that is not Excel: the message shows on the page, nothing else happens.
            await page.set_input_files("input[name=file]", str(not_excel))
            await page.click("#upload-form button[type=submit]")
            await expect(page.locator("#upload-error")).to_contain_text(
                "bao-cao.xlsx: đây không phải tệp Excel .xlsx"
            )
            assert page.url.endswith("/customers/import")

            # The real file: preview with counts and each bad row's reason.
            await page.set_input_files("input[name=file]", str(workbook))
            await page.click("#upload-form button[type=submit]")
            await expect(page.locator("#import-status")).to_contain_text(
                "chưa có dữ liệu nào được nhập", timeout=20_000
            )
            counts = page.locator("#import-counts")
            await expect(counts.locator("[data-count=new]")).to_have_text("6")
            await expect(counts.locator("[data-count=merged]")).to_have_text("2")
            await expect(counts.locator("[data-count=skipped]")).to_have_text("1")
            await expect(counts.locator("[data-count=rejected]")).to_have_text("1")
            await expect(counts.locator("[data-count=partial]")).to_have_text("3")
            rejects = page.locator("table.rejects")
            await expect(rejects).to_contain_text("31/02/2024 không phải ngày hợp lệ")
            await expect(rejects).to_contain_text("đã thuộc về khách hàng khác")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)

            # Confirm: the progress bar runs, then the result replaces it.
            await page.click("#confirm-import")
            await expect(page.locator("#import-status")).to_contain_text(
                "Đã nhập xong", timeout=20_000
            )
            await expect(page.locator("#import-counts [data-count=new]")).to_have_text("6")

            # The imported fleet customer, found without accents.
            await page.goto(f"{server}/customers")
            await page.fill("input[name=q]", "nguyen van an")
            await page.click("form.search button[type=submit]")
            await page.click("table.customers a:has-text('Nguyễn Văn An')")
            await expect(page.locator("h1")).to_contain_text("Đội xe")
            await expect(page.locator("#vehicles tbody tr")).to_have_count(3)
            await expect(page.locator(".customer-details")).to_contain_text("0977 333 444")
        finally:
            await browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
