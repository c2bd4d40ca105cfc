"""The production dialplan through the simulator, seen by the daemon's AMI link and
call tracker over a real TCP connection: answered, no answer → next agent,
abandon while ringing, and the daemon down (fallback queue)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from callcenter.ami.link import AmiLink
from callcenter.clock import ScaledClock
from callcenter.core.calltracker import CallTracker
from callcenter.sim.phones import PhoneBehaviour
from callcenter.sim.runner import Simulator, SimulatorOptions
from callcenter.sim.scenario import Scenario
from tests.sim.daemon_stub import DaemonStub

SCALE = 10.0


@dataclass
class Rig:
    sim: Simulator
    tracker: CallTracker
    daemon: DaemonStub | None
    events: list[dict[str, Any]] = field(default_factory=list)  # what the daemon's AMI user sees
    #: everything the PBX raised, unfiltered: the dialplan's steps and variables, which the
    #: daemon does not subscribe to (issue 19), prove the flow
    dialplan: list[dict[str, Any]] = field(default_factory=list)
    link: Any = None

    async def call(self, **kwargs: Any) -> str:
        chan = await self.sim.pbx.place_call("19006868", "0912345678", "Nguyễn Văn A", **kwargs)
        return chan.uniqueid

    async def until_ended(self, linkedid: str, seconds: float = 10.0) -> Any:
        for _ in range(int(seconds / 0.05)):
            record = self.tracker.get(linkedid)
            if record is not None and record.ended_at is not None and not self.sim.pbx.channels:
                return record
            await asyncio.sleep(0.05)
        raise AssertionError(f"call {linkedid} did not end: {self.tracker.get(linkedid)}")


async def make_rig(
    tmp_path: Path,
    phones: dict[str, PhoneBehaviour],
    *,
    daemon_up: bool = True,
    daemon: DaemonStub | None = None,
) -> AsyncIterator[Rig]:
    if daemon is None and daemon_up:
        daemon = DaemonStub(["101", "102", "103"])
    port = await daemon.start() if daemon else 1  # port 1: nothing listens, AGI fails
    scenario = Scenario(agents=list(phones), time_scale=SCALE)
    sim = Simulator(
        scenario,
        SimulatorOptions(
            ami_secret="s3cret", agi_url=f"agi://127.0.0.1:{port}", recordings_dir=tmp_path
        ),
        ScaledClock(SCALE),
    )
    sim.pbx.phones.clear()
    sim.pbx.phones.update(phones)
    ami_port = await sim.start()
    tracker = CallTracker(clock=sim.clock)
    rig = Rig(sim, tracker, daemon)
    sim.pbx.listeners.append(lambda headers: rig.dialplan.append(dict(headers)))

    def on_event(message: Any) -> None:
        rig.events.append(dict(message))
        tracker.feed(message)

    link = AmiLink(
        "127.0.0.1", ami_port, "callcenter", "s3cret", on_event=on_event, clock=sim.clock
    )
    rig.link = link
    task = asyncio.ensure_future(link.run())
    for _ in range(100):
        if link.connected:
            break
        await asyncio.sleep(0.02)
    assert link.connected
    try:
        yield rig
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.close()
        if daemon:
            await daemon.close()


@pytest.fixture
async def answered_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {
        "101": PhoneBehaviour("101", answer_delay=1.0, talk_seconds=6.0),
        "102": PhoneBehaviour("102", answer_delay=1.0, talk_seconds=6.0),
    }
    async for rig in make_rig(tmp_path, phones):
        yield rig


async def test_answered_call_gives_an_answered_record_and_a_recording(
    answered_rig: Rig, tmp_path: Path
) -> None:
    linkedid = await answered_rig.call(patience=60)
    record = await answered_rig.until_ended(linkedid)
    assert record.disposition == "answered"
    assert record.agent_interface == "PJSIP/101"
    assert record.caller_number == "+84912345678"  # the trunk sent 0912345678
    assert [a.outcome for a in record.attempts] == ["answered"]
    assert record.recording_path.endswith(f"{linkedid}.wav")
    assert record.hangup_by == "agent"
    assert 4.0 < record.talk_seconds < 9.0  # 6 simulated seconds of talk
    assert answered_rig.daemon is not None
    assert answered_rig.daemon.scripts_seen[:2] == ["inbound", "route"]
    assert "after-call" in answered_rig.daemon.scripts_seen  # Dial's g option kept the caller
    await answered_rig.sim.recorder.drain()  # type: ignore[union-attr]
    path = tmp_path / f"{linkedid}.wav"
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 8000 * 5
        frames = wav.readframes(wav.getnframes())
    assert any(frames[i] for i in range(0, len(frames), 2))  # speech, not only silence


@pytest.fixture
async def noanswer_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {
        "101": PhoneBehaviour("101", mode="no_answer"),
        "102": PhoneBehaviour("102", answer_delay=1.0, talk_seconds=3.0),
    }
    async for rig in make_rig(tmp_path, phones):
        yield rig


async def test_no_answer_moves_the_call_to_the_next_agent(noanswer_rig: Rig) -> None:
    linkedid = await noanswer_rig.call(patience=60)
    record = await noanswer_rig.until_ended(linkedid)
    assert [(a.interface, a.outcome) for a in record.attempts] == [
        ("PJSIP/101", "noanswer"),
        ("PJSIP/102", "answered"),
    ]
    assert record.disposition == "answered"
    assert record.agent_interface == "PJSIP/102"


@pytest.fixture
async def abandon_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {"101": PhoneBehaviour("101", mode="no_answer")}
    async for rig in make_rig(tmp_path, phones):
        yield rig


async def test_caller_abandons_while_the_agent_rings(abandon_rig: Rig, tmp_path: Path) -> None:
    assert abandon_rig.daemon is not None
    abandon_rig.daemon.ring_timeout = 30
    linkedid = await abandon_rig.call(patience=8)
    record = await abandon_rig.until_ended(linkedid)
    assert record.disposition == "abandoned"
    assert record.hangup_by == "caller"
    assert record.answered_at is None
    assert [a.outcome for a in record.attempts] in (["caller_gone"], ["cancelled"])
    assert not (tmp_path / f"{linkedid}.wav").exists()  # unanswered calls leave no recording


@pytest.fixture
async def fallback_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {
        "101": PhoneBehaviour("101", answer_delay=1.0, talk_seconds=3.0),
        "102": PhoneBehaviour("102", answer_delay=1.0, talk_seconds=3.0),
        "103": PhoneBehaviour("103", answer_delay=1.0, talk_seconds=3.0),
    }
    async for rig in make_rig(tmp_path, phones, daemon_up=False):
        yield rig


async def test_daemon_down_sends_the_call_to_the_fallback_queue(fallback_rig: Rig) -> None:
    pbx = fallback_rig.sim.pbx
    # The daemon mirrored agent 101's pause before it went down: the queue skips 101.
    pbx.queues["cc-fallback"].members[0].paused = True
    linkedid = await fallback_rig.call(patience=60)
    record = await fallback_rig.until_ended(linkedid)
    assert record.queue == "cc-fallback"
    assert record.disposition == "answered"
    assert record.agent_interface == "PJSIP/102"
    agistatus = [
        e
        for e in fallback_rig.dialplan
        if e.get("Event") == "VarSet" and e.get("Variable") == "AGISTATUS"
    ]
    assert agistatus and agistatus[0]["Value"] == "FAILURE"
    assert any(e.get("Event") == "QueueCallerJoin" for e in fallback_rig.events)


@pytest.fixture
async def menu_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {"101": PhoneBehaviour("101", answer_delay=1.0, talk_seconds=2.0)}
    async for rig in make_rig(tmp_path, phones, daemon=DaemonStub(["101"], menu=True)):
        yield rig


async def test_menu_digit_reaches_the_daemon(menu_rig: Rig) -> None:
    linkedid = await menu_rig.call(patience=60, digits="2", digit_delay=2.0)
    record = await menu_rig.until_ended(linkedid)
    assert menu_rig.daemon is not None
    assert menu_rig.daemon.scripts_seen[:3] == ["inbound", "menu", "route"]
    assert menu_rig.daemon.menu_digits == ["2"]
    assert record.disposition == "answered"
    # The daemon's AMI user has no "dtmf" read class: key presses reach it only via FastAGI.
    assert not any(e.get("Event") == "DTMFEnd" for e in menu_rig.events)


@pytest.fixture
async def wait_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {"101": PhoneBehaviour("101", answer_delay=1.0, talk_seconds=2.0)}
    async for rig in make_rig(tmp_path, phones, daemon=DaemonStub([])):
        yield rig


async def test_waiting_caller_is_moved_to_an_agent_with_setvar_and_redirect(wait_rig: Rig) -> None:
    """route says wait; later the daemon (here: the test, over the AMI link) moves the caller."""
    linkedid = await wait_rig.call(patience=120)
    caller = None
    for _ in range(200):
        moh = [e for e in wait_rig.events if e.get("Event") == "MusicOnHoldStart"]
        if moh:
            caller = moh[0]["Channel"]
            break
        await asyncio.sleep(0.02)
    assert caller is not None and moh[0]["Context"] == "cc-wait"
    link = wait_rig.link
    await link.setvar(caller, "CC_AGENT_CHANNEL", "PJSIP/101")
    await link.setvar(caller, "CC_AGENT_ID", "101")
    await link.setvar(caller, "CC_RING_TIMEOUT", "10")
    await link.redirect(caller, "cc-dial", "s", 1)
    record = await wait_rig.until_ended(linkedid)
    assert record.disposition == "answered"
    assert record.agent_interface == "PJSIP/101"
    assert any(
        e.get("Event") == "MusicOnHoldStop" and e.get("Channel") == caller for e in wait_rig.events
    )


@pytest.fixture
async def busy_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {
        "101": PhoneBehaviour("101", mode="busy"),
        "102": PhoneBehaviour("102", mode="unregistered"),
        "103": PhoneBehaviour("103", answer_delay=1.0, talk_seconds=2.0),
    }
    async for rig in make_rig(tmp_path, phones):
        yield rig


async def test_busy_and_unregistered_phones(busy_rig: Rig) -> None:
    linkedid = await busy_rig.call(patience=60)
    record = await busy_rig.until_ended(linkedid)
    statuses = [
        e["Value"]
        for e in busy_rig.dialplan
        if e.get("Event") == "VarSet" and e.get("Variable") == "DIALSTATUS" and e["Value"]
    ]
    assert statuses[:2] == ["BUSY", "CHANUNAVAIL"]
    assert record.agent_interface == "PJSIP/103"
    # The agent on 102 registers: chan_pjsip's ContactStatus and DeviceStateChange.
    busy_rig.sim.pbx.set_registered("102", True)
    for _ in range(100):
        contact = [e for e in busy_rig.events if e.get("Event") == "ContactStatus"]
        if contact:
            break
        await asyncio.sleep(0.02)
    assert contact[0]["ContactStatus"] == "Reachable" and contact[0]["EndpointName"] == "102"
    assert any(
        e.get("Event") == "DeviceStateChange" and e.get("Device") == "PJSIP/102"
        for e in busy_rig.events
    )


@pytest.fixture
async def closed_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {"101": PhoneBehaviour("101")}
    async for rig in make_rig(tmp_path, phones, daemon=DaemonStub(["101"], closed=True)):
        yield rig


async def test_out_of_hours_plays_the_prompt_and_hangs_up(closed_rig: Rig) -> None:
    linkedid = await closed_rig.call(patience=60)
    record = await closed_rig.until_ended(linkedid)
    assert record.attempts == [] and record.answered_at is None
    played = [
        e["AppData"]
        for e in closed_rig.dialplan
        if e.get("Event") == "Newexten" and e.get("Application") == "Playback"
    ]
    assert played == ["callcenter/closed"]


@pytest.fixture
async def park_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    phones = {
        "101": PhoneBehaviour("101", answer_delay=1.0, talk_seconds=None),
        "102": PhoneBehaviour("102", answer_delay=1.0, talk_seconds=3.0),
    }
    async for rig in make_rig(tmp_path, phones):
        yield rig


async def test_park_then_retrieve_with_redirect(park_rig: Rig) -> None:
    """The agent parks the caller (AMI Park) and brings them back (Redirect to agents,<ext>)."""
    linkedid = await park_rig.call(patience=120, talk_seconds=None)
    pbx = park_rig.sim.pbx
    for _ in range(200):
        agent = next(
            (c for c in pbx.channels.values() if c.name.startswith("PJSIP/101-") and c.bridge), None
        )
        if agent is not None:
            break
        await asyncio.sleep(0.02)
    assert agent is not None
    caller = next(c for c in pbx.channels.values() if c.name.startswith("PJSIP/trunk-"))
    await park_rig.link.park(caller.name, agent.name)
    for _ in range(100):
        if agent.hungup and any(e.get("Event") == "ParkedCall" for e in park_rig.events):
            break
        await asyncio.sleep(0.02)
    parked = [e for e in park_rig.events if e.get("Event") == "ParkedCall"]
    assert (
        parked and parked[0]["ParkeeChannel"] == caller.name and parked[0]["ParkingSpace"] == "701"
    )
    assert agent.hungup and not caller.hungup  # the agent's leg ends, the caller waits
    await park_rig.link.redirect(caller.name, "agents", "102", 1)
    record = await park_rig.until_ended(linkedid)
    assert any(e.get("Event") == "ParkedCallGiveUp" for e in park_rig.events)
    assert [a.interface for a in record.attempts][-1] == "PJSIP/102"
    assert record.hold_seconds > 0  # the tracker counted the parked time as hold
