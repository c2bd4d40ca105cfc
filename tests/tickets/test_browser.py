"""A complaint walked in a real browser (headless Chromium), from the wrap-up save to closure.

The wrap-up save is made through the same calls the agent page makes (``apply_plan`` and
the tickets room's ``ticket_saved`` hook); everything after it is clicked in the pages of
the department head, a colleague and a supervisor. Time moves on the injected clock:
waiting time is counted and the SLA escalation goes out once, by email to a real local
SMTP server (aiosmtpd), like the new-ticket notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from callcenter.auth.passwords import hash_password
from callcenter.clock import ManualClock
from callcenter.config import Settings, SmtpSettings
from callcenter.db import migrate
from callcenter.db.models import Category, CustomerPhone, Task, Ticket, User
from callcenter.notify.email import SmtpSender
from callcenter.registry import SESSIONMAKER
from callcenter.tickets.plugin import PLUGIN, TICKET_SERVICE
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.notify.test_email_outbox import Mailbox
from tests.ports import free_port
from tests.tickets.pages_helpers import install_senders, wrapup_ticket
from tests.tickets.world import T0, Office, build_office

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class BackOffice:
    url: str
    app: web.Application
    clock: ManualClock
    office: Office
    complaint_category: int
    mailbox: Mailbox


@pytest.fixture
async def back_office(settings: Settings, tmp_path: Path) -> AsyncIterator[BackOffice]:
    await migrate.upgrade_async(settings.database.url)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    clock = ManualClock(T0)
    settings = settings.model_copy(update={"attachments_dir": tmp_path / "files"})
    app = create_app(settings, clock=clock, extra_plugins=[PLUGIN])
    install_senders(
        app,
        email=SmtpSender(
            SmtpSettings(host="127.0.0.1", port=smtp.port, sender="callcenter@hotline.example.vn"),
            timeout=5,
            clock=clock,
        ),
    )
    async with app[SESSIONMAKER]() as session:
        office = await build_office(session)
        complaint = Category(
            code="tk_complaint", name="Khiếu nại dịch vụ", department_id=office.service, sla_hours=3
        )
        session.add(complaint)
        session.add(
            CustomerPhone(customer_id=office.customer, number="+84912345678", is_primary=True)
        )
        await session.execute(update(User).values(password_hash=hash_password(DEFAULT_PASSWORD)))
        await session.commit()
        category_id = complaint.id
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield BackOffice(f"http://127.0.0.1:{port}", app, clock, office, category_id, mailbox)
    finally:
        await runner.cleanup()
        smtp.stop()


async def test_a_complaint_from_wrap_up_to_closure(back_office: BackOffice) -> None:
    bo = back_office
    office = bo.office
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        from playwright.async_api import expect

        async def open_as(username: str) -> Any:
            context = await browser.new_context(
                viewport={"width": 1366, "height": 900}, locale="vi-VN"
            )
            page = await context.new_page()
            page.set_default_timeout(10_000)
            await page.goto(f"{bo.url}/login")
            await page.fill("#username", username)
            await page.fill("#password", DEFAULT_PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            return page

        # The department head logs in and lands in the department inbox, live.
        head = await open_as("tk_an")
        await head.wait_for_url("**/tickets/inbox")
        await expect(head.locator("#live-state")).to_have_text("Đang cập nhật trực tiếp")

        # The agent saves the wrap-up: the complaint appears without a reload, given to
        # the head (free, first in the head's order).
        complaint = await wrapup_ticket(
            bo.app, office, category_id=bo.complaint_category, notes="Động cơ xe tải kêu to"
        )
        row = head.locator(f"tr[data-code='{complaint}']")
        await expect(row).to_contain_text("Chưa thực hiện")
        await expect(row).to_contain_text("An")
        await expect(head.locator("#live-notice")).to_contain_text(complaint)
        # Two more calls go to the next free members; the fourth finds everyone busy.
        for _ in range(2):
            await wrapup_ticket(bo.app, office, category_id=bo.complaint_category)
        spare = await wrapup_ticket(bo.app, office, category_id=bo.complaint_category)
        await expect(head.locator(f"tr[data-code='{spare}']")).to_contain_text("Chưa giao việc")
        await head.screenshot(path=str(ARTIFACTS / "tickets-inbox.png"), full_page=True)

        # The new-ticket notice reached the department's mailbox.
        async def mails_about(code: str, word: str) -> list[Any]:
            return [m for m in bo.mailbox.received if code in m["Subject"] and word in m["Subject"]]

        await wait_until(lambda: len(bo.mailbox.received) >= 7)
        new_notice = await mails_about(complaint, "Phiếu mới")
        assert {m["To"] for m in new_notice} == {"dichvu@example.vn", "an@example.vn"}

        # The head starts the complaint, puts it on hold, and claims the unassigned one.
        await head.click(f"a:text('{complaint}')")
        await head.click("button[data-status='in_progress']")
        await expect(head.locator("#ticket-status")).to_have_text("Đang thực hiện")
        await head.click("button[data-status='waiting']")
        await expect(head.locator("#ticket-status")).to_have_text("Đang chờ")
        await head.goto(f"{bo.url}/tickets/{spare}")
        await head.click("button[data-action='claim']")
        await expect(head.locator("#ticket-assignee")).to_have_text("An")

        # Back on the complaint: transferred to Bình, who knows engines, with a reason.
        await head.goto(f"{bo.url}/tickets/{complaint}")
        await head.click("button[data-status='in_progress']")
        await expect(head.locator("#ticket-status")).to_have_text("Đang thực hiện")
        await head.select_option("#transfer-form select[name=to_user_id]", str(office.binh))
        await head.fill("#transfer-form input[name=reason]", "Anh Bình chuyên về động cơ")
        await head.click("#transfer-form button[type=submit]")
        await expect(head.locator("#ticket-assignee")).to_have_text("Binh")
        await expect(head.locator("#events")).to_contain_text("Anh Bình chuyên về động cơ")

        # Bình works on it, waits two hours for a part, then goes on.
        binh = await open_as("tk_binh")
        await binh.goto(f"{bo.url}/tickets/{complaint}")
        await binh.click("button[data-status='in_progress']")
        await expect(binh.locator("#ticket-status")).to_have_text("Đang thực hiện")
        await binh.click("button[data-status='waiting']")
        await expect(binh.locator("#ticket-status")).to_have_text("Đang chờ")
        await bo.clock.advance(2 * 3600)
        await binh.click("button[data-status='in_progress']")
        await expect(binh.locator("#ticket-status")).to_have_text("Đang thực hiện")
        await expect(binh.locator("#wait-time")).to_have_text("2 h 00")

        # The 3-hour SLA passes: the head and the supervisor are told once.
        await bo.clock.advance(60 * 60)
        # the sweep runs every minute of clock time: let minutes pass until it has sent
        await advance_until(bo, lambda: len(escalations(bo, complaint)) >= 2)
        await bo.clock.advance(30 * 60)  # later sweeps, same threshold: nothing more
        assert await bo.app[TICKET_SERVICE].escalate_once() == 0
        await binh.reload()
        await expect(binh.locator(".ticket-head")).to_contain_text("Quá hạn")
        assert sorted(m["To"] for m in escalations(bo, complaint)) == [
            "an@example.vn",
            "sup@example.vn",
        ]

        # Done: the care team gets a follow-up task.
        await binh.click("button[data-status='done']")
        await expect(binh.locator("#ticket-status")).to_have_text("Đã hoàn tất")
        async with bo.app[SESSIONMAKER]() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.code == complaint))
            assert ticket is not None
            task = await session.scalar(
                select(Task).where(Task.origin_ticket_id == ticket.id, Task.status == "open")
            )
            assert task is not None and task.kind == "follow_up" and task.group == "care"

        # The supervisor calls the customer: not satisfied → reopened for the department.
        supervisor = await open_as("tk_sup")
        await supervisor.goto(f"{bo.url}/tickets/{complaint}")
        await supervisor.select_option("#follow-up-form select[name=outcome]", "not_satisfied")
        await supervisor.fill("#follow-up-form input[name=comment]", "Xe vẫn còn kêu")
        await supervisor.click("#follow-up-form button[type=submit]")
        await expect(supervisor.locator("#ticket-status")).to_have_text("Đang thực hiện")
        await expect(supervisor.locator("#events")).to_contain_text("Mở lại")

        # Bình fixes it for good; the customer is satisfied: closed.
        await binh.reload()
        await binh.click("button[data-status='done']")
        await expect(binh.locator("#ticket-status")).to_have_text("Đã hoàn tất")
        await supervisor.reload()
        await supervisor.select_option("#follow-up-form select[name=outcome]", "satisfied")
        await supervisor.click("#follow-up-form button[type=submit]")
        await expect(supervisor.locator("#ticket-status")).to_have_text("Đã đóng")
        await supervisor.screenshot(path=str(ARTIFACTS / "tickets-ticket.png"), full_page=True)
        await supervisor.goto(f"{bo.url}/tickets")
        await expect(supervisor.locator(f"tr[data-code='{complaint}']")).to_contain_text("Đã đóng")
        await supervisor.screenshot(path=str(ARTIFACTS / "tickets-list.png"), full_page=True)
        assert len(escalations(bo, complaint)) == 2  # still once
        # the same page in English: every status, kind and state in words
        await supervisor.goto(f"{bo.url}/language/en?next=/tickets/{complaint}")
        await expect(supervisor.locator("#ticket-status")).to_have_text("Ticket closed")
        await expect(supervisor.locator("#events")).to_contain_text("Customer not satisfied")
        await supervisor.screenshot(path=str(ARTIFACTS / "tickets-ticket-en.png"), full_page=True)


def escalations(bo: BackOffice, code: str) -> list[Any]:
    return [m for m in bo.mailbox.received if code in m["Subject"] and "quá hạn" in m["Subject"]]


async def advance_until(bo: BackOffice, condition: Any, limit: int = 60) -> None:
    """Advance the clock a minute at a time (the sweep's period) until ``condition``."""
    import asyncio

    for _ in range(limit):
        if condition():
            return
        await bo.clock.advance(60)
        await asyncio.sleep(0.1)  # the sweep and the outbox do real I/O (SQLite, SMTP)
    assert condition(), "the escalation was not sent"


async def wait_until(condition: Any, seconds: float = 10.0) -> None:
    """Poll: the SMTP server runs in its own thread, with no event to wait on."""
    import asyncio

    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    assert condition(), "gave up waiting"
