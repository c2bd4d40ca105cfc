"""Basic two-party bridges: BridgeCreate/Enter/Leave/Destroy, BRIDGEPEER, and the talk loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.sim import cdr
from callcenter.sim.channels import Channel
from callcenter.sim.events import Headers

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx


class Bridge:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.id = str(uuid.UUID(int=pbx.rng.getrandbits(128), version=4))
        self.channels: list[Channel] = []
        self.created = False
        self.ended = asyncio.Event()

    def headers(self, count: int | None = None) -> Headers:
        return [
            ("BridgeUniqueid", self.id),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.channels) if count is None else count)),
            ("BridgeVideoSourceMode", "none"),
        ]

    def enter(self, chan: Channel) -> None:
        if not self.created:
            self.created = True
            self.pbx.emit("BridgeCreate", "call", self.headers())
        self.channels.append(chan)
        chan.bridge = self
        self.pbx.emit("BridgeEnter", "call", self.headers() + chan.headers())
        for name in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):
            if chan.vars.get(name):
                self.pbx.set_var(chan, name, "")

    def set_peers(self) -> None:
        if len(self.channels) == 2:
            a, b = self.channels
            self.pbx.set_var(a, "BRIDGEPEER", b.name)
            self.pbx.set_var(b, "BRIDGEPEER", a.name)
            if a.tech == b.tech == "PJSIP":
                self.pbx.set_var(a, "BRIDGEPVTCALLID", self.pbx.call_id(b))
                self.pbx.set_var(b, "BRIDGEPVTCALLID", self.pbx.call_id(a))

    def leave(self, chan: Channel, *, keep: bool = False) -> None:
        """``keep``: a transfer moves the channel; the other party stays in the bridge."""
        if chan not in self.channels:
            return
        pjsip_pair = len(self.channels) == 2 and all(c.tech == "PJSIP" for c in self.channels)
        for member in list(self.channels):
            if member is not chan or pjsip_pair:
                self.pbx.set_var(member, "BRIDGEPEER", "")
                if pjsip_pair:
                    self.pbx.set_var(member, "BRIDGEPVTCALLID", "")
        self.channels.remove(chan)
        chan.bridge = None
        self.pbx.emit("BridgeLeave", "call", self.headers() + chan.headers())
        if keep:
            if not self.channels:
                self.pbx.emit("BridgeDestroy", "call", self.headers(0))
            return
        if not self.ended.is_set():
            self.ended.set()
            for other in self.channels:
                other.interrupt()
        if not self.channels:
            self.pbx.emit("BridgeDestroy", "call", self.headers(0))


async def bridge_call(
    pbx: Pbx, chan: Channel, out: Channel, app: str, on_end: Callable[[], None] | None = None
) -> None:
    """Caller and callee talk until one leaves; the callee is hung up after."""
    bridge = Bridge(pbx)
    pbx.stats["calls_answered"] += 1
    if out.tech in ("Local", "PJSIP"):
        pbx.emit("BridgeCreate", "call", bridge.headers())
        bridge.created = True
        if not (app == "AppQueue" and out.tech == "Local"):  # see dial.start_outbound
            out.exten = ""
            out.priority = 1
            pbx.chan_event(
                "Newexten",
                out,
                [("Extension", ""), ("Application", app), ("AppData", "(Outgoing Line)")],
                "dialplan",
            )
    bridge.enter(out)
    bridge.enter(chan)
    bridge.set_peers()
    out.extra.setdefault("bridged", asyncio.Event()).set()
    if pbx.recorder is not None:
        pbx.recorder.bridged(chan, out, pbx.clock.monotonic())
    while (
        not bridge.ended.is_set()
        and not chan.hangup_pending
        and not chan.hungup
        and chan.redirect_to is None
    ):
        chan.wake.clear()
        ended = asyncio.ensure_future(bridge.ended.wait())
        woke = asyncio.ensure_future(chan.wake.wait())
        try:
            await asyncio.wait({ended, woke}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            woke.cancel()
        for member in list(bridge.channels):
            if (
                member is not chan
                and member.hangup_pending
                and not member.hungup
                and not member.running_pbx
            ):
                pbx.destroy(member)
    if on_end is not None:
        on_end()
    cdr.bridge_ended(pbx, chan)
    if chan.bridge is bridge:
        bridge.leave(chan)
    moved = out.bridge is not None and out.bridge is not bridge
    if not out.hungup and not out.running_pbx and not moved:
        out.extra["owned"] = False
        if out.bridge is bridge:
            bridge.leave(out)
        pbx.destroy(out)
