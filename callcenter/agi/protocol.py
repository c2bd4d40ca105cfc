"""The FastAGI wire format, as Asterisk 22 writes it (see the traces in ../shared/asterisk).

A session starts with ``agi_<name>: <value>`` lines ended by an empty line.
Each command gets one reply line ``200 result=<n> [(data)] [key=value...]``,
except usage errors (``520-`` ... ``520 End of proper usage.``, several lines)
and unknown commands (``510``). When the caller hangs up, Asterisk writes an
unsolicited ``HANGUP`` line that can arrive *between* a command and its reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

HANGUP_LINE = "HANGUP"

_REPLY = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)$")
_RESULT = re.compile(
    r"^result=(?P<result>-?\d+)(?:\s+\((?P<data>.*?)\))?(?P<extra>(?:\s+\S+=\S*)*)\s*$"
)


class AgiProtocolError(Exception):
    """The peer sent something that is not FastAGI."""


class AgiCommandError(Exception):
    """Asterisk refused a command (510 unknown, 511 dead channel, 520 usage)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class AgiHangup(Exception):
    """The channel is gone: the command could not run."""


@dataclass(frozen=True, slots=True)
class AgiReply:
    """A ``200`` reply: ``result`` as text (it may be -1), optional ``(data)`` and ``key=value`` extras."""

    code: int
    result: str
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def result_int(self) -> int:
        return int(self.result)


def parse_environment(lines: Iterable[str]) -> dict[str, str]:
    """``agi_channel: Local/100@hotline-0000000c;2`` lines → {"agi_channel": "Local/..."}.

    Values may be empty (``agi_accountcode: ``) and may contain ``": "``.
    """
    env: dict[str, str] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.startswith("agi_"):
            raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
        env[name] = value[1:] if value.startswith(" ") else value
    return env


def parse_reply(line: str) -> tuple[int, bool, str]:
    """Split a reply line into (code, continues, rest); ``continues`` marks ``520-``."""
    match = _REPLY.match(line.rstrip("\r\n"))
    if match is None:
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
    return int(match["code"]), match["sep"] == "-", match["rest"]


def parse_result(code: int, rest: str) -> AgiReply:
    """Parse the ``result=...`` part of a 200 reply."""
    match = _RESULT.match(rest.strip())
    if match is None:
        raise AgiProtocolError(f"not an AGI result: {rest[:80]!r}")
    extra: dict[str, str] = {}
    for pair in (match["extra"] or "").split():
        key, _, value = pair.partition("=")
        extra[key] = value
    return AgiReply(code=code, result=match["result"], data=match["data"], extra=extra)


def quote(argument: str) -> str:
    """Quote one command argument the way Asterisk's AGI parser splits them."""
    if any(ch in argument for ch in "\r\n"):
        raise ValueError("AGI arguments cannot contain line breaks")
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
