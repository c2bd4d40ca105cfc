"""A tiny FastAGI server for the simulator's own tests (the real one lives in callcenter/agi).

Each accepted session reads the agi_* environment up to the blank line, then sends
a scripted list of commands and records every reply line.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Session:
    env: dict[str, str] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)


class Responder:
    def __init__(
        self, scripts: list[list[str]] | None = None, default: list[str] | None = None
    ) -> None:
        self.scripts = list(scripts or [])
        self.default = default or []
        self.sessions: list[Session] = []
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def script_for(self, session: Session) -> list[str]:
        return self.scripts.pop(0) if self.scripts else list(self.default)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session()
        self.sessions.append(session)
        while True:
            line = (await reader.readline()).decode()
            if line in ("\n", ""):
                break
            key, _, value = line.rstrip("\n").partition(": ")
            session.env[key] = value
        for command in self.script_for(session):
            writer.write((command + "\n").encode())
            await writer.drain()
            while True:
                reply = (await reader.readline()).decode().rstrip("\n")
                if not reply:
                    writer.close()
                    return
                session.replies.append(reply)
                if reply[:4] in ("200 ", "510 ", "511 ", "520 "):
                    break
        writer.close()
