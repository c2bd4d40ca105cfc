"""Open wallboards and how a snapshot reaches them without one slow screen holding others up.

Every message is a whole snapshot, so a screen only ever needs the newest one: each
connection holds at most ONE pending message (a newer snapshot replaces an unsent one)
and has its own writer task. A screen that reads slowly therefore costs one string of
memory and misses intermediate snapshots; one whose single send does not finish within
``SEND_TIMEOUT_SECONDS`` is closed (the page reconnects by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from enum import IntEnum
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 10.0


class CloseCode(IntEnum):
    GOING_AWAY = int(WSCloseCode.GOING_AWAY)  # daemon shutting down: reconnect soon
    FORBIDDEN = 4003  # wrong origin: do not retry
    SESSION_ENDED = 4004  # logged out elsewhere
    TOO_SLOW = 4008  # one send took too long: reconnect


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


class BoardConnection:
    """One open wallboard: a one-message slot (latest wins) and its writer task."""

    def __init__(self, user_id: int, ws: web.WebSocketResponse) -> None:
        self.user_id = user_id
        self.ws = ws
        self._pending: str | None = None
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.close_code: CloseCode | None = None
        self.sent = 0
        self.replaced = 0  # snapshots superseded before they were sent (a slow screen)
        #: The login the screen opened with (session version, expiry), re-checked in bulk.
        self.session_version = 0
        self.session_expires: datetime | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"wallboard-{self.user_id}")

    def offer(self, text: str) -> None:
        """Hand over the newest snapshot; an unsent older one is dropped."""
        if self.close_code is not None:
            return
        if self._pending is not None:
            self.replaced += 1
        self._pending = text
        self._ready.set()

    def close(self, code: CloseCode) -> None:
        if self.close_code is None:
            self.close_code = code
            self._ready.set()

    async def _write_loop(self) -> None:
        try:
            while self.close_code is None:
                await self._ready.wait()
                self._ready.clear()
                text, self._pending = self._pending, None
                if text is None or self.close_code is not None:
                    continue
                try:
                    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                        await self.ws.send_str(text)
                except TimeoutError:
                    log.warning("wallboard of user %s too slow: closing it", self.user_id)
                    self.close_code = CloseCode.TOO_SLOW
                    break
                self.sent += 1
        except (ConnectionResetError, RuntimeError):
            pass  # the browser went away; the reader loop notices
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


class BoardHub:
    """Every open wallboard; a snapshot is encoded once and offered to all of them."""

    def __init__(self, *, session_check_seconds: float = 15.0) -> None:
        self.connections: set[BoardConnection] = set()
        self.session_check_seconds = session_check_seconds

    def register(self, connection: BoardConnection) -> None:
        self.connections.add(connection)

    def unregister(self, connection: BoardConnection) -> None:
        self.connections.discard(connection)

    def broadcast(self, text: str) -> int:
        for connection in list(self.connections):
            connection.offer(text)
        return len(self.connections)

    async def close_all(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        connections = list(self.connections)
        for connection in connections:
            connection.close(code)
        await asyncio.gather(*(c.wait_closed() for c in connections), return_exceptions=True)


BOARD_HUB = web.AppKey("wallboard_hub", BoardHub)

__all__ = ["BOARD_HUB", "BoardConnection", "BoardHub", "CloseCode", "encode"]
