"""Issue 11 item 4: a call that enters through a Local channel (call forwarding, internal
routing, a Local-channel trunk), end to end through the simulator.

The ``;2`` half runs the dialplan, so FastAGI's ``agi_uniqueid`` is not the call's
``Linkedid`` (the ``;1`` half's); the caller ID is set after both halves exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callcenter.agent_desk.plugin import AGENT_DESK
from callcenter.db.models import Call
from callcenter.services.plugin import CALL_RECORDER
from callcenter.sim import dialplan as dp
from tests.acd.sim_rig import HOTLINE, phone

pytestmark = pytest.mark.timeout(60)

NUMBER = "0912345678"


async def test_answered_call_through_a_local_channel(make_rig: Any) -> None:
    rig = await make_rig([phone("101", talk=120), phone("102"), phone("103")], vip=["+84912345678"])
    await rig.login("agent1")
    assert rig.app is not None
    desk = rig.app[AGENT_DESK]
    pops: list[dict[str, Any]] = []
    send = desk.hub.send_to_agent

    def capture(agent_id: int, message: dict[str, Any]) -> None:
        if message.get("type") == "pop" and not message.get("history_pending"):
            pops.append(message)  # (a pop sent while a slow history loads is finished later)
        send(agent_id, message)

    desk.hub.send_to_agent = capture  # type: ignore[method-assign]
    # The forwarding side: whoever sent the call into the Local channel stays on the line,
    # then hangs up first (20 s after the hotline answered, the agent talks on for longer).
    caller_side = dp.parse("[sim-forwarder]\nexten => s,1,Wait(20)\n same => n,Hangup()\n")
    rig.pbx.dialplan.contexts.update(caller_side.contexts)
    one = await rig.pbx.originate(
        f"Local/{HOTLINE}@from-trunk",
        context="sim-forwarder",
        exten="s",
        callerid=f"Nguyen Van An <{NUMBER}>",
        ring_seconds=120,
    )
    assert one is not None
    agent1 = rig.agents["agent1"]
    await rig.until(lambda: rig.agent_state("agent1") == "wrapup", 90)
    await rig.until(lambda: not rig.pbx.channels, 60)
    await rig.service.flush()
    await rig.app[CALL_RECORDER].flush()

    async with await rig.db() as session:
        calls = (await session.scalars(select(Call))).all()
    assert [(c.linkedid, c.disposition, c.agent_id) for c in calls] == [
        (one.linkedid, "answered", agent1)
    ]
    assert await rig.tasks() == []  # no false callback task
    assert rig.service.acd.agents[agent1].calls_today == 1
    # popped once, under the call's Linkedid (the call record's), before the answer
    assert [(p["call"]["linkedid"], p["phase"]) for p in pops] == [(one.linkedid, "ringing")]
    last = pops[-1]
    assert last["call"]["caller_number"] == "+84912345678"
    assert last["call"]["caller_name"] == "Nguyen Van An"
    assert last["customer"] is not None and last["customer"]["name"] == "VIP +84912345678"
