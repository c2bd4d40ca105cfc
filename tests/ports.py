"""Free local ports for the servers tests start, chosen outside the kernel's ephemeral range.

The usual trick (bind port 0, read the number, close, let the server bind it later) picks
from the ephemeral range, the same range every outgoing connection's local port comes
from: when two suites run at once (``scripts/test`` runs the real-Asterisk tier beside the
rest), a connection opened in between can take the port first and the server fails with
"address in use". Ports are drawn at random from below that range and checked free.
"""

from __future__ import annotations

import random
import socket

#: Below Linux's default ephemeral range (32768–60999), above the RTP ports Asterisk uses.
LOW, HIGH = 21000, 32000
_draw = random.Random()  # its own generator: a test seeding ``random`` must not repeat ports


def _bindable(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(kind: int = socket.SOCK_STREAM, *, udp_too: bool = False) -> int:
    """A port free now for ``kind`` (and for UDP as well when ``udp_too``)."""
    for _ in range(200):
        port = _draw.randrange(LOW, HIGH)
        if _bindable(port, kind) and (not udp_too or _bindable(port, socket.SOCK_DGRAM)):
            return port
    raise RuntimeError(f"no free port in {LOW}-{HIGH}")
