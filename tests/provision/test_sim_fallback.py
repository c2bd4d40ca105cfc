"""The simulator's fallback queue follows queues.conf as Asterisk 22 does (issue 11):
``joinempty = paused,…`` sends a caller away at once when every agent is paused, and a
member added with AMI QueueAdd (an agent hot-desking) takes the next call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.ami.control import AmiCallControl
from callcenter.core.call_control import CallControlError
from callcenter.sim.phones import PhoneBehaviour
from tests.sim.test_production_flow import Rig, make_rig


@pytest.fixture
async def down_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {
        name: PhoneBehaviour(name, answer_delay=1.0, talk_seconds=3.0)
        for name in ("101", "102", "103", "104")
    }
    async for rig in make_rig(tmp_path, phones, daemon_up=False):
        yield rig


def _queue_statuses(rig: Rig) -> list[str]:
    return [
        e["Value"]
        for e in rig.dialplan  # the dialplan's variable (the daemon does not subscribe to it)
        if e.get("Event") == "VarSet" and e.get("Variable") == "QUEUESTATUS" and e.get("Value")
    ]


async def test_every_agent_paused_means_no_waiting_in_the_fallback_queue(down_rig: Rig) -> None:
    for member in down_rig.sim.pbx.queues["cc-fallback"].members:
        reply = await down_rig.link.send_action(
            {"Action": "QueuePause", "Queue": "cc-fallback", "Interface": member.interface,
             "Paused": "true", "Reason": "lunch"}
        )  # fmt: skip
        assert reply.success
    linkedid = await down_rig.call(patience=60)
    record = await down_rig.until_ended(linkedid)
    assert record.disposition != "answered"
    assert _queue_statuses(down_rig) == ["JOINEMPTY"]
    assert not any(e.get("Event") == "QueueCallerJoin" for e in down_rig.events)


async def test_a_hot_desk_member_added_by_queueadd_takes_the_call(down_rig: Rig) -> None:
    for member in down_rig.sim.pbx.queues["cc-fallback"].members:
        member.paused = True
    # Through the daemon's own adapter (AmiCallControl), as the ACD service calls it.
    control = AmiCallControl(down_rig.link)
    async with asyncio.timeout(5):  # one reply each: none may wait for a list end
        await control.queue_add("PJSIP/104", queue="cc-fallback", member_name="lan", paused=False)
        with pytest.raises(CallControlError, match="Already there"):
            await control.queue_add(
                "PJSIP/104", queue="cc-fallback", member_name="lan", paused=False
            )
        with pytest.raises(CallControlError, match="Member not dynamic"):
            await control.queue_remove("PJSIP/101", queue="cc-fallback")
    linkedid = await down_rig.call(patience=60)
    record = await down_rig.until_ended(linkedid)
    assert (record.disposition, record.agent_interface) == ("answered", "PJSIP/104")
    await control.queue_remove("PJSIP/104", queue="cc-fallback")
    assert [m.interface for m in down_rig.sim.pbx.queues["cc-fallback"].members] == [
        "PJSIP/101",
        "PJSIP/102",
        "PJSIP/103",
    ]
