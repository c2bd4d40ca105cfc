"""A small AMI client for the harness: it originates the test calls, watches every event
and keeps the raw byte stream (CRLF and all) for the reference-trace recorder.

The daemon has its own AMI link; this one logs in as the test-only user ``tier``
(appended to the instance's ``manager.conf``), which sees every event unfiltered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Event = dict[str, str]


def parse_block(block: bytes) -> Event:
    headers: Event = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep and key not in headers:
            headers[key] = value
    return headers


@dataclass
class AmiClient:
    host: str
    port: int
    username: str
    secret: str
    events: list[Event] = field(default_factory=list)
    #: (time, kind, bytes) for the trace recorder: kind "banner", "recv" (a raw block
    #: incl. its CRLFCRLF) or "sent" (an action we sent, secrets masked).
    raw: list[tuple[float, str, bytes]] = field(default_factory=list)
    banner: bytes = b""
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _pending: dict[str, asyncio.Future[Event]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self.banner = await self._reader.readline()
        self.raw.append((time.time(), "banner", self.banner))
        self._task = asyncio.create_task(self._pump())
        reply = await self.action(
            {"Action": "Login", "Username": self.username, "Secret": self.secret}
        )
        if reply.get("Response") != "Success":
            raise ConnectionError(f"AMI login refused: {reply}")

    async def _pump(self) -> None:
        assert self._reader is not None
        buffer = b""
        while True:
            chunk = await self._reader.read(65536)
            if not chunk:
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(ConnectionError("AMI closed"))
                return
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                block, buffer = buffer.split(b"\r\n\r\n", 1)
                self.raw.append((time.time(), "recv", block + b"\r\n\r\n"))
                headers = parse_block(block)
                action_id = headers.get("ActionID", "")
                if "Response" in headers and action_id in self._pending:
                    future = self._pending.pop(action_id)
                    if not future.done():
                        future.set_result(headers)
                elif "Event" in headers:
                    self.events.append(headers)
                    for listener in list(self.listeners):
                        listener(headers)

    async def action(self, fields: dict[str, str], within: float = 10.0) -> Event:
        assert self._writer is not None
        action_id = f"tier-{next(self._ids)}"
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        lines = [f"{key}: {value}" for key, value in fields.items()]
        lines.append(f"ActionID: {action_id}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        shown = [
            f"{key}: ********" if key == "Secret" else f"{key}: {value}"
            for key, value in fields.items()
        ] + [f"ActionID: {action_id}"]
        self.raw.append((time.time(), "sent", "\r\n".join(shown).encode()))
        async with asyncio.timeout(within):
            return await future

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str = "s",
        caller_id: str = "",
        variables: dict[str, str] | None = None,
        timeout_ms: int = 60_000,
    ) -> Event:
        fields = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(timeout_ms),
        }
        if caller_id:
            fields["CallerID"] = caller_id
        # Originate takes its variables comma-separated in one header.
        if variables:
            fields["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        return await self.action(fields)

    async def wait_for(
        self, predicate: Callable[[Event], bool], within: float = 20.0, start: int = 0
    ) -> Event:
        """The first event (from index ``start``) matching ``predicate``, waiting if needed."""
        deadline = time.monotonic() + within
        index = start
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching AMI event within {within}s")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(ConnectionError, TimeoutError, OSError):
                await self.action({"Action": "Logoff"}, within=2)
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
