"""Issue 11 item 4 on a real Asterisk trace: a call entering through a Local channel.

``a-answered-caller-hangup`` (recorded from Asterisk 22.10.1, ``tests/sim/reference``)
is exactly that shape: the caller is the ``;1`` half (``Uniqueid == Linkedid``
``1795436100.36``), the hotline dialplan and its FastAGI ``route`` run on the ``;2``
half (``agi_uniqueid 1795436100.37``), the agent answers and the caller hangs up
first. The AMI events are replayed into the real tracker and bus; the FastAGI
requests are played at the points the dialplan made them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.core.calltracker import CallTracker
from callcenter.core.events import CallEnded
from callcenter.db.models import Task
from tests.acd.test_service import rig, settle  # noqa: F401  (the ACD service rig fixture)
from tests.ami import traces

REFERENCE = Path(__file__).resolve().parents[1] / "sim" / "reference"
LINKEDID, AGI_UNIQUEID = "1795436100.36", "1795436100.37"


def trace_events() -> list[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traces, "TRACES", REFERENCE)
        return traces.events("a-answered-caller-hangup")


async def test_answered_call_entering_through_a_local_channel(
    rig: Any,  # noqa: F811  (the fixture imported above)
    session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = CallTracker(rig.bus, clock=rig.clock)
    rig.service.linkedid_of = tracker.linkedid_of
    agent = rig.ids["agent1"]
    await rig.service.login(agent, "Local/401@sim-agent")  # the trace's agent phone
    stream = trace_events()
    # Up to the route request: the Local pair exists, the caller ID is set.
    split = next(
        i for i, e in enumerate(stream) if str(e.get("Channel", "")).startswith("Local/401@")
    )
    tracker.feed_all(stream[:split])
    assert tracker.linkedid_of(AGI_UNIQUEID) == LINKEDID
    dial = await rig.agi(
        "route", {"CC_GROUP": "care"}, uniqueid=AGI_UNIQUEID, caller="+15551230001"
    )
    assert dial.variables["CC_AGENT_CHANNEL"] == "Local/401@sim-agent"
    offer = rig.service.ringing_offer(agent)
    assert offer is not None and offer.linkedid == LINKEDID and offer.call_id == AGI_UNIQUEID
    with caplog.at_level(logging.INFO, logger="callcenter.services.acd"):
        tracker.feed_all(stream[split:])  # rings, answered, talk, the caller hangs up first
        await rig.agi("hangup", uniqueid=AGI_UNIQUEID)  # the production dialplan's h
        await settle(rig.service)
    ended = [e for e in rig.events if isinstance(e, CallEnded)]
    assert [(e.linkedid, e.record.disposition) for e in ended] == [(LINKEDID, "answered")]
    assert ended[0].record.agent_interface.startswith("Local/401@sim-agent")
    status = rig.service.acd.agents[agent]
    assert status.calls_today == 1  # fewest_calls counts it
    assert str(status.state) == "wrapup"
    assert not [r for r in caplog.records if "abandoned" in r.getMessage()]
    async with session_factory() as session:
        assert (await session.scalars(select(Task))).all() == []  # no false callback task
    assert rig.service.calls == {} and rig.service.acd.calls == {}
