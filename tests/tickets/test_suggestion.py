"""The category suggested from a call's transcript on the page of the ticket made from
that call: shown to whoever may see the call, accepted in one click by whoever may
categorise the ticket (the same path as choosing it by hand), which marks the transcript's
suggestion accepted, as a choice on the call page does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.auth.passwords import hash_password
from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.core.tickets import plan_timed_out
from callcenter.db import migrate
from callcenter.db.models import Call, Ticket, Transcript, User
from callcenter.db.repos import tickets as ticket_repo
from callcenter.registry import SESSIONMAKER
from callcenter.tickets.plugin import PLUGIN, TICKET_SERVICE
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.tickets.pages_helpers import as_user, install_senders
from tests.tickets.world import T0, Office, build_office

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SAID = "Xe của tôi còn bảo hành không, phanh kêu to lắm"


async def timed_out_ticket(
    app: web.Application, office: Office, linkedid: str, *, suggested: int | None
) -> str:
    """A call whose wrap-up timed out (its ticket waits for review, no category) and the
    call's transcript, with the category its keywords suggested."""
    async with app[SESSIONMAKER]() as session:
        call = Call(linkedid=linkedid, started_at=T0, caller_number="+84912345678",
                    customer_id=office.customer, agent_id=office.agent)  # fmt: skip
        session.add(call)
        await session.flush()
        ticket = await ticket_repo.apply_plan(
            session, plan_timed_out(notes="khách hỏi về bảo hành", now=T0), call_id=call.id,
            customer_id=office.customer, user_id=office.agent, now=T0, timed_out=True,
        )  # fmt: skip
        session.add(Transcript(kind="call", linkedid=linkedid, text=SAID, created_at=T0,
                               suggested_category_id=suggested))  # fmt: skip
        await session.commit()
        ticket_id, code = ticket.id, ticket.code
    await app[TICKET_SERVICE].ticket_saved(ticket_id)
    return code


async def accepted(app: web.Application, linkedid: str) -> bool | None:
    async with app[SESSIONMAKER]() as session:
        transcript = await session.scalar(select(Transcript).where(Transcript.linkedid == linkedid))
        assert transcript is not None
        return transcript.suggestion_accepted


@pytest.fixture
async def world(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> tuple[TestClient, Office]:
    settings = settings.model_copy(update={"attachments_dir": tmp_path / "files"})
    app = create_app(settings, clock=ManualClock(T0), engine=engine, extra_plugins=[PLUGIN])
    install_senders(app)
    async with app[SESSIONMAKER]() as session:
        office = await build_office(session)
        await session.commit()
    return await aiohttp_client(app), office


async def page(client: TestClient, code: str) -> tuple[int, str]:
    response = await client.get(f"/tickets/{code}")
    return response.status, await response.text()


async def post(client: TestClient, url: str, token: str, body: Any) -> tuple[int, Any]:
    response = await client.post(url, json=body, headers={"X-CSRF-Token": token})
    return response.status, await response.json()


async def test_the_suggestion_is_shown_and_accepted_through_the_category_path(
    world: Any,
) -> None:
    client, office = world
    app = client.server.app
    code = await timed_out_ticket(app, office, "sg.1", suggested=office.warranty)
    button = f'data-action="accept-suggestion" data-category-id="{office.warranty}"'

    # The agent whose call it was sees the suggestion, but may not categorise.
    await as_user(client, office.agent)
    status, html = await page(client, code)
    assert status == 200 and "Gợi ý từ nội dung cuộc gọi" in html and "Bảo hành" in html
    assert button not in html
    # No department holds it yet: department staff cannot read it at all.
    await as_user(client, office.binh)
    assert (await page(client, code))[0] == 404

    # The supervisor sees it with the one-click accept, in both languages.
    token = await as_user(client, office.supervisor)
    status, html = await page(client, code)
    assert 'id="suggested-category"' in html and "Dùng gợi ý này" in html and button in html
    await client.get("/language/en", allow_redirects=False)
    html = (await page(client, code))[1]
    assert "Suggested from the call" in html and "Accept the suggestion" in html
    await client.get("/language/vi", allow_redirects=False)

    status, body = await post(client, f"/api/tickets/{code}/category", token,
                              {"category_id": office.warranty, "department_id": None})  # fmt: skip
    assert status == 200 and body["department_id"] == office.service, body
    assert await accepted(app, "sg.1") is True
    html = (await page(client, code))[1]
    assert "trùng với phân loại của phiếu" in html and button not in html

    # Now the service department's ticket: its staff see the suggestion (no button),
    # the parts department still cannot read the ticket.
    await as_user(client, office.binh)
    status, html = await page(client, code)
    assert status == 200 and "Gợi ý từ nội dung cuộc gọi" in html
    assert "accept-suggestion" not in html
    await as_user(client, office.dung)
    assert (await page(client, code))[0] == 404


async def test_another_choice_marks_the_suggestion_not_accepted(world: Any) -> None:
    client, office = world
    app = client.server.app
    code = await timed_out_ticket(app, office, "sg.2", suggested=office.warranty)
    plain = await timed_out_ticket(app, office, "sg.3", suggested=None)
    token = await as_user(client, office.supervisor)
    assert "Gợi ý từ nội dung cuộc gọi" not in (await page(client, plain))[1]
    assert await accepted(app, "sg.2") is None  # nobody chose yet
    status, _body = await post(client, f"/api/tickets/{code}/category", token,
                               {"category_id": office.parts_order})  # fmt: skip
    assert status == 200
    assert await accepted(app, "sg.2") is False
    status, _body = await post(client, f"/api/tickets/{plain}/category", token,
                               {"category_id": office.parts_order})  # fmt: skip
    assert status == 200 and await accepted(app, "sg.3") is None  # nothing was suggested
    html = (await page(client, code))[1]
    assert "Bảo hành" in html and 'data-action="accept-suggestion"' not in html  # categorised


# ------------------------------------------------------------------ in a real browser
@dataclass
class Site:
    url: str
    app: web.Application
    office: Office
    code: str


@pytest.fixture
async def site(settings: Settings, tmp_path: Path) -> AsyncIterator[Site]:
    await migrate.upgrade_async(settings.database.url)
    settings = settings.model_copy(update={"attachments_dir": tmp_path / "files"})
    app = create_app(settings, clock=ManualClock(T0), extra_plugins=[PLUGIN])
    install_senders(app)
    async with app[SESSIONMAKER]() as session:
        office = await build_office(session)
        await _passwords(session)
        await session.commit()
    code = await timed_out_ticket(app, office, "sg.web", suggested=office.warranty)
    runner = web.AppRunner(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    try:
        yield Site(f"http://127.0.0.1:{runner.addresses[0][1]}", app, office, code)
    finally:
        await runner.cleanup()


async def _passwords(session: AsyncSession) -> None:
    await session.execute(update(User).values(password_hash=hash_password(DEFAULT_PASSWORD)))


@pytest.mark.browser
async def test_a_supervisor_accepts_the_suggestion_in_one_click(site: Site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        from playwright.async_api import expect

        context = await browser.new_context(viewport={"width": 1366, "height": 900})
        tab = await context.new_page()
        tab.set_default_timeout(10_000)
        await tab.goto(f"{site.url}/login")
        await tab.fill("#username", "tk_sup")
        await tab.fill("#password", DEFAULT_PASSWORD)
        await tab.click("form[action='/login'] button[type=submit]")
        await tab.wait_for_load_state()
        await tab.goto(f"{site.url}/tickets/{site.code}")
        suggestion = tab.locator("#suggested-category")
        await expect(tab.locator(".ticket-head")).to_contain_text("Gợi ý từ nội dung cuộc gọi")
        await expect(suggestion).to_contain_text("Bảo hành")
        await tab.screenshot(path=str(ARTIFACTS / "ticket-suggestion.png"), full_page=True)
        await suggestion.locator("button[data-action='accept-suggestion']").click()
        # The page reloads with the category set, the ticket sent to its department.
        await expect(suggestion).to_contain_text("trùng với phân loại của phiếu")
        await expect(tab.locator("#ticket-assignee")).to_have_text("An")
        await expect(tab.locator("#categorise-form")).to_have_count(0)
        await expect(suggestion.locator("button")).to_have_count(0)
        await tab.screenshot(path=str(ARTIFACTS / "ticket-suggestion-accepted.png"), full_page=True)
        await context.close()
    async with site.app[SESSIONMAKER]() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.code == site.code))
        assert ticket is not None
        assert (ticket.category_id, ticket.department_id, ticket.needs_review) == (
            site.office.warranty, site.office.service, False
        )  # fmt: skip
    assert await accepted(site.app, "sg.web") is True
