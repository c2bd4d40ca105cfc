"""Outbound mode survives a daemon restart (both databases, over HTTP): Lan switches herself
to outbound, a supervisor switches Minh; after the restart both are still in outbound mode
with the blend threshold, the ACD routes them as such, and switching back is kept too."""

from __future__ import annotations

from callcenter.registry import SESSIONMAKER
from callcenter.services.plugin import ACD_SERVICE
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.outbound.conftest import WebDaemon
from tests.outbound.helpers import get_json, post_form


async def test_outbound_mode_is_restored_after_a_restart(daemon: WebDaemon) -> None:
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    lan = await make_user(factory, "lan", "agent", interface="PJSIP/101")
    minh = await make_user(factory, "minh", "agent", interface="PJSIP/102")
    await make_user(factory, "sup", "supervisor")
    await daemon.restart()  # the ACD loads the agents made above, as after an admin's edit

    sup, agent, other = (AgentClient(daemon.base_url) for _ in range(3))
    try:
        await sup.login("sup")
        await agent.login("lan")
        await other.login("minh")
        status, _, _ = await post_form(sup, "/outbound/blending", {"wait_seconds": 45})
        assert status == 302
        status, body = await agent.post("/api/outbound/mode", {"outbound": True})
        assert status == 200 and body == {"outbound": True, "blend_wait_seconds": 45}, body
        # An agent may not switch a colleague; a supervisor may.
        status, body = await agent.post(
            "/api/outbound/mode", {"outbound": True, "agent_id": minh.id}
        )
        assert status == 403, body
        status, body = await sup.post("/api/outbound/mode", {"outbound": True, "agent_id": minh.id})
        assert status == 200 and body["outbound"] is True, body
        status, body = await get_json(agent, f"/api/outbound/mode?agent_id={minh.id}")
        assert status == 403, body

        app = await daemon.restart()
        agents = app[ACD_SERVICE].acd.agents
        assert (agents[lan.id].outbound_mode, agents[lan.id].blend_wait_seconds) == (True, 45)
        assert (agents[minh.id].outbound_mode, agents[minh.id].blend_wait_seconds) == (True, 45)
        # The same sessions still work after the restart: each sees their mode kept.
        assert await get_json(agent, "/api/outbound/mode") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )
        assert await get_json(other, "/api/outbound/mode") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )
        assert await get_json(sup, f"/api/outbound/mode?agent_id={lan.id}") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )

        # Back to inbound is remembered as well.
        status, body = await agent.post("/api/outbound/mode", {"outbound": False})
        assert status == 200 and body["outbound"] is False, body
        await daemon.restart()
        assert await get_json(agent, "/api/outbound/mode") == (
            200,
            {"outbound": False, "blend_wait_seconds": 45},
        )
        assert await get_json(other, "/api/outbound/mode") == (
            200,
            {"outbound": True, "blend_wait_seconds": 45},
        )
    finally:
        await sup.close()
        await agent.close()
        await other.close()
