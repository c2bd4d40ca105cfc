"""Fairness end to end, through the simulator at 60×: a smaller run than the pure-core statistics.

3 agents, 36 calls at about 75 % occupancy, answer delays and talk times drawn
by the simulator's phones. Checks what a supervisor checks: every call answered,
counts close to even, nobody waiting while an agent of their group is free
(sampled continuously; a violation must persist past the dispatch of one loop
turn to count), and waiting callers served first come, first served.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from callcenter.core.phones import caller_id_number
from callcenter.sim.phones import PhoneBehaviour
from tests.acd.sim_rig import HOTLINE

pytestmark = pytest.mark.timeout(120)

CALLS = 36
MEAN_TALK = 30.0


def phones() -> list[tuple[str, PhoneBehaviour]]:
    return [
        (
            endpoint,
            PhoneBehaviour(
                endpoint,
                answer_delay=1.0,
                answer_delay_max=3.0,
                talk_seconds=20.0,
                talk_seconds_max=40.0,
            ),
        )
        for endpoint in ("101", "102", "103")
    ]


@pytest.mark.parametrize(("strategy", "spread"), [("fewest_calls", 1), ("least_recent", 3)])
async def test_calls_spread_evenly_through_the_simulator(
    make_rig: Any, strategy: str, spread: int
) -> None:
    # The phones always answer within 3 s; a 120 s ring timeout (2 s of wall time) keeps a
    # pause of a loaded machine from turning an answer into a miss and an auto-pause.
    rig = await make_rig(phones(), strategy=strategy, wrapup=5, ring_timeout=120)
    await rig.login("agent1", "agent2", "agent3")
    acd = rig.service.acd
    violations: list[float] = []
    suspicious_since: float | None = None
    waiting_order: list[str] = []

    async def watch() -> None:
        nonlocal suspicious_since
        while True:
            waiting = acd.waiting("care")
            for caller in waiting:
                if caller.caller not in waiting_order:
                    waiting_order.append(caller.caller)
            if waiting and acd.free_agents("care"):
                suspicious_since = suspicious_since or time.monotonic()
                if time.monotonic() - suspicious_since > 0.1:
                    violations.append(rig.clock.monotonic())
            else:
                suspicious_since = None
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    rng = random.Random(11)
    rate = 0.75 * 3 / (MEAN_TALK + 5)
    try:
        for n in range(CALLS):
            await rig.pbx.place_call(HOTLINE, f"09120001{n:02d}")
            await rig.sleep(rng.expovariate(rate))
        await rig.until(lambda: sum(a.calls_today for a in acd.agents.values()) == CALLS, 600)
        await rig.until(lambda: not any(n.startswith("PJSIP/trunk") for n in rig.pbx.channels), 120)
    finally:
        watcher.cancel()
    ours = [a for a in acd.agents.values() if a.id in rig.agents.values()]
    assert [a.reason for a in ours if a.reason == "missed_calls"] == [], "an agent was auto-paused"
    counts = sorted(a.calls_today for a in ours)
    assert sum(counts) == CALLS
    assert counts[-1] - CALLS / 3 <= spread and CALLS / 3 - counts[0] <= spread, counts
    assert violations == [], "a caller waited while an agent of their group was free"
    assert waiting_order, "the run must make some callers wait"
    # The ACD keeps callers in E.164; Asterisk's DialBegin shows what the trunk sent.
    dialed = [caller_id_number(caller) for _, caller in rig.dialed_callers()]
    dialed_after_wait = [caller for caller in dialed if caller in waiting_order]
    first_dials: list[str] = []
    for caller in dialed_after_wait:
        if caller not in first_dials:
            first_dials.append(caller)
    assert first_dials == waiting_order  # FIFO within the (single) priority
