"""The agent page in a real browser (headless Chromium, Playwright), driven by the simulator.

Two agents log in. Lan sets herself available; a known customer calls the
hotline through the simulated Asterisk; the simulated phone does NOT answer
until the test has seen the screen-pop (name, vehicles, earlier tickets) in
Lan's page. Then Lan answers, categorizes, hangs up and saves; the call record
and the ticket are checked in the database. Minh's page never gets a pop. A
caller whose caller ID name is ``<img src=x onerror=alert(1)>`` shows as text
and runs nothing. The daemon is restarted in the middle of a call and the page
reconnects and shows the call again, without a reload; a page whose session ended
meanwhile goes to the login form instead of retrying forever, and so does a page
whose password is changed while it stays connected.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from callcenter.db.models import Call, CallWrapUp, Ticket, User
from callcenter.db.repos import users
from callcenter.registry import SESSIONMAKER
from callcenter.services.plugin import CALL_RECORDER
from callcenter.sim.channels import UP
from tests.agent.stack import Stack, build_stack
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.conftest import MigratedTemplates

pytestmark = pytest.mark.browser

#: Test output goes to the ignored ``test-artifacts/``; copy it to ``docs/screenshots/``
#: by hand to refresh the documentation (a test run leaves the checkout clean).
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "agent-screenpop.png"
)
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    await stack.start_daemon()
    yield stack
    await stack.close()


async def test_agent_page_pop_answer_save_xss_and_restart(stack: Stack) -> None:
    dialogs: list[str] = []
    async with chromium() as browser:
        from playwright.async_api import expect

        async def agent_page(username: str) -> Any:
            context = await browser.new_context(
                viewport={"width": 1366, "height": 1000}, locale="vi-VN"
            )
            page = await context.new_page()
            page.set_default_timeout(10_000)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            await page.goto(f"{stack.base_url}/login?next=/agent")
            await page.fill("#username", username)
            await page.fill("#password", DEFAULT_PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url("**/agent")
            await expect(page.locator("body")).to_have_attribute("data-online", "1")
            return page

        lan = await agent_page("lan")
        minh = await agent_page("minh")

        # Lan sets herself available (logging in at her configured phone).
        await lan.click("#btn-available")
        await expect(lan.locator("#state-label")).to_have_attribute("data-state", "available")
        await expect(lan.locator("#state-label")).to_have_text("Sẵn sàng")

        # A known customer calls; the phone rings and is NOT answered yet.
        await stack.call("0912345678", "NGUYEN VAN AN")
        phone = await stack.wait_ringing("PJSIP/101")
        await expect(lan.locator("#caller-title")).to_have_text("Nguyễn Văn An")
        await expect(lan.locator("#vehicles")).to_contain_text("Ollin 350")
        await expect(lan.locator("#vehicles")).to_contain_text("Auman C160")
        await expect(lan.locator("#open-tickets")).to_contain_text("Bảo hành: xe kêu to")
        await expect(lan.locator("#recent-tickets")).to_contain_text("Hỏi địa chỉ đại lý")
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "ringing")
        await expect(lan.locator("#caller-number")).to_have_text("0912 345 678")
        await expect(lan.locator("#quick-create")).to_be_hidden()  # a known customer
        assert phone.state != UP and not phone.hungup, "the pop came after the phone answered"
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await lan.screenshot(path=str(SCREENSHOT), full_page=True)

        # Lan answers on her phone; the page follows.
        stack.answer(phone)
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "talking")
        assert stack.world is not None
        await lan.fill("#wrapup textarea[name=notes]", "Xe không nổ máy, hẹn kiểm tra")
        await lan.select_option("#wrapup select[name=category_id]", str(stack.world.category_id))
        # The department follows the category (Bảo hành → Dịch vụ).
        await expect(lan.locator("#wrapup select[name=department_id]")).to_have_value(
            str(stack.world.department_id)
        )
        await lan.select_option("#wrapup select[name=priority]", "high")
        stack.hang_up(phone)
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "wrapup")
        await expect(lan.locator("#wrapup-countdown")).not_to_be_empty()
        await lan.click("#btn-save")
        # A clear confirmation with the new ticket's code, linking to its page.
        await expect(lan.locator("#notice")).to_contain_text("Đã lưu kết thúc cuộc gọi")
        await expect(lan.locator("#notice-link")).to_have_text(re.compile(r"^TK-\d{4}-\d{6}$"))
        code = await lan.locator("#notice-link").text_content()
        await expect(lan.locator("#notice-link")).to_have_attribute("href", f"/tickets/{code}")

        assert stack.app is not None
        await stack.app[CALL_RECORDER].flush()
        async with stack.app[SESSIONMAKER]() as session:
            call = await session.scalar(
                select(Call)
                .where(Call.caller_number.contains("912345678"), Call.linkedid != "old.1")
                .order_by(Call.id.desc())
            )
            assert call is not None
            assert call.agent_id == stack.agents["lan"] and call.answered_at is not None
            assert call.customer_id == stack.world.customer_id
            wrap = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
            assert wrap is not None and not wrap.timed_out
            ticket = await session.get(Ticket, wrap.ticket_id)
            assert ticket is not None
            assert (ticket.status, ticket.priority, ticket.category_id) == (
                "unassigned",
                "high",
                stack.world.category_id,
            )
            assert ticket.department_id == stack.world.department_id
            assert ticket.description == "Xe không nổ máy, hẹn kiểm tra"
            assert ticket.code == code

        # Saving ended the wrap-up: Lan is available again for the next call.
        await expect(lan.locator("#state-label")).to_have_attribute("data-state", "available")

        # A hostile caller ID name is shown as text and runs nothing.
        await stack.call("0987000111", XSS)
        phone = await stack.wait_ringing("PJSIP/101")
        await expect(lan.locator("#caller-name")).to_have_text(XSS)
        assert await lan.locator("#pop img").count() == 0
        await expect(lan.locator("#quick-create")).to_be_visible()
        await expect(lan.locator("#quick-create input[name=phone]")).to_have_value("+84987000111")

        # Minh's page never received anything meant for Lan.
        assert await minh.evaluate("document.body.dataset.pops || '0'") == "0"
        await expect(minh.locator("#pop")).to_be_hidden()

        # The daemon restarts in the middle of the call: the page reconnects by itself.
        # Meanwhile Minh's session was ended (password change): his page goes to login.
        stack.answer(phone)
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "talking")
        async with stack.app[SESSIONMAKER]() as session:
            await session.execute(
                update(User).where(User.id == stack.agents["minh"]).values(session_version=2)
            )
            await session.commit()
        await stack.stop_daemon()
        await expect(lan.locator("#offline-banner")).to_be_visible()
        stack.session_check_seconds = 0.3  # for the password change below
        await stack.start_daemon()
        await expect(lan.locator("#offline-banner")).to_be_hidden(timeout=15_000)
        await expect(lan.locator("#call-phase")).to_have_attribute(
            "data-phase", "talking", timeout=15_000
        )
        await expect(lan.locator("#caller-name")).to_have_text(XSS)
        stack.hang_up(phone)
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "wrapup")
        await lan.select_option(
            "#wrapup select[name=category_id]", str(stack.world.info_category_id)
        )
        await lan.check("#wrapup input[name=outcome][value=info_only]")
        await lan.click("#btn-save")
        await expect(lan.locator("#notice")).to_contain_text("chỉ cung cấp thông tin")

        await minh.wait_for_url("**/login?next=/agent", timeout=15_000)

        # Lan's password is changed while her page is open and connected: the server
        # closes the socket (session ended) and the page goes to the login form.
        async with stack.app[SESSIONMAKER]() as session:
            user = await session.get(User, stack.agents["lan"])
            assert user is not None
            await users.set_password(session, user, "Mật-khẩu-mới-hoàn-toàn-456")
            await session.commit()
        await lan.wait_for_url("**/login?next=/agent", timeout=5_000)
        assert dialogs == []  # no script from the caller ever ran
