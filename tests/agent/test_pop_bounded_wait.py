"""A slow database never holds the pop: who calls goes out at once, the history follows.

The pop waits for the caller's history at most ``pop_history_wait`` (issue 19); past it the
page gets the caller's number marked ``history_pending`` (no quick-create offer yet: it is
not known whether the caller is a customer), then the whole pop when the history arrives.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from callcenter.agent_desk.plugin import AGENT_DESK
from tests.agent.conftest import AgentWorld
from tests.agent.test_agent_ws import ring


async def test_slow_history_pops_the_caller_first_then_the_history(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    desk = agent_world.client.server.app[AGENT_DESK]
    desk.pop_history_wait = 0.1
    load = desk._load_history
    release = asyncio.Event()

    async def slow_load(number: str | None, customer_id: int | None) -> Any:
        await release.wait()  # the database is stuck until the test lets it go
        return await load(number, customer_id)

    desk._load_history = slow_load
    lan = await open_desk("lan", agent_world.lan_id)
    started = time.monotonic()
    ring(agent_world, "1900.1", "PJSIP/101")
    first = await lan.next_of("pop", pending=True)
    waited = time.monotonic() - started
    assert first["history_pending"] is True
    assert first["call"]["caller_number"] == "+84912345678"
    assert first["customer"] is None and first["quick_create"] is None
    assert first["history"]["calls"] == [] and first["phase"] == "ringing"
    assert 0.1 <= waited < 1.0, waited
    await lan.nothing_of("pop", wait=0.3)  # nothing more until the history is there
    release.set()
    full = await lan.next_of("pop")
    assert "history_pending" not in full
    assert full["customer"]["name"] == "Nguyễn Văn An"
    assert full["history"]["open_tickets"][0]["subject"] == "Bảo hành: xe kêu to"


async def test_fast_history_sends_one_whole_pop(agent_world: AgentWorld, open_desk: Any) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1900.2", "PJSIP/101")
    pop = await lan.next_of("pop", pending=True)
    assert "history_pending" not in pop and pop["customer"]["name"] == "Nguyễn Văn An"
    await lan.nothing_of("pop", wait=0.3)
