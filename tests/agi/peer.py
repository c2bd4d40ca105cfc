"""A FastAGI peer that behaves like Asterisk 22 (per ../shared/asterisk/traces/*.agi.txt).

It opens a session with the ``agi_*`` environment block, then answers each
command line the way Asterisk does: ``200 result=...``, ``510`` for unknown
commands, the multi-line ``520`` usage reply, and (optionally) the unsolicited
``HANGUP`` line before a reply. Channel variables live in a dict so tests can
check what the daemon set.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass, field


def environment(
    script: str,
    *,
    uniqueid: str = "1795436100.37",
    caller: str = "+15551230001",
    channel: str = "Local/100@hotline-0000000c;2",
    args: tuple[str, ...] = (),
) -> bytes:
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:4573/{script}",
        f"agi_channel: {channel}",
        "agi_language: en",
        "agi_type: Local",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.10.1",
        f"agi_callerid: {caller}",
        "agi_calleridname: Customer A",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: unknown",
        "agi_rdnis: unknown",
        "agi_context: hotline",
        "agi_extension: 100",
        "agi_priority: 5",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 139958165001920",
    ]
    lines += [f"agi_arg_{index}: {value}" for index, value in enumerate(args, start=1)]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class FakeChannel:
    """What the Asterisk side remembers of one channel during a session."""

    variables: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    hangup_before_reply: int | None = None  # index of the command whose reply follows a HANGUP
    reply_delay: float = 0.0


async def run_session(
    host: str, port: int, script: str, fake: FakeChannel | None = None, **env: object
) -> FakeChannel:
    """Play one Asterisk FastAGI session to the end (the server closes the socket)."""
    channel = fake or FakeChannel()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(environment(script, **env))  # type: ignore[arg-type]
    await writer.drain()
    try:
        while True:
            raw = await reader.readline()
            if not raw:
                break
            line = raw.decode().rstrip("\n")
            index = len(channel.commands)
            channel.commands.append(line)
            if channel.reply_delay:
                await asyncio.sleep(channel.reply_delay)
            if channel.hangup_before_reply == index:
                writer.write(b"HANGUP\n")
            writer.write(reply(line, channel.variables).encode())
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
    return channel


def reply(line: str, variables: dict[str, str]) -> str:
    words = shlex.split(line)
    upper = [word.upper() for word in words]
    if upper[:2] == ["SET", "VARIABLE"]:
        if len(words) < 4:
            return (
                "520-Invalid command syntax.  Proper usage follows:\n"
                "Sets a variable to the current channel.\n520 End of proper usage.\n"
            )
        variables[words[2]] = words[3]
        return "200 result=1\n"
    if upper[:2] == ["GET", "VARIABLE"]:
        value = variables.get(words[2])
        return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
    if upper[:1] in (["VERBOSE"], ["NOOP"]):
        return "200 result=1\n"
    if upper[:1] == ["EXEC"]:
        return "200 result=0\n"
    return "510 Invalid or unknown command\n"
