"""Outbound mode survives a daemon restart (both databases, over HTTP): Lan switches herself
to outbound, a supervisor switches Minh; after the restart both are still in outbound mode
with the blend threshold, the ACD routes them as such, and switching back is kept too."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.registry import SESSIONMAKER
from callcenter.services.plugin import ACD_SERVICE
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.browser import chromium
from tests.outbound.conftest import WebDaemon
from tests.outbound.helpers import get_json, post_form


async def test_outbound_mode_is_restored_after_a_restart(daemon: WebDaemon) -> None:
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    lan = await make_user(factory, "lan", "agent", interface="PJSIP/101")
    minh = await make_user(factory, "minh", "agent", interface="PJSIP/102")
    await make_user(factory, "sup", "supervisor")
    await daemon.restart()  # the ACD loads the agents made above, as after an admin's edit

    sup, agent, other = (AgentClient(daemon.base_url) for _ in range(3))
    try:
        await sup.login("sup")
        await agent.login("lan")
        await other.login("minh")
        status, _, _ = await post_form(sup, "/outbound/blending", {"wait_seconds": 45})
        assert status == 302
        status, body = await agent.post("/api/outbound/mode", {"outbound": True})
        assert status == 200 and body == {"outbound": True, "blend_wait_seconds": 45}, body
        # An agent may not switch a colleague; a supervisor may.
        status, body = await agent.post(
            "/api/outbound/mode", {"outbound": True, "agent_id": minh.id}
        )
        assert status == 403, body
        status, body = await sup.post("/api/outbound/mode", {"outbound": True, "agent_id": minh.id})
        assert status == 200 and body["outbound"] is True, body
        status, body = await get_json(agent, f"/api/outbound/mode?agent_id={minh.id}")
        assert status == 403, body

        app = await daemon.restart()
        agents = app[ACD_SERVICE].acd.agents
        assert (agents[lan.id].outbound_mode, agents[lan.id].blend_wait_seconds) == (True, 45)
        assert (agents[minh.id].outbound_mode, agents[minh.id].blend_wait_seconds) == (True, 45)
        # The same sessions still work after the restart: each sees their mode kept.
        assert await get_json(agent, "/api/outbound/mode") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )
        assert await get_json(other, "/api/outbound/mode") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )
        assert await get_json(sup, f"/api/outbound/mode?agent_id={lan.id}") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )

        # Back to inbound is remembered as well.
        status, body = await agent.post("/api/outbound/mode", {"outbound": False})
        assert status == 200 and body["outbound"] is False, body
        await daemon.restart()
        assert await get_json(agent, "/api/outbound/mode") == (
            200,
            {"outbound": False, "blend_wait_seconds": 45},
        )
        assert await get_json(other, "/api/outbound/mode") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )
    finally:
        await sup.close()
        await agent.close()
        await other.close()


@pytest.mark.browser
async def test_supervisor_switches_an_agent_on_the_outbound_page(daemon: WebDaemon) -> None:
    """In Chromium: the supervisor ticks Lan's outbound mode on /outbound; after a daemon
    restart the page (same login) still shows it ticked, and the ACD routes her so."""
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    lan = await make_user(factory, "lan", "agent", full_name="Trần Thị Lan")
    await make_user(factory, "sup", "supervisor", full_name="Phạm Giám Sát")
    await daemon.restart()
    async with chromium() as browser:
        from playwright.async_api import expect

        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        page: Any = await context.new_page()
        page.set_default_timeout(10_000)
        await page.goto(f"{daemon.base_url}/login?next=/outbound")
        await page.fill("#username", "sup")
        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url("**/outbound")
        row = page.locator(f"#agent-modes tr[data-agent-id='{lan.id}']")
        box = row.locator("input.agent-mode")
        await expect(box).not_to_be_checked()
        await box.check()
        await expect(row.locator(".agent-mode-result")).to_have_text("✓")

        app = await daemon.restart()
        assert app[ACD_SERVICE].acd.agents[lan.id].outbound_mode is True
        await page.reload()
        await expect(box).to_be_checked()
        await box.uncheck()
        await expect(row.locator(".agent-mode-result")).to_have_text("✓")
        app = await daemon.restart()
        assert app[ACD_SERVICE].acd.agents[lan.id].outbound_mode is False
