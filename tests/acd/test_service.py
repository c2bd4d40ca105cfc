"""The ACD service through real FastAGI sessions and a real database (SQLite and PostgreSQL).

The dialplan's steps are played by an Asterisk-like FastAGI peer; AMI actions
are recorded at the port (``tests.fakes.RecordingCallControl``), never faked inside the service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agi.server import FastAgiServer
from callcenter.clock import ManualClock
from callcenter.core.acd import AgentState
from callcenter.core.bus import DomainEvent, EventBus
from callcenter.core.events import AgentStateChanged, ConfigChanged, QueueChanged
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    AgentStateLog,
    BusinessHours,
    Customer,
    CustomerPhone,
    Holiday,
    Hotline,
    Prompt,
    Task,
    Ticket,
    User,
)
from callcenter.prompts import menu_prompt_code
from callcenter.services.acd import POSITION_REFRESH_SECONDS, AcdService
from tests.agi.peer import FakeChannel, run_session
from tests.events import answered, ended
from tests.fakes import RecordingCallControl

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hanoi
HOTLINE = "19006868"


async def seed(factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with factory() as session, session.begin():
        agents = [
            User(
                username=f"agent{i}", full_name=f"Agent {i}", role="agent", interface=f"PJSIP/10{i}"
            )
            for i in range(1, 4)
        ]
        session.add_all(agents)
        care = AgentGroup(
            code="care",
            name="CSKH",
            strategy="least_recent",
            ring_timeout_seconds=15,
            max_wait_seconds=120,
        )
        sales = AgentGroup(code="sales", name="Kinh doanh")
        session.add_all([care, sales])
        await session.flush()
        for n, agent in enumerate(agents):
            session.add(AgentGroupMember(group_id=care.id, user_id=agent.id, priority=n))
        session.add(AgentGroupMember(group_id=sales.id, user_id=agents[2].id))
        hotline = Hotline(
            number=HOTLINE,
            name="CSKH",
            group_id=care.id,
            menu_enabled=True,
            menu={"1": "sales", "2": "care"},
            closed_action="callback",
        )
        session.add(hotline)
        await session.flush()
        for weekday in range(6):
            session.add(
                BusinessHours(hotline_id=None, weekday=weekday, opens=time(8), closes=time(17))
            )
        session.add(Holiday(day=date(2026, 11, 24), name="Đào tạo", closed=True))
        vip = Customer(name="Công ty VIP", tags=["VIP"])
        ticketed = Customer(name="Anh Nam")
        session.add_all([vip, ticketed])
        await session.flush()
        session.add_all(
            [
                CustomerPhone(customer_id=vip.id, number="+84912000001", is_primary=True),
                CustomerPhone(customer_id=ticketed.id, number="+84912000002", is_primary=True),
                Ticket(
                    customer_id=ticketed.id,
                    status="in_progress",
                    assignee_id=agents[2].id,
                    created_at=START,
                    updated_at=START,
                ),
            ]
        )
        return {f"agent{i}": agent.id for i, agent in enumerate(agents, start=1)}


@pytest.fixture
async def rig(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    ids = await seed(session_factory)
    clock = ManualClock(START)
    bus = EventBus()
    events: list[Any] = []
    bus.subscribe(DomainEvent, events.append)
    control = RecordingCallControl()
    service = AcdService(clock=clock, bus=bus, sessions=session_factory, control=control)
    server = FastAgiServer(command_timeout=2.0)
    service.register_routes(server, 1.0)
    await server.start("127.0.0.1", 0)
    await service.start()

    class Rig:
        pass

    r = Rig()
    r.ids, r.clock, r.bus, r.events, r.control, r.service, r.server = (
        ids,
        clock,
        bus,
        events,
        control,
        service,
        server,
    )

    async def agi(script: str, variables: dict[str, str] | None = None, **env: Any) -> FakeChannel:
        channel = FakeChannel(variables=dict(variables or {}))
        return await run_session("127.0.0.1", server.port, script, channel, **env)

    r.agi = agi
    yield r
    await service.stop()
    await server.close()


async def settle(service: AcdService) -> None:
    for _ in range(10):
        await asyncio.sleep(0)
    await service.flush()
    for _ in range(10):
        await asyncio.sleep(0)


async def login_all(rig: Any) -> None:
    for name in ("agent1", "agent2", "agent3"):
        await rig.service.login(rig.ids[name])
        rig.clock.set(rig.clock.now() + timedelta(seconds=1))


async def test_inbound_menu_then_route_to_the_longest_idle_agent(rig: Any) -> None:
    await login_all(rig)
    channel = await rig.agi("inbound", args=(HOTLINE,), uniqueid="c1.1", caller="0912345678")
    assert channel.variables["CC_ACTION"] == "menu"
    assert channel.variables["CC_GROUP"] == "care"
    menu = await rig.agi("menu", {"CC_HOTLINE": HOTLINE}, args=("2",), uniqueid="c1.1")
    assert menu.variables == {"CC_HOTLINE": HOTLINE, "CC_ACTION": "route", "CC_GROUP": "care"}
    invalid = await rig.agi("menu", {"CC_HOTLINE": HOTLINE}, args=("9",), uniqueid="c1.1")
    assert invalid.variables["CC_ACTION"] == "invalid"
    route = await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="c1.1", caller="0912345678")
    assert route.variables["CC_ACTION"] == "dial"
    assert route.variables["CC_AGENT_CHANNEL"] == "PJSIP/101"
    assert route.variables["CC_RING_TIMEOUT"] == "15"
    assert route.variables["CC_AGENT_ID"] == str(rig.ids["agent1"])


async def test_out_of_hours_and_holiday_offer_a_callback_on_key_1(
    rig: Any, session_factory: Any
) -> None:
    rig.clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))  # 18:00 local
    closed = await rig.agi("inbound", args=(HOTLINE,), uniqueid="n1.1", caller="0912 345 678")
    assert closed.variables["CC_ACTION"] == "closed"
    assert closed.variables["CC_CLOSED_REASON"] == "outside_hours"
    rig.clock.set(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))  # admin holiday, 10:00 local
    holiday = await rig.agi(
        "inbound",
        args=(HOTLINE,),
        uniqueid="n2.1",
        caller="anonymous",
    )
    assert holiday.variables["CC_CLOSED_REASON"] == "holiday"
    await settle(rig.service)
    async with session_factory() as session:
        assert (await session.scalars(select(Task))).all() == []  # nobody pressed 1 yet
    # Both press 1 ("callback,closed" from [cc-closed]): the known caller gets a task.
    for uniqueid, caller, reason in (
        ("n1.1", "0912 345 678", "outside_hours"),
        ("n2.1", "anonymous", "holiday"),
    ):
        pressed = await rig.agi(
            "callback",
            {"CC_CLOSED_REASON": reason},
            args=("closed",),
            uniqueid=uniqueid,
            caller=caller,
        )
        assert pressed.variables["CC_CALLBACK"] == ("no" if caller == "anonymous" else "yes")
    await settle(rig.service)
    async with session_factory() as session:
        tasks = (await session.scalars(select(Task))).all()
    assert [(t.origin, t.phone, t.notes) for t in tasks] == [
        ("closed", "+84912345678", "outside_hours")
    ]  # not the anonymous one


async def test_ring_timeout_next_agent_then_auto_pause_and_state_log(
    rig: Any, session_factory: Any
) -> None:
    await login_all(rig)
    first = await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="r1.1")
    assert first.variables["CC_AGENT_CHANNEL"] == "PJSIP/101"
    rig.clock.set(rig.clock.now() + timedelta(seconds=15))
    second = await rig.agi("route", {"CC_GROUP": "care", "DIALSTATUS": "NOANSWER"}, uniqueid="r1.1")
    assert second.variables["CC_AGENT_CHANNEL"] == "PJSIP/102"
    # agent1 misses a second call in a row: auto-paused, mirrored into the fallback queue
    await rig.agi("hangup", uniqueid="r1.1")
    third = await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="r2.1")
    assert third.variables["CC_AGENT_CHANNEL"] == "PJSIP/101"
    await rig.agi("route", {"CC_GROUP": "care", "DIALSTATUS": "NOANSWER"}, uniqueid="r2.1")
    await settle(rig.service)
    agent1 = rig.service.acd.agents[rig.ids["agent1"]]
    assert (agent1.state, agent1.reason) == (AgentState.PAUSED, "missed_calls")
    assert ("queue_pause", "PJSIP/101", True, "cc-fallback", "missed_calls") in rig.control.actions
    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(AgentStateLog)
                .where(AgentStateLog.user_id == rig.ids["agent1"])
                .order_by(AgentStateLog.id)
            )
        ).all()
    assert [r.state for r in rows] == ["available", "ringing", "available", "ringing", "paused"]
    assert all(r.ended_at is not None for r in rows[:-1]) and rows[-1].ended_at is None
    assert rows[1].ended_at == rows[2].started_at  # contiguous: start and end of each state
    assert any(isinstance(e, AgentStateChanged) and e.reason == "missed_calls" for e in rig.events)


async def test_waiting_caller_is_redirected_when_an_agent_frees_up(rig: Any) -> None:
    await rig.service.login(rig.ids["agent3"])  # the only sales agent
    dial = await rig.agi("route", {"CC_GROUP": "sales"}, uniqueid="w1.1", channel="PJSIP/trunk-1")
    assert dial.variables["CC_AGENT_CHANNEL"] == "PJSIP/103"
    rig.bus.publish(answered("w1.1", "PJSIP/103"))
    wait = await rig.agi("route", {"CC_GROUP": "sales"}, uniqueid="w2.1", channel="PJSIP/trunk-2")
    assert (wait.variables["CC_ACTION"], wait.variables["CC_POSITION"]) == ("wait", "1")
    await rig.agi("after-call", uniqueid="w1.1")
    assert rig.service.acd.agents[rig.ids["agent3"]].state is AgentState.WRAPUP
    await rig.clock.advance(16)  # wrap-up (15 s default) ends
    await settle(rig.service)
    moved = [
        a for a in rig.control.actions if a[0] in ("setvar", "redirect") and a[1] == "PJSIP/trunk-2"
    ]
    assert moved[-1] == ("redirect", "PJSIP/trunk-2", "cc-dial", "s", 1)
    assert ("setvar", "PJSIP/trunk-2", "CC_AGENT_CHANNEL", "PJSIP/103") in moved
    assert any(isinstance(e, QueueChanged) for e in rig.events)


async def test_abandon_while_waiting_becomes_a_callback_task_except_anonymous(
    rig: Any, session_factory: Any
) -> None:
    await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="a1.1", caller="0912000009")
    await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="a2.1", caller="anonymous")
    assert len(rig.service.acd.waiting("care")) == 2
    rig.clock.set(rig.clock.now() + timedelta(seconds=40))
    rig.bus.publish(ended("a1.1"))
    await rig.agi("hangup", uniqueid="a2.1")
    await settle(rig.service)
    async with session_factory() as session:
        tasks = (await session.scalars(select(Task))).all()
    assert [(t.origin, t.phone, t.group) for t in tasks] == [("abandoned", "+84912000009", "care")]
    assert "waited 40 s" in tasks[0].notes


async def test_priority_and_sticky_routing_from_the_database(rig: Any) -> None:
    await rig.service.login(rig.ids["agent1"])
    busy = await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="p0.1")
    assert busy.variables["CC_ACTION"] == "dial"
    await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="p1.1", caller="0912000099")
    await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="p2.1", caller="0912000001")  # VIP
    assert [w.call_id for w in rig.service.acd.waiting("care")] == ["p2.1", "p1.1"]
    # The ticket's agent (agent3) logs in: a caller with an open ticket rings them first.
    await rig.service.login(rig.ids["agent3"])
    await settle(rig.service)
    rig.control.actions.clear()
    sticky = await rig.agi("route", {"CC_GROUP": "sales"}, uniqueid="s1.1", caller="0912000002")
    # agent3 was given to the VIP waiting caller already, so sticky falls back to normal routing
    assert sticky.variables["CC_ACTION"] == "wait"


async def test_sticky_rings_the_ticket_agent_for_a_few_seconds(rig: Any) -> None:
    await login_all(rig)
    sticky = await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="s2.1", caller="0912000002")
    assert sticky.variables["CC_AGENT_CHANNEL"] == "PJSIP/103"
    assert sticky.variables["CC_RING_TIMEOUT"] == "10"
    nxt = await rig.agi("route", {"DIALSTATUS": "NOANSWER"}, uniqueid="s2.1", caller="0912000002")
    assert nxt.variables["CC_AGENT_CHANNEL"] == "PJSIP/101"


async def test_restart_rebuilds_the_waiting_list_in_order(rig: Any, session_factory: Any) -> None:
    await login_all(rig)
    await rig.service.stop()
    control = RecordingCallControl(
        live_channels=[
            {
                "Channel": "PJSIP/trunk-b",
                "Uniqueid": "b.1",
                "Context": "cc-wait",
                "Duration": "00:02:00",
                "CallerIDNum": "0912000011",
            },
            {
                "Channel": "PJSIP/trunk-x",
                "Uniqueid": "x.1",
                "Context": "cc-dial",
                "Duration": "00:09:00",
            },
            {
                "Channel": "PJSIP/trunk-a",
                "Uniqueid": "a.1",
                "Context": "cc-wait",
                "Duration": "00:03:10",
                "CallerIDNum": "0912000010",
            },
            {
                "Channel": "PJSIP/trunk-c",
                "Uniqueid": "c.1",
                "Context": "cc-wait",
                "Duration": "00:00:30",
                "CallerIDNum": "0912000012",
            },
        ],
        variables={(f"PJSIP/trunk-{x}", "CC_GROUP"): "sales" for x in "abc"},
    )
    # agent3 (the only sales agent) is on a call elsewhere: nobody free for sales.
    async with session_factory() as session, session.begin():
        session.add(
            AgentStateLog(
                user_id=rig.ids["agent3"],
                state="paused",
                reason="meeting",
                interface="PJSIP/103",
                started_at=START,
            )
        )
    restarted = AcdService(
        clock=rig.clock, bus=EventBus(), sessions=session_factory, control=control
    )
    await restarted.start()
    try:
        waiting = restarted.acd.waiting("sales")
        assert [w.call_id for w in waiting] == ["a.1", "b.1", "c.1"]
        assert [w.waited_seconds for w in waiting] == [190, 120, 30]
        assert (
            restarted.acd.agents[rig.ids["agent1"]].state is AgentState.AVAILABLE
        )  # still logged in
        assert restarted.acd.agents[rig.ids["agent3"]].reason == "meeting"
        await restarted.set_available(rig.ids["agent3"])
        await settle(restarted)
        redirects = [a[1] for a in control.actions if a[0] == "redirect"]
        assert redirects == ["PJSIP/trunk-a"]
    finally:
        await restarted.stop()


async def test_overflow_after_max_wait(rig: Any) -> None:
    await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="o1.1", channel="PJSIP/trunk-o")
    await rig.clock.advance(121)
    await settle(rig.service)
    assert ("setvar", "PJSIP/trunk-o", "CC_OVERFLOW", "callback") in rig.control.actions
    assert ("redirect", "PJSIP/trunk-o", "cc-overflow", "s", 1) in rig.control.actions
    assert rig.service.acd.waiting() == []


async def test_config_changed_reloads_strategy_and_members(rig: Any, session_factory: Any) -> None:
    assert rig.service.acd.groups["care"].strategy == "least_recent"
    async with session_factory() as session, session.begin():
        group = await session.scalar(select(AgentGroup).where(AgentGroup.code == "care"))
        group.strategy = "round_robin"
        await session.execute(
            AgentGroupMember.__table__.delete().where(
                AgentGroupMember.group_id == group.id,
                AgentGroupMember.user_id == rig.ids["agent1"],
            )
        )
    rig.bus.publish(ConfigChanged(area="groups"))
    for _ in range(100):
        if rig.service.acd.groups["care"].strategy == "round_robin":
            break
        await asyncio.sleep(0.01)
    assert rig.service.acd.groups["care"].strategy == "round_robin"
    assert rig.ids["agent1"] not in rig.service.acd.groups["care"].members


async def test_position_announcements_follow_the_queue(rig: Any) -> None:
    await rig.service.login(rig.ids["agent3"])
    await rig.agi("route", {"CC_GROUP": "sales"}, uniqueid="q0.1", channel="PJSIP/trunk-q0")
    first = await rig.agi("route", {"CC_GROUP": "sales"}, uniqueid="q1.1", channel="PJSIP/trunk-q1")
    second = await rig.agi(
        "route", {"CC_GROUP": "sales"}, uniqueid="q2.1", channel="PJSIP/trunk-q2"
    )
    assert first.variables["CC_WAIT_PROMPT_CALL"].endswith("digits/1")
    assert second.variables["CC_WAIT_PROMPT_CALL"].endswith("digits/2")
    rig.bus.publish(answered("q0.1", "PJSIP/103"))
    await rig.agi("after-call", uniqueid="q0.1")
    await rig.clock.advance(16)
    await settle(rig.service)
    assert ("redirect", "PJSIP/trunk-q1", "cc-dial", "s", 1) in rig.control.actions
    assert (
        "setvar",
        "PJSIP/trunk-q2",
        "CC_WAIT_PROMPT_CALL",
        "callcenter/please-wait&callcenter/position&callcenter/digits/1",
    ) in rig.control.actions


async def test_a_waiting_callers_position_is_sent_again_at_most_every_few_seconds(
    rig: Any,
) -> None:
    """The dialplan plays the position every 30 s: a caller whose position moved is told
    within POSITION_REFRESH_SECONDS, not with one AMI action per shift (off the routing
    path, which with hundreds waiting spent a third of the loop on them)."""
    await rig.service.login(rig.ids["agent3"])
    await rig.agi("route", {"CC_GROUP": "sales"}, uniqueid="p0.1", channel="PJSIP/trunk-p0")
    for n in (1, 2, 3):  # waiting at 1, 2, 3 (told so in their route answers)
        await rig.agi(
            "route", {"CC_GROUP": "sales"}, uniqueid=f"p{n}.1", channel=f"PJSIP/trunk-p{n}"
        )

    def told() -> list[tuple[str, str]]:
        return [
            (action[1], action[3][-1])
            for action in rig.control.actions
            if action[0] == "setvar" and action[2] == "CC_WAIT_PROMPT_CALL"
        ]

    await rig.clock.advance(1)
    await rig.agi("hangup", uniqueid="p1.1")  # the first in line gives up
    await settle(rig.service)
    assert told() == []  # p2 and p3 were told their place a second ago
    await rig.clock.advance(POSITION_REFRESH_SECONDS)
    await settle(rig.service)
    assert told() == [("PJSIP/trunk-p2", "1"), ("PJSIP/trunk-p3", "2")]
    await rig.clock.advance(60)
    await settle(rig.service)
    assert len(told()) == 2  # nothing moved since: nothing more is sent


async def test_a_hotlines_own_menu_prompt_is_played_from_the_prompts_folder(
    rig: Any, session_factory: Any
) -> None:
    """Uploaded prompts live in sounds/callcenter/ like the defaults; '+' never enters a code."""
    assert menu_prompt_code("+84 1900 6868") == "menu-8419006868"
    code = menu_prompt_code(HOTLINE)
    async with session_factory() as session, session.begin():
        session.add(Prompt(code=code, name="Menu", filename=f"{code}.wav"))
    await rig.service.reload()
    await login_all(rig)
    channel = await rig.agi("inbound", args=(HOTLINE,), uniqueid="p1.1", caller="0912345678")
    assert channel.variables["CC_ACTION"] == "menu"
    assert channel.variables["CC_PROMPT"] == "callcenter/menu-19006868"


async def test_misses_of_one_number_merge_per_local_day_and_anonymous_get_none(
    rig: Any, session_factory: Any
) -> None:
    """Issue 13: one callback per number per local day (the ACD asks ``record_callback``)."""

    async def abandon(uniqueid: str, caller: str) -> None:
        await rig.agi("route", {"CC_GROUP": "care"}, uniqueid=uniqueid, caller=caller)
        rig.clock.set(rig.clock.now() + timedelta(seconds=20))
        await rig.agi("hangup", uniqueid=uniqueid)
        await settle(rig.service)

    await abandon("m1.1", "0912000044")
    await abandon("m2.1", "0912 000 044")  # the same number, written otherwise
    await abandon("m3.1", "anonymous")
    rig.clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))  # 00:30 on the 24th in Hanoi
    await abandon("m4.1", "0912000044")
    await abandon("m5.1", "anonymous")
    async with session_factory() as session:
        tasks = (await session.scalars(select(Task).order_by(Task.id))).all()
    assert [(t.origin, t.phone) for t in tasks] == [
        ("abandoned", "+84912000044"),
        ("abandoned", "+84912000044"),
    ]
    assert len(tasks[0].notes.splitlines()) == 2  # the second miss joined the first
    assert tasks[1].created_at.date().isoformat() == "2026-11-23"  # same UTC day, next local day
