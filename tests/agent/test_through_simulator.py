"""The agent page's websocket against the whole system: simulated Asterisk → daemon → page.

A call placed on the simulator runs the production dialplan, asks the daemon's
FastAGI routes, the ACD picks the agent, and the pop (with the history) must
reach that agent's websocket while the phone still rings; answering, hanging up
and saving the wrap-up must leave a complete call record and a ticket.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.db.models import Call, CallWrapUp, Ticket
from callcenter.registry import SESSIONMAKER
from callcenter.services.plugin import CALL_RECORDER
from callcenter.sim.channels import UP
from tests.agent.stack import Stack, build_stack
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html
from tests.conftest import MigratedTemplates

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


class AgentClient:
    """A logged-in agent speaking HTTP and websocket to the daemon, as the page does."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.csrf = ""

    async def login(self, username: str) -> None:
        async with self.http.get(self.base_url + "/login") as page:
            token = csrf_from_html(await page.text())
        async with self.http.post(
            self.base_url + "/login",
            data={"username": username, "password": DEFAULT_PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 302, await response.text()
        async with self.http.get(self.base_url + "/agent") as page:
            assert page.status == 200
            match = CSRF_META.search(await page.text())
            assert match
            self.csrf = match.group(1)

    async def connect(self) -> dict[str, Any]:
        self.ws = await self.http.ws_connect(self.base_url + "/agent/ws")
        return await self.next_of("sync")

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            self.base_url + path, json=body, headers={"X-CSRF-Token": self.csrf}
        ) as response:
            return response.status, await response.json()

    async def next_of(self, kind: str, within: float = 5.0) -> dict[str, Any]:
        """The next message of ``kind`` (a pop still loading its history is skipped)."""
        assert self.ws is not None
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"no {kind!r} within {within}s"
            message = await self.ws.receive(timeout=left)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            data: dict[str, Any] = json.loads(message.data)
            if data["type"] == kind and not data.get("history_pending"):
                return data

    async def received_types(self, wait: float) -> list[str]:
        assert self.ws is not None
        seen = []
        try:
            while True:
                message = await self.ws.receive(timeout=wait)
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                seen.append(json.loads(message.data)["type"])
        except TimeoutError:
            pass
        return seen

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    await stack.start_daemon()
    yield stack
    await stack.close()


async def test_pop_while_ringing_then_answer_hang_up_and_save(stack: Stack) -> None:
    lan, minh = AgentClient(stack.base_url), AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await minh.login("minh")
        await lan.connect()
        await minh.connect()
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        assert status == 200 and body["state"] == "available", body
        assert (await lan.next_of("state"))["state"] == "available"

        await stack.call("0912345678", "NGUYEN VAN AN")
        pop = await lan.next_of("pop")
        phone = await stack.wait_ringing("PJSIP/101")
        assert phone.state != UP  # still ringing: nobody answered yet
        assert pop["customer"]["name"] == "Nguyễn Văn An"
        assert [v["model"] for v in pop["customer"]["vehicles"]] == ["Ollin 350", "Auman C160"]
        assert pop["history"]["open_tickets"][0]["subject"] == "Bảo hành: xe kêu to"
        assert pop["call"]["hotline"] == "19006868"
        assert pop["call"]["caller_number"] == "+84912345678"  # the trunk sent 0912345678
        linkedid = pop["call"]["linkedid"]

        stack.answer(phone)
        talking = await lan.next_of("call")
        assert talking["call"]["phase"] == "talking"
        await asyncio.sleep(0.5)
        stack.hang_up(phone)
        wrapup = await lan.next_of("call")
        assert wrapup["call"]["phase"] == "wrapup" and wrapup["call"]["wrapup_deadline"]

        assert stack.world is not None
        status, saved = await lan.post(
            f"/api/agent/calls/{linkedid}/wrapup",
            {
                "outcome": "new_ticket",
                "category_id": stack.world.category_id,
                "priority": "high",
                "notes": "Xe không nổ máy",
            },
        )
        assert status == 200, saved
        assert "pop" not in await minh.received_types(0.3)

        assert stack.app is not None
        await stack.app[CALL_RECORDER].flush()
        async with stack.app[SESSIONMAKER]() as session:
            call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            assert call is not None
            assert call.agent_id == stack.agents["lan"] and call.answered_at is not None
            assert call.customer_id == stack.world.customer_id
            assert call.caller_number == "+84912345678"
            ticket = await session.get(Ticket, saved["ticket_id"])
            assert ticket is not None and ticket.call_id == call.id
            assert (ticket.status, ticket.priority, ticket.department_id) == (
                "unassigned",
                "high",
                stack.world.department_id,
            )
            wrap = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
            assert wrap is not None and wrap.category_id == stack.world.category_id
    finally:
        await lan.close()
        await minh.close()


async def _answered_call(stack: Stack, agent: AgentClient, number: str) -> tuple[str, Any]:
    status, body = await agent.post("/api/agent/state", {"action": "available"})
    assert status == 200, body
    await stack.call(number, "KHACH")
    pop = await agent.next_of("pop")
    phone = await stack.wait_ringing("PJSIP/101")
    stack.answer(phone)
    assert (await agent.next_of("call"))["call"]["phase"] == "talking"
    await asyncio.sleep(0.3)  # the bridge forms
    return pop["call"]["linkedid"], phone


async def test_call_controls_reach_asterisk(stack: Stack) -> None:
    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        linkedid, _phone = await _answered_call(stack, lan, "0987000222")
        (caller,) = [c for c in stack.pbx.channels.values() if c.name.startswith("PJSIP/trunk-")]

        status, body = await lan.post(f"/api/agent/calls/{linkedid}/mute", {"mute": True})
        assert status == 200 and body["muted"] is True, body
        assert caller.extra.get("muted") is True  # MixMonitorMute on the recorded channel

        # A number the dialplan does not know: Asterisk refuses, the page says so clearly.
        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/transfer",
            {"kind": "external", "target": "6999", "mode": "blind"},
        )
        assert status == 502 and "refused" in body["error"], (status, body)

        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/transfer",
            {"kind": "external", "target": "abc", "mode": "blind"},
        )
        assert status == 400 and "target" in body["error"]

        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/transfer",
            {"kind": "agent", "target": "102", "mode": "blind"},
        )
        assert status == 200 and body["exten"] == "102", body
        await stack.wait_ringing("PJSIP/102")  # the caller now rings Minh's phone
        assert (await lan.next_of("call"))["call"]["phase"] == "wrapup"  # Lan is done
        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/transfer",
            {"kind": "agent", "target": "103", "mode": "blind"},
        )
        assert status == 409  # no longer Lan's call to pass on

        status, body = await lan.post("/api/agent/calls/nope/hangup", {})
        assert status == 404  # not this agent's call

    finally:
        await lan.close()


async def test_transfer_to_a_department_rings_its_ring_group(stack: Stack) -> None:
    """Dịch vụ's number (6002, from the admin console) rings the phones the dialplan's
    CC_DEPT_6002 names; the caller leaves Lan, who goes to wrap-up."""
    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        linkedid, _phone = await _answered_call(stack, lan, "0987000223")
        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/transfer",
            {"kind": "department", "target": "6002", "mode": "blind"},
        )
        assert status == 200 and body["exten"] == "6002", body
        department_phone = await stack.wait_ringing("PJSIP/103")
        assert department_phone.state != UP
        assert (await lan.next_of("call"))["call"]["phase"] == "wrapup"
    finally:
        await lan.close()


async def test_hang_up_from_the_page_and_click_to_call(stack: Stack) -> None:
    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        linkedid, phone = await _answered_call(stack, lan, "0987000333")
        status, body = await lan.post(f"/api/agent/calls/{linkedid}/hangup", {})
        assert status == 200, body
        for _ in range(100):
            if phone.hungup:
                break
            await asyncio.sleep(0.05)
        assert phone.hungup
        assert (await lan.next_of("call"))["call"]["phase"] == "wrapup"

        # Click-to-call: the agent's own phone rings first, the customer sees the hotline.
        status, body = await lan.post("/api/agent/originate", {"number": "0912 345 678"})
        assert status == 200, body
        assert body["exten"] == "0912345678" and body["caller_id"] == "19006868"
        await stack.wait_ringing("PJSIP/101")
    finally:
        await lan.close()


async def test_pause_with_reason_and_counters(stack: Stack) -> None:
    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        assert status == 200
        status, body = await lan.post("/api/agent/state", {"action": "pause", "reason": "lunch"})
        assert status == 200 and body["state"] == "paused" and body["reason"] == "lunch", body
        state = await lan.next_of("state")
        while state["state"] != "paused":
            state = await lan.next_of("state")
        assert state["reason"] == "lunch"
        # Nobody is free now: the caller waits, and Lan's counters say so.
        await stack.call("0987000444", "CHO")
        counters = await lan.next_of("counters")
        while counters["waiting"] == 0:
            counters = await lan.next_of("counters")
        assert counters["waiting"] == 1
        status, body = await lan.post("/api/agent/state", {"action": "dance"})
        assert status == 400
        status, body = await lan.post("/api/agent/state", {"action": "pause", "reason": "nap"})
        assert status == 409 and "nap" in body["error"]  # not a configured pause reason
    finally:
        await lan.close()


async def test_hot_desking_pop_follows_the_agent_not_the_phone(stack: Stack) -> None:
    """Lan logs in at Minh's desk phone: the call rings PJSIP/102 and pops on LAN's page."""
    lan, minh = AgentClient(stack.base_url), AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await minh.login("minh")
        await lan.connect()
        await minh.connect()
        status, body = await lan.post(
            "/api/agent/state", {"action": "login", "interface": "PJSIP/102"}
        )
        assert status == 200 and body["interface"] == "PJSIP/102", body
        await stack.call("0912345678", "NGUYEN VAN AN")
        pop = await lan.next_of("pop")
        phone = await stack.wait_ringing("PJSIP/102")
        assert phone.state != UP
        assert pop["customer"]["name"] == "Nguyễn Văn An"
        stack.answer(phone)
        assert (await lan.next_of("call"))["call"]["phase"] == "talking"
        assert "pop" not in await minh.received_types(0.3)
        # The call is Lan's, not the desk phone's owner's: her wrap-up saves and the
        # record credits her.
        stack.hang_up(phone)
        assert (await lan.next_of("call"))["call"]["phase"] == "wrapup"
        linkedid = pop["call"]["linkedid"]
        assert stack.world is not None and stack.app is not None
        status, saved = await lan.post(
            f"/api/agent/calls/{linkedid}/wrapup",
            {"outcome": "info_only", "category_id": stack.world.category_id, "notes": ""},
        )
        assert status == 200, saved
        await stack.app[CALL_RECORDER].flush()
        async with stack.app[SESSIONMAKER]() as session:
            call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            assert call is not None and call.agent_id == stack.agents["lan"]
    finally:
        await lan.close()
        await minh.close()


async def test_click_to_call_an_extension_rings_the_colleague_not_the_trunk(stack: Stack) -> None:
    """102 is an agent's extension: the call goes through [agents] (which dials PJSIP/102),
    never [cc-outbound], which only knows outside numbers and would drop it."""
    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        status, body = await lan.post("/api/agent/originate", {"number": "102"})
        assert status == 200, body
        assert (body["exten"], body["context"]) == ("102", "agents")
        own_phone = await stack.wait_ringing("PJSIP/101")
        stack.answer(own_phone)  # Originate: the agent's phone first, then the extension
        colleague = await stack.wait_ringing("PJSIP/102")
        assert colleague.state != UP

        status, body = await lan.post("/api/agent/originate", {"number": "0912 345 678"})
        assert status == 200 and body["context"] == "cc-outbound", body
    finally:
        await lan.close()
