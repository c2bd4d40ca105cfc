"""A discrete-event workload that drives the pure ACD with a ManualClock (no sockets, no sleeps).

Poisson arrivals, agents answer after a short delay, gamma-distributed talk
times, wrap-up; every decision comes from the ACD. After each event it checks
the two promises the supervisor cares about: no caller waits while a free agent
of their group exists, and callers of one priority leave the queue in arrival order.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter.clock import ManualClock
from callcenter.core.acd import Acd, AcdSettings, Dial, GroupConfig, Strategy

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@dataclass
class Result:
    answered: Counter[int] = field(default_factory=Counter)
    talk_seconds: float = 0.0
    span_seconds: float = 0.0
    agents: int = 0
    dequeued: list[tuple[int, str]] = field(
        default_factory=list
    )  # (priority, call) in dispatch order
    enqueue_order: dict[str, int] = field(default_factory=dict)
    talk_by_agent: Counter[int] = field(default_factory=Counter)  # seconds talked per agent
    #: every offer: (the chosen agent's idle-since, the earliest idle-since among the free
    #: agents it was chosen from), seconds from the start, kept by the workload itself
    #: (when each agent's last answered call hung up; login for none)
    offers: list[tuple[float, float]] = field(default_factory=list)

    @property
    def occupancy(self) -> float:
        return self.talk_seconds / (self.agents * self.span_seconds)


def run(
    strategy: Strategy,
    seed: int,
    *,
    agents: int = 10,
    calls: int = 1000,
    occupancy: float = 0.78,
    mean_talk: float = 180.0,
    wrapup: float = 10.0,
    vip_share: float = 0.1,
) -> Result:
    rng = random.Random(seed)
    clock = ManualClock(START)
    acd = Acd(clock, AcdSettings(wrapup_seconds=wrapup))
    acd.configure([GroupConfig("care", strategy=strategy, members={i: 0 for i in range(agents)})])
    for agent_id in range(agents):
        acd.upsert_agent(agent_id, interface=f"PJSIP/{100 + agent_id}")
        acd.login(agent_id)
    rate = occupancy * agents / mean_talk
    shape = 4.0  # talk-time coefficient of variation 0.5
    events: list[tuple[float, int, str, str]] = []
    seq = itertools.count()
    result = Result(agents=agents)
    t = 0.0
    for n in range(calls):
        t += rng.expovariate(rate)
        heapq.heappush(events, (t, next(seq), "arrive", f"c{n}"))
    priority = {f"c{n}": int(rng.random() < vip_share) for n in range(calls)}
    waiting_since: set[str] = set()
    idle_since = dict.fromkeys(range(agents), 0.0)  # all logged in at the start
    agent_of: dict[str, int] = {}

    def record_offers(free: set[int], dials: list[Dial]) -> None:
        for dial in dials:
            chosen = dial.agent_ids[0]
            result.offers.append((idle_since[chosen], min(idle_since[a] for a in free)))
            free.discard(chosen)

    def ring(dial: Dial, now: float) -> None:
        heapq.heappush(events, (now + rng.uniform(1, 4), next(seq), "answer", dial.call_id))

    while events:
        now, _, kind, call_id = heapq.heappop(events)
        clock.set(START + timedelta(seconds=now))
        if kind == "arrive":
            acd.arrive(call_id, "care", priority=priority[call_id])
            free = {agent.id for agent in acd.free_agents("care")}
            decision = acd.route(call_id)
            if isinstance(decision, Dial):
                record_offers(free, [decision])
                ring(decision, now)
            else:
                waiting_since.add(call_id)
                result.enqueue_order[call_id] = len(result.enqueue_order)
        elif kind == "answer":
            agent_id = acd.calls[call_id].ringing[0]
            agent_of[call_id] = agent_id
            acd.answered(call_id, agent_id)
            result.answered[agent_id] += 1
            talk = rng.gammavariate(shape, mean_talk / shape)
            result.talk_seconds += talk
            result.talk_by_agent[agent_id] += talk
            heapq.heappush(events, (now + talk, next(seq), "hangup", call_id))
        elif kind == "hangup":
            acd.call_ended(call_id)
            idle_since[agent_of[call_id]] = now
            heapq.heappush(events, (now + wrapup, next(seq), "tick", call_id))
        else:
            acd.tick()
        free = {agent.id for agent in acd.free_agents("care")}
        dials = acd.dispatch()
        record_offers(free, dials)
        for dial in dials:
            result.dequeued.append((priority[dial.call_id], dial.call_id))
            waiting_since.discard(dial.call_id)
            ring(dial, now)
        # Promise 1: nobody waits while a free agent of their group exists.
        if acd.waiting("care"):
            assert acd.free_agents("care") == [], f"caller waits while an agent is free at {now}"
        result.span_seconds = now
    return result
