"""The agent page acts on calls only through the call-control port (``CALL_CONTROL``):
each control becomes the port action on the right channel; a refusal is a 502 and a
port that is down a 503, both with a sentence, not a code."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.config import Settings
from callcenter.core.events import CallAnswered
from callcenter.db.models import User
from callcenter.registry import BUS, CALL_CONTROL, SESSIONMAKER
from callcenter.web.app import create_app
from tests.agent.conftest import AgentWorld
from tests.agent.factories import build_world
from tests.agent.test_agent_ws import AT, ring
from tests.auth_helpers import csrf_headers, make_user
from tests.fakes import RecordingCallControl


@pytest.fixture
def control() -> RecordingCallControl:
    return RecordingCallControl()


@pytest.fixture
async def agent_world(
    aiohttp_client: Any, migrated_settings: Settings, control: RecordingCallControl
) -> AgentWorld:
    """The agent page's world with the recording port in place of Asterisk."""
    app = create_app(migrated_settings)
    app[CALL_CONTROL] = control
    client = await aiohttp_client(app)
    lan = await make_user(client, "lan", "agent", full_name="Trần Thị Lan", interface="PJSIP/101")
    minh = await make_user(client, "minh", "agent", full_name="Lê Minh", interface="PJSIP/102")
    async with app[SESSIONMAKER]() as session:
        world = await build_world(session, agent_id=lan.id)
        (await session.get(User, lan.id)).extension = "101"  # type: ignore[union-attr]
        await session.commit()
    return AgentWorld(client, world, lan.id, minh.id)


async def talking(agent_world: AgentWorld, open_desk: Any, linkedid: str) -> Any:
    lan = await open_desk("lan", agent_world.lan_id)
    ring(agent_world, linkedid, "PJSIP/101")
    await lan.next_of("pop")
    agent_world.client.server.app[BUS].publish(
        CallAnswered(
            linkedid=linkedid,
            at=AT,
            interface="PJSIP/101",
            uniqueid=f"{linkedid}.2",
            wait_seconds=2.0,
            caller_number="+84912345678",
            agent_channel="PJSIP/101-0000000a",
            caller_channel=f"PJSIP/trunk-{linkedid}",
        )
    )
    assert (await lan.next_of("call"))["call"]["phase"] == "talking"
    return lan


async def post(lan: Any, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await lan.client.post(path, json=body, headers=csrf_headers(lan.client))
    return response.status, await response.json()


async def test_each_control_is_one_port_action_on_the_right_channel(
    agent_world: AgentWorld, open_desk: Any, control: RecordingCallControl
) -> None:
    lan = await talking(agent_world, open_desk, "1700.7")
    base = "/api/agent/calls/1700.7"
    assert (await post(lan, f"{base}/mute", {"mute": True}))[0] == 200
    assert (await post(lan, f"{base}/park", {}))[0] == 200
    assert (await post(lan, f"{base}/retrieve", {}))[0] == 200
    status, body = await post(
        lan, f"{base}/transfer", {"kind": "agent", "target": "102", "mode": "attended"}
    )
    assert (status, body["exten"]) == (200, "102")
    assert (await post(lan, f"{base}/transfer", {"kind": "agent", "target": "103"}))[0] == 200
    assert (await post(lan, f"{base}/hangup", {}))[0] == 200
    status, body = await post(lan, "/api/agent/originate", {"number": "0912 345 678"})
    assert status == 200, body
    caller, agent = "PJSIP/trunk-1700.7", "PJSIP/101-0000000a"
    assert [a[:3] for a in control.actions] == [
        ("mute_recording", caller, True),
        ("park", caller, agent),
        ("redirect", caller, "agents"),
        ("attended_transfer", agent, "agents"),
        ("blind_transfer", agent, "agents"),
        ("hangup", agent),
        ("originate", "PJSIP/101", "cc-outbound"),
    ]
    assert control.actions[-1][3] == "0912345678"


async def test_refused_is_502_and_down_is_503(
    agent_world: AgentWorld, open_desk: Any, control: RecordingCallControl
) -> None:
    lan = await talking(agent_world, open_desk, "1700.8")
    control.refuse.add("blind_transfer")
    status, body = await post(
        lan, "/api/agent/calls/1700.8/transfer", {"kind": "external", "target": "0912345678"}
    )
    assert status == 502 and "refused" in body["error"]
    control.connected = False
    status, body = await post(lan, "/api/agent/calls/1700.8/hangup", {})
    assert status == 503 and "not connected" in body["error"]
    assert control.actions == []
