"""The agents' websocket hub: one owner object per connection, events routed by agent.

Each open ``/agent/ws`` is owned by one :class:`AgentConnection`: it has a
bounded send queue and a writer task, so a slow or frozen browser never slows
the event loop or the other agents; when its queue is full it is closed with
an explicit code and reconnects (and resynchronises) by itself. The hub sends
an event only to the connections of the agent it concerns: nothing here
broadcasts a screen-pop. Messages are encoded to JSON once, then queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from enum import IntEnum
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

SEND_QUEUE_SIZE = 256


class CloseCode(IntEnum):
    """Why the server closed an agent's websocket (4000–4999 are ours)."""

    GOING_AWAY = int(WSCloseCode.GOING_AWAY)  # daemon shutting down: reconnect soon
    UNAUTHENTICATED = 4001  # no valid session: the page goes to the login form
    FORBIDDEN = 4003  # wrong role or origin: do not retry
    SESSION_ENDED = 4004  # logged out elsewhere or session invalidated
    TOO_SLOW = 4008  # send queue overflowed: reconnect and resynchronise
    BAD_MESSAGE = 4009  # the client sent something we do not understand


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


class AgentConnection:
    """One agent's open websocket: its queue, its writer, its reason for closing."""

    def __init__(
        self, user_id: int, ws: web.WebSocketResponse, *, queue_size: int = SEND_QUEUE_SIZE
    ) -> None:
        self.user_id = user_id
        self.ws = ws
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=queue_size)
        self._writer: asyncio.Task[None] | None = None
        self.close_code: CloseCode | None = None
        self.sent = 0
        #: The login the page opened with (session version, expiry), re-checked in bulk.
        self.session_version = 0
        self.session_expires: datetime | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"agent-ws-{self.user_id}")

    def send_text(self, text: str) -> bool:
        """Queue one encoded message; on overflow close the connection (it will resync)."""
        if self.close_code is not None:
            return False
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("agent %s websocket too slow: closing it", self.user_id)
            self.close(CloseCode.TOO_SLOW)
            return False
        return True

    def send(self, message: dict[str, Any]) -> bool:
        return self.send_text(encode(message))

    def close(self, code: CloseCode) -> None:
        """Close after what is already queued, with ``code`` telling the page why."""
        if self.close_code is not None:
            return
        self.close_code = code
        # Make room for the sentinel: a client too slow to read gets nothing more anyway.
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def _write_loop(self) -> None:
        try:
            while True:
                text = await self._queue.get()
                if text is None:
                    break
                await self.ws.send_str(text)
                self.sent += 1
        except (ConnectionResetError, RuntimeError):
            pass  # the browser went away; the reader loop notices and unregisters
        finally:
            if not self.ws.closed:
                code = self.close_code or CloseCode.GOING_AWAY
                with contextlib.suppress(Exception):
                    await self.ws.close(code=int(code), message=code.name.encode())

    async def wait_closed(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def stop(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        await self.wait_closed()


class AgentHub:
    """Who is connected, per agent; sends each message only to its agent's connections."""

    def __init__(self, *, session_check_seconds: float = 15.0) -> None:
        self._by_agent: dict[int, set[AgentConnection]] = defaultdict(set)
        #: How often an open socket re-checks its login (a logout elsewhere ends it).
        self.session_check_seconds = session_check_seconds

    def register(self, connection: AgentConnection) -> None:
        self._by_agent[connection.user_id].add(connection)

    def unregister(self, connection: AgentConnection) -> None:
        connections = self._by_agent.get(connection.user_id)
        if connections is None:
            return
        connections.discard(connection)
        if not connections:
            del self._by_agent[connection.user_id]

    def is_connected(self, user_id: int) -> bool:
        return bool(self._by_agent.get(user_id))

    def connected_agents(self) -> Iterable[int]:
        return list(self._by_agent)

    def connections(self) -> list[AgentConnection]:
        return [c for group in self._by_agent.values() for c in group]

    def connection_count(self) -> int:
        return sum(len(c) for c in self._by_agent.values())

    def send_to_agent(self, user_id: int, message: dict[str, Any]) -> int:
        """Queue ``message`` for every open page of one agent; returns how many got it."""
        connections = self._by_agent.get(user_id)
        if not connections:
            return 0
        text = encode(message)
        return sum(1 for c in list(connections) if c.send_text(text))

    def send_to_agents(self, user_ids: Iterable[int], message: dict[str, Any]) -> int:
        """The same non-private message (e.g. queue counters) to a chosen set of agents."""
        text = encode(message)
        count = 0
        for user_id in user_ids:
            for connection in list(self._by_agent.get(user_id, ())):
                count += connection.send_text(text)
        return count

    def close_agent(self, user_id: int, code: CloseCode) -> None:
        for connection in list(self._by_agent.get(user_id, ())):
            connection.close(code)

    async def close_all(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        connections = [c for group in self._by_agent.values() for c in group]
        for connection in connections:
            connection.close(code)
        await asyncio.gather(*(c.wait_closed() for c in connections), return_exceptions=True)


#: One per application, set by the room's ``plugin.py``.
AGENT_HUB = web.AppKey("agent_hub", AgentHub)
