"""A frozen agent page (its browser reads nothing, the TCP window fills) cannot delay another
agent's screen-pop: each socket has its own bounded send queue and writer; the frozen one
is closed ("too slow") when its queue is full, and memory never grows past that bound.
(``tests/agent/test_agent_ws.py::test_slow_client_is_closed_not_buffered`` covers the
close code; this one uses a real non-reading TCP peer and times the other agent's pop.)
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from typing import Any

from callcenter.agent_desk.hub import SEND_QUEUE_SIZE
from callcenter.agent_desk.plugin import AGENT_DESK
from callcenter.auth.sessions import COOKIE_NAME
from tests.agent.conftest import AgentWorld, agent_world, migrated_settings, open_desk
from tests.agent.test_agent_ws import ring
from tests.auth_helpers import login, session_cookie

__all__ = ["agent_world", "migrated_settings", "open_desk"]  # fixtures used here

POP_WITHIN = 1.0  # seconds; a pop that waited for the frozen socket would never come


async def _frozen_socket(agent_world: AgentWorld, username: str) -> socket.socket:
    """A websocket handshake done by hand, then silence: nothing is ever read again."""
    client = agent_world.client
    await login(client, username)
    cookie = session_cookie(client)
    client.session.cookie_jar.clear()
    raw = socket.create_connection(("127.0.0.1", client.server.port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (f"GET /agent/ws HTTP/1.1\r\nHost: 127.0.0.1:{client.server.port}\r\n"
         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
         f"Cookie: {COOKIE_NAME}={cookie}\r\n\r\n").encode()
    )  # fmt: skip
    raw.setblocking(False)
    reply = b""
    for _ in range(200):
        try:
            reply += raw.recv(4096)
        except BlockingIOError:
            await asyncio.sleep(0.01)
        if b"\r\n\r\n" in reply:
            break
    assert reply.startswith(b"HTTP/1.1 101"), reply[:200]
    return raw


async def test_a_frozen_page_does_not_delay_another_agents_pop(
    agent_world: AgentWorld, open_desk: Any
) -> None:
    hub = agent_world.client.server.app[AGENT_DESK].hub
    minh = await open_desk("minh", agent_world.minh_id)
    frozen = await _frozen_socket(agent_world, "lan")
    try:
        await asyncio.sleep(0.1)
        (connection,) = list(hub._by_agent[agent_world.lan_id])

        def flood(count: int) -> None:
            for index in range(count):
                hub.send_to_agent(agent_world.lan_id, {"type": "counters", "n": index,
                                                       "pad": "x" * 10_000})  # fmt: skip

        for _ in range(300):  # steps the writer can take, until it is stuck on the socket
            flood(20)
            await asyncio.sleep(0.01)
            if connection._queue.qsize() > 40:
                break
        assert connection.close_code is None and connection._queue.qsize() > 0, "not stuck"

        started = time.perf_counter()  # lan's writer is stuck: minh's pop must not wait
        ring(agent_world, "1800.1", "PJSIP/102", number="0987 000 111")
        pop = await minh.next_of("pop", within=5)
        took = time.perf_counter() - started
        assert pop["call"]["linkedid"] == "1800.1"
        assert took < POP_WITHIN, f"minh's pop took {took:.2f} s"

        deepest = 0
        for _ in range(100):  # lan still reads nothing: its queue fills, it is closed
            flood(20)
            deepest = max(deepest, connection._queue.qsize())
            if connection.close_code is not None:
                break
            await asyncio.sleep(0.01)
        assert connection.close_code is not None and connection.close_code.name == "TOO_SLOW"
        assert deepest <= SEND_QUEUE_SIZE
    finally:
        frozen.close()
