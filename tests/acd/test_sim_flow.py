"""Inbound flow and ACD end to end: the daemon against the PBX simulator over real AMI/FastAGI.

The simulator runs ``asterisk/extensions.conf`` at 60× time scale; phones answer,
ring out, or are unregistered; callers press digits, wait and hang up.
"""

from __future__ import annotations

import asyncio
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db.models import AgentStateLog
from tests.acd.sim_rig import HOTLINE, MENU_HOTLINE, phone

pytestmark = pytest.mark.timeout(60)


async def test_answered_call_goes_through_ringing_on_call_and_wrapup(make_rig: Any) -> None:
    rig = await make_rig([phone("101", talk=20), phone("102"), phone("103")], wrapup=15)
    await rig.login("agent1", "agent2")
    await rig.pbx.place_call(HOTLINE, "0912345678")
    await rig.until(lambda: rig.agent_state("agent1") == "wrapup", 90)
    await rig.until(lambda: rig.agent_state("agent1") == "available", 30)
    await rig.service.flush()
    assert [s for s, _ in await rig.states("agent1")] == [
        "available",
        "ringing",
        "on_call",
        "wrapup",
        "available",
    ]
    assert rig.dialed() == ["101"]
    assert await rig.tasks() == []


async def test_ring_timeout_next_agent_then_auto_pause(make_rig: Any) -> None:
    rig = await make_rig(
        [phone("101", "no_answer"), phone("102", talk=5), phone("103")], ring_timeout=20, wrapup=0
    )
    await rig.login("agent1", "agent2")
    await rig.pbx.place_call(HOTLINE, "0912345678")
    await rig.until(lambda: rig.agent_state("agent2") == "on_call", 60)
    assert rig.dialed() == ["101", "102"]
    assert rig.service.acd.agents[rig.agents["agent1"]].missed_in_a_row == 1
    await rig.until(lambda: rig.agent_state("agent2") == "available", 60)
    # agent1 is still the longest idle: the next call rings them again, and they miss it again
    await rig.pbx.place_call(HOTLINE, "0912345679")
    await rig.until(lambda: rig.agent_state("agent1") == "paused", 60)
    agent1 = rig.service.acd.agents[rig.agents["agent1"]]
    assert agent1.reason == "missed_calls"
    await rig.until(lambda: rig.pbx.queues["cc-fallback"].members[0].paused, 10)
    assert rig.pbx.queues["cc-fallback"].members[0].interface == "PJSIP/101"


async def test_waiting_caller_is_redirected_only_after_wrapup(make_rig: Any) -> None:
    rig = await make_rig([phone("101", talk=10), phone("102"), phone("103")], wrapup=30)
    await rig.login("agent1")
    await rig.pbx.place_call(HOTLINE, "0912000001")
    await rig.until(lambda: rig.agent_state("agent1") == "on_call", 30)
    await rig.pbx.place_call(HOTLINE, "0912000002")
    await rig.until(lambda: len(rig.service.acd.waiting("care")) == 1, 30)
    await rig.until(lambda: rig.agent_state("agent1") == "wrapup", 30)
    await rig.until(lambda: ("101", "0912000002") in rig.dialed_callers(), 60)
    assert rig.service.acd.waiting() == []
    await rig.until(lambda: rig.agent_state("agent1") == "on_call", 30)
    await rig.service.flush()
    # On the simulated clock (state log): the second call rang only after the 30 s wrap-up.
    async with await rig.db() as session:
        rows = (
            await session.scalars(
                select(AgentStateLog)
                .where(AgentStateLog.user_id == rig.agents["agent1"])
                .order_by(AgentStateLog.id)
            )
        ).all()
    states = [row.state for row in rows]
    assert states == [
        "available",
        "ringing",
        "on_call",
        "wrapup",
        "available",
        "ringing",
        "on_call",
    ]
    wrapup, ringing = rows[3], rows[5]
    assert (ringing.started_at - wrapup.started_at).total_seconds() >= 30


async def test_unregistered_phone_is_skipped(make_rig: Any) -> None:
    rig = await make_rig([phone("101"), phone("102"), phone("103")])
    await rig.login("agent1", "agent2")
    rig.pbx.set_registered("101", False)
    await rig.until(lambda: not rig.service.acd.agents[rig.agents["agent1"]].phone_registered, 10)
    await rig.pbx.place_call(HOTLINE, "0912345678")
    await rig.until(lambda: rig.agent_state("agent2") == "on_call", 60)
    assert rig.dialed() == ["102"]


async def test_ivr_choice_and_invalid_key(make_rig: Any) -> None:
    rig = await make_rig([phone("101"), phone("102"), phone("103")])
    await rig.login("agent1", "agent2", "agent3")
    await rig.pbx.place_call(MENU_HOTLINE, "0912000010", digits="1", digit_delay=1)
    await rig.until(lambda: rig.agent_state("agent3") == "on_call", 60)
    assert rig.dialed() == ["103"]  # sales is agent3 only
    # An invalid key: the menu is replayed; with no further key, the hotline's default group.
    await rig.pbx.place_call(MENU_HOTLINE, "0912000011", digits="9", digit_delay=1)
    await rig.until(lambda: len(rig.dialed()) == 2, 90)
    assert rig.dialed()[1] == "101"  # care, longest idle


async def test_out_of_hours_and_holiday_make_callback_tasks(make_rig: Any) -> None:
    # Open 13:00-17:00 only; it is 09:00. 24/11 is an admin holiday.
    rig = await make_rig([phone("101")], hours=[(d, time(13), time(17)) for d in range(7)])
    await rig.login("agent1")
    # Three callers hear "closed, press 1 to be called back": two press 1 (one of them
    # anonymous, who cannot be called back), one just hangs up.
    callers = [
        await rig.pbx.place_call(HOTLINE, number)
        for number in ("0912 000 020", "anonymous", "0912 000 022")
    ]
    await rig.until(lambda: all(c.context == "cc-closed" for c in callers), 30)
    rig.pbx.press(callers[0], "1")
    rig.pbx.press(callers[1], "1")
    await rig.until(lambda: len(rig.pbx.channels) == 0 and rig.pbx.stats["agi_sessions"] >= 5, 90)
    await rig.service.flush()
    tasks = await rig.tasks()
    assert [(t.origin, t.phone, t.notes) for t in tasks] == [
        ("closed", "+84912000020", "outside_hours")
    ]
    assert rig.dialed() == []


async def test_holiday_is_closed(make_rig: Any) -> None:
    rig = await make_rig([phone("101")], holidays=[date(2026, 11, 23)])
    await rig.login("agent1")
    caller = await rig.pbx.place_call(HOTLINE, "0912000021")
    await rig.until(lambda: caller.context == "cc-closed", 30)
    rig.pbx.press(caller, "1")
    await rig.until(lambda: rig.pbx.stats["agi_sessions"] >= 2 and not rig.pbx.channels, 60)
    await rig.service.flush()
    assert [(t.origin, t.notes) for t in await rig.tasks()] == [("closed", "holiday")]
    assert rig.dialed() == []


async def test_abandon_while_waiting_is_a_callback_task_except_anonymous(make_rig: Any) -> None:
    rig = await make_rig([phone("101")])
    await rig.pbx.place_call(HOTLINE, "0912000030", patience=150)
    await rig.pbx.place_call(HOTLINE, "anonymous", patience=150)
    await rig.until(lambda: len(rig.service.acd.waiting("care")) == 2, 140)
    await rig.until(lambda: not rig.pbx.channels, 200)
    await rig.until(lambda: not rig.service.acd.calls, 10)
    await rig.service.flush()
    tasks = await rig.tasks()
    assert [(t.origin, t.phone) for t in tasks] == [("abandoned", "+84912000030")]
    assert "waiting" in tasks[0].notes


async def test_priority_first_and_fifo_within_a_priority(make_rig: Any) -> None:
    rig = await make_rig(
        [phone("101", talk=None), phone("102"), phone("103")], wrapup=0, vip=["+84912000099"]
    )
    await rig.login("agent1")
    await rig.pbx.place_call(HOTLINE, "0912000040")
    await rig.until(lambda: rig.agent_state("agent1") == "on_call", 30)
    for number in ("0912000041", "0912000042", "0912000099"):
        await rig.pbx.place_call(HOTLINE, number)
        await rig.sleep(3)
    await rig.until(lambda: len(rig.service.acd.waiting("care")) == 3, 30)
    order = [w.caller for w in rig.service.acd.waiting("care")]
    assert order == ["+84912000099", "+84912000041", "+84912000042"]  # E.164, as stored


async def test_an_old_form_number_reaches_its_sticky_agent_and_the_pop_in_e164(
    make_rig: Any,
) -> None:
    """The trunk sends a pre-2018 mobile number: routing, the pop and tasks see +8438…."""
    rig = await make_rig(
        [phone("101"), phone("102"), phone("103")],
        tickets={"+84383456789": "agent2"},
        ring_timeout=30,
        sticky=25,
    )
    await rig.login("agent1", "agent2", "agent3")
    await rig.pbx.place_call(HOTLINE, "01683456789")
    await rig.until(lambda: rig.service.ringing_offer(rig.agents["agent2"]) is not None, 60)
    offer = rig.service.ringing_offer(rig.agents["agent2"])
    assert offer is not None and offer.caller_number == "+84383456789"
    assert rig.service.acd.calls[offer.call_id].caller == "+84383456789"
    await rig.until(lambda: rig.agent_state("agent2") == "on_call", 60)
    assert rig.dialed() == ["102"]  # the ticket owner, found from the old form


async def test_sticky_rings_the_ticket_owner_first(make_rig: Any) -> None:
    # A long sticky window (25 s, 0.4 s of wall time at 60x) so a loaded test machine's
    # pause cannot make the owner's phone answer after it; the logic is the same at 10 s.
    rig = await make_rig(
        [phone("101"), phone("102"), phone("103")],
        tickets={"+84912000050": "agent2"},
        ring_timeout=30,
        sticky=25,
    )
    await rig.login("agent1", "agent2", "agent3")
    await rig.pbx.place_call(HOTLINE, "0912000050")
    await rig.until(lambda: rig.agent_state("agent2") == "on_call", 60)
    assert rig.dialed() == ["102"]


async def test_overflow_offers_a_callback(make_rig: Any) -> None:
    rig = await make_rig([phone("101")], max_wait=30)
    caller = await rig.pbx.place_call(HOTLINE, "0912000060")
    await rig.until(lambda: bool(rig.service.acd.waiting()), 30)
    # The caller presses 1 once the overflow menu offers the callback (not on a timer that
    # races the 30 s overflow at 60x scale).
    await rig.until(lambda: caller.context == "cc-overflow", 60)
    rig.pbx.press(caller, "1")
    await rig.until(lambda: not rig.pbx.channels, 120)
    # The callback AGI session may still be writing when the last channel goes away.
    tasks = []
    for _ in range(40):
        await rig.service.flush()
        tasks = await rig.tasks()
        if tasks:
            break
        await asyncio.sleep(0.05)
    assert [(t.origin, t.phone) for t in tasks] == [("overflow", "+84912000060")]


async def test_daemon_restart_keeps_three_waiting_callers_in_order(make_rig: Any) -> None:
    rig = await make_rig([phone("101"), phone("102"), phone("103")])
    await rig.login("agent1")
    await rig.service.pause(rig.agents["agent1"], "meeting")
    for number in ("0912000071", "0912000072", "0912000073"):
        await rig.pbx.place_call(HOTLINE, number)
        await rig.sleep(5)
    await rig.until(lambda: len(rig.service.acd.waiting("care")) == 3, 30)
    before = [(w.caller, round(w.waited_seconds)) for w in rig.service.acd.waiting("care")]
    await rig.stop_daemon()
    await rig.sleep(10)
    service = await rig.start_daemon()
    await rig.until(lambda: len(service.acd.waiting("care")) == 3, 30)
    after = service.acd.waiting("care")
    assert [w.caller for w in after] == [caller for caller, _ in before]
    # waits measured from channel creation: at least what they had plus the restart gap
    for (_, waited_before), waited in zip(before, (w.waited_seconds for w in after), strict=True):
        assert waited >= waited_before + 9
    assert service.acd.agents[rig.agents["agent1"]].reason == "meeting"
    await service.set_available(rig.agents["agent1"])
    await rig.until(lambda: rig.agent_state("agent1") == "on_call", 30)
    first = next(dict(e) for e in rig.events if dict(e).get("Event") == "DialBegin")
    assert first.get("CallerIDNum") == "0912000071"


async def test_fallback_queue_when_the_daemon_is_down_skips_paused_agents(make_rig: Any) -> None:
    rig = await make_rig([phone("101"), phone("102"), phone("103")])
    await rig.login("agent1", "agent2", "agent3")
    await rig.service.pause(rig.agents["agent1"], "lunch")
    await rig.until(lambda: rig.pbx.queues["cc-fallback"].members[0].paused, 10)
    await rig.stop_daemon()
    await rig.pbx.place_call(HOTLINE, "0912000080")
    await rig.until(lambda: bool(rig.dialed()), 60)
    await rig.sleep(30)
    assert rig.dialed() and "101" not in rig.dialed()


async def test_a_stalled_route_sends_the_call_to_the_fallback_queue_within_a_second(
    make_rig: Any,
) -> None:
    import asyncio
    import time as wall

    rig = await make_rig([phone("101"), phone("102"), phone("103")])
    await rig.login("agent1", "agent2", "agent3")

    async def stalled(session: Any) -> Any:
        await asyncio.sleep(30)  # the decision hangs (a bug, a stuck await)

    rig.service._route = stalled  # the route request never answers
    started = wall.monotonic()
    await rig.pbx.place_call(HOTLINE, "0912000090")
    await rig.until(lambda: any(dict(e).get("Event") == "QueueCallerJoin" for e in rig.events), 600)
    took = wall.monotonic() - started
    joined = next(dict(e) for e in rig.events if dict(e).get("Event") == "QueueCallerJoin")
    assert joined["Queue"] == "cc-fallback"
    # inbound + recording notice (2 s simulated = 33 ms) + the 1 s route deadline
    assert took < 2.5, f"fallback after {took:.2f} s"


async def test_a_stalled_caller_lookup_still_rings_an_agent_within_its_bound(
    make_rig: Any,
) -> None:
    """Issue 19: the route waits for the caller lookup at most ``profile_wait_seconds``,
    then routes the caller as unknown instead of losing the call to the fallback queue."""
    import asyncio
    import time as wall

    rig = await make_rig([phone("101"), phone("102"), phone("103")])
    await rig.login("agent1", "agent2", "agent3")

    async def stalled(caller: str) -> Any:
        await asyncio.sleep(30)  # the database hangs

    rig.service._caller_profile = stalled  # the lookup started at inbound never returns
    started = wall.monotonic()
    await rig.pbx.place_call(HOTLINE, "0912000091")
    await rig.until(lambda: bool(rig.dialed_callers()), 600)
    took = wall.monotonic() - started
    assert [caller for _, caller in rig.dialed_callers()] == ["0912000091"]
    assert not any(dict(e).get("Event") == "QueueCallerJoin" for e in rig.events)
    assert took < 1.5, f"rang after {took:.2f} s"


async def test_voicemail_out_of_hours_and_on_overflow_become_tasks(make_rig: Any) -> None:
    rig = await make_rig([phone("101")], holidays=[date(2026, 11, 23)], closed_action="voicemail")
    await rig.pbx.place_call(HOTLINE, "0912000095", patience=30)
    await rig.until(lambda: rig.pbx.stats["agi_sessions"] >= 2 and not rig.pbx.channels, 120)
    await rig.service.flush()
    tasks = await rig.tasks()
    assert [(t.origin, t.phone) for t in tasks] == [("voicemail", "+84912000095")]
    assert tasks[0].notes.startswith("voicemail-") and tasks[0].notes.endswith(".wav")


async def test_overflow_to_voicemail(make_rig: Any) -> None:
    rig = await make_rig([phone("101")], max_wait=30, overflow_action="voicemail")
    await rig.pbx.place_call(HOTLINE, "0912000096", patience=120)
    await rig.until(lambda: bool(rig.service.acd.waiting()), 30)
    await rig.until(lambda: not rig.pbx.channels, 200)
    await rig.service.flush()
    assert [(t.origin, t.phone) for t in await rig.tasks()] == [("voicemail", "+84912000096")]
