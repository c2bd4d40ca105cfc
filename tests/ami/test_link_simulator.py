"""Reconnect and resync against the project's PBX simulator (callcenter/sim) running the
production dialplan, over a real TCP AMI connection: the same check as test_link.py's
trace peer, with PJSIP trunk callers, the FastAGI route and a real waiting caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from callcenter.ami.link import AmiLink
from callcenter.clock import ScaledClock
from callcenter.core import call_events as ev
from callcenter.core.bus import DomainEvent, EventBus
from callcenter.core.calltracker import CallTracker
from callcenter.sim.phones import PhoneBehaviour
from callcenter.sim.runner import Simulator, SimulatorOptions
from callcenter.sim.scenario import Scenario
from tests.sim.daemon_stub import DaemonStub

SCALE = 2.0  # simulated seconds per wall second


async def until(condition: Callable[[], bool], what: str, seconds: float = 8.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_simulator_outage_resync(tmp_path: Path) -> None:
    daemon = DaemonStub([], ring_timeout=120)
    agi_port = await daemon.start()
    phones = {
        "101": PhoneBehaviour("101", answer_delay=0.5, talk_seconds=None),
        "102": PhoneBehaviour("102", mode="no_answer"),
        "103": PhoneBehaviour("103", answer_delay=0.5, talk_seconds=None),
    }
    clock = ScaledClock(SCALE)
    sim = Simulator(
        Scenario(agents=list(phones), time_scale=SCALE),
        SimulatorOptions(
            ami_secret="s3cret", agi_url=f"agi://127.0.0.1:{agi_port}", recordings_dir=tmp_path
        ),
        clock,
    )
    sim.pbx.phones.clear()
    sim.pbx.phones.update(phones)
    # The recording notice before each route plays 4 s; the link does not care how long.
    sim.pbx.config.sounds["callcenter/recording-notice"] = 0.5
    ami_port = await sim.start()
    bus = EventBus()
    published: list[DomainEvent] = []
    bus.subscribe(DomainEvent, published.append)
    tracker = CallTracker(bus, clock=clock)
    link = AmiLink("127.0.0.1", ami_port, "callcenter", "s3cret", on_event=tracker.feed,
                   on_resync=tracker.resync, clock=clock, backoff_initial=0.05,
                   backoff_max=0.1)  # fmt: skip
    task = asyncio.create_task(link.run())

    async def place(agents: list[str], number: str) -> str:
        daemon.agents = agents
        chan = await sim.pbx.place_call("19006868", number, "Khách hàng", patience=600)
        await until(lambda: chan.uniqueid in daemon.attempts, f"route of {number}")
        return chan.uniqueid

    def record(linkedid: str) -> ev.CallRecord:
        found = tracker.get(linkedid)
        assert found is not None, linkedid
        return found

    try:
        await until(lambda: link.connected, "login")
        talking = await place(["101"], "0911000001")
        await until(lambda: record(talking).answered_at is not None, "101 answers")
        ringing = await place(["102"], "0911000002")
        await until(lambda: len(record(ringing).attempts) == 1, "102 rings")
        waiting = await place([], "0911000003")  # CC_ACTION=wait: music on hold in cc-wait
        assert record(talking).agent_interface == "PJSIP/101"
        assert [a.outcome for a in record(ringing).attempts] == ["ringing"]
        assert record(waiting).attempts == [] and record(waiting).disposition == "active"

        await sim.ami.close()  # Asterisk's manager goes away
        await until(lambda: not link.connected, "link down")
        started = await place(["103"], "0911000004")  # a call starts during the outage
        await until(
            lambda: any(c.name.startswith("PJSIP/103") and c.bridge is not None
                        for c in sim.pbx.channels.values()),
            "103 answers during the outage",
        )  # fmt: skip
        caller = next(c for c in sim.pbx.channels.values() if c.uniqueid == talking)
        sim.pbx.request_hangup(caller)  # the first caller hangs up during the outage
        ended_at = clock.now()
        await until(
            lambda: not any(c.linkedid == talking for c in sim.pbx.channels.values()),
            "first call gone",
        )
        await sim.ami.start(port=ami_port)
        await until(lambda: link.resyncs == 2 and link.connected, "resync")

        listed = await link.list_action({"Action": "CoreShowChannels"}, "CoreShowChannel")
        assert set(tracker.active_calls) == {m["Linkedid"] for m in listed}
        assert set(tracker.active_calls) == {ringing, waiting, started}
        gone = record(talking)
        assert gone.disposition == "answered" and gone.end_estimated
        assert gone.ended_at is not None
        assert abs((gone.ended_at - ended_at).total_seconds()) < 1.0
        late = record(started)
        assert late.caller_number == "+84911000004" and late.answered_at is not None
        assert late.agent_interface == "PJSIP/103"

        for chan in [c for c in sim.pbx.channels.values() if c.uniqueid == c.linkedid]:
            sim.pbx.request_hangup(chan)
        await until(lambda: not tracker.active_calls, "every call ended")
        assert record(ringing).disposition == "abandoned"
        assert record(waiting).disposition == "abandoned"
        assert record(started).disposition == "answered"
        for linkedid in (talking, ringing, waiting, started):
            for name in (ev.CallStarted, ev.CallEnded):
                count = [e.linkedid for e in published if type(e) is name].count(linkedid)
                assert count == 1, (name, linkedid)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.close()
        await daemon.close()
