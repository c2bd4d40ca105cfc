"""A transcribing FastAGI proxy for the trace recorder: Asterisk's ``CC_AGI`` points here,
every session is forwarded to the daemon's FastAGI server unchanged and written down
line by line (``<<`` from Asterisk, ``>>`` from the daemon), as in ``tests/sim/reference``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AgiProxy:
    listen_port: int
    target_port: int
    sessions: list[list[str]] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", self.listen_port)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines: list[str] = [f"{_now()} # connection accepted from Asterisk"]
        self.sessions.append(lines)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError as exc:
            lines.append(f"{_now()} # daemon unreachable: {exc}")
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, mark: str) -> None:
            while line := await src.readline():
                lines.append(f"{_now()} {mark} {line.decode('utf-8', 'replace').rstrip(chr(10))}")
                dst.write(line)
                with contextlib.suppress(ConnectionError):
                    await dst.drain()
            lines.append(f"{_now()} # {'Asterisk' if mark == '<<' else 'daemon'} closed")
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(
            pump(reader, up_writer, "<<"), pump(up_reader, writer, ">>"), return_exceptions=True
        )

    def transcript(self, title: str) -> str:
        out = [f"# FastAGI transcripts for scenario {title} (recorded {_now()})", ""]
        for lines in self.sessions:
            head = {
                key: value
                for line in lines
                for key, _, value in [line.split(" << ", 1)[-1].partition(": ")]
                if " << agi_" in line
            }
            out.append(
                f"# ===== FastAGI session: agi_network_script={head.get('agi_network_script', '')} "
                f"channel={head.get('agi_channel', '')} uniqueid={head.get('agi_uniqueid', '')}"
            )
            out.append(
                "# '<<' = received from Asterisk, '>>' = sent by the FastAGI server "
                "(lines end with LF on the wire)"
            )
            out.extend(lines)
            out.append("")
        return "\n".join(out)

    async def close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            await server.wait_closed()
