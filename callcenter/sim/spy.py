"""ChanSpy: a supervisor's channel listens to (whispers to, barges in on) another channel.

The simulator carries no audio, so what it keeps is what can be checked: which channel
is spied on and with which options (``chan.extra["spy"]``), the ``ChanSpyStart`` /
``ChanSpyStop`` events Asterisk raises, and when the application returns — with ``E``
as soon as the spied-on channel hangs up, otherwise it looks for the next channel
matching the prefix until the spy hangs up (as Asterisk does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.sim import dialplan as dp
from callcenter.sim.channels import UP, Channel

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx

#: how often a spy without a target looks again (simulated seconds)
SCAN_SECONDS = 0.2


def spy_options(text: str) -> str:
    """The option letters without their ``(…)`` arguments: ``qEg(1)B`` → ``qEgB``."""
    letters, depth = [], 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            letters.append(char)
    return "".join(letters)


def _target(pbx: Pbx, spy: Channel, prefix: str) -> Channel | None:
    """The first live, answered channel whose name starts with ``prefix`` (never the spy)."""
    for channel in list(pbx.channels.values()):
        if (
            channel is not spy
            and not channel.hungup
            and channel.state == UP
            and channel.name.startswith(prefix)
        ):
            return channel
    return None


async def app_chanspy(pbx: Pbx, chan: Channel, data: str) -> str | None:
    args = [*dp.split_args(data), ""]
    prefix, options = args[0], spy_options(args[1])
    if chan.state != UP:
        pbx.answer(chan)
    while True:
        target = _target(pbx, chan, prefix) if prefix else None
        if target is None:
            await pbx.pause(chan, SCAN_SECONDS)
            continue
        chan.extra["spy"] = {"target": target.name, "options": options}
        spied = [*chan.headers("Spyer"), *target.headers("Spyee")]
        pbx.emit("ChanSpyStart", "call", spied)
        try:
            while not target.hungup:
                await pbx.pause(chan, SCAN_SECONDS)
        finally:
            pbx.emit("ChanSpyStop", "call", [*chan.headers("Spyer"), *target.headers("Spyee")])
            chan.extra["spy"] = {**chan.extra["spy"], "ended": True}
        if "E" in options:
            return None
