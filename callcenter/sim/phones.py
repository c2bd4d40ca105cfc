"""How simulated agents' phones behave when the PBX rings them, and their registration."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.sim.channels import RINGING, UP, Channel, ChannelHungUp, Redirected

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx


@dataclass
class PhoneBehaviour:
    """One agent phone (a PJSIP endpoint such as ``PJSIP/101``).

    ``mode``: ``answer`` (after ``answer_delay`` seconds of ringing), ``no_answer``
    (rings until the Dial times out), ``busy`` (refuses at once, DIALSTATUS=BUSY) or
    ``unregistered`` (no contact: CHANUNAVAIL). ``talk_seconds`` is how long the
    agent stays on an answered call before hanging up (None: the caller ends it).
    """

    endpoint: str
    mode: str = "answer"
    answer_delay: float = 2.0
    talk_seconds: float | None = 20.0
    registered: bool = True
    #: when set, each ring draws the delay / talk time uniformly up to these values
    answer_delay_max: float | None = None
    talk_seconds_max: float | None = None
    #: share of rings left unanswered even in "answer" mode (a busy agent, a walk away)
    no_answer_ratio: float = 0.0
    #: the endpoint's dialplan context in pjsip.conf (agents' phones: "agents")
    context: str = "agents"

    def __post_init__(self) -> None:
        if self.mode not in ("answer", "no_answer", "busy", "unregistered"):
            raise ValueError(f"unknown phone mode {self.mode!r}")
        if self.mode == "unregistered":
            self.registered = False


async def ring_phone(pbx: Pbx, chan: Channel) -> None:
    """An agent's phone: rings, then answers after its delay (or never, or busy)."""
    phone: PhoneBehaviour = chan.extra["phone"]
    device = pbx.device_of(chan)
    if phone.mode == "busy" or chan.extra.get("busy"):
        chan.extra["busy"] = True
        chan.ringing.set()
        return
    pbx.set_state(chan, RINGING)
    pbx.device_state(device, "RINGING")
    chan.ringing.set()
    if phone.mode == "no_answer" or (
        phone.no_answer_ratio and pbx.rng.random() < phone.no_answer_ratio
    ):
        return
    delay = phone.answer_delay
    if phone.answer_delay_max is not None:
        delay = pbx.rng.uniform(phone.answer_delay, phone.answer_delay_max)
    try:
        await pbx.pause(chan, delay)
    except (ChannelHungUp, Redirected):
        return
    if chan.hungup:
        return
    pbx.answer(chan)
    pbx.device_state(device, "INUSE")
    if phone.talk_seconds is None:
        return
    talk = phone.talk_seconds
    if phone.talk_seconds_max is not None:
        talk = pbx.rng.uniform(phone.talk_seconds, phone.talk_seconds_max)
    bridged = asyncio.ensure_future(chan.extra.setdefault("bridged", asyncio.Event()).wait())
    gone = asyncio.ensure_future(chan.gone.wait())
    try:
        await asyncio.wait({bridged, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        bridged.cancel()
        gone.cancel()
    if chan.hungup:
        return
    with contextlib.suppress(ChannelHungUp, Redirected):
        await pbx.pause(chan, talk)
        pbx.request_hangup(chan, 16)  # the phone sends BYE
        if chan.bridge is None and not chan.hungup:
            pbx.destroy(chan)


def set_registered(pbx: Pbx, endpoint: str, registered: bool) -> None:
    """A phone registers or goes away: ContactStatus and DeviceStateChange, like chan_pjsip."""
    phone = pbx.phones.get(endpoint)
    if phone is None:
        raise KeyError(endpoint)
    phone.registered = registered
    if registered and phone.mode == "unregistered":
        phone.mode = "answer"
    pbx.emit(
        "ContactStatus",
        "system",
        [
            ("URI", f"sip:{endpoint}@127.0.0.1:5062;transport=ws"),
            ("ContactStatus", "Reachable" if registered else "Removed"),
            ("AOR", endpoint),
            ("EndpointName", endpoint),
            ("RoundtripUsec", "1200" if registered else "0"),
        ],
    )
    pbx.device_state(f"PJSIP/{endpoint}", "NOT_INUSE" if registered else "UNAVAILABLE")


async def call_through_trunk(pbx: Pbx, out: Channel) -> None:
    """A Dial out over the provider trunk (``PJSIP/<number>@trunk``): the far end is the
    outside phone (``PbxConfig.outside``), or, with ``provider_loopback``, the provider
    sends the call back in on the trunk as a call to ``<number>`` (the real-Asterisk rig
    routes outside numbers that way; trace blind-transfer-external)."""
    number = out.extra["trunk_number"]
    dialer: Channel = out.extra["dialer"]
    if not dialer.hungup:
        # The dialler's connected line becomes the number dialled, right after DialBegin.
        dialer.conn_num, dialer.conn_name = number, ""
        pbx.chan_event("NewConnectedLine", dialer)
    if not pbx.config.provider_loopback:
        out.extra["phone"] = pbx.config.outside
        await ring_phone(pbx, out)
        return
    endpoint = out.name.split("/", 1)[1].rsplit("-", 1)[0]
    inbound = await pbx.place_call(
        number,
        out.conn_num,
        out.conn_name,
        context=pbx.config.trunks.get(endpoint, "from-trunk"),
        trunk=endpoint,
    )
    while not inbound.hungup and not out.hungup:
        if inbound.ringing.is_set() and out.state not in (RINGING, UP):
            pbx.set_state(out, RINGING)
            out.ringing.set()
        if inbound.state == UP and out.state != UP:
            pbx.answer(out)
        waiters = [
            asyncio.ensure_future(e.wait())
            for e in (inbound.ringing, inbound.answered, inbound.gone, out.gone)
            if not (e is inbound.ringing and out.state in (RINGING, UP))
            and not (e is inbound.answered and out.state == UP)
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
    if inbound.hungup and not out.hungup:
        pbx.request_hangup(out, inbound.hangup_cause or 16)  # the provider sends BYE
        if out.bridge is None and not out.hungup:
            pbx.destroy(out)
    elif out.hungup and not inbound.hungup:
        pbx.request_hangup(inbound, 16)
