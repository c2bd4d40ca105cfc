"""Transfers through the PBX simulator (production dialplan, real AMI/FastAGI): the agent who
receives a transferred caller is on a call in the ACD, and goes to wrap-up when it ends.

Without that the receiving agent stays "available" while talking (only their phone's busy
state keeps offers away) and is offered the next caller the moment they hang up, skipping
the wrap-up every answered call gets.
"""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.sim.channels import UP
from tests.acd.sim_rig import HOTLINE, SimRig, phone

pytestmark = pytest.mark.timeout(90)


def _agent_channel(rig: SimRig, endpoint: str) -> str:
    """The live channel of ``endpoint``'s phone that is up (the agent's leg of the call)."""
    names = [
        chan.name
        for chan in rig.pbx.channels.values()
        if chan.name.startswith(f"PJSIP/{endpoint}-") and not chan.hungup and chan.state == UP
    ]
    assert len(names) == 1, names
    return names[0]


async def _answered_by_agent1(rig: SimRig) -> None:
    await rig.login("agent1", "agent2")  # agent1 logs in first: least_recent rings them
    await rig.pbx.place_call(HOTLINE, "0912000001")
    await rig.until(lambda: rig.agent_state("agent1") == "on_call", 60)
    await rig.until(lambda: any(c.bridge for c in rig.pbx.channels.values()), 30)


async def _states(rig: SimRig, name: str) -> list[str]:
    await rig.service.flush()
    return [state for state, _ in await rig.states(name)]


async def test_blind_transfer_target_is_on_call_then_in_wrapup(make_rig: Any) -> None:
    # agent1 would talk for a minute; agent2 talks 10 s on the transferred call.
    rig = await make_rig([phone("101", talk=60), phone("102", talk=10), phone("103")], wrapup=30)
    await _answered_by_agent1(rig)
    assert rig.service.control is not None
    await rig.service.control.blind_transfer(_agent_channel(rig, "101"), "agents", "102")
    await rig.until(lambda: rig.agent_state("agent1") == "wrapup", 30)
    await rig.until(lambda: rig.agent_state("agent2") == "on_call", 30)
    agent2 = rig.service.acd.agents[rig.agents["agent2"]]
    assert agent2.calls_today == 1  # a call they answered, as any other
    # A caller arriving now waits: agent1 is in wrap-up, agent2 talks to the transferred caller.
    await rig.pbx.place_call(HOTLINE, "0912000002")
    await rig.until(lambda: len(rig.service.acd.waiting("care")) == 1, 30)
    await rig.until(lambda: rig.agent_state("agent2") == "wrapup", 60)
    # agent2 hung up first (t≈+12 s) but is in wrap-up: the caller rings agent1 once
    # their 30 s wrap-up ends, never agent2 straight after the transferred call.
    await rig.until(lambda: ("101", "0912000002") in rig.dialed_callers(), 60)
    assert ("102", "0912000002") not in rig.dialed_callers()
    assert rig.service.acd.calls.keys() == {rig.service.acd.agents[rig.agents["agent1"]].call_id}
    assert (await _states(rig, "agent2"))[:3] == ["available", "on_call", "wrapup"]
    assert (await _states(rig, "agent1"))[:4] == ["available", "ringing", "on_call", "wrapup"]


async def test_attended_transfer_hands_the_call_to_the_target(make_rig: Any) -> None:
    """Atxfer: agent2 answers the consultation while agent1 still has the caller; when
    agent1 hangs up the caller is agent2's. agent1 goes to wrap-up (before: stuck on call,
    the consultation's answer had taken the call from them), agent2 is on the call until
    it ends, then in wrap-up."""
    rig = await make_rig([phone("101", talk=None), phone("102", talk=15), phone("103")], wrapup=30)
    await _answered_by_agent1(rig)
    agent1_channel = _agent_channel(rig, "101")
    assert rig.service.control is not None
    await rig.service.control.attended_transfer(agent1_channel, "agents", "102")
    await rig.until(
        lambda: any(
            c.name.startswith("PJSIP/102-") and c.state == UP for c in rig.pbx.channels.values()
        ),
        60,
    )
    # Consulting: the caller is still agent1's.
    assert rig.agent_state("agent1") == "on_call"
    await rig.sleep(1)
    transferer = rig.pbx.find(agent1_channel)
    assert transferer is not None
    rig.pbx.request_hangup(transferer, 16)  # agent1 hangs up: the transfer completes
    await rig.until(lambda: rig.agent_state("agent1") == "wrapup", 30)
    await rig.until(lambda: rig.agent_state("agent2") == "on_call", 30)
    await rig.until(lambda: rig.agent_state("agent2") == "wrapup", 60)
    await rig.until(lambda: not rig.service.acd.calls, 30)
    assert rig.agent_state("agent1") in ("wrapup", "available")
    assert (await _states(rig, "agent2"))[:3] == ["available", "on_call", "wrapup"]
    assert (await _states(rig, "agent1"))[:4] == ["available", "ringing", "on_call", "wrapup"]
