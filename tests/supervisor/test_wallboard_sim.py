"""The wallboard and listening in against the whole system: simulated Asterisk → daemon.

Calls run the production dialplan in the simulator; the supervisor's websocket must show
each step without asking (ringing, talking with the caller's number and name, wrap-up,
a caller waiting, an abandon), today's KPIs must equal what the stored call records and
state log give, a restart must rebuild them from the database, and a barge-in must ring
the supervisor's own phone into ChanSpy on the agent's channel — audited, refused to
agents.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.clock import SystemClock
from callcenter.db.models import AuditEntry, Call, CallWrapUp
from callcenter.localtime import day_bounds, local_date
from callcenter.registry import SESSIONMAKER
from callcenter.services.plugin import ACD_SERVICE, CALL_RECORDER
from callcenter.sim.channels import Channel
from tests.agent.test_through_simulator import AgentClient
from tests.conftest import MigratedTemplates
from tests.supervisor.stack import (
    SUPERVISOR_PHONE,
    SupervisorStack,
    WallboardClient,
    agent_row,
    build_supervisor_stack,
)


@pytest.fixture
async def stack(
    tmp_path: Path, migrated_templates: MigratedTemplates
) -> AsyncIterator[SupervisorStack]:
    # short abandons off: the test's abandon (about 1 s) must count in the service level
    stack = await build_supervisor_stack(
        tmp_path, migrated_templates, settings={"short_abandon_seconds": 0}
    )
    await stack.start_daemon()
    yield stack
    await stack.close()


def spy_channels(stack: SupervisorStack) -> list[Channel]:
    return [
        c
        for c in stack.pbx.channels.values()
        if c.name.startswith(SUPERVISOR_PHONE + "-") and "spy" in c.extra
    ]


async def test_wallboard_follows_the_floor_and_a_supervisor_barges_in(
    stack: SupervisorStack,
) -> None:
    tuan = WallboardClient(stack.base_url)
    lan, minh = AgentClient(stack.base_url), AgentClient(stack.base_url)
    lan_id, minh_id = stack.agents["lan"], stack.agents["minh"]
    try:
        await tuan.login("tuan")
        assert tuan.landed == "/supervisor"  # supervisors land on the wallboard
        first = await tuan.connect()
        assert first["today"]["offered"] == 0 and first["waiting"] == []
        assert first["today"]["service_level"] is None

        await lan.login("lan")
        await minh.login("minh")
        await lan.connect()
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        assert status == 200, body
        await tuan.board_where(lambda b: agent_row(b, lan_id)["state"] == "available")

        # A call arrives: Lan's phone rings; she answers; the board names the caller.
        await stack.call("0912345678", "<b>NGUYEN</b> VAN AN")
        phone = await stack.wait_ringing("PJSIP/101")
        ringing = await tuan.board_where(lambda b: agent_row(b, lan_id)["state"] == "ringing")
        assert ringing["today"]["offered"] == 1  # in progress counts as offered
        stack.answer(phone)
        talking = await tuan.board_where(
            lambda b: (
                agent_row(b, lan_id)["state"] == "on_call"
                and agent_row(b, lan_id)["caller"] is not None
            )
        )
        caller = agent_row(talking, lan_id)["caller"]
        assert caller["number"] == "+84912345678"
        assert caller["name"] == "<b>NGUYEN</b> VAN AN"  # data, escaped by the page
        await asyncio.sleep(0.3)  # the bridge forms

        # Listening in: an agent is refused; the supervisor's phone rings into ChanSpy.
        async with minh.http.post(
            stack.base_url + "/api/supervisor/listen",
            json={"agent_id": lan_id},
            headers={"X-CSRF-Token": minh.csrf},
        ) as refused:
            assert refused.status == 403
        status, body = await tuan.post("/api/supervisor/listen", {"agent_id": minh_id})
        assert status == 409 and "not on a call" in body["error"]
        status, body = await tuan.post(
            "/api/supervisor/listen", {"agent_id": lan_id, "mode": "shout"}
        )
        assert status == 400 and "mode" in body["error"]
        status, body = await tuan.post(
            "/api/supervisor/listen", {"agent_id": lan_id, "mode": "barge"}
        )
        assert status == 200, body
        assert body["phone"] == SUPERVISOR_PHONE and body["mode"] == "barge"
        body_linkedid = body["linkedid"]
        for _ in range(100):
            if spy_channels(stack):
                break
            await asyncio.sleep(0.05)
        (spy,) = spy_channels(stack)
        assert spy.extra["spy"]["target"] == phone.name  # Lan's channel, not a prefix match
        assert spy.extra["spy"]["options"] == "qEB"
        assert stack.app is not None
        async with stack.app[SESSIONMAKER]() as session:
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "call.barge")
            )
            assert entry is not None and entry.username == "tuan"
            assert entry.details["call"] == body["linkedid"] and entry.target.startswith("lan")

        # The agent hangs up: wrap-up, answered 1; ChanSpy ends with the call (option E).
        await asyncio.sleep(0.5)
        stack.hang_up(phone)
        wrapup = await tuan.board_where(
            lambda b: agent_row(b, lan_id)["state"] == "wrapup" and b["today"]["answered"] == 1
        )
        assert agent_row(wrapup, lan_id)["caller"] is None
        for _ in range(100):
            if spy.hungup:
                break
            await asyncio.sleep(0.05)
        assert spy.hungup and spy.extra["spy"].get("ended")

        # Nobody is free now: the next caller waits (shown), then gives up (abandoned).
        caller_two = await stack.pbx.place_call("19006868", "0987000111", "KHACH", patience=1.5)
        waiting = await tuan.board_where(lambda b: len(b["waiting"]) == 1)
        assert waiting["waiting"][0]["caller"] == "+84987000111"
        assert waiting["longest_wait_since"] == waiting["waiting"][0]["since"]
        await tuan.board_where(lambda b: b["today"]["abandoned"] == 1 and not b["waiting"])
        assert caller_two.hungup

        # Lan saves her wrap-up: its time (from the call's end) joins the handle time.
        linkedid = body_linkedid  # the call the supervisor joined is Lan's
        assert stack.world is not None
        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/wrapup",
            {"outcome": "info_only", "category_id": stack.world.category_id, "notes": "hỏi giá"},
        )
        assert status == 200, body
        board = await tuan.board_where(lambda b: agent_row(b, lan_id)["state"] == "available")

        # Every KPI against the database (the call records and the saved wrap-up).
        await stack.app[CALL_RECORDER].flush()
        await stack.app[ACD_SERVICE].flush()
        async with stack.app[SESSIONMAKER]() as session:
            calls = list(await session.scalars(select(Call).order_by(Call.id)))
            wrapups = list(await session.scalars(select(CallWrapUp)))
        start, _end = day_bounds(local_date(SystemClock().now()))
        # the spy's own call is outbound (an Originate); the world's history is older
        inbound = [c for c in calls if c.direction == "inbound" and c.started_at >= start]
        answered = [c for c in inbound if c.disposition == "answered"]
        abandoned = [c for c in inbound if c.disposition == "abandoned"]
        assert (len(inbound), len(answered), len(abandoned)) == (2, 1, 1)
        assert abandoned[0].wait_seconds > 0  # short abandons are off: it counts
        (wrapup,) = [w for w in wrapups if w.call_id == answered[0].id]
        assert answered[0].ended_at is not None
        wrapup_seconds = (wrapup.saved_at - answered[0].ended_at).total_seconds()
        assert wrapup_seconds > 0.5
        today = board["today"]
        assert (today["offered"], today["answered"], today["abandoned"]) == (2, 1, 1)
        in_time = 1 if answered[0].wait_seconds <= 20 else 0
        assert today["service_level"] == round(100.0 * in_time / 2, 1)
        assert today["asa_seconds"] == pytest.approx(answered[0].wait_seconds, abs=0.06)
        handle = answered[0].talk_seconds + answered[0].hold_seconds + wrapup_seconds
        # live: until Lan left wrap-up; stored: until the save, a moment before
        assert today["aht_seconds"] == pytest.approx(handle, abs=0.3)

        # A restart rebuilds today's counters from the database.
        await lan.close()
        await minh.close()
        await tuan.close()
        await stack.stop_daemon()
        await stack.start_daemon()
        tuan = WallboardClient(stack.base_url)
        await tuan.login("tuan")
        again = await tuan.connect()
        for key in ("offered", "answered", "abandoned", "service_level", "asa_seconds"):
            assert again["today"][key] == today[key], key
        assert again["today"]["aht_seconds"] == pytest.approx(handle, abs=0.06)
    finally:
        await lan.close()
        await minh.close()
        await tuan.close()
