"""The agents' task list in a real browser (headless Chromium), fed by the simulated Asterisk.

A known customer calls, Lan's phone rings, the customer hangs up before she answers (a
missed call), then tries again and hangs up again: one callback task on Lan's page, with
the customer's history and ticket codes linking to their pages. The hotline is then
closed for the day (an admin holiday): an unknown caller hears "press 1 to be called back"
and presses 1: a second task. The supervisor sees both on ``/tasks`` with their age. Lan
works them in the page: calls the customer back (claim + click-to-call) and records
"reached"; the other is "not reached" with a retry time (it stays in the list), then
"wrong number" (it leaves the list). On the way: the state label is not the logout
button's word, the call controls are greyed out while there is no call, and a wrap-up
whose time runs out says so.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from callcenter.clock import SystemClock
from callcenter.db.models import Holiday, Hotline, SystemSetting, Task, Ticket
from callcenter.localtime import local_date
from callcenter.registry import SESSIONMAKER
from tests.agent.stack import HOTLINE, Stack, build_stack
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium
from tests.conftest import MigratedTemplates

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    await stack.start_daemon()
    yield stack
    await stack.close()


async def _until(condition: Any, within: float = 20.0) -> None:
    for _ in range(int(within / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def _close_today(stack: Stack) -> None:
    """An admin holiday today, with callbacks offered when closed; the ACD reloads."""
    assert stack.app is not None
    today = local_date(SystemClock().now())
    async with stack.app[SESSIONMAKER]() as session, session.begin():
        existing = await session.scalar(select(Holiday).where(Holiday.day == today))
        if existing is None:
            session.add(Holiday(day=today, name="Nghỉ nội bộ", closed=True))
        else:
            existing.closed = True
        await session.execute(
            update(Hotline).where(Hotline.number == HOTLINE).values(closed_action="callback")
        )
    await stack.acd.reload()


async def test_missed_and_out_of_hours_callers_become_tasks_worked_in_the_page(
    stack: Stack,
) -> None:
    assert stack.app is not None and stack.world is not None
    await make_user(stack.app, "giamsat", "supervisor", full_name="Phạm Giám Sát")
    async with chromium() as browser:
        from playwright.async_api import expect

        async def page_of(username: str, path: str) -> Any:
            context = await browser.new_context(
                viewport={"width": 1366, "height": 1000}, locale="vi-VN"
            )
            page = await context.new_page()
            page.set_default_timeout(10_000)
            await page.goto(f"{stack.base_url}/login?next={path}")
            await page.fill("#username", username)
            await page.fill("#password", DEFAULT_PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(f"**{path}")
            return page

        async def refresh_until(page: Any, count: int) -> None:
            for _ in range(60):
                await page.click("#btn-tasks-refresh")
                await asyncio.sleep(0.25)
                if await page.locator("#task-list li[data-task-id]").count() == count:
                    return
            raise AssertionError(f"the task list never had {count} task(s)")

        lan = await page_of("lan", "/agent")
        await expect(lan.locator("body")).to_have_attribute("data-online", "1")
        # The logged-out state does not read like the logout button.
        await expect(lan.locator("#state-label")).to_have_text("Chưa đăng nhập hàng đợi")
        await expect(lan.locator(".topbar form.logout button")).to_have_text("Đăng xuất")
        for control in ("#btn-hangup", "#btn-park", "#btn-mute", "#btn-blind"):
            await expect(lan.locator(control)).to_be_disabled()
        await expect(lan.locator("#btn-dial")).to_be_enabled()  # click-to-call needs no call
        await expect(lan.locator("#task-list")).to_contain_text("Không có khách nào chờ gọi lại")
        # The navigation bar: the desk, customer search, my tickets, my tasks.
        await expect(lan.locator(".topbar nav input[name=q]")).to_be_visible()
        await expect(lan.locator("#nav-my-tickets")).to_have_attribute("href", "/tickets")

        await lan.click("#btn-available")
        await expect(lan.locator("#state-label")).to_have_text("Sẵn sàng")
        await expect(lan.locator("#control-result")).to_be_empty()  # no stale "Đã xong"

        # A call whose wrap-up time runs out: a clear notice, the notes kept in the ticket.
        async with stack.app[SESSIONMAKER]() as session, session.begin():
            await session.merge(SystemSetting(key="wrapup_seconds", value=3))
        await stack.acd.reload()
        await stack.call("0912345678", "NGUYEN VAN AN")
        phone = await stack.wait_ringing("PJSIP/101")
        stack.answer(phone)
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "talking")
        await expect(lan.locator("#btn-hangup")).to_be_enabled()
        await expect(lan.locator("#btn-park")).to_be_enabled()
        await lan.fill("#wrapup textarea[name=notes]", "Hỏi lịch bảo dưỡng")
        stack.hang_up(phone)
        await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "wrapup")
        await expect(lan.locator("#notice")).to_contain_text(
            "Hết thời gian kết thúc cuộc gọi", timeout=15_000
        )
        await expect(lan.locator("#wrapup-card")).to_be_hidden()
        await expect(lan.locator("#pop")).to_be_hidden()
        await expect(lan.locator("#btn-park")).to_be_disabled()
        await lan.screenshot(path=str(ARTIFACTS / "agent-wrapup-timed-out.png"), full_page=True)
        async with stack.app[SESSIONMAKER]() as session:
            review = await session.scalar(select(Ticket).where(Ticket.needs_review.is_(True)))
            assert review is not None and review.description == "Hỏi lịch bảo dưỡng"
        await expect(lan.locator("#state-label")).to_have_text("Sẵn sàng")

        # A missed call: the known customer hangs up while Lan's phone still rings, twice.
        for _ in range(2):
            caller = await stack.pbx.place_call(HOTLINE, "0912345678", "NGUYEN VAN AN")
            phone = await stack.wait_ringing("PJSIP/101")
            await expect(lan.locator("#call-phase")).to_have_attribute("data-phase", "ringing")
            await expect(lan.locator("#btn-hangup")).to_be_enabled()
            stack.pbx.request_hangup(caller, 16)
            await _until(lambda p=phone: p.hungup)
            await expect(lan.locator("#pop")).to_be_hidden()
            await expect(lan.locator("#btn-hangup")).to_be_disabled()
            await expect(lan.locator("#state-label")).to_have_text("Sẵn sàng")
        await refresh_until(lan, 1)  # one number, one local day: one task
        item = lan.locator("#task-list li[data-task-id]").first
        await expect(item).to_contain_text("Nguyễn Văn An")
        await expect(item).to_contain_text("0912 345 678")
        await expect(item).to_contain_text("Gác máy trước khi được trả lời")
        await expect(lan.locator("#tasks-count")).to_have_text("1")

        # Out of hours: an unknown caller presses 1 for a callback.
        await _close_today(stack)
        closed_caller = await stack.pbx.place_call(HOTLINE, "0987000222")
        await _until(lambda: closed_caller.context == "cc-closed")
        stack.pbx.press(closed_caller, "1")
        await _until(lambda: closed_caller.hungup, 30)
        await refresh_until(lan, 2)
        await expect(lan.locator("#task-list")).to_contain_text("Yêu cầu gọi lại (ngoài giờ)")
        await expect(lan.locator("#task-list")).to_contain_text("0987 000 222")
        page_text = await lan.locator("#tasks").inner_text()
        assert "abandoned" not in page_text and "closed" not in page_text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await lan.screenshot(path=str(ARTIFACTS / "agent-tasks.png"), full_page=True)

        # The supervisor sees both, oldest first, with their age.
        boss = await page_of("giamsat", "/tasks")
        rows = boss.locator("#open-tasks-table tbody tr[data-task-id]")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text("Gác máy trước khi được trả lời")
        await expect(rows.nth(0)).to_contain_text("phút")
        await expect(rows.nth(1)).to_contain_text("Ngày lễ")  # why it was closed
        await expect(rows.nth(1)).to_contain_text("Càng sớm càng tốt")  # not overdue yet
        await expect(rows.nth(1)).to_contain_text("CSKH")  # the group's name, not its code
        await boss.screenshot(path=str(ARTIFACTS / "supervisor-tasks.png"), full_page=True)

        # Lan calls the customer back: the task is hers, her phone rings (click-to-call).
        missed = lan.locator("#task-list li[data-task-id]", has_text="Nguyễn Văn An")
        await missed.locator("button.task-call").click()
        await expect(lan.locator("#tasks-result")).to_contain_text("Đang gọi")
        outbound = await stack.wait_ringing("PJSIP/101")
        await expect(lan.locator("#task-detail")).to_be_visible()
        await expect(lan.locator("#task-open-tickets a.ticket-code").first).to_have_attribute(
            "href", re.compile(r"^/tickets/TK-\d{4}-\d{6}$")
        )
        await expect(missed).to_contain_text("Tôi đã nhận")
        await expect(lan.locator("#task-notes")).to_contain_text("Gác máy sau")
        await lan.screenshot(path=str(ARTIFACTS / "agent-task-detail.png"), full_page=True)
        stack.hang_up(outbound)
        await lan.check("#task-outcome input[name=outcome][value=reached]")
        await lan.click("#btn-task-save")
        await expect(lan.locator("#tasks-result")).to_contain_text("Đã liên lạc được")
        await expect(lan.locator("#task-list li[data-task-id]")).to_have_count(1)

        # The out-of-hours caller: not reached (retry in an hour), then a wrong number.
        closed_item = lan.locator("#task-list li[data-task-id]").first
        await closed_item.locator("button.task-open").click()
        await expect(lan.locator("#task-detail")).to_be_visible()
        await lan.check("#task-outcome input[name=outcome][value=not_reached]")
        await lan.fill("#task-outcome input[name=note]", "Không nghe máy")
        await lan.click("#btn-task-save")
        await expect(lan.locator("#tasks-result")).to_contain_text("Không liên lạc được")
        await expect(closed_item).to_contain_text("Không liên lạc được")
        await closed_item.locator("button.task-open").click()
        await expect(lan.locator("#task-notes")).to_contain_text("Không nghe máy")
        await lan.check("#task-outcome input[name=outcome][value=wrong_number]")
        await lan.click("#btn-task-save")
        await expect(lan.locator("#task-list")).to_contain_text("Không có khách nào chờ gọi lại")

    async with stack.app[SESSIONMAKER]() as session:
        tasks = (await session.scalars(select(Task).order_by(Task.id))).all()
    assert [(t.origin, t.phone, t.status, t.outcome) for t in tasks] == [
        ("abandoned", "+84912345678", "done", "reached"),
        ("closed", "+84987000222", "done", "wrong_number"),
    ]
    assert len(tasks[0].notes.splitlines()) == 3  # first miss, the merged second, the outcome
    assert tasks[0].assignee_id == stack.agents["lan"]
