"""Fairness: 10 agents, 1,000 calls at 70–85 % occupancy, 5 seeds.

``fewest_calls`` (the default) keeps every agent's answered count within ±5 % of the
mean, the care plans' promise (seeds 1–5: worst 0, 1, 1, 5, 4 %).

``least_recent`` (Asterisk ``leastrecent``) promises something else: the agent whose
last call ended longest ago gets the next call, so the wait in the idle line is shared
first come, first served. That is what its test asserts, offer by offer, against the
workload's own record of when each agent's last call hung up. It does not promise equal
counts: each agent's calls form a renewal process (talk + wrap-up + idle line), so an
agent who drew long calls answers fewer (seeds 1–5: worst 8, 9, 9, 9, 9 % off the mean).
"""

from __future__ import annotations

import statistics

import pytest

from callcenter.core.acd import Strategy
from tests.acd.workload import run

SEEDS = [1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", SEEDS)
def test_fewest_calls_spreads_answered_calls_within_5_percent(seed: int) -> None:
    result = run(Strategy.FEWEST_CALLS, seed)
    assert sum(result.answered.values()) == 1000
    assert 0.70 <= result.occupancy <= 0.85, f"occupancy {result.occupancy:.2f} out of range"
    mean = 100.0
    worst = max(abs(count - mean) / mean for count in result.answered.values())
    assert len(result.answered) == 10
    assert worst <= 0.05, f"seed {seed}: {sorted(result.answered.values())}"


@pytest.mark.parametrize("seed", SEEDS)
def test_least_recent_gives_every_call_to_the_longest_idle_free_agent(seed: int) -> None:
    """Its promise, offer by offer: nobody free since earlier is passed over."""
    result = run(Strategy.LEAST_RECENT, seed)
    assert sum(result.answered.values()) == 1000
    assert 0.70 <= result.occupancy <= 0.85, f"occupancy {result.occupancy:.2f} out of range"
    assert len(result.offers) == 1000  # every call was offered once (no ring was missed)
    passed_over = [(chosen, longest) for chosen, longest in result.offers if chosen != longest]
    assert passed_over == []
    # Only each agent's first call is chosen by the login clock; the rest by hang-up times.
    assert sum(1 for chosen, _ in result.offers if chosen > 0) == 1000 - 10


def test_fewest_calls_would_pass_over_the_longest_idle_agent() -> None:
    """The check above can fail: the default strategy, counting calls, does pass people over."""
    result = run(Strategy.FEWEST_CALLS, 1)
    assert any(chosen != longest for chosen, longest in result.offers)


@pytest.mark.parametrize("seed", SEEDS)
def test_least_recent_gives_fewer_calls_to_agents_who_drew_long_ones(seed: int) -> None:
    """Why least_recent misses ±5 %: the count follows the talk time the agent drew."""
    result = run(Strategy.LEAST_RECENT, seed)
    agents = sorted(result.answered)
    counts = [result.answered[agent] for agent in agents]
    talk_per_call = [result.talk_by_agent[agent] / result.answered[agent] for agent in agents]
    assert statistics.correlation(counts, talk_per_call) < -0.8


@pytest.mark.parametrize("seed", SEEDS)
def test_fifo_within_a_priority(seed: int) -> None:
    result = run(Strategy.LEAST_RECENT, seed)
    assert result.dequeued, "the workload must make some callers wait"
    for level in (0, 1):
        order = [result.enqueue_order[call] for prio, call in result.dequeued if prio == level]
        assert order == sorted(order)
    # and a waiting VIP is never left behind a normal caller who waited less
    # (covered by the ACD ranking; here: at least one VIP waited and was served)
    assert any(prio == 1 for prio, _ in result.dequeued)


def test_round_robin_is_not_claimed_fair_on_counts_but_serves_everyone() -> None:
    result = run(Strategy.ROUND_ROBIN, 1)
    assert sum(result.answered.values()) == 1000 and len(result.answered) == 10
