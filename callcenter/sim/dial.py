"""app_dial and what Queue shares with it: make the callee channel, ring it, bridge.

``create_outbound``/``start_outbound`` build a Local ``;1``/``;2`` pair or a PJSIP
channel to a phone; ``ring_callee`` waits for ANSWER/NOANSWER/BUSY/CANCEL with the
DialState/RINGTIME an Asterisk caller sees.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from callcenter.sim import cdr
from callcenter.sim import dialplan as dp
from callcenter.sim.bridges import bridge_call
from callcenter.sim.channels import DOWN, RINGING, UP, Channel, ChannelHungUp, Redirected
from callcenter.sim.phones import call_through_trunk, ring_phone

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx

DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


async def app_dial(pbx: Pbx, chan: Channel, data: str) -> str | None:
    args = [*dp.split_args(data), "", ""]
    target, timeout_text, options = args[0], args[1], args[2]
    timeout = float(timeout_text) if timeout_text.strip() else None
    for name in DIAL_VARS:
        pbx.set_var(chan, name, "")
    started = pbx.clock.monotonic()
    out = await create_outbound(pbx, chan, target)
    if isinstance(out, str):
        pbx.set_var(chan, "DIALSTATUS", out)
        return None
    start_outbound(pbx, chan, out, "AppDial")
    dial_begin(pbx, chan, out, target.split("/", 1)[1])
    status = await ring_callee(pbx, chan, out, timeout, started)
    if status != "ANSWER":
        if status == "CANCEL":
            dial_event(pbx, "DialEnd", chan, out, "CANCEL")
        elif status in ("NOANSWER", "BUSY"):
            dial_event(pbx, "DialEnd", chan, out, status)
        cdr.dial_ended(pbx, chan, out, status)
        out.extra["owned"] = False
        # The caller hanging up passes its cause on to the callee (traces c-abandon-
        # while-ringing, abandon-ringing: 16); a ring timeout leaves it at 0.
        cause = {"BUSY": 17, "CANCEL": chan.hangup_cause or 16}.get(status, 0)
        pbx.destroy(out, cause)
        pbx.set_var(chan, "DIALSTATUS", status)
        if status == "CANCEL":
            raise ChannelHungUp()
        return None
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    pbx.set_var(chan, "DIALEDPEERNAME", out.name)
    pbx.set_var(chan, "DIALEDPEERNUMBER", out.vars.get("DIALEDPEERNUMBER", ""))
    dial_event(pbx, "DialEnd", chan, out, "ANSWER")
    cdr.dial_ended(pbx, chan, out, "ANSWER")
    if chan.state != UP:
        pbx.answer(chan)
    answered = pbx.clock.monotonic()
    continue_after = "g" in options
    await bridge_call(pbx, chan, out, "AppDial")
    if chan.extra.get("parking") is not None and not chan.hangup_pending:
        pbx.set_var(chan, "DIALSTATUS", "ANSWER")
        raise Redirected()
    if chan.redirect_to is not None and not chan.hangup_pending:
        pbx.set_var(chan, "DIALSTATUS", "ANSWER")
        raise Redirected()
    talk = pbx.clock.monotonic() - answered
    total = pbx.clock.monotonic() - started
    pbx.set_var(chan, "ANSWEREDTIME", str(int(talk)))
    pbx.set_var(chan, "ANSWEREDTIME_MS", str(int(talk * 1000)))
    pbx.set_var(chan, "DIALEDTIME", str(int(total)))
    pbx.set_var(chan, "DIALEDTIME_MS", str(int(total * 1000)))
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    chan.check()
    if continue_after:
        return None
    pbx.request_hangup(chan, 16, soft=True)
    raise ChannelHungUp()


async def create_outbound(pbx: Pbx, caller: Channel, target: str) -> Channel | str:
    """Make the callee channel for Dial/Queue, or return a DIALSTATUS when impossible."""
    if target.startswith("Local/"):
        one, two = pbx.local_pair(target, caller.linkedid)
        dialed = target.split("/", 1)[1]
        pbx.set_var(one, "DIALEDPEERNUMBER", dialed)
        for name in caller.extra.get("inherit", {}).values():
            pbx.set_var(one, name, caller.vars[name.lstrip("_")])
        pbx.set_var(two, "DIALEDPEERNUMBER", dialed)
        for name in caller.extra.get("inherit", {}).values():
            pbx.set_var(two, name, caller.vars[name.lstrip("_")])
        one.extra["owned"] = True
        cdr.mark_dialled(one)
        return one
    if target.startswith("PJSIP/") and "@" in target:
        # PJSIP/<number>@<trunk>: out over the provider trunk (phones.call_through_trunk).
        number, _, endpoint = target.split("/", 1)[1].partition("@")
        if endpoint not in pbx.config.trunks:
            return "CHANUNAVAIL"
        suffix = f"{next(pbx._chan_seq):08x}"
        chan = pbx.new_channel(
            f"PJSIP/{endpoint}-{suffix}",
            pbx.config.trunks[endpoint],
            "s",
            state=DOWN,
            linkedid=caller.linkedid,
            tech="PJSIP",
        )
        chan.extra["owned"] = True
        chan.extra["trunk_number"] = number
        chan.extra["dialer"] = caller
        cdr.mark_dialled(chan)
        pbx.chan_event("Newchannel", chan)
        return chan
    if target.startswith("PJSIP/"):
        endpoint = target.split("/", 1)[1].split("@", 1)[0]
        phone = pbx.phones.get(endpoint)
        if phone is None or not phone.registered:
            return "CHANUNAVAIL"
        suffix = f"{next(pbx._chan_seq):08x}"
        chan = pbx.new_channel(
            f"PJSIP/{endpoint}-{suffix}",
            phone.context,
            "s",
            state=DOWN,
            linkedid=caller.linkedid,
            tech="PJSIP",
        )
        chan.extra["owned"] = True
        chan.extra["phone"] = phone
        cdr.mark_dialled(chan)
        # One call per phone (pjsip.conf device_state_busy_at = 1): a second call is refused.
        if any(
            c is not chan and c.tech == "PJSIP" and pbx.device_of(c) == f"PJSIP/{endpoint}"
            for c in pbx.channels.values()
        ):
            chan.extra["busy"] = True
        pbx.chan_event("Newchannel", chan)
        pbx.set_var(chan, "DIALEDPEERNUMBER", endpoint)
        return chan
    return "CHANUNAVAIL"


def _start_local_two(pbx: Pbx, caller: Channel, out: Channel, two: Channel) -> None:
    """The callee's Local ;2 half takes the caller's ids and runs its dialplan."""
    two.extra["inherit"] = dict(caller.extra.get("inherit", {}))
    two.cid_num, two.cid_name = caller.cid_num, caller.cid_name
    two.conn_num, two.conn_name = caller.exten, caller.cid_name
    pbx.chan_event(
        "NewCallerid", two, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
    )
    pbx.chan_event("NewConnectedLine", two)
    pbx.local_bridge_event(out, two)
    pbx.spawn(pbx.run_pbx(two))


def start_outbound(pbx: Pbx, caller: Channel, out: Channel, app: str) -> None:
    """After DialBegin: the callee starts ringing (Local ;2 runs its dialplan; phones ring)."""
    out.cid_num, out.cid_name = caller.exten, caller.cid_name
    out.conn_num, out.conn_name = caller.cid_num, caller.cid_name
    if out.tech == "Local" and app == "AppQueue":
        # app_queue: the member's ;1 first shows the dialled extension; it takes the
        # caller's extension, with the connected line, when the member answers (before
        # its Up), and shows no "(Outgoing Line)" step at the bridge (traces
        # d-queue-answered, daemon-down-fallback).
        assert out.peer is not None
        two = out.peer
        pbx.chan_event(
            "Newexten",
            out,
            [("Extension", out.exten), ("Application", app), ("AppData", "(Outgoing Line)")],
            "dialplan",
        )
        pbx.chan_event(
            "NewCallerid", out, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
        )
        out.extra["queue_exten"] = caller.exten
        _start_local_two(pbx, caller, out, two)
        return
    if out.tech == "Local":
        assert out.peer is not None
        two = out.peer
        out.exten = caller.exten
        pbx.chan_event(
            "Newexten",
            out,
            [("Extension", out.exten), ("Application", app), ("AppData", "(Outgoing Line)")],
            "dialplan",
        )
        pbx.chan_event(
            "NewCallerid", out, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
        )
        pbx.chan_event("NewConnectedLine", out)
        _start_local_two(pbx, caller, out, two)
    else:
        out.exten = caller.exten
        pbx.chan_event(
            "Newexten",
            out,
            [("Extension", out.exten), ("Application", app), ("AppData", "(Outgoing Line)")],
            "dialplan",
        )
        pbx.chan_event(
            "NewCallerid", out, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
        )
        pbx.chan_event("NewConnectedLine", out)
        if "trunk_number" in out.extra:
            pbx.spawn(call_through_trunk(pbx, out))
        else:
            pbx.spawn(ring_phone(pbx, out))


def dial_begin(pbx: Pbx, caller: Channel, out: Channel, dialstring: str) -> None:
    pbx.emit(
        "DialBegin",
        "call",
        caller.headers() + out.headers("Dest") + [("DialString", dialstring)],
    )


def dial_event(pbx: Pbx, name: str, caller: Channel, out: Channel, status: str) -> None:
    pbx.emit(name, "call", caller.headers() + out.headers("Dest") + [("DialStatus", status)])


async def ring_callee(
    pbx: Pbx, chan: Channel, out: Channel, limit: float | None, started: float
) -> str:
    """Wait for the callee: ANSWER, NOANSWER (timeout), BUSY or CANCEL (caller hung up)."""
    deadline = None if limit is None else started + limit
    rang = False
    while True:
        if out.extra.get("busy"):
            return "BUSY"
        if (out.state == RINGING or out.extra.get("rang")) and not rang:
            rang = True
            if chan.state != UP and chan.peer is not None and chan.peer.state < RINGING:
                pbx.set_state(chan.peer, RINGING)  # ringing goes back to the caller
            ring_ms = int((pbx.clock.monotonic() - started) * 1000)
            pbx.set_var(chan, "RINGTIME", str(ring_ms // 1000))
            pbx.set_var(chan, "RINGTIME_MS", str(ring_ms))
            dial_event(pbx, "DialState", chan, out, "RINGING")
        if out.state == UP:
            return "ANSWER"
        if out.hungup:
            return "NOANSWER"
        remaining = None if deadline is None else deadline - pbx.clock.monotonic()
        if remaining is not None and remaining <= 0:
            return "NOANSWER"
        try:
            await wait_any(pbx, chan, [out.answered, out.ringing, out.gone], remaining)
        except ChannelHungUp:
            return "CANCEL"
        out.ringing.clear() if rang else None


async def wait_any(
    pbx: Pbx, chan: Channel, events: list[asyncio.Event], seconds: float | None
) -> None:
    chan.check()
    chan.wake.clear()
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(e.wait()) for e in events]
    waiters.append(asyncio.ensure_future(chan.wake.wait()))
    if seconds is not None:
        waiters.append(asyncio.ensure_future(pbx.clock.sleep(seconds)))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
    if chan.hangup_pending or chan.hungup:
        raise ChannelHungUp()
