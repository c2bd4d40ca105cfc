"""Do-not-call through the daemon and the simulated PBX: marked on the customer page with a
reason, shown with who marked it, audited; click-to-call (agent page and ticket) warns and
goes ahead only with a reason, which is audited too."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from callcenter.db.models import AuditEntry, Customer, CustomerChange, Ticket
from callcenter.registry import SESSIONMAKER
from tests.agent.stack import Stack
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import csrf_from_html, make_user

AN_PHONE = "0912 345 678"  # Nguyễn Văn An, the stack's known customer


async def _form_post(client: AgentClient, path: str, data: dict[str, str]) -> int:
    async with client.http.get(client.base_url + "/customers/1") as page:
        token = csrf_from_html(await page.text())
    async with client.http.post(
        client.base_url + path, data={**data, "csrf_token": token}, allow_redirects=False
    ) as response:
        return response.status


async def _customer_id(stack: Stack) -> int:
    assert stack.app is not None
    async with stack.app[SESSIONMAKER]() as session:
        found = await session.scalar(select(Customer.id).where(Customer.name == "Nguyễn Văn An"))
    assert found is not None
    return int(found)


async def test_mark_warn_override_and_clear(stack: Stack) -> None:
    assert stack.app is not None
    await make_user(stack.app[SESSIONMAKER], "sup", "supervisor", full_name="Phạm Giám Sát")
    customer_id = await _customer_id(stack)
    lan = AgentClient(stack.base_url)
    sup = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        # A reason is required.
        status = await _form_post(lan, f"/customers/{customer_id}/do-not-call", {"action": "mark"})
        assert status == 400
        status = await _form_post(
            lan,
            f"/customers/{customer_id}/do-not-call",
            {"action": "mark", "reason": "khách yêu cầu không gọi"},
        )
        assert status == 302
        async with lan.http.get(f"{stack.base_url}/customers/{customer_id}") as page:
            html = await page.text()
        assert "khách yêu cầu không gọi" in html and "Trần Thị Lan" in html

        # Click-to-call warns, names the customer and rings nobody.
        status, body = await lan.post("/api/agent/originate", {"number": AN_PHONE})
        assert status == 409, body
        assert body["do_not_call"]["name"] == "Nguyễn Văn An"
        assert body["do_not_call"]["reason"] == "khách yêu cầu không gọi"
        assert "Nguyễn Văn An đã yêu cầu không gọi" in body["error"]
        await asyncio.sleep(0.3)
        assert stack.phone_channel("PJSIP/101") is None

        # With a reason the call goes ahead, and the override is audited.
        status, body = await lan.post(
            "/api/agent/originate",
            {"number": AN_PHONE, "do_not_call_reason": "khách gọi nhỡ, cần trả lời khiếu nại"},
        )
        assert status == 200, body
        await stack.wait_ringing("PJSIP/101")

        # The ticket page's click-to-call (a supervisor's) obeys the same rule.
        await sup.login("sup")
        async with stack.app[SESSIONMAKER]() as session:
            ticket = await session.scalar(
                select(Ticket).where(Ticket.customer_id == customer_id).limit(1)
            )
        assert ticket is not None
        status, body = await sup.post(f"/api/tickets/{ticket.code}/call", {})
        assert status == 409 and body["do_not_call"]["customer_id"] == customer_id, body

        # An agent may not clear it; a supervisor may.
        status = await _form_post(lan, f"/customers/{customer_id}/do-not-call", {"action": "clear"})
        assert status == 403
        status = await _form_post(sup, f"/customers/{customer_id}/do-not-call", {"action": "clear"})
        assert status == 302

        async with stack.app[SESSIONMAKER]() as session:
            customer = await session.get(Customer, customer_id)
            assert customer is not None and not customer.do_not_call
            assert customer.do_not_call_reason == ""
            audit = [
                (entry.action, entry.username, entry.details)
                for entry in await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action.like("%do_not_call%"))
                    .order_by(AuditEntry.id)
                )
            ]
            trail = [
                change.changes
                for change in await session.scalars(
                    select(CustomerChange)
                    .where(CustomerChange.customer_id == customer_id)
                    .order_by(CustomerChange.id)
                )
            ]
        assert audit == [
            ("customer.do_not_call", "lan", {"reason": "khách yêu cầu không gọi"}),
            (
                "call.do_not_call_override",
                "lan",
                {"number": "+84912345678", "reason": "khách gọi nhỡ, cần trả lời khiếu nại"},
            ),
            ("customer.do_not_call_cleared", "sup", {}),
        ]
        assert trail[-2:] == [
            {"do_not_call": [False, True], "do_not_call_reason": ["", "khách yêu cầu không gọi"]},
            {"do_not_call": [True, False], "do_not_call_reason": ["khách yêu cầu không gọi", ""]},
        ]
    finally:
        await lan.close()
        await sup.close()
