"""Opportunity stages in a real browser (headless Chromium), on both databases: Lan moves her
converted lead from new to quoted on /outbound/opportunities and the row follows (stage,
next choices, history) without a reload; the supervisor closes it as won meanwhile, so
Lan's stale choice is refused in words on her page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callcenter.registry import SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium
from tests.outbound.conftest import WebDaemon
from tests.outbound.test_opportunity_stages import converted_lead

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


async def test_agent_moves_a_stage_on_the_opportunities_page(
    daemon: WebDaemon, backend: str
) -> None:
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    await make_user(factory, "lan", "agent", full_name="Trần Thị Lan")
    await make_user(factory, "sup", "supervisor", full_name="Phạm Giám Sát")
    sup, agent = AgentClient(daemon.base_url), AgentClient(daemon.base_url)
    try:
        await sup.login("sup")
        await agent.login("lan")
        opportunity = await converted_lead(daemon, sup, agent)
        async with chromium() as browser:
            from playwright.async_api import expect

            context = await browser.new_context(
                viewport={"width": 1366, "height": 900}, locale="vi-VN"
            )
            page: Any = await context.new_page()
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{daemon.base_url}/login?next=/agent")
            await page.fill("#username", "lan")
            await page.fill("#password", DEFAULT_PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url("**/agent")
            await page.click("#nav-opportunities")
            await page.wait_for_url("**/outbound/opportunities")

            row = page.locator(f"#opportunity-{opportunity}")
            await expect(row.locator(".stage")).to_have_text("Cơ hội mới")
            await row.locator("select[name=stage]").select_option(label="Đã báo giá")
            await row.locator("button[type=submit]").click()
            await expect(row.locator(".stage")).to_have_text("Đã báo giá")
            await expect(row.locator(".stage-history li")).to_have_count(1)
            await expect(row.locator(".stage-history li")).to_contain_text(
                "Trần Thị Lan: Cơ hội mới → Đã báo giá"
            )
            options = row.locator("select[name=stage] option")
            await expect(options).to_have_text(["Đang đàm phán", "Thành công", "Thất bại"])

            # Meanwhile the supervisor closes it as won: Lan's stale choice is refused.
            status, body = await sup.post(
                f"/api/outbound/opportunities/{opportunity}/stage", {"stage": "won"}
            )
            assert status == 200, body
            await row.locator("select[name=stage]").select_option(label="Đang đàm phán")
            await row.locator("button[type=submit]").click()
            await expect(row.locator(".stage-result")).to_have_text(
                "Cơ hội đã kết thúc (Thành công): không thể đổi giai đoạn nữa."
            )
            await page.reload()
            await expect(row.locator(".stage")).to_have_text("Thành công")
            await expect(row.locator(".stage-form")).to_be_hidden()
            await expect(row.locator(".stage-closed")).to_have_text("Đã kết thúc")
            await expect(row.locator(".stage-history li")).to_have_count(2)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(
                path=str(ARTIFACTS / f"outbound-opportunities-{backend}.png"), full_page=True
            )
            assert errors == []
    finally:
        await sup.close()
        await agent.close()
