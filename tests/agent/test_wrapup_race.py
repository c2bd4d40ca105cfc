"""The page's wrap-up timer and the ACD's wrap-up end fall due at the same instant.

Lan's call A ends; her wrap-up time (15 s) runs on the agent page's timer and on the
ACD's own, both from the same instant. Caller B waits. Whichever end comes first,
A must get its "uncategorized" ticket and B must ring Lan and pop exactly once.
The real ACD service (FastAGI routes, its timers on a ManualClock, AMI actions
recorded at the adapter edge) and the real agent desk share one bus and a database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agent_desk.desk import AgentDesk
from callcenter.agent_desk.hub import AgentHub
from callcenter.agi.server import FastAgiServer
from callcenter.clock import ManualClock
from callcenter.core.acd import AgentState
from callcenter.core.bus import EventBus
from callcenter.core.events import CallOffered
from callcenter.db.models import AgentGroup, AgentGroupMember, Call, CallWrapUp, Ticket, User
from callcenter.services.acd import AcdService
from tests.agi.peer import FakeChannel, run_session
from tests.events import answered, ended

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội
WRAPUP = 15.0  # the system setting's default


@dataclass
class RecordingControl:
    """The AMI actions the service asks for, recorded at the adapter edge."""

    actions: list[tuple[Any, ...]] = field(default_factory=list)

    async def setvar(self, channel: str, variable: str, value: str) -> None:
        self.actions.append(("setvar", channel, variable, value))

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self.actions.append(("redirect", channel, context, exten, priority))

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str = "", reason: str = ""
    ) -> None:
        self.actions.append(("queue_pause", interface, paused))

    async def channels(self) -> list[dict[str, str]]:
        return []

    async def getvar(self, channel: str, variable: str) -> str | None:
        return None


class RecordingHub(AgentHub):
    """Every message the desk sends to an agent's pages, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[int, dict[str, Any]]] = []

    def send_to_agent(self, user_id: int, message: dict[str, Any]) -> int:
        self.sent.append((user_id, message))
        return 1


@dataclass
class Rig:
    clock: ManualClock
    bus: EventBus
    service: AcdService
    desk: AgentDesk
    hub: RecordingHub
    server: FastAgiServer
    sessions: async_sessionmaker[AsyncSession]
    lan: int

    async def agi(self, script: str, uniqueid: str, **variables: str) -> FakeChannel:
        return await run_session(
            "127.0.0.1",
            self.server.port,
            script,
            FakeChannel(variables=dict(variables)),
            uniqueid=uniqueid,
            caller="0912000001" if uniqueid == "A" else "0912000002",
            channel=f"PJSIP/trunk-{uniqueid}",
        )

    def pops(self, linkedid: str) -> int:
        return sum(
            1
            for _, m in self.hub.sent
            if m.get("type") == "pop"
            and m.get("call", {}).get("linkedid") == linkedid
            and not m.get("history_pending")  # a slow history's first pop, finished later
        )

    async def settle(self) -> None:
        for _ in range(3):
            for _ in range(20):
                await asyncio.sleep(0)
            await self.service.flush()
            # The desk's work (pops, saves), not its wrap-up timers: those wait for the clock.
            work = [t for t in self.desk._tasks if not t.get_name().startswith("wrapup-timeout")]
            await asyncio.gather(*work, return_exceptions=True)


@pytest.fixture
async def rig(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Rig]:
    async with session_factory() as session, session.begin():
        lan = User(username="lan", full_name="Trần Thị Lan", role="agent", interface="PJSIP/101")
        care = AgentGroup(code="care", name="CSKH", ring_timeout_seconds=20)
        session.add_all([lan, care])
        await session.flush()
        session.add(AgentGroupMember(group_id=care.id, user_id=lan.id))
    clock = ManualClock(START)
    bus = EventBus()
    service = AcdService(clock=clock, bus=bus, sessions=session_factory, control=RecordingControl())
    server = FastAgiServer(command_timeout=2.0)
    service.register_routes(server, 1.0)
    await server.start("127.0.0.1", 0)
    hub = RecordingHub()
    desk = AgentDesk(hub, session_factory, clock)
    desk.acd = service
    await desk.load_interfaces()
    desk.subscribe(bus)
    await service.start()
    yield Rig(clock, bus, service, desk, hub, server, session_factory, lan.id)
    await desk.close()
    await service.stop()
    await server.close()


async def call_a_in_wrapup_and_b_waiting(rig: Rig) -> datetime:
    """Lan answers A and hangs up (wrap-up starts); B arrives and waits. Returns the instant
    both wrap-up ends fall due."""
    await rig.service.login(rig.lan)
    dial = await rig.agi("route", "A", CC_GROUP="care")
    assert dial.variables["CC_AGENT_CHANNEL"] == "PJSIP/101"
    await rig.settle()
    assert rig.pops("A") == 1
    rig.bus.publish(answered("A", "PJSIP/101", at=rig.clock.now()))
    await rig.clock.advance(30)
    async with rig.sessions() as session, session.begin():  # the call recorder's row
        session.add(Call(linkedid="A", started_at=START, caller_number="+84912000001"))
    await rig.agi("after-call", "A")  # Lan hangs up: wrap-up starts now
    await rig.settle()
    assert rig.service.acd.agents[rig.lan].state is AgentState.WRAPUP
    due = rig.clock.now() + timedelta(seconds=WRAPUP)
    rig.bus.publish(ended("A", at=rig.clock.now()))
    wait = await rig.agi("route", "B", CC_GROUP="care")
    assert wait.variables["CC_ACTION"] == "wait"
    await rig.settle()
    live = rig.desk.agents[rig.lan].call
    assert live is not None and live.linkedid == "A" and live.phase == "wrapup"
    assert live.wrapup_deadline == due  # the page's timer and the ACD's end coincide
    await rig.clock.advance(WRAPUP - 0.5)  # both timers still pending
    await rig.settle()
    assert rig.service.acd.agents[rig.lan].state is AgentState.WRAPUP
    rig.clock.set(due)  # the instant both fall due; no timer has woken yet
    return due


async def check_no_lost_ticket_and_one_pop(rig: Rig) -> None:
    # B rings Lan (the Dial the ACD sent); Asterisk's Dial then reports the offer.
    await rig.settle()
    assert rig.service.acd.agents[rig.lan].state is AgentState.RINGING
    rig.bus.publish(
        CallOffered(
            linkedid="B",
            at=rig.clock.now(),
            interface="PJSIP/101",
            channel="",
            uniqueid="",
            queue="",
            caller_number="",
        )
    )
    await rig.clock.advance(1)  # every timer that was due has run
    await rig.settle()
    live = rig.desk.agents[rig.lan].call
    assert live is not None and live.linkedid == "B" and live.phase == "ringing"
    assert rig.pops("B") == 1
    async with rig.sessions() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == "A"))
        assert call is not None
        wraps = (
            await session.scalars(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
        ).all()
        assert [(w.outcome, w.timed_out) for w in wraps] == [("uncategorized", True)]
        tickets = (await session.scalars(select(Ticket).where(Ticket.call_id == call.id))).all()
        assert len(tickets) == 1
    ended = [m for _, m in rig.hub.sent if m.get("type") == "wrapup_timed_out"]
    assert [(m["linkedid"], m["ticket_id"]) for m in ended] == [("A", tickets[0].id)]


async def test_acd_ends_the_wrapup_first_with_a_caller_waiting(rig: Rig) -> None:
    await call_a_in_wrapup_and_b_waiting(rig)
    # The ACD's wrap-up end runs first: Lan is freed and B is offered at once...
    await rig.service.after_change()
    assert rig.service.acd.agents[rig.lan].state is AgentState.RINGING
    # ...then the page's timer for A comes, at the same instant.
    await rig.desk.wrapup_time_up(rig.lan, "A")
    await check_no_lost_ticket_and_one_pop(rig)


async def test_page_timer_ends_the_wrapup_first_with_a_caller_waiting(rig: Rig) -> None:
    await call_a_in_wrapup_and_b_waiting(rig)
    # The page's timer runs first and starts saving A's ticket...
    page = asyncio.ensure_future(rig.desk.wrapup_time_up(rig.lan, "A"))
    await asyncio.sleep(0)
    assert not page.done()
    # ...while it writes, the ACD's own wrap-up end frees Lan and offers B.
    await rig.service.after_change()
    assert rig.service.acd.agents[rig.lan].state is AgentState.RINGING
    await page
    await check_no_lost_ticket_and_one_pop(rig)
