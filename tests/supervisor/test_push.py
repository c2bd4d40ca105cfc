"""Pushing snapshots: a slow screen never holds the others up and never grows a queue,
one that stops reading is closed, and a burst of bus events becomes a few pushes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callcenter.clock import ManualClock
from callcenter.core.bus import EventBus
from callcenter.core.call_events import CallRecord
from callcenter.core.events import AgentStateChanged, CallAnswered, CallEnded, CallStarted
from callcenter.supervisor import hub as hub_module
from callcenter.supervisor.board import Wallboard
from callcenter.supervisor.bus_consume import BoardFeed
from callcenter.supervisor.hub import BoardConnection, BoardHub, CloseCode

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


class FakeSocket:
    """A websocket whose sends wait until ``gate`` opens (a slow or frozen browser)."""

    def __init__(self, *, gate_open: bool = True) -> None:
        self.gate = asyncio.Event()
        if gate_open:
            self.gate.set()
        self.received: list[str] = []
        self.closed = False
        self.close_code: int | None = None

    async def send_str(self, text: str) -> None:
        await self.gate.wait()
        self.received.append(text)

    async def close(self, *, code: int, message: bytes = b"") -> None:
        self.closed, self.close_code = True, code


def connection(socket: FakeSocket, user_id: int = 1) -> BoardConnection:
    made = BoardConnection(user_id, socket)  # type: ignore[arg-type]
    made.start()
    return made


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_slow_screen_keeps_only_the_newest_snapshot_and_delays_nobody() -> None:
    hub = BoardHub()
    slow_socket, fast_socket = FakeSocket(gate_open=False), FakeSocket()
    slow, fast = connection(slow_socket, 1), connection(fast_socket, 2)
    hub.register(slow)
    hub.register(fast)
    for n in range(100):
        hub.broadcast(f"snapshot-{n}")
        await settle()
    assert fast_socket.received == [f"snapshot-{n}" for n in range(100)]
    assert slow_socket.received == []  # still stuck in its first send
    slow_socket.gate.set()
    await settle()
    # the first (already being sent) and then only the newest: nothing piled up
    assert slow_socket.received == ["snapshot-0", "snapshot-99"]
    assert slow.replaced == 98
    for made in (slow, fast):
        made.close(CloseCode.GOING_AWAY)
        await made.wait_closed()


async def test_a_screen_that_stops_reading_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "SEND_TIMEOUT_SECONDS", 0.05)
    frozen = FakeSocket(gate_open=False)
    made = connection(frozen)
    made.offer("snapshot")
    await asyncio.wait_for(made.wait_closed(), 2.0)
    assert made.close_code is CloseCode.TOO_SLOW
    assert frozen.close_code == int(CloseCode.TOO_SLOW)


class NoSessions:
    def __call__(self) -> Any:  # the feed's database is not used in this test
        raise AssertionError("no database here")


class Phones:
    """The ACD's one answer the board needs here: who sits at a phone."""

    def agent_at_phone(self, interface: str) -> int | None:
        return int(interface.split("/")[1])


def answered(n: int, at: datetime) -> CallEnded:
    record = CallRecord(f"c{n}", at - timedelta(seconds=30), caller_number="+84912345678",
                        answered_at=at - timedelta(seconds=20), ended_at=at,
                        disposition="answered", agent_interface=f"PJSIP/{n}")  # fmt: skip
    return CallEnded(f"c{n}", at, record)


async def test_a_burst_of_events_becomes_a_few_pushes_with_the_latest_state() -> None:
    clock = ManualClock(NOW)
    board = Wallboard(clock)
    hub = BoardHub()
    socket = FakeSocket()
    screen = connection(socket)
    hub.register(screen)
    feed = BoardFeed(board, hub, NoSessions(), push_interval=0.2)  # type: ignore[arg-type]
    bus = EventBus()
    feed.subscribe(bus)
    pusher = asyncio.create_task(feed.run_pusher())
    try:
        start = asyncio.get_running_loop().time()
        n = 0
        while asyncio.get_running_loop().time() - start < 0.5:  # hundreds of calls end
            n += 1
            bus.publish(answered(n, NOW))
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.3)
        assert n > 100
        # one push at once, then at most one per 0.2 s: over ~0.8 s at most 5
        assert 2 <= feed.pushes <= 5, feed.pushes
        assert len(socket.received) == feed.pushes
        last = json.loads(socket.received[-1])
        assert feed.push_bytes >= len(socket.received[-1])
        # coalescing drops pushes, never events: the last push counts every call
        assert last["type"] == "board" and last["today"]["answered"] == n
    finally:
        pusher.cancel()
        feed.unsubscribe()
        screen.close(CloseCode.GOING_AWAY)
        await screen.wait_closed()


def test_a_calls_wrapup_runs_from_its_end_until_the_agent_leaves_wrapup() -> None:
    board = Wallboard(ManualClock(NOW))
    board.acd = Phones()  # type: ignore[assignment]
    board.on_call_ended(answered(103, NOW - timedelta(seconds=40)))
    board.on_agent_state(
        AgentStateChanged(103, "wrapup", "on_call", "", "PJSIP/103", NOW - timedelta(seconds=39))
    )
    board.on_agent_state(AgentStateChanged(103, "available", "wrapup", "", "PJSIP/103", NOW))
    assert board.totals.wrapup_seconds == 40.0
    # an agent who had no wrap-up (straight to the next call) adds nothing
    board.on_call_ended(answered(104, NOW))
    board.on_agent_state(AgentStateChanged(104, "on_call", "available", "", "PJSIP/104", NOW))
    board.on_agent_state(AgentStateChanged(104, "wrapup", "on_call", "", "PJSIP/104", NOW))
    board.on_agent_state(AgentStateChanged(104, "available", "wrapup", "", "PJSIP/104", NOW))
    assert board.totals.wrapup_seconds == 40.0


class Floor(Phones):
    def wallboard_agents(self) -> list[dict[str, Any]]:
        return [{"id": 105, "name": "Lan", "state": "on_call", "reason": "", "since": None,
                 "calls_today": 1}]  # fmt: skip

    def waiting_snapshot(self, group: str | None = None) -> Any:
        return [{"caller": "anonymous", "group": "care", "priority": 0,
                 "since": NOW.isoformat(), "position": 1}]  # fmt: skip

    def calls_in_progress(self) -> int:
        return 2


def test_withheld_callers_are_not_shown_as_codes() -> None:
    board = Wallboard(ManualClock(NOW))
    board.acd = Floor()  # type: ignore[assignment]
    board.on_call_started(CallStarted("w1", NOW, "anonymous", "Anonymous", "19006868", "x"))
    board.on_call_answered(CallAnswered("w1", NOW, "PJSIP/105", "u", 2.0, "anonymous"))
    snapshot = board.snapshot()
    assert snapshot["agents"][0]["caller"]["number"] == ""  # the page says "withheld"
    assert snapshot["agents"][0]["caller"]["name"] == ""
    assert snapshot["waiting"][0]["caller"] == ""
