"""The follow-up survey on a finished ticket's page, in headless Chromium: the supervisor
asks the customer, the dependent question appears, the answers reopen the ticket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, update

from callcenter.auth.passwords import hash_password
from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.core.roles import Role
from callcenter.db import migrate
from callcenter.db.models import Survey, SurveyQuestion, SurveyResponse, User
from callcenter.registry import SESSIONMAKER
from callcenter.surveys.plugin import PLUGIN as SURVEYS
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.tickets.plugin import TICKET_SERVICE
from callcenter.web.access import CurrentUser
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.tickets.pages_helpers import install_senders, wrapup_ticket
from tests.tickets.world import T0, build_office

pytestmark = pytest.mark.browser

INTERIOR = "Anh/chị có hài lòng về nội thất xe không?"
WHY = "Vì sao anh/chị không hài lòng?"


@pytest.fixture
async def site(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, Any, str]]:
    await migrate.upgrade_async(settings.database.url)
    settings = settings.model_copy(update={"attachments_dir": tmp_path / "files"})
    app = create_app(settings, clock=ManualClock(T0), extra_plugins=[TICKETS, SURVEYS])
    install_senders(app)
    async with app[SESSIONMAKER]() as session:
        office = await build_office(session)
        survey = Survey(name="Theo dõi sau xử lý", follow_up=True, active=True)
        session.add(survey)
        await session.flush()
        interior = SurveyQuestion(survey_id=survey.id, position=1, kind="single_choice",
                                  text=INTERIOR, options=["Không hài lòng", "Bình thường", "Hài lòng"])  # fmt: skip
        session.add(interior)
        await session.flush()
        session.add(SurveyQuestion(survey_id=survey.id, position=2, kind="free_text", text=WHY,
                                   depends_on_id=interior.id, depends_values=["Không hài lòng"]))  # fmt: skip
        await session.execute(update(User).values(password_hash=hash_password(DEFAULT_PASSWORD)))
        await session.commit()
    code = await wrapup_ticket(app, office)
    head = CurrentUser(id=office.head, username="tk_an", role=Role.DEPARTMENT,
                       department_id=office.service, is_department_head=True)  # fmt: skip
    for status in ("in_progress", "done"):
        await app[TICKET_SERVICE].move(head, code, status)
    runner = web.AppRunner(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", app, code
    finally:
        await runner.cleanup()


async def test_the_follow_up_survey_reopens_the_ticket(site: tuple[str, Any, str]) -> None:
    url, app, code = site
    async with chromium() as browser:
        from playwright.async_api import expect

        page = await (await browser.new_context(locale="vi-VN")).new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{url}/login")
        await page.fill("#username", "tk_sup")
        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.goto(f"{url}/tickets/{code}")
        form = page.locator("#follow-up-form")
        why = form.locator("fieldset", has_text=WHY)
        await expect(form).to_contain_text(INTERIOR)
        await expect(why).to_be_hidden()
        await form.get_by_role("radio", name="Không hài lòng").check()
        await expect(why).to_be_visible()
        await why.locator("textarea").fill("Ghế vẫn bẩn")
        await expect(form.locator("select[name=outcome]")).to_have_value("")  # the answers decide
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#ticket-status")).to_have_text("Đang thực hiện")
        await expect(page.locator("#events")).to_contain_text("Ghế vẫn bẩn")
        assert errors == []
    async with app[SESSIONMAKER]() as session:
        response = await session.scalar(select(SurveyResponse))
        assert response is not None and response.channel == "care" and response.ticket_id
