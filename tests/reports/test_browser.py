"""The reports page in headless Chromium: a supervisor logs in, filters the scripted day,
sees the table and the SVG chart, downloads the Excel export, and the print view hides the
filters."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openpyxl import load_workbook

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.registry import SESSIONMAKER
from callcenter.reports.plugin import PLUGIN
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium
from tests.reports.day import NOW, build_day

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[str]:
    await migrate.upgrade_async(settings.database.url)
    app = create_app(settings, clock=ManualClock(NOW), extra_plugins=[PLUGIN])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with app[SESSIONMAKER]() as session:
        await build_day(session)
    await make_user(app, "chief", "supervisor", full_name="Chị Giám Sát")
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_reports_page_in_chromium(site: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        context = await browser.new_context(accept_downloads=True)
        page: Any = await context.new_page()
        await page.goto(f"{site}/login")
        await page.fill("#username", "chief")
        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.goto(f"{site}/reports/calls")
        await page.fill("input[name=from]", "23/11/2026")
        await page.fill("input[name=to]", "24/11/2026")
        await page.click("form.filters button[type=submit]")
        await page.wait_for_selector("#calls-table")
        assert "Báo cáo" in await page.inner_text("h1")  # Vietnamese first
        row = await page.inner_text("#calls-table tbody tr:nth-child(2)")
        assert row.split("\t")[:8] == ["24/11/2026", "9", "6", "2", "1", "50.0", "17.5", "120.8"]
        chart = page.locator("figure.chart svg")
        assert await chart.count() == 1
        box = await chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        assert await page.locator("figure.chart svg rect.rect").count() >= 4  # drawn bars
        await page.screenshot(path=str(ARTIFACTS / "reports-calls.png"), full_page=True)
        async with page.expect_download() as info:
            await page.click("a.export")
        download = await info.value
        data = await asyncio.to_thread(Path(await download.path()).read_bytes)
        book = load_workbook(io.BytesIO(data))
        assert [c.value for c in book.worksheets[0][3]][:7] == [
            "24/11/2026", 9, 6, 2, 1, 4, 50.0]  # fmt: skip
        await page.emulate_media(media="print")
        assert not await page.locator("form.filters").is_visible()
        assert await page.locator("#calls-table").is_visible()
        await page.emulate_media(media="screen")
        await page.goto(f"{site}/reports/agents?from=23/11/2026&to=24/11/2026")
        assert "A Lan" in await page.inner_text("#agents-table")
        await page.click("text=English")
        assert "Reports" in await page.inner_text("h1")
        await context.close()
