"""A FastAGI server on asyncio streams, with deadlines, that never hangs a channel.

Why not panoramisk's ``fast_agi.Application.handler``: it reads the environment
block with ``while b"\\n\\n" not in buffer: buffer += await reader.read(100)``.
A peer that sends half a header and closes makes ``read`` return ``b""`` at once,
forever, without yielding: the whole event loop spins at 100% CPU and every
other call, web request and AMI event stops. It also has no read timeout, so a
silent peer holds a task forever. Here the header is read line by line with a
timeout and a size limit, and end-of-file ends the session.

A route is an async function that receives the :class:`AgiSession`. It may have
a deadline: when it passes (or the route raises), the session sets
``CC_ACTION=fallback`` (best effort) and closes, so the dialplan takes its
fallback branch. The server never sends ``HANGUP``: a failure leaves the call in
the dialplan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from callcenter.agi.protocol import (
    HANGUP_LINE,
    AgiCommandError,
    AgiHangup,
    AgiProtocolError,
    AgiReply,
    parse_environment,
    parse_reply,
    parse_result,
    quote,
)

log = logging.getLogger(__name__)

RouteHandler = Callable[["AgiSession"], Awaitable[None]]
#: Called once per session with (script, outcome, seconds): outcome is ok/deadline/error/unknown/bad.
SessionObserver = Callable[[str, str, float], None]

FALLBACK_VARIABLE = "CC_ACTION"
FALLBACK_VALUE = "fallback"


class AgiSession:
    """One FastAGI session: the channel's environment and a command/reply channel."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: dict[str, str],
        *,
        command_timeout: float,
        encoding: str = "utf-8",
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.command_timeout = command_timeout
        self.encoding = encoding
        self.hung_up = False
        request = env.get("agi_network_script", "")
        parts = urlsplit(request)
        self.script = parts.path.strip("/")
        self.query: dict[str, str] = dict(parse_qsl(parts.query))
        self.args = [env[key] for key in sorted(k for k in env if k.startswith("agi_arg_"))]

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def caller(self) -> str:
        return self.env.get("agi_callerid", "")

    async def _read_line(self) -> str:
        async with asyncio.timeout(self.command_timeout):
            raw = await self.reader.readline()
        if not raw:
            raise AgiHangup("connection closed by Asterisk")
        return raw.decode(self.encoding, errors="replace").rstrip("\r\n")

    async def command(self, *parts: str) -> AgiReply:
        """Send one command line and return its 200 reply; raise on 5xx or a dead channel."""
        line = " ".join(parts)
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command is one line")
        self.writer.write((line + "\n").encode(self.encoding))
        await self.writer.drain()
        while True:
            text = await self._read_line()
            if text == HANGUP_LINE:
                # Unsolicited: the caller hung up. The real reply still follows.
                self.hung_up = True
                continue
            code, continues, rest = parse_reply(text)
            if code == 100:  # "100 result=0 Trying..." precedes the real reply
                continue
            if code == 200:
                return parse_result(code, rest)
            message = rest
            while continues:  # 520- ... 520 End of proper usage.
                text = await self._read_line()
                if text == HANGUP_LINE:
                    self.hung_up = True
                    continue
                with contextlib.suppress(AgiProtocolError):
                    code, continues, rest = parse_reply(text)
                    message += "\n" + rest
                    continue
                message += "\n" + text
            if code == 511:
                self.hung_up = True
                raise AgiHangup(message)
            raise AgiCommandError(code, message)

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set (``result=0``)."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, quote(value))

    async def set_variables(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            await self.set_variable(name, value)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", quote(message), str(level))


@dataclass(frozen=True)
class Route:
    handler: RouteHandler
    deadline: float | None


class FastAgiServer:
    """Accept FastAGI sessions and dispatch them by ``agi_network_script`` to routes."""

    def __init__(
        self,
        *,
        header_timeout: float = 5.0,
        command_timeout: float = 10.0,
        max_header_bytes: int = 16384,
        fallback_write_timeout: float = 0.25,
        observer: SessionObserver | None = None,
    ) -> None:
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.max_header_bytes = max_header_bytes
        self.fallback_write_timeout = fallback_write_timeout
        self.observer = observer
        self._routes: dict[str, Route] = {}
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    def add_route(
        self, script: str, handler: RouteHandler, *, deadline: float | None = None
    ) -> None:
        script = script.strip("/")
        if script in self._routes:
            raise ValueError(f"FastAGI route {script!r} already exists")
        self._routes[script] = Route(handler, deadline)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._on_connection, host, port)
        log.info("FastAGI on agi://%s:%s/", host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def read_environment(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        """Read the ``agi_*`` block; None when the peer closes, stalls or floods."""
        lines: list[str] = []
        size = 0
        try:
            # one timer for the whole header: one per line was two thirds of its CPU
            async with asyncio.timeout(self.header_timeout):
                while True:
                    raw = await reader.readline()
                    if not raw.endswith(b"\n"):
                        # EOF (possibly after half a line): the peer is gone.
                        log.warning("FastAGI peer closed before the end of the header")
                        return None
                    size += len(raw)
                    if size > self.max_header_bytes:
                        log.warning(
                            "FastAGI header larger than %d bytes; closing", self.max_header_bytes
                        )
                        return None
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    if not line:
                        break
                    lines.append(line)
        except TimeoutError:
            log.warning("FastAGI peer sent no complete header in %.1f s", self.header_timeout)
            return None
        except (ValueError, asyncio.LimitOverrunError):
            log.warning("FastAGI header line too long; closing")
            return None
        try:
            return parse_environment(lines)
        except AgiProtocolError as exc:
            log.warning("FastAGI peer sent a bad header: %s", exc)
            return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.monotonic()
        env = await self.read_environment(reader)
        if env is None:
            self._observe("", "bad", started)
            return
        session = AgiSession(reader, writer, env, command_timeout=self.command_timeout)
        route = self._routes.get(session.script)
        if route is None:
            log.error("no FastAGI route for %r (channel %s)", session.script, session.channel)
            await self._fallback(session)
            self._observe(session.script, "unknown", started)
            return
        outcome = "ok"
        try:
            if route.deadline is None:
                await route.handler(session)
            else:
                async with asyncio.timeout(route.deadline):
                    await route.handler(session)
        except TimeoutError:
            outcome = "deadline"
            log.warning(
                "FastAGI %s for %s: no decision within %.2f s, dialplan takes its fallback",
                session.script,
                session.channel,
                route.deadline or 0.0,
            )
        except AgiHangup:
            outcome = "hangup"
            log.info("FastAGI %s: channel %s hung up", session.script, session.channel)
        except Exception:
            outcome = "error"
            log.exception("FastAGI %s failed for %s", session.script, session.channel)
        if outcome in ("deadline", "error"):
            await self._fallback(session)
        self._observe(session.script, outcome, started)

    async def _fallback(self, session: AgiSession) -> None:
        """Best effort: tell the dialplan to take its fallback; never wait long, never hang up."""
        if session.hung_up:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.fallback_write_timeout):
                await session.set_variable(FALLBACK_VARIABLE, FALLBACK_VALUE)

    def _observe(self, script: str, outcome: str, started: float) -> None:
        if self.observer is not None:
            self.observer(script, outcome, time.monotonic() - started)
