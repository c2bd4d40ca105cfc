"""The AMI link against a live TCP peer serving real trace content."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.ami.link import AmiActionError, AmiLink, AmiNotConnected
from callcenter.core import call_events as ev
from callcenter.core.bus import DomainEvent, EventBus
from callcenter.core.calltracker import CallTracker
from callcenter.db.models.calls import Call, CallAttempt
from callcenter.db.repos import calls as calls_repo
from callcenter.services.call_records import CallRecorder
from tests.ami.peer import AmiPeer, parse_block
from tests.ami.traces import blocks

A, C, D3, G = "1795436100.36", "1795436154.46", "1795436199.60", "1795436273.92"


def event_blocks(trace: str) -> list[bytes]:
    return [b for b in blocks(trace) if b.startswith(b"Event:") and b"\r\nTimestamp: " in b]


def cut_after(trace_blocks: list[bytes], event: str, channel_part: str) -> int:
    """Index just after the first ``event`` on a channel whose name contains ``channel_part``."""
    for index, block in enumerate(trace_blocks):
        headers = dict(parse_block(block))
        if headers.get("Event") == event and channel_part in headers.get("Channel", ""):
            return index + 1
    raise AssertionError(f"{event} on {channel_part} not in trace")


async def until(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Rig:
    def __init__(self, peer: AmiPeer, sessions: Any = None, secret: str = "s3cret") -> None:
        self.bus = EventBus()
        self.published: list[DomainEvent] = []
        self.bus.subscribe(DomainEvent, self.published.append)
        self.tracker = CallTracker(self.bus)
        self.states: list[bool] = []
        self.link = AmiLink(
            "127.0.0.1", peer.port, "callcenter", secret,
            on_event=self.tracker.feed, on_resync=self.tracker.resync,
            on_state=lambda up, detail: self.states.append(up),
            backoff_initial=0.05, backoff_max=0.2, ping_interval=5.0, action_timeout=3.0,
        )  # fmt: skip
        self.recorder = CallRecorder(self.tracker, sessions, self.bus) if sessions else None
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Rig:
        self.tasks.append(asyncio.create_task(self.link.run()))
        if self.recorder is not None:
            self.tasks.append(asyncio.create_task(self.recorder.run()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def names(self, event: type[ev.CallFact]) -> list[str]:
        return [e.linkedid for e in self.published if isinstance(e, event)]


@pytest.fixture
async def peer() -> Any:
    peer = AmiPeer()
    await peer.start()
    yield peer
    await peer.stop()


async def test_reconnect_resynchronises_calls_and_never_duplicates(
    peer: AmiPeer, session_factory: Any
) -> None:
    a = event_blocks("a-answered-caller-hangup")
    c = event_blocks("c-abandon-while-ringing")
    d3 = event_blocks("d3-queue-abandon")
    g = event_blocks("g-fastagi-down")
    cut_a = cut_after(a, "BridgeEnter", "hotline-0000000c;2")  # A talks to agent 401
    cut_c = cut_after(c, "DialState", "hotline-00000011;2")  # C's agent rings
    cut_d3 = cut_after(d3, "QueueCallerJoin", "hotline-queue-00000018;2")  # D3 waits in queue
    cut_g = cut_after(g, "BridgeEnter", "hotline-00000028;2")  # G talks to agent 201

    async with Rig(peer, session_factory) as rig:
        await until(lambda: rig.link.connected, "first login")
        # Three calls in three states, their events interleaved on the wire.
        parts = [a[:cut_a], c[:cut_c], d3[:cut_d3]]
        while any(parts):
            for part in parts:
                if part:
                    peer.play(part.pop(0))
        await until(lambda: len(rig.tracker.active_calls) == 3, "three live calls")
        await until(lambda: rig.tracker.get(D3).queue == "hotline-q-ring", "queued call")  # type: ignore[union-attr]
        calls = rig.tracker.active_calls
        assert (
            calls[A].answered_at is not None and calls[A].agent_interface == "Local/401@sim-agent"
        )
        assert [(x.interface, x.outcome) for x in calls[C].attempts] == [
            ("Local/299@sim-agent", "ringing")
        ]
        assert calls[D3].attempts == [] and calls[D3].answered_at is None

        # The link drops; while it is down A ends and G starts (and is answered).
        peer.accepting = False
        await peer.drop()
        await until(lambda: not rig.link.connected, "link down")
        a_end = 0.0
        for block in a[cut_a:]:
            a_end = peer.play(block)  # the last block of A is its last Hangup
        for block in g[:cut_g]:
            peer.play(block)
        await asyncio.sleep(0.15)  # a refused reconnect attempt or two
        peer.accepting = True
        await until(lambda: rig.link.resyncs == 2 and rig.link.connected, "resync")

        assert set(rig.tracker.active_calls) == peer.linkedids() == {C, D3, G}
        ended_a = rig.tracker.get(A)
        assert ended_a is not None and ended_a.ended_at is not None
        assert ended_a.disposition == "answered" and ended_a.end_estimated
        assert abs(ended_a.ended_at.timestamp() - a_end) < 1.0
        live_g = rig.tracker.active_calls[G]
        assert live_g.caller_number == "+15551230012" and live_g.dialed_number == "100"
        assert live_g.answered_at is not None and live_g.agent_interface == "Local/201@sim-agent"
        assert peer.logins == 2 and peer.connections >= 3

        # The rest of every call arrives live.
        for block in c[cut_c:] + d3[cut_d3:] + g[cut_g:]:
            peer.play(block)
        await until(lambda: not rig.tracker.active_calls, "all calls ended")
        assert rig.recorder is not None
        await rig.recorder.flush()

        for linkedid in (A, C, D3, G):
            assert rig.names(ev.CallStarted).count(linkedid) == 1
            assert rig.names(ev.CallEnded).count(linkedid) == 1
        async with session_factory() as session:
            assert await calls_repo.count_calls(session) == 4
            rows = {call.linkedid: call for call in (await session.scalars(select(Call))).all()}
            attempts = await session.scalar(select(func.count(CallAttempt.id)))
            record_a = await calls_repo.get_call(session, A)
        assert {k: v.disposition for k, v in rows.items()} == {
            A: "answered", C: "abandoned", D3: "abandoned", G: "answered",
        }  # fmt: skip
        assert rows[G].hangup_by == "agent" and rows[C].hangup_by == "caller"
        assert rows[A].end_estimated and not rows[G].end_estimated
        assert attempts == 4  # 401 for A, 299 for C, 299 for D3, 201 for G: none twice
        assert record_a is not None and record_a.ended_at is not None
        assert abs(record_a.ended_at.timestamp() - a_end) < 1.0


async def test_oversized_frame_drops_the_connection_and_the_link_comes_back(peer: AmiPeer) -> None:
    async with Rig(peer) as rig:
        await until(lambda: rig.link.connected, "login")
        peer.send_raw(b"Event: Flood\r\nData: " + b"x" * (70 * 1024) + b"\r\n\r\n")
        await until(lambda: rig.link.oversized_drops == 1, "oversized drop")
        await until(lambda: rig.link.connected and peer.logins == 2, "reconnect")
        # The link still works: a list action and a plain action.
        reply = await rig.link.send_action({"Action": "Ping"})
        assert reply.get("Ping") == "Pong"


async def test_failed_login_is_retried_and_reported(peer: AmiPeer) -> None:
    async with Rig(peer, secret="wrong") as rig:
        await until(lambda: peer.connections >= 1 and rig.states == [False], "refusal")
        assert not rig.link.connected and peer.logins == 0
        with pytest.raises(AmiNotConnected):
            await rig.link.send_action({"Action": "Ping"})


async def test_actions_and_malformed_input(peer: AmiPeer, caplog: pytest.LogCaptureFixture) -> None:
    async with Rig(peer) as rig:
        await until(lambda: rig.link.connected, "login")
        assert rig.link.banner == "Asterisk Call Manager/11.0.0"
        await rig.link.redirect("Local/100@hotline-0000001a;2", "hotline-transfer", "501")
        await rig.link.setvar("PJSIP/1-1", "CC_ACTION", "dial")
        await rig.link.queue_pause("hotline-q", "PJSIP/101", True, "lunch")
        await rig.link.hangup("PJSIP/1-1")
        await rig.link.blind_transfer("PJSIP/1-1", "transfer", "502")
        await rig.link.atxfer("PJSIP/1-1", "transfer", "503")
        await rig.link.park("PJSIP/1-1", "PJSIP/2-2")
        await rig.link.mixmonitor_mute("PJSIP/1-1", True)
        action_id = await rig.link.originate("PJSIP/101", context="cc-dial", exten="0912345678")
        assert action_id.startswith("cc-originate-")
        sent = {a["Action"]: a for a in peer.actions}
        assert sent["Redirect"]["Context"] == "hotline-transfer"
        assert sent["QueuePause"]["Paused"] == "true"
        with pytest.raises(AmiActionError, match="Invalid/unknown command"):
            await rig.link._checked({"Action": "NoSuchAction"})
        # Garbage and half-valid frames are logged and skipped; the link stays up.
        peer.send_raw(b"this is not AMI\r\n\r\n\xff\xfe\x00garbage\r\n\r\nEvent: Hangup\r\n\r\n")
        reply = await rig.link.send_action({"Action": "Ping"})
        assert reply.get("Ping") == "Pong"
        assert "malformed AMI frame" in caplog.text
        assert rig.link.connected and peer.logins == 1


async def test_a_failing_resync_listener_does_not_kill_the_link(peer: AmiPeer) -> None:
    calls: list[int] = []

    def broken(snapshot: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bug in a listener")

    link = AmiLink("127.0.0.1", peer.port, "callcenter", "s3cret", on_resync=broken,
                   backoff_initial=0.05, backoff_max=0.1)  # fmt: skip
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: link.connected, "login after the failed resync")
        assert calls == [1, 1] and peer.logins == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class FloodingPeer(AmiPeer):
    """Sends a burst of live events in the middle of the first resync's snapshot."""

    floods = 1

    async def _answer(
        self, writer: asyncio.StreamWriter, action: dict[str, str], logged_in: bool
    ) -> bool:
        if action.get("Action") == "CoreShowChannels" and self.floods:
            self.floods -= 1
            for block in event_blocks("a-answered-caller-hangup")[:20]:
                self.play(block)
        return await super()._answer(writer, action, logged_in)


async def test_too_many_events_during_a_resync_start_it_over() -> None:
    """Events beyond the buffer are not silently lost: the link reconnects and resyncs."""
    peer = FloodingPeer()
    await peer.start()
    snapshots: list[int] = []
    link = AmiLink("127.0.0.1", peer.port, "callcenter", "s3cret",
                   on_resync=lambda snapshot: snapshots.append(len(snapshot.channels)),
                   backoff_initial=0.05, backoff_max=0.1, max_buffered=5)  # fmt: skip
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: link.connected, "login after the flood")
        assert peer.logins == 2 and link.resyncs == 1
        assert snapshots == [len(peer.channels)] and snapshots[0] > 0  # the flood's calls
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await peer.stop()


class FarFuturePeer(AmiPeer):
    """Answers Ping with a Timestamp no datetime can hold."""

    @staticmethod
    def now() -> float:
        return 1e300


async def test_a_nonsense_ping_timestamp_does_not_stop_the_resync() -> None:
    peer = FarFuturePeer()
    await peer.start()
    snapshots: list[Any] = []
    link = AmiLink("127.0.0.1", peer.port, "callcenter", "s3cret", on_resync=snapshots.append,
                   backoff_initial=0.05, backoff_max=0.1)  # fmt: skip
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: link.connected, "login with a nonsense Timestamp")
        assert peer.logins == 1 and snapshots[0].at.tzinfo is not None  # the link's own clock
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await peer.stop()
