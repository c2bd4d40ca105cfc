"""The pure ACD: agent states, strategies, ring timeout, auto-pause, waiting list, sticky, overflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.clock import ManualClock
from callcenter.core.acd import (
    MISSED_CALLS_REASON,
    Acd,
    AcdError,
    AcdSettings,
    AgentState,
    Dial,
    GroupConfig,
    StateChange,
    Strategy,
    Wait,
)

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi, a Monday


def make_acd(
    agents: int = 3, strategy: Strategy = Strategy.LEAST_RECENT, **settings: object
) -> tuple[Acd, ManualClock, list[StateChange]]:
    clock = ManualClock(START)
    changes: list[StateChange] = []
    acd = Acd(clock, AcdSettings(**settings), on_state_change=changes.append)  # type: ignore[arg-type]
    acd.configure(
        [
            GroupConfig(
                "care",
                strategy=strategy,
                ring_timeout=15,
                max_wait=120,
                members={i: 0 for i in range(1, agents + 1)},
            )
        ]
    )
    for i in range(1, agents + 1):
        acd.upsert_agent(i, name=f"agent{i}", interface=f"PJSIP/10{i}")
        acd.login(i)
        clock.set(clock.now() + timedelta(seconds=1))
    return acd, clock, changes


def call(acd: Acd, call_id: str, **kwargs: object) -> Dial | Wait:
    acd.arrive(call_id, "care", caller=f"+84900{call_id}", **kwargs)  # type: ignore[arg-type]
    return acd.route(call_id)


def test_least_recent_rings_the_longest_idle_agent_first() -> None:
    acd, clock, _ = make_acd()
    first = call(acd, "c1")
    assert isinstance(first, Dial) and first.agent_ids == (1,)  # logged in first, idle longest
    assert first.dial_string == "PJSIP/101" and first.ring_timeout == 15
    acd.answered("c1", 1)
    clock.set(clock.now() + timedelta(seconds=60))
    acd.call_ended("c1")
    acd.end_wrapup(1)
    second = call(acd, "c2")
    assert isinstance(second, Dial) and second.agent_ids == (2,)


def test_fewest_calls_today_counts_answered_calls_per_local_day() -> None:
    acd, clock, _ = make_acd(strategy=Strategy.FEWEST_CALLS, wrapup_seconds=0)
    for n in range(3):
        dial = call(acd, f"a{n}")
        assert isinstance(dial, Dial)
        acd.answered(f"a{n}", dial.agent_ids[0])
        acd.call_ended(f"a{n}")
    # everyone has one call; agent 1 takes a second one
    assert {acd.agents[i].calls_today for i in (1, 2, 3)} == {1}
    dial = call(acd, "b")
    assert isinstance(dial, Dial)
    acd.answered("b", dial.agent_ids[0])
    acd.call_ended("b")
    busiest = dial.agent_ids[0]
    nxt = call(acd, "c")
    assert isinstance(nxt, Dial) and nxt.agent_ids[0] != busiest
    acd.ring_outcome("c", "CANCEL")
    acd.call_ended("c")
    # At local midnight (17:00 UTC) the count starts again.
    clock.set(datetime(2026, 11, 23, 17, 0, 1, tzinfo=UTC))
    dial = call(acd, "d")
    assert isinstance(dial, Dial)
    acd.answered("d", dial.agent_ids[0])
    assert acd.agents[dial.agent_ids[0]].calls_today == 1


def test_round_robin_remembers_where_it_stopped() -> None:
    acd, _, _ = make_acd(agents=3, strategy=Strategy.ROUND_ROBIN, wrapup_seconds=0)
    picked = []
    for n in range(5):
        dial = call(acd, f"r{n}")
        assert isinstance(dial, Dial)
        picked.append(dial.agent_ids[0])
        acd.answered(f"r{n}", dial.agent_ids[0])
        acd.call_ended(f"r{n}")
    assert picked == [1, 2, 3, 1, 2]


def test_ring_all_rings_every_free_agent_and_frees_the_others_on_answer() -> None:
    acd, _, _ = make_acd(strategy=Strategy.RING_ALL)
    dial = call(acd, "x")
    assert isinstance(dial, Dial)
    assert dial.agent_ids == (1, 2, 3) and dial.dial_string == "PJSIP/101&PJSIP/102&PJSIP/103"
    acd.answered("x", 2)
    assert [acd.agents[i].state for i in (1, 2, 3)] == [
        AgentState.AVAILABLE,
        AgentState.ON_CALL,
        AgentState.AVAILABLE,
    ]


def test_ring_timeout_moves_to_the_next_agent_and_two_misses_auto_pause() -> None:
    acd, clock, changes = make_acd(agents=2)
    dial = call(acd, "m1")
    assert isinstance(dial, Dial) and dial.agent_ids == (1,)
    clock.set(clock.now() + timedelta(seconds=15))
    acd.ring_outcome("m1", "NOANSWER")
    again = acd.route("m1")
    assert isinstance(again, Dial) and again.agent_ids == (2,)
    assert acd.agents[1].missed_in_a_row == 1
    assert acd.agents[1].state is AgentState.AVAILABLE
    acd.answered("m1", 2)
    dial = call(acd, "m2")
    assert isinstance(dial, Dial) and dial.agent_ids == (1,)
    acd.ring_outcome("m2", "NOANSWER")
    assert acd.agents[1].state is AgentState.PAUSED
    assert acd.agents[1].reason == MISSED_CALLS_REASON
    assert changes[-1].state is AgentState.PAUSED and changes[-1].reason == MISSED_CALLS_REASON
    # nobody is free now: the caller waits
    assert isinstance(acd.route("m2"), Wait)
    acd.set_available(1)
    assert acd.agents[1].missed_in_a_row == 0
    offers = acd.dispatch()
    assert [offer.call_id for offer in offers] == ["m2"] and offers[0].agent_ids == (1,)


def test_an_answered_call_resets_the_miss_count() -> None:
    acd, _, _ = make_acd(agents=1)
    call(acd, "a")
    acd.ring_outcome("a", "NOANSWER")
    assert acd.agents[1].missed_in_a_row == 1
    acd.route("a")
    acd.answered("a", 1)
    assert acd.agents[1].missed_in_a_row == 0


def test_busy_is_not_taken_but_not_counted_as_missed() -> None:
    acd, _, _ = make_acd(agents=2)
    call(acd, "b")
    acd.ring_outcome("b", "BUSY")
    assert acd.agents[1].missed_in_a_row == 0
    assert isinstance(acd.route("b"), Dial)


def test_wrapup_is_respected_then_ends_by_time_or_by_the_agent() -> None:
    acd, clock, _ = make_acd(agents=1, wrapup_seconds=30)
    call(acd, "w1")
    acd.answered("w1", 1)
    acd.call_ended("w1")
    assert acd.agents[1].state is AgentState.WRAPUP
    assert isinstance(call(acd, "w2"), Wait)  # wrap-up is not free
    clock.set(clock.now() + timedelta(seconds=29))
    assert acd.tick() == [] and acd.dispatch() == []
    assert acd.next_timer() == clock.now() + timedelta(seconds=1)
    clock.set(clock.now() + timedelta(seconds=1))
    assert acd.tick() == [1]
    assert [offer.call_id for offer in acd.dispatch()] == ["w2"]
    acd.answered("w2", 1)
    acd.call_ended("w2")
    acd.end_wrapup(1)  # ended early by the agent
    assert acd.agents[1].state is AgentState.AVAILABLE


def test_unregistered_or_busy_phone_and_closed_page_are_skipped() -> None:
    acd, clock, _ = make_acd(agents=3, page_grace_seconds=60)
    assert acd.phone_status("pjsip/101", registered=False) == [1]
    acd.phone_status("PJSIP/102", busy=True)
    dial = call(acd, "u")
    assert isinstance(dial, Dial) and dial.agent_ids == (3,)
    acd.ring_outcome("u", "CANCEL")
    acd.call_ended("u")
    acd.page_status(3, open_=False)
    clock.set(clock.now() + timedelta(seconds=59))
    assert [a.id for a in acd.free_agents("care")] == [3]  # within the grace period
    clock.set(clock.now() + timedelta(seconds=1))
    assert acd.free_agents("care") == []
    acd.page_status(3, open_=True)
    acd.phone_status("PJSIP/101", registered=True)
    assert {a.id for a in acd.free_agents("care")} == {1, 3}


def test_hot_desking_rings_the_phone_picked_at_login() -> None:
    acd, _, _ = make_acd(agents=1)
    acd.logout(1)
    acd.login(1, "PJSIP/205")
    dial = call(acd, "h")
    assert isinstance(dial, Dial) and dial.channels == ("PJSIP/205",)
    with pytest.raises(AcdError):
        acd.login(1, "PJSIP/206")  # not during a call
    acd.ring_outcome("h", "CANCEL")
    acd.logout(1)
    assert acd.agents[1].channel == "PJSIP/101"


def test_priority_first_then_fifo_within_a_priority() -> None:
    acd, clock, _ = make_acd(agents=1, wrapup_seconds=0)
    call(acd, "busy")
    acd.answered("busy", 1)
    for name, priority in [("n1", 0), ("n2", 0), ("vip", 1), ("n3", 0), ("vip2", 1)]:
        clock.set(clock.now() + timedelta(seconds=5))
        result = call(acd, name, priority=priority)
        assert isinstance(result, Wait)
    assert [w.call_id for w in acd.waiting("care")] == ["vip", "vip2", "n1", "n2", "n3"]
    assert acd.position("n1") == 3
    served = []
    for _ in range(5):
        current = acd.agents[1].call_id
        assert current is not None
        acd.call_ended(current)
        (offer,) = acd.dispatch()
        acd.answered(offer.call_id, 1)
        served.append(offer.call_id)
    assert served == ["vip", "vip2", "n1", "n2", "n3"]


def test_a_new_caller_never_jumps_ahead_of_waiting_callers() -> None:
    acd, _, _ = make_acd(agents=1, wrapup_seconds=0)
    call(acd, "a")
    acd.answered("a", 1)
    assert isinstance(call(acd, "b"), Wait)
    acd.agent_call_ended(1)  # agent free, b not yet dispatched
    result = call(acd, "c")
    assert isinstance(result, Wait) and result.position == 2
    (offer,) = acd.dispatch()
    assert offer.call_id == "b"


def test_sticky_offers_the_ticket_owner_first_for_a_few_seconds() -> None:
    acd, _, _ = make_acd(agents=3, sticky_seconds=8)
    dial = call(acd, "s", sticky_agent_id=3, priority=1)
    assert isinstance(dial, Dial) and dial.agent_ids == (3,) and dial.sticky
    assert dial.ring_timeout == 8
    acd.ring_outcome("s", "NOANSWER")
    assert acd.agents[3].missed_in_a_row == 0  # a short sticky ring is not a miss
    nxt = acd.route("s")
    assert isinstance(nxt, Dial) and nxt.agent_ids == (1,) and not nxt.sticky


def test_sticky_owner_not_free_routes_normally() -> None:
    acd, _, _ = make_acd(agents=3)
    acd.pause(3, "lunch")
    dial = call(acd, "s", sticky_agent_id=3)
    assert isinstance(dial, Dial) and dial.agent_ids == (1,)


def test_overflow_after_max_wait_and_abandon_reports_the_wait() -> None:
    acd, clock, _ = make_acd(agents=1)
    call(acd, "busy")
    acd.answered("busy", 1)
    call(acd, "o1")
    clock.set(clock.now() + timedelta(seconds=60))
    call(acd, "o2")
    assert acd.next_timer() == START + timedelta(seconds=1 + 120)
    clock.set(clock.now() + timedelta(seconds=60))
    assert [c.id for c in acd.overdue()] == ["o1"]
    acd.overflow("o1")
    assert [w.call_id for w in acd.waiting()] == ["o2"]
    clock.set(clock.now() + timedelta(seconds=10))
    gone = acd.call_ended("o2")
    assert gone is not None and gone.abandoned_while == "waiting"
    assert gone.waited_seconds == 70
    assert acd.call_ended("busy") is None  # answered: not an abandon


def test_abandon_while_ringing_frees_the_agent_without_a_miss() -> None:
    acd, _, _ = make_acd(agents=1)
    call(acd, "c")
    gone = acd.call_ended("c")
    assert gone is not None and gone.abandoned_while == "ringing"
    assert acd.agents[1].state is AgentState.AVAILABLE and acd.agents[1].missed_in_a_row == 0


def test_pause_during_a_call_applies_after_it() -> None:
    acd, _, changes = make_acd(agents=1)
    call(acd, "p")
    acd.answered("p", 1)
    acd.pause(1, "lunch")
    assert acd.agents[1].state is AgentState.ON_CALL
    acd.call_ended("p")
    assert (acd.agents[1].state, acd.agents[1].reason) == (AgentState.PAUSED, "lunch")
    assert [c.state for c in changes[-3:]] == [
        AgentState.RINGING,
        AgentState.ON_CALL,
        AgentState.PAUSED,
    ]
    with pytest.raises(AcdError):
        acd.pause(1, "")


def test_logout_refused_during_a_call() -> None:
    acd, _, _ = make_acd(agents=1)
    call(acd, "l")
    with pytest.raises(AcdError):
        acd.logout(1)


def test_restore_waiting_keeps_the_original_order_and_wait() -> None:
    acd, clock, _ = make_acd(agents=0)
    clock.set(START + timedelta(minutes=10))
    for name, minutes_ago in [("late", 1), ("early", 5), ("middle", 3)]:
        acd.restore_waiting(name, "care", since=clock.now() - timedelta(minutes=minutes_ago))
    waiting = acd.waiting("care")
    assert [w.call_id for w in waiting] == ["early", "middle", "late"]
    assert waiting[0].waited_seconds == 300


def test_undelivered_offer_gives_the_caller_back_their_place() -> None:
    acd, _, _ = make_acd(agents=1, wrapup_seconds=0)
    call(acd, "a")
    acd.answered("a", 1)
    call(acd, "b")
    acd.call_ended("a")
    (offer,) = acd.dispatch()
    acd.undelivered(offer)
    assert [w.call_id for w in acd.waiting()] == ["b"]
    assert acd.agents[1].state is AgentState.AVAILABLE


def test_queue_counters_per_group() -> None:
    acd, clock, _ = make_acd(agents=0)
    call(acd, "q1")
    clock.set(clock.now() + timedelta(seconds=42))
    call(acd, "q2")
    assert acd.queue_counters()["care"] == {"waiting": 2, "longest_wait": 42.0}


def test_a_busy_or_unreachable_phone_is_not_rung_again_in_a_loop() -> None:
    acd, clock, _ = make_acd(agents=1, failed_dial_backoff_seconds=30)
    call(acd, "b")
    acd.ring_outcome("b", "CHANUNAVAIL")
    assert isinstance(acd.route("b"), Wait)  # not the same phone again at once
    assert acd.next_timer() == clock.now() + timedelta(seconds=30)
    clock.set(clock.now() + timedelta(seconds=30))
    (offer,) = acd.dispatch()
    assert offer.agent_ids == (1,)
    acd.ring_outcome("b", "BUSY")
    assert acd.free_agents("care") == []
    acd.phone_status("PJSIP/101", registered=True, busy=False)  # device says free again
    assert [a.id for a in acd.free_agents("care")] == [1]


def test_a_long_queue_for_busy_agents_is_not_rescanned_per_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hundreds of callers waiting for busy agents: one pass asks each group for free agents
    about once, not once per caller; a caller whose sticky agent is free still gets them."""
    acd, clock, _ = make_acd(agents=30)
    for i in range(1, 31):  # every agent on a call
        dial = call(acd, f"busy{i}")
        assert isinstance(dial, Dial)
        acd.answered(f"busy{i}", dial.agent_ids[0])
    for i in range(300):
        assert isinstance(call(acd, f"q{i}"), Wait)
    checks = 0
    original = acd._is_free  # type: ignore[attr-defined]

    def counted(agent: object) -> bool:
        nonlocal checks
        checks += 1
        return original(agent)  # type: ignore[no-any-return]

    monkeypatch.setattr(acd, "_is_free", counted)
    assert acd.dispatch() == []
    assert checks <= 2 * 30  # was 300 callers × 30 agents
    acd.call_ended("busy7")  # agent 7 ends: wrap-up, then free
    clock.set(clock.now() + timedelta(minutes=5))
    acd.tick()
    offers = acd.dispatch()
    assert [o.call_id for o in offers] == ["q0"]  # the longest waiting caller, only them


def test_a_blind_transfer_target_is_on_the_call_until_it_ends() -> None:
    acd, clock, _ = make_acd(wrapup_seconds=30)
    dial = call(acd, "c1")
    assert isinstance(dial, Dial) and dial.agent_ids == (1,)
    acd.answered("c1", 1)
    acd.transferred("c1", 1)  # blind: to a dialplan place, nobody has answered yet
    assert acd.agents[1].state is AgentState.WRAPUP
    assert acd.agents[2].state is AgentState.AVAILABLE
    acd.answered("c1", 2)
    assert acd.agents[2].state is AgentState.ON_CALL and acd.agents[2].calls_today == 1
    assert call(acd, "c2") == Dial("c2", (3,), ("PJSIP/103",), 15)  # never agent 2 meanwhile
    acd.call_ended("c2")
    clock.set(clock.now() + timedelta(seconds=40))
    assert acd.call_ended("c1") is None
    assert acd.agents[2].state is AgentState.WRAPUP
    assert acd.agents[2].last_call_ended_at == clock.now()  # least_recent's clock moves


def test_a_transfer_nobody_of_ours_takes_is_no_abandoned_call() -> None:
    acd, _, _ = make_acd()
    call(acd, "c1")
    acd.answered("c1", 1)
    acd.transferred("c1", 1)  # to an outside number
    assert acd.call_ended("c1") is None  # no callback task: the caller was served
    assert [a.state for a in acd.agents.values()] == [
        AgentState.WRAPUP,
        AgentState.AVAILABLE,
        AgentState.AVAILABLE,
    ]


def test_attended_transfer_consultation_does_not_take_the_caller_early() -> None:
    acd, _, _ = make_acd()
    call(acd, "c1")
    acd.answered("c1", 1)
    acd.answered("c1", 2)  # agent 2 answers agent 1's consultation
    assert acd.calls["c1"].agent_id == 1
    assert acd.agents[1].state is AgentState.ON_CALL
    acd.transferred("c1", 1, 2)  # agent 1 hangs up: the caller is agent 2's
    assert acd.agents[1].state is AgentState.WRAPUP
    assert acd.agents[2].state is AgentState.ON_CALL and acd.calls["c1"].agent_id == 2
    acd.call_ended("c1")
    assert acd.agents[2].state is AgentState.WRAPUP


def test_a_paused_transfer_target_is_on_call_then_paused_again() -> None:
    acd, _, _ = make_acd()
    acd.pause(2, "lunch")
    acd.logout(3)
    call(acd, "c1")
    acd.answered("c1", 1)
    acd.transferred("c1", 1)
    acd.answered("c1", 3)  # logged out (their phone took it): not the ACD's to track
    assert acd.agents[3].state is AgentState.LOGGED_OUT
    acd.answered("c1", 2)
    assert acd.agents[2].state is AgentState.ON_CALL
    acd.call_ended("c1")
    assert (acd.agents[2].state, acd.agents[2].reason) == (AgentState.PAUSED, "lunch")
