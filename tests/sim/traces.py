"""Read the recorded Asterisk 22 traces (test data only: the simulator never reads them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE = Path(__file__).parent / "reference"

Block = list[tuple[str, str]]


@dataclass
class Trace:
    events: list[Block] = field(default_factory=list)
    actions: list[Block] = field(default_factory=list)
    #: epoch seconds at which each action was sent (same index as ``actions``)
    sent_at: list[float] = field(default_factory=list)


def read_trace(name: str) -> Trace:
    trace = Trace()
    data = (REFERENCE / f"{name}.txt").read_bytes().decode()
    current: Block = []
    sent: Block = []
    sent_epoch = 0.0
    for line in data.split("\r\n"):
        if line.startswith("# >> "):
            key, _, value = line[5:].partition(": ")
            sent.append((key, value))
            continue
        if line.startswith("#"):
            if sent:
                trace.actions.append(sent)
                trace.sent_at.append(sent_epoch)
                sent = []
            stamp = re.search(r"epoch=([0-9.]+) SENT", line)
            if stamp:
                sent_epoch = float(stamp.group(1))
            continue
        if not line:
            if current:
                if current[0][0] == "Event":
                    trace.events.append(current)
                current = []
            continue
        key, _, value = line.partition(": ")
        current.append((key, value.rstrip(":") if not _ else value))
    if sent:
        trace.actions.append(sent)
        trace.sent_at.append(sent_epoch)
    return trace


def agi_commands(name: str) -> list[list[str]]:
    """The commands our side sent in each FastAGI session of a scenario, in order."""
    path = REFERENCE / f"{name}.agi.txt"
    if not path.exists():
        return []
    sessions: list[list[str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("# ===== FastAGI session"):
            sessions.append([])
        match = re.match(r"\S+ >> (.*)$", line)
        if match and sessions:
            sessions[-1].append(match.group(1))
    return sessions
