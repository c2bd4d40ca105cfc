"""The wallboard in a real browser (headless Chromium), driven by the simulator.

A supervisor logs in and lands on the wallboard. A call arrives, rings Lan, is answered
and ends: the board follows each step without a reload (the caller's HTML-looking name
shows as text and runs nothing). The supervisor barges in from the board; the admin's
audit log shows it, translated. An agent gets 403 on the wallboard and on listening in.
The full-screen mode enlarges the type.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium
from tests.conftest import MigratedTemplates
from tests.supervisor.stack import SUPERVISOR_PHONE, SupervisorStack, build_supervisor_stack

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def stack(
    tmp_path: Path, migrated_templates: MigratedTemplates
) -> AsyncIterator[SupervisorStack]:
    stack = await build_supervisor_stack(tmp_path, migrated_templates)
    await stack.start_daemon()
    yield stack
    await stack.close()


async def test_wallboard_live_listen_in_audit_and_agents_refused(stack: SupervisorStack) -> None:
    assert stack.app is not None
    await make_user(stack.app, "quantri", "admin", full_name="Quản Trị")
    lan_id = stack.agents["lan"]
    lan = AgentClient(stack.base_url)
    dialogs: list[str] = []
    async with chromium() as browser:
        from playwright.async_api import expect

        async def logged_in(username: str, lands: str) -> Any:
            context = await browser.new_context(
                viewport={"width": 1600, "height": 1000}, locale="vi-VN"
            )
            page = await context.new_page()
            page.set_default_timeout(10_000)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            await page.goto(f"{stack.base_url}/login")
            await page.fill("#username", username)
            await page.fill("#password", DEFAULT_PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(f"**{lands}")
            return page

        try:
            board = await logged_in("tuan", "/supervisor")
            await expect(board.locator("h1")).to_contain_text("Bảng giám sát")
            await board.evaluate("window.noReload = true")
            lan_row = board.locator(f"#agent-rows tr[data-agent-id='{lan_id}']")
            await expect(lan_row).to_have_attribute("data-state", "logged_out")
            await expect(lan_row).to_contain_text("Chưa đăng nhập hàng đợi")

            await lan.login("lan")
            await lan.connect()
            status, body = await lan.post("/api/agent/state", {"action": "available"})
            assert status == 200, body
            await expect(lan_row).to_have_attribute("data-state", "available")
            await expect(lan_row).to_contain_text("Sẵn sàng")

            # A call arrives, rings, is answered: the row and the tiles follow.
            await stack.call("0912345678", XSS)
            phone = await stack.wait_ringing("PJSIP/101")
            await expect(lan_row).to_have_attribute("data-state", "ringing")
            await expect(board.locator("#kpi-offered")).to_have_text("1")
            stack.answer(phone)
            await expect(lan_row).to_have_attribute("data-state", "on_call")
            await expect(lan_row.locator(".caller")).to_contain_text("+84912345678")
            await expect(lan_row.locator(".caller-name")).to_have_text(" " + XSS)
            await asyncio.sleep(0.3)

            # Barge in from the board: the supervisor's phone rings into ChanSpy.
            await lan_row.locator("button.listen-barge").click()
            await expect(board.locator("#wb-notice")).to_contain_text(SUPERVISOR_PHONE)
            for _ in range(100):
                spies = [c for c in stack.pbx.channels.values() if "spy" in c.extra]
                if spies:
                    break
                await asyncio.sleep(0.05)
            assert spies and spies[0].extra["spy"]["target"] == phone.name

            # The call ends: wrap-up, answered 1, no reload happened.
            stack.hang_up(phone)
            await expect(lan_row).to_have_attribute("data-state", "wrapup")
            await expect(board.locator("#kpi-answered")).to_have_text("1")
            await expect(board.locator("#kpi-sl")).to_have_text("100.0 %")
            assert await board.evaluate("window.noReload === true")
            assert await board.evaluate("window.wallboardUpdates") >= 4

            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            await board.screenshot(path=str(SCREENSHOT_DIR / "wallboard.png"))
            # Full screen for the wall: chrome hidden, large type.
            small = await board.locator("#kpi-answered").evaluate(
                "el => parseFloat(getComputedStyle(el).fontSize)"
            )
            await board.click("#wb-fullscreen")
            await expect(board.locator("body")).to_have_class("wallboard-full")
            large = await board.locator("#kpi-answered").evaluate(
                "el => parseFloat(getComputedStyle(el).fontSize)"
            )
            assert large > small * 1.5
            await expect(board.locator(".topbar")).to_be_hidden()
            await board.screenshot(path=str(SCREENSHOT_DIR / "wallboard-fullscreen.png"))

            # The admin's audit log shows the barge-in, translated.
            admin = await logged_in("quantri", "/admin")
            await admin.goto(f"{stack.base_url}/admin/audit?action=call.barge")
            row = admin.locator("tr[data-action='call.barge']")
            await expect(row).to_have_count(1)
            await expect(row).to_contain_text("Tham gia vào cuộc gọi")
            await expect(row).to_contain_text("tuan")

            # An agent: 403 on the wallboard and on listening in.
            agent = await logged_in("minh", "/agent")
            token = await agent.evaluate("document.querySelector('meta[name=csrf-token]').content")
            response = await agent.goto(f"{stack.base_url}/supervisor")
            assert response is not None and response.status == 403
            refused = await agent.request.post(
                f"{stack.base_url}/api/supervisor/listen",
                data={"agent_id": lan_id, "mode": "listen"},
                headers={"X-CSRF-Token": token},
            )
            assert refused.status == 403
            assert not dialogs  # the caller's name ran nothing
        finally:
            await lan.close()
