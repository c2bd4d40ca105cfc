"""Read the real Asterisk traces committed in ``tests/sim/reference/`` (test data helper).

Each received block in a ``*.txt`` trace is preceded by ``# t=...`` comment
lines; the actions that were sent appear as ``# >>`` comments. Removing the
comment lines gives the raw bytes Asterisk sent, CRLF kept.
"""

from __future__ import annotations

from pathlib import Path

from panoramisk.message import Message

from callcenter.ami.framing import FrameSplitter, parse_frame

#: The repository's copy of the traces (how they were recorded: ``TRACES.md`` there).
TRACES = Path(__file__).resolve().parent.parent / "sim" / "reference"


def trace_path(name: str) -> Path:
    return TRACES / f"{name}.txt"


def blocks(name: str) -> list[bytes]:
    """The received blocks, each as on the wire (header lines + CRLFCRLF), banner excluded."""
    lines = [
        line for line in trace_path(name).read_bytes().split(b"\r\n") if not line.startswith(b"#")
    ]
    found: list[bytes] = []
    current: list[bytes] = []
    for line in [*lines, b""]:
        if line:
            current.append(line)
        elif current:
            found.append(b"\r\n".join(current) + b"\r\n\r\n")
            current = []
    return [block for block in found if not block.startswith(b"Asterisk Call Manager/")]


def raw_bytes(name: str) -> bytes:
    """The bytes received on the wire: the banner line (if recorded), then every block."""
    data = trace_path(name).read_bytes()
    banner = b"Asterisk Call Manager/11.0.0\r\n" if b"\r\nAsterisk Call Manager/" in data else b""
    return banner + b"".join(blocks(name))


def messages(name: str) -> list[Message]:
    """Every block of the trace parsed by the production framing + panoramisk parser."""
    splitter = FrameSplitter()
    parsed = [parse_frame(frame) for frame in splitter.feed(raw_bytes(name))]
    return [m for m in parsed if m is not None]


def events(name: str) -> list[Message]:
    """Only the events Asterisk raised (they carry a Timestamp), not replies or list items."""
    return [m for m in messages(name) if "event" in m and "timestamp" in m]
