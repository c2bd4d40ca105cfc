"""A care campaign in real browsers (headless Chromium) on the simulated Asterisk: the
supervisor builds it on /outbound (the do-not-call customer is left out) and keeps its page
open; Lan works a lead from her task list — the lead's page, its script, click-to-call
ringing her phone, the outcome — and the supervisor's counts move without a reload. On the
way Lan dials the do-not-call customer by hand: the page warns, asks for a reason, and the
call goes ahead only with it (audited)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db.models import AuditEntry, CallList, Survey
from callcenter.registry import SESSIONMAKER
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium
from tests.outbound.conftest import OutboundStack
from tests.outbound.helpers import add_customer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


async def test_campaign_progress_moves_live_on_the_supervisors_page(stack: OutboundStack) -> None:
    assert stack.app is not None
    factory = stack.app[SESSIONMAKER]
    await make_user(factory, "giamsat", "supervisor", full_name="Phạm Giám Sát")
    for name, phone, dnc in (
        ("Võ Văn Hải", "+84902000001", False),
        ("Đặng Thị Hoa", "+84902000002", False),
        ("Bùi Văn Khoa", "+84902000003", True),
    ):
        await add_customer(
            factory, name, phone, province="Vĩnh Long", do_not_call=dnc, model="HD72",
            vin=f"RL4TH1234AB0{phone[-5:]}", purchased=date(2025, 3, 1),
        )  # fmt: skip
    async with factory() as session, session.begin():
        retired = Survey(name="Khảo sát cũ", active=False)
        survey = Survey(name="Hài lòng sau chăm sóc")
        session.add_all([retired, survey])
        await session.flush()
        survey_id = survey.id
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

        sup = await page_of("giamsat", "/outbound")
        form = sup.locator("#new-list-form")
        await form.locator("input[name=name]").fill("Chăm sóc đợt 1 xe tải nhẹ miền Tây")
        await form.locator("select[name=kind]").select_option("care")
        await form.locator("input[name=province]").fill("Vĩnh Long")
        await form.locator("input[name=model]").fill("hd72")
        await form.locator("select[name=agent_ids]").select_option(label="Trần Thị Lan")
        await form.locator("textarea[name=script]").fill("Chào anh/chị, em gọi từ CSKH...")
        # the survey is picked by name among the active ones (a retired one is not offered)
        offered = await form.locator("select[name=survey_id] option").all_inner_texts()
        assert offered[0] == "—" and "Hài lòng sau chăm sóc" in offered
        assert "Khảo sát cũ" not in offered
        await form.locator("select[name=survey_id]").select_option(label="Hài lòng sau chăm sóc")
        await sup.click("#create-list")
        await sup.wait_for_url("**/outbound/lists/*")
        async with factory() as session:
            chosen = await session.scalar(select(CallList.survey_id).order_by(CallList.id.desc()))
        assert chosen == survey_id
        progress = sup.locator("#progress")
        await expect(progress.locator("[data-count=items]")).to_have_text("2")
        await expect(progress.locator("[data-count=called]")).to_have_text("0")
        await expect(sup.locator("#items")).not_to_contain_text("Bùi Văn Khoa")
        await expect(sup.locator("#items")).to_contain_text("Võ Văn Hải")

        lan = await page_of("lan", "/agent")
        # Click-to-call a do-not-call customer: the page warns and asks for a reason.
        warnings: list[str] = []

        async def answer(dialog: Any) -> None:
            warnings.append(dialog.message)
            await dialog.accept("khách gọi lại hỏi bảo hành")

        lan.on("dialog", answer)
        await lan.fill("#dial-number", "0902 000 003")
        await lan.click("#btn-dial")
        phone = await stack.wait_ringing("PJSIP/101")
        assert warnings == [
            "Bùi Văn Khoa đã yêu cầu không gọi (khách yêu cầu). Hãy nêu lý do nếu vẫn gọi."
        ]
        stack.hang_up(phone)
        lan.remove_listener("dialog", answer)
        async with factory() as session:
            audit = (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "call.do_not_call_override")
                )
            ).one()
        assert audit.username == "lan"
        assert audit.details["reason"] == "khách gọi lại hỏi bảo hành"

        await expect(lan.locator("#task-list")).to_contain_text("Võ Văn Hải")
        item = lan.locator("#task-list li", has_text="Võ Văn Hải")
        await expect(item).to_contain_text("Chiến dịch chăm sóc")
        await item.locator("button.task-open").click()
        await lan.wait_for_url("**/outbound/tasks/*")
        await expect(lan.locator("#lead-script")).to_have_text("Chào anh/chị, em gọi từ CSKH...")
        await lan.click("#lead-call")
        await stack.wait_ringing("PJSIP/101")  # her phone first (click-to-call)
        await expect(lan.locator("#lead-call-result")).to_contain_text("✓")

        # An outcome without its reason is refused in words, then saved.
        await lan.check("input[name=outcome][value=not_interested]")
        await lan.click("#lead-save")
        await expect(lan.locator("#lead-result")).to_have_text("Không quan tâm: hãy nêu lý do")
        await lan.check("input[name=outcome][value=reached]")
        await lan.check("input[name=conversion][value=not_buying]")
        await lan.click("#lead-save")
        await expect(lan.locator("#lead-status")).to_have_text("Đã liên lạc được")

        # The supervisor's page moved by itself.
        await expect(progress.locator("[data-count=called]")).to_have_text("1")
        await expect(progress.locator("[data-count=reached]")).to_have_text("1")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await sup.screenshot(path=str(ARTIFACTS / "outbound-campaign.png"), full_page=True)
        await lan.screenshot(path=str(ARTIFACTS / "outbound-lead.png"), full_page=True)
