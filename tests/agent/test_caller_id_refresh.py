"""A caller ID that arrives after the call started (a call entering through a Local
channel: ``NewCallerid`` after ``Newchannel``) refreshes the pop still ringing."""

from __future__ import annotations

from typing import Any

from callcenter.core.events import CallerIdChanged
from callcenter.registry import BUS
from tests.agent.conftest import AgentWorld
from tests.agent.test_agent_ws import AT, ring


async def test_late_caller_id_rebuilds_the_ringing_pop_with_the_customer(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, "1700.9", "PJSIP/101", number="", name="")
    first = await lan.next_of("pop")
    assert first["call"]["anonymous"] is True and first["customer"] is None
    agent_world.client.server.app[BUS].publish(
        CallerIdChanged(
            linkedid="1700.9",
            at=AT,
            caller_number="0912 345 678",
            caller_name="NGUYEN VAN AN",
            channel="Local/19006868@from-trunk-0000000a;1",
        )
    )
    pop = await lan.next_of("pop")
    assert pop["phase"] == "ringing" and pop["call"]["linkedid"] == "1700.9"
    assert pop["call"]["caller_number"] == "+84912345678"
    assert pop["call"]["caller_name"] == "NGUYEN VAN AN"
    assert pop["customer"]["name"] == "Nguyễn Văn An"
    assert pop["history"]["open_tickets"][0]["subject"] == "Bảo hành: xe kêu to"
