"""Blending through the daemon and the simulated PBX: Lan in outbound mode is not offered
an inbound caller until the caller has waited the blend threshold; back in inbound mode
she rings at once. No predictive dialling: nothing is dialled for her."""

from __future__ import annotations

import asyncio

from callcenter.registry import SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.outbound.conftest import OutboundStack
from tests.outbound.helpers import post_form

THRESHOLD = 3  # seconds


async def test_outbound_mode_takes_inbound_only_after_the_threshold(stack: OutboundStack) -> None:
    assert stack.app is not None
    await make_user(stack.app[SESSIONMAKER], "sup", "supervisor")
    sup, lan = AgentClient(stack.base_url), AgentClient(stack.base_url)
    try:
        await sup.login("sup")
        status, _, _ = await post_form(sup, "/outbound/blending", {"wait_seconds": "abc"})
        assert status == 400
        status, _, _ = await post_form(sup, "/outbound/blending", {"wait_seconds": THRESHOLD})
        assert status == 302

        await lan.login("lan")
        await lan.connect()
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        assert status == 200, body
        status, body = await lan.post("/api/outbound/mode", {"outbound": True})
        assert status == 200 and body == {"outbound": True, "blend_wait_seconds": THRESHOLD}

        loop = asyncio.get_running_loop()
        started = loop.time()
        await stack.call("0987000555", "KHACH")
        await asyncio.sleep(THRESHOLD / 2)
        assert stack.phone_channel("PJSIP/101") is None  # outbound mode: not yet
        phone = await stack.wait_ringing("PJSIP/101", within=15)
        assert loop.time() - started >= THRESHOLD  # only once the caller waited long enough
        stack.pbx.request_hangup(phone, 16, soft=True)
        stack.pbx.destroy(phone)
        for channel in list(stack.pbx.channels.values()):
            if channel.name.startswith("PJSIP/trunk-") and not channel.hungup:
                stack.hang_up(channel)

        # Back to inbound (with a threshold of ten minutes, which no longer applies to
        # her): the next caller rings her without waiting for it.
        status, _, _ = await post_form(sup, "/outbound/blending", {"wait_seconds": 600})
        assert status == 302
        status, body = await lan.post("/api/outbound/mode", {"outbound": False})
        assert status == 200 and body == {"outbound": False, "blend_wait_seconds": 600}
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        await stack.call("0987000666", "KHACH")
        await stack.wait_ringing("PJSIP/101", within=15)
    finally:
        await sup.close()
        await lan.close()
