"""The least-recent clock, step by step: what moves an agent in the line and what must not.

The statistics in ``test_fairness.py`` only see totals; these pin the rules behind
them: the clock is the end of the last answered call (Asterisk ``leastrecent``),
a missed ring or a busy phone never sends an agent to the back of the line,
ending wrap-up early does not jump it, and equal clocks go to whoever answered
fewer calls today, then to member priority.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.clock import ManualClock
from callcenter.core.acd import Acd, AcdSettings, Dial, GroupConfig, Strategy

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def make(
    agents: int = 3, *, members: dict[int, int] | None = None, wrapup: float = 10.0
) -> tuple[Acd, ManualClock]:
    clock = ManualClock(START)
    acd = Acd(clock, AcdSettings(wrapup_seconds=wrapup, missed_calls_pause_after=5))
    acd.configure(
        [
            GroupConfig(
                "care",
                strategy=Strategy.LEAST_RECENT,
                members=members or {i: 0 for i in range(agents)},
            )
        ]
    )
    for agent_id in members or range(agents):
        acd.upsert_agent(agent_id, interface=f"PJSIP/{100 + agent_id}")
        acd.login(agent_id)
    return acd, clock


def later(clock: ManualClock, seconds: float) -> None:
    clock.set(clock.now() + timedelta(seconds=seconds))


def rung(acd: Acd, call_id: str) -> int:
    acd.arrive(call_id, "care")
    decision = acd.route(call_id)
    assert isinstance(decision, Dial), decision
    assert len(decision.agent_ids) == 1
    return decision.agent_ids[0]


def take_call(acd: Acd, clock: ManualClock, call_id: str, talk: float) -> int:
    """Route a call, answer it, talk, hang up and let wrap-up run out."""
    agent_id = rung(acd, call_id)
    acd.answered(call_id, agent_id)
    later(clock, talk)
    acd.call_ended(call_id)
    return agent_id


def settle(acd: Acd, clock: ManualClock, seconds: float = 11.0) -> None:
    """Let time pass second by second, expiring wrap-ups as they fall due."""
    for _ in range(int(seconds)):
        later(clock, 1)
        acd.tick()


def test_the_agent_whose_last_call_ended_first_rings_first() -> None:
    acd, clock = make(2)
    first = rung(acd, "a")
    second = rung(acd, "b")
    acd.answered("a", first)
    acd.answered("b", second)
    later(clock, 60)
    acd.call_ended("b")  # the second agent hangs up first...
    later(clock, 30)
    acd.call_ended("a")
    settle(acd, clock)
    assert rung(acd, "c") == second  # ...so has been idle longest


def test_a_missed_ring_does_not_send_the_agent_to_the_back() -> None:
    acd, clock = make(3)
    for n in range(3):  # everyone answers one call; agent 0 finishes first
        take_call(acd, clock, f"warm{n}", talk=5)
    settle(acd, clock)
    head = rung(acd, "x")
    assert head == 0
    later(clock, 15)
    acd.ring_outcome("x", "NOANSWER")  # lets it ring out
    assert rung(acd, "x") == 1  # the same caller goes on to the next agent
    acd.answered("x", 1)
    # the next caller still rings agent 0 first: missing a call buys no rest
    assert rung(acd, "y") == 0


def test_a_busy_phone_is_skipped_for_a_while_but_keeps_its_place() -> None:
    acd, clock = make(3)
    for n in range(3):
        take_call(acd, clock, f"warm{n}", talk=5)
    settle(acd, clock)
    assert rung(acd, "x") == 0
    acd.ring_outcome("x", "BUSY")
    assert rung(acd, "x") == 1  # blocked for failed_dial_backoff_seconds
    acd.answered("x", 1)
    later(clock, 5)
    acd.phone_status("PJSIP/100", registered=True, busy=False)  # the phone is free again
    # agents 0 and 2 are free; 0 still heads the line: the busy dial did not move its clock
    assert rung(acd, "y") == 0


def test_ending_wrapup_early_does_not_jump_the_line() -> None:
    acd, clock = make(2, wrapup=60)
    first = rung(acd, "a")
    second = rung(acd, "b")
    acd.answered("a", first)
    acd.answered("b", second)
    later(clock, 30)
    acd.call_ended("a")  # first hangs up 10 s before second...
    later(clock, 10)
    acd.call_ended("b")
    acd.end_wrapup(second)  # ...but second ends wrap-up at once
    settle(acd, clock, 61)
    assert rung(acd, "c") == first  # the clock is the end of the call, not of wrap-up


def test_equal_idle_clocks_go_to_fewer_calls_today_then_member_priority() -> None:
    # agent 7 has the better member priority, agent 3 answered fewer calls today
    acd, _ = make(members={3: 5, 7: 1})
    acd.agents[7].calls_day = acd.agents[3].calls_day = START.date()
    acd.agents[7].calls_today, acd.agents[3].calls_today = 4, 2
    assert rung(acd, "a") == 3
    acd.ring_outcome("a", "NOANSWER")
    acd.agents[3].calls_today = 4  # now equal on counts: member priority decides
    assert rung(acd, "b") == 7


def test_counts_from_another_day_do_not_break_a_tie() -> None:
    acd, _ = make(members={3: 5, 7: 1})
    acd.agents[7].calls_day = START.date() - timedelta(days=1)
    acd.agents[7].calls_today = 40  # yesterday's
    acd.agents[3].calls_day, acd.agents[3].calls_today = START.date(), 1
    assert rung(acd, "a") == 7  # 0 today vs 1 today


def test_a_call_ending_after_the_agent_leg_is_not_an_abandon() -> None:
    acd, clock = make(1)
    agent_id = rung(acd, "a")
    acd.answered("a", agent_id)
    later(clock, 30)
    acd.agent_call_ended(agent_id)  # agent hangs up, caller goes on (survey)
    later(clock, 20)
    assert acd.call_ended("a") is None
    assert "a" not in acd.calls
