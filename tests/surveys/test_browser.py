"""The agent page's survey panel in headless Chromium, on a call from the simulator: the
dependent question appears and disappears with the earlier answer, and the saved
response is tied to the call and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Survey, SurveyQuestion, SurveyResponse
from callcenter.db.repos import surveys as surveys_repo
from callcenter.registry import SESSIONMAKER
from callcenter.surveys.plugin import PLUGIN as SURVEYS
from tests.agent.stack import Stack, build_stack
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.conftest import MigratedTemplates

pytestmark = pytest.mark.browser

INTERIOR = "Anh/chị có hài lòng về nội thất xe không?"
WHY = "Vì sao anh/chị không hài lòng?"


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    engine = make_engine(stack.settings.database.url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            await session.execute(update(Survey).values(active=False))
            survey = Survey(name="Nội thất xe", active=True)
            session.add(survey)
            await session.flush()
            interior = SurveyQuestion(survey_id=survey.id, position=1, kind="single_choice",
                                      text=INTERIOR,
                                      options=["Không hài lòng", "Bình thường", "Hài lòng"])  # fmt: skip
            session.add(interior)
            await session.flush()
            session.add(SurveyQuestion(survey_id=survey.id, position=2, kind="free_text",
                                       text=WHY, depends_on_id=interior.id,
                                       depends_values=["Không hài lòng"]))  # fmt: skip
    finally:
        await engine.dispose()
    stack.more_plugins = [SURVEYS]
    await stack.start_daemon()
    yield stack
    await stack.close()


async def test_agent_fills_the_survey_panel_on_a_call(stack: Stack) -> None:
    async with chromium() as browser:
        from playwright.async_api import expect

        context = await browser.new_context(viewport={"width": 1366, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{stack.base_url}/login?next=/agent")
        await page.fill("#username", "lan")
        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url("**/agent")
        await expect(page.locator("body")).to_have_attribute("data-online", "1")
        await expect(page.locator("#survey-panel")).to_have_attribute("data-ready", "1")
        await page.click("#btn-available")
        await expect(page.locator("#state-label")).to_have_attribute("data-state", "available")

        await stack.call("0912345678", "NGUYEN VAN AN")
        phone = await stack.wait_ringing("PJSIP/101")
        await expect(page.locator("#caller-title")).to_have_text("Nguyễn Văn An")
        stack.answer(phone)
        await expect(page.locator("#call-phase")).to_have_attribute("data-phase", "talking")

        panel = page.locator("#survey-panel")
        await expect(panel).to_contain_text(INTERIOR)  # the only active survey is chosen
        why = panel.locator("fieldset", has_text=WHY)
        await expect(why).to_be_hidden()
        await panel.get_by_role("radio", name="Không hài lòng").check()
        await expect(why).to_be_visible()
        await why.locator("textarea").fill("Ghế bị rách")
        await panel.get_by_role("radio", name="Hài lòng", exact=True).check()
        await expect(why).to_be_hidden()  # the condition no longer holds
        await panel.get_by_role("radio", name="Không hài lòng").check()
        await expect(why).to_be_visible()
        await page.click("#survey-save")
        await expect(page.locator("#survey-status")).to_have_text("Đã lưu khảo sát.")
        assert errors == []

        assert stack.app is not None and stack.world is not None
        async with stack.app[SESSIONMAKER]() as session:
            response = await session.scalar(select(SurveyResponse))
            assert response is not None
            assert response.channel == "agent"
            assert response.customer_id == stack.world.customer_id
            assert response.respondent_user_id == stack.agents["lan"]
            assert response.linkedid == phone.linkedid  # the call on screen
            answers = await surveys_repo.answers_of(session, response.id)
        assert sorted(a.display() for a in answers.values()) == ["Ghế bị rách", "Không hài lòng"]
        await context.close()
