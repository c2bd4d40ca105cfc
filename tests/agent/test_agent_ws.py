"""The agent websocket: pops go only to their agent, carry the history, and stay data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from callcenter.agent_desk.plugin import AGENT_DESK
from callcenter.core.events import CallOffered, CallStarted
from callcenter.db.models import CallWrapUp, Ticket
from callcenter.registry import BUS, SESSIONMAKER
from tests.agent.conftest import AgentWorld
from tests.agent.factories import add_call
from tests.auth_helpers import csrf_headers, login, make_user
from tests.events import answered, ended

XSS = "<img src=x onerror=alert(1)>"
AT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def ring(
    agent_world: AgentWorld,
    linkedid: str,
    interface: str,
    *,
    number: str = "0912 345 678",
    name: str = "NGUYEN VAN AN",
) -> None:
    """What the call tracker publishes: the call starts, then rings an agent's phone."""
    bus = agent_world.client.server.app[BUS]
    bus.publish(
        CallStarted(
            linkedid=linkedid,
            at=AT,
            caller_number=number,
            caller_name=name,
            dialed_number="19006868",
            channel=f"PJSIP/trunk-{linkedid}",
        )
    )
    bus.publish(
        CallOffered(
            linkedid=linkedid,
            at=AT,
            interface=interface,
            channel=f"{interface}-0001",
            uniqueid=f"{linkedid}.2",
            queue="",
            caller_number=number,
        )
    )


async def test_pop_reaches_only_its_agent_with_history(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    minh = await open_desk("minh", agent_world.minh_id)
    ring(agent_world, "1700.1", "PJSIP/101")
    pop = await lan.next_of("pop")
    assert pop["phase"] == "ringing"
    assert pop["call"]["caller_number"] == "+84912345678"
    assert pop["customer"]["name"] == "Nguyễn Văn An"
    assert [v["model"] for v in pop["customer"]["vehicles"]] == ["Ollin 350", "Auman C160"]
    assert pop["history"]["open_tickets"][0]["subject"] == "Bảo hành: xe kêu to"
    assert pop["history"]["calls"][0]["agent"] == "Trần Thị Lan"
    assert pop["history"]["calls"][0]["recording_url"] is None  # agents may not listen
    await minh.nothing_of("pop")


async def test_xss_caller_name_arrives_as_plain_data(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.2", "PJSIP/101", number="0987 000 111", name=XSS)
    pop = await lan.next_of("pop")
    assert pop["call"]["caller_name"] == XSS
    assert pop["customer"] is None and pop["quick_create"] == {"phone": "+84987000111"}


async def test_anonymous_caller_is_shown_without_lookup(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.3", "PJSIP/101", number="anonymous", name="")
    pop = await lan.next_of("pop")
    assert pop["call"]["anonymous"] is True and pop["customer"] is None
    assert pop["quick_create"] is None


async def test_answer_save_wrapup_writes_ticket(agent_world: AgentWorld, open_desk: Any) -> None:
    app = agent_world.client.server.app
    async with app[SESSIONMAKER]() as session:
        call = await add_call(session, agent_world.world, "1700.4", agent_id=agent_world.lan_id)
        await session.commit()
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.4", "PJSIP/101")
    await lan.next_of("pop")
    app[BUS].publish(
        answered(
            "1700.4",
            "PJSIP/101",
            at=AT,
            uniqueid="1700.4.2",
            wait_seconds=3.0,
            caller_number="+84912345678",
        )
    )
    update = await lan.next_of("call")
    assert update["call"]["phase"] == "talking"
    counters = await lan.next_of("counters")
    assert counters["calls_today"] >= 1
    w = agent_world.world
    response = await lan.client.post(
        "/api/agent/calls/1700.4/wrapup",
        json={
            "outcome": "new_ticket",
            "category_id": w.category_id,
            "priority": "high",
            "notes": "Xe không nổ máy",
        },
        headers=csrf_headers(lan.client),
    )
    assert response.status == 200, await response.text()
    ticket_id = (await response.json())["ticket_id"]
    async with app[SESSIONMAKER]() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.status, ticket.department_id, ticket.priority, ticket.call_id) == (
            "unassigned",
            w.department_id,
            "high",
            call.id,
        )
        assert ticket.customer_id == w.customer_id
    again = await lan.client.post(
        "/api/agent/calls/1700.4/wrapup",
        json={"outcome": "info_only", "category_id": w.category_id},
        headers=csrf_headers(lan.client),
    )
    assert again.status == 409


async def test_wrapup_timeout_saves_uncategorized(agent_world: AgentWorld, open_desk: Any) -> None:
    app = agent_world.client.server.app
    async with app[SESSIONMAKER]() as session:
        from callcenter.db.models import SystemSetting

        session.add(SystemSetting(key="wrapup_seconds", value=0, updated_at=AT))
        call = await add_call(session, agent_world.world, "1700.5", agent_id=agent_world.lan_id)
        await session.commit()
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.5", "PJSIP/101")
    pop = await lan.next_of("pop")
    app[BUS].publish(answered("1700.5", "PJSIP/101", at=AT))
    await lan.next_of("call")
    await lan.ws.send_json(
        {"type": "draft", "linkedid": pop["call"]["linkedid"], "notes": "hỏi giá"}
    )
    await lan.ws.send_json({"type": "ping"})
    await lan.next_of("pong")
    app[BUS].publish(ended("1700.5", at=AT + timedelta(seconds=60)))
    timed_out = await lan.next_of("wrapup_timed_out")
    async with app[SESSIONMAKER]() as session:
        wrap = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
        assert wrap is not None and wrap.timed_out and wrap.outcome == "uncategorized"
        ticket = await session.get(Ticket, timed_out["ticket_id"])
        assert ticket is not None and ticket.status == "unassigned" and ticket.needs_review
        assert ticket.description == "hỏi giá"


async def test_second_agent_cannot_wrap_up_someone_elses_call(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    app = agent_world.client.server.app
    async with app[SESSIONMAKER]() as session:
        await add_call(session, agent_world.world, "1700.6", agent_id=agent_world.lan_id)
        await session.commit()
    minh = await open_desk("minh", agent_world.minh_id)
    response = await minh.client.post(
        "/api/agent/calls/1700.6/wrapup",
        json={"outcome": "info_only", "category_id": agent_world.world.category_id},
        headers=csrf_headers(minh.client),
    )
    assert response.status == 404


async def test_reconnect_resynchronises_the_current_call(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.7", "PJSIP/101")
    await lan.next_of("pop")
    await lan.ws.close()
    again = await lan.client.ws_connect("/agent/ws")
    sync = await again.receive_json(timeout=2)
    assert sync["type"] == "sync"
    assert sync["call"]["linkedid"] == "1700.7" and sync["call"]["phase"] == "ringing"
    assert sync["pop"]["customer"]["name"] == "Nguyễn Văn An"
    await again.close()


async def test_websocket_refuses_anonymous_foreign_origin_and_other_roles(
    agent_world: AgentWorld,
) -> None:
    client = agent_world.client
    try:
        await client.ws_connect("/agent/ws")
        raise AssertionError("anonymous websocket was accepted")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 401
    await login(client, "lan")
    try:
        await client.ws_connect("/agent/ws", headers={"Origin": "http://evil.example"})
        raise AssertionError("foreign origin accepted")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    await make_user(client, "dept", "department")
    await client.post("/logout", headers=csrf_headers(client))
    await login(client, "dept")
    try:
        await client.ws_connect("/agent/ws")
        raise AssertionError("department staff got the agent websocket")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403


async def test_slow_client_is_closed_not_buffered(agent_world: AgentWorld, open_desk: Any) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    hub = agent_world.client.server.app[AGENT_DESK].hub
    (connection,) = list(hub._by_agent[agent_world.lan_id])
    for index in range(5000):  # the browser reads nothing meanwhile
        hub.send_to_agent(agent_world.lan_id, {"type": "counters", "n": index, "pad": "x" * 1000})
    assert connection.close_code is not None and connection.close_code.name == "TOO_SLOW"
    while True:
        message = await lan.ws.receive(timeout=5)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert lan.ws.close_code == 4008


async def test_quick_create_from_the_pop_links_the_call(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    app = agent_world.client.server.app
    async with app[SESSIONMAKER]() as session:
        call = await add_call(
            session,
            agent_world.world,
            "1700.8",
            agent_id=agent_world.lan_id,
            customer_id=None,
            caller_number="+84987000555",
        )
        await session.commit()
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.8", "PJSIP/101", number="0987 000 555", name="KHACH MOI")
    pop = await lan.next_of("pop")
    assert pop["quick_create"] == {"phone": "+84987000555"}
    bad = await lan.client.post(
        "/api/agent/customers",
        json={"name": "Anh Tư", "phone": "12ab", "linkedid": "1700.8"},
        headers=csrf_headers(lan.client),
    )
    assert bad.status == 400 and "phone" in (await bad.json())["error"]
    response = await lan.client.post(
        "/api/agent/customers",
        json={
            "name": "Anh Tư",
            "phone": pop["quick_create"]["phone"],
            "province": "Huế",
            "linkedid": "1700.8",
        },
        headers=csrf_headers(lan.client),
    )
    assert response.status == 200, await response.text()
    customer_id = (await response.json())["customer_id"]
    again = await lan.client.post(
        "/api/agent/customers",
        json={"name": "Trùng số", "phone": "0987000555"},
        headers=csrf_headers(lan.client),
    )
    assert again.status == 409  # the number already belongs to the new customer
    async with app[SESSIONMAKER]() as session:
        from callcenter.db.models import Call, Customer

        saved = await session.get(Call, call.id)
        assert saved is not None and saved.customer_id == customer_id
        customer = await session.get(Customer, customer_id)
        assert customer is not None and customer.name == "Anh Tư"
        assert customer.province == "Huế"


async def test_shutdown_closes_open_pages_promptly(agent_world: AgentWorld, open_desk: Any) -> None:
    """SIGTERM runs the app's shutdown before aiohttp waits for running handlers: an open
    agent page must be closed then (1001, it reconnects), not hold the stop up."""
    lan = await open_desk("lan", agent_world.lan_id)
    app = agent_world.client.server.app
    assert app is not None
    await asyncio.wait_for(app.shutdown(), timeout=3)
    message = await lan.ws.receive(timeout=3)
    assert message.type == aiohttp.WSMsgType.CLOSE, (message.type, message.data)
    assert message.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_a_burst_of_queue_changes_reaches_the_page_as_its_last_counters(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    """With a long queue every ACD change moves the waiting count: the page gets the
    counters at most every COUNTERS_PUSH_SECONDS, and the last of a burst always."""
    from callcenter.agent_desk.desk import COUNTERS_PUSH_SECONDS
    from callcenter.core.events import QueueChanged

    app = agent_world.client.server.app
    lan = await open_desk("lan", agent_world.lan_id)
    app[AGENT_DESK].agents[agent_world.lan_id].groups = frozenset({"care"})
    for waiting in range(1, 21):  # twenty changes within a few milliseconds
        app[BUS].publish(QueueChanged(groups={"care": {"waiting": waiting, "longest_wait": 5.0}}))
    seen: list[int] = []
    deadline = asyncio.get_running_loop().time() + COUNTERS_PUSH_SECONDS * 3
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            message = await lan.next_message(left)
        except TimeoutError:
            break
        if message["type"] == "counters":
            seen.append(message["waiting"])
    assert seen == [1, 20]  # the first at once, then the newest after the pause
