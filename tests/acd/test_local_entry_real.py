"""Issue 11 item 4 on the production dialplan, recorded from a real Asterisk 22:
``tests/acd/reference/local-entry.txt`` (re-record: ``scripts/record_local_entry.py``).

An Originate sends the call into ``Local/19006868@from-trunk`` (the forwarding side
stays on the line), so ``[cc-inbound]`` runs on the ``;2`` half (FastAGI
``agi_uniqueid 1796417788.1``) while the call is the ``;1``'s (``Linkedid
1796417788.0``); the caller ID arrives by ``NewCallerid`` after both halves exist.
The agent (``Local/101@sim-agent``) answers after 1.5 s and the forwarding side hangs
up first. The AMI events are replayed into the tracker and the ACD service, the
FastAGI requests played where the recording shows them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.core.calltracker import CallTracker
from callcenter.core.events import CallEnded, CallerIdChanged, CallStarted
from callcenter.db.models import Task
from tests.acd.test_service import rig, settle  # noqa: F401  (the ACD service rig fixture)
from tests.ami import traces

REFERENCE = Path(__file__).resolve().parent / "reference"
LINKEDID, AGI_UNIQUEID = "1796417788.0", "1796417788.1"
CHANNEL = "Local/19006868@from-trunk-00000000;2"


def recorded() -> list[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traces, "TRACES", REFERENCE)
        return traces.events("local-entry")


def agi_sessions() -> list[dict[str, str]]:
    """The FastAGI requests Asterisk made, in order (their agi_* environment)."""
    sessions: list[dict[str, str]] = []
    for line in (REFERENCE / "local-entry.agi.txt").read_text().splitlines():
        if line.startswith("# ===== FastAGI session"):
            sessions.append({})
        elif line.startswith("<< agi_") and sessions:
            key, _, value = line[3:].partition(": ")
            sessions[-1][key] = value
    return sessions


async def test_real_local_entry_is_one_answered_call(
    rig: Any,  # noqa: F811  (the fixture imported above)
    session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbound, route, hangup = agi_sessions()
    assert [s["agi_network_script"] for s in (inbound, route, hangup)] == [
        "inbound",
        "route",
        "hangup",
    ]
    assert {s["agi_uniqueid"] for s in (inbound, route, hangup)} == {AGI_UNIQUEID}
    tracker = CallTracker(rig.bus, clock=rig.clock)
    rig.service.linkedid_of = tracker.linkedid_of
    agent = rig.ids["agent1"]
    await rig.service.login(agent, "Local/101@sim-agent")
    stream = recorded()
    agi_at = [i for i, e in enumerate(stream) if e.get("Event") == "AGIExecStart"]
    agent_leg = next(
        i for i, e in enumerate(stream) if str(e.get("Channel", "")).startswith("Local/101@")
    )
    tracker.feed_all(stream[: agi_at[0]])  # up to the inbound request
    started = [e for e in rig.events if isinstance(e, CallStarted)]
    assert [(e.linkedid, e.caller_number) for e in started] == [(LINKEDID, "")]
    assert [(e.linkedid, e.caller_number, e.caller_name) for e in rig.events
            if isinstance(e, CallerIdChanged)] == [(LINKEDID, "+84912345678", "Nguyen Van An")]  # fmt: skip
    env = {"uniqueid": AGI_UNIQUEID, "channel": CHANNEL, "caller": route["agi_callerid"]}
    await rig.agi("inbound", args=("19006868",), **env)
    tracker.feed_all(stream[agi_at[0] : agent_leg])  # menu-less: on to cc-route
    dial = await rig.agi("route", {"CC_GROUP": "care"}, **env)
    assert dial.variables["CC_AGENT_CHANNEL"] == "Local/101@sim-agent"
    offer = rig.service.ringing_offer(agent)
    assert offer is not None and offer.linkedid == LINKEDID
    with caplog.at_level(logging.INFO, logger="callcenter.services.acd"):
        tracker.feed_all(stream[agent_leg:])  # rings, answered, the forwarding side hangs up
        await rig.agi("hangup", **env)
        await settle(rig.service)
    ended = [e for e in rig.events if isinstance(e, CallEnded)]
    assert [(e.linkedid, e.record.disposition, e.record.caller_number) for e in ended] == [
        (LINKEDID, "answered", "+84912345678")
    ]
    assert rig.service.acd.agents[agent].calls_today == 1
    assert str(rig.service.acd.agents[agent].state) == "wrapup"
    assert not [r for r in caplog.records if "abandoned" in r.getMessage()]
    async with session_factory() as session:
        assert (await session.scalars(select(Task))).all() == []
