"""Dialplan applications, one ``app_<name>(pbx, chan, data)`` each; :data:`APPS` maps
the (lower-case) name the dialplan uses to its function.

An application returns None (go to the next priority), :data:`GOTO` (it moved the
channel itself) or ``"hangup"``; it raises ``ChannelHungUp``/``Redirected`` when the
channel leaves. Dial lives in ``dial.py`` and Queue in ``queue.py`` (they ring, bridge
and wait); the table below lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from callcenter.sim import dialplan as dp
from callcenter.sim.channels import RINGING, UP, Channel, ChannelHungUp
from callcenter.sim.dial import app_dial
from callcenter.sim.fastagi import run_agi
from callcenter.sim.queue import run_queue
from callcenter.sim.spy import app_chanspy

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx

#: an application moved the channel itself (Goto, a digit in Background/WaitExten)
GOTO = "goto"
App = Callable[["Pbx", Channel, str], Awaitable[str | None]]


async def app_noop(pbx: Pbx, chan: Channel, data: str) -> str | None:
    return None


async def app_set(pbx: Pbx, chan: Channel, data: str) -> str | None:
    name, _, value = data.partition("=")
    pbx.set_var(chan, name.strip(), value)
    return None


async def app_answer(pbx: Pbx, chan: Channel, data: str) -> str | None:
    pbx.answer(chan)
    return None


async def app_ringing(pbx: Pbx, chan: Channel, data: str) -> str | None:
    if chan.peer is not None and chan.peer.state != RINGING and chan.peer.state != UP:
        pbx.set_state(chan.peer, RINGING)
    chan.ringing.set()
    if chan.peer is not None:
        chan.peer.ringing.set()
    return None


async def app_wait(pbx: Pbx, chan: Channel, data: str) -> str | None:
    await pbx.pause(chan, float(data or 0))
    return None


async def app_playback(pbx: Pbx, chan: Channel, data: str) -> str | None:
    name = dp.split_args(data)[0]
    if chan.state != UP:
        pbx.answer(chan)
    try:
        for part in name.split("&"):
            await pbx.pause(chan, pbx.sound_seconds(part))
    except ChannelHungUp:
        pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
        raise
    pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
    return None


async def app_background(pbx: Pbx, chan: Channel, data: str) -> str | None:
    name = dp.split_args(data)[0]
    if chan.state != UP:
        pbx.answer(chan)
    digit = await pbx.pause(chan, pbx.sound_seconds(name), digits=True)
    if digit is not None:
        return _goto_digit(pbx, chan, digit)
    return None


async def app_waitexten(pbx: Pbx, chan: Channel, data: str) -> str | None:
    seconds = float(dp.split_args(data)[0] or 10)
    digit = await pbx.pause(chan, seconds, digits=True)
    if digit is not None:
        return _goto_digit(pbx, chan, digit)
    if pbx.dialplan.locate(chan.context, "t") is not None:
        chan.exten, chan.priority = "t", 1
        return GOTO
    return "hangup"


def _goto_digit(pbx: Pbx, chan: Channel, digit: str) -> str:
    target = digit if pbx.dialplan.locate(chan.context, digit) is not None else "i"
    chan.exten, chan.priority = target, 1
    return GOTO


async def app_senddtmf(pbx: Pbx, chan: Channel, data: str) -> str | None:
    """SendDTMF(digits): the far end receives them (a Local half's peer, or the bridge peer)."""
    digits = dp.split_args(data)[0]
    far = chan.peer
    if far is not None and far.bridge is not None:
        far = next((c for c in far.bridge.channels if c is not far), far)
    elif chan.bridge is not None:
        far = next((c for c in chan.bridge.channels if c is not chan), None)
    for digit in digits:
        await pbx.pause(chan, 0.25)
        if far is not None and not far.hungup:
            pbx.press(far, digit)
    return None


async def app_read(pbx: Pbx, chan: Channel, data: str) -> str | None:
    """Read(var,prompt[&prompt2],maxdigits,options,attempts,timeout): keys until maxdigits,
    ``#`` or ``timeout`` seconds without a key (the prompt itself can be interrupted)."""
    args = dp.split_args(data) + [""] * 6
    var, prompt, timeout = args[0], args[1], float(args[5] or 5)
    most = int(args[2]) if args[2].strip().isdigit() else 0
    spoken = sum(pbx.sound_seconds(part) for part in prompt.split("&") if part)
    keys = ""
    digit = await pbx.pause(chan, spoken + timeout, digits=True)
    while digit is not None and digit != "#":
        keys += digit
        if most and len(keys) >= most:
            break
        digit = await pbx.pause(chan, timeout, digits=True)
    pbx.set_var(chan, var, keys)
    pbx.set_var(chan, "READSTATUS", "OK" if keys else "TIMEOUT")
    return None


async def app_record(pbx: Pbx, chan: Channel, data: str) -> str | None:
    """Record(file,silence,maxduration,options): the caller speaks until silence or the limit."""
    args = [*dp.split_args(data), "", "", ""]
    limit = float(args[2] or 0) or None
    pbx.set_var(chan, "RECORDED_FILE", args[0].rsplit(".", 1)[0])
    started = pbx.clock.monotonic()
    try:
        await pbx.pause(chan, min(limit, 20.0) if limit else 20.0)
    except ChannelHungUp:
        pbx.set_var(chan, "RECORD_STATUS", "HANGUP")
        raise
    else:
        pbx.set_var(chan, "RECORD_STATUS", "SILENCE")
    finally:  # what the caller said stays on disk either way, as with Asterisk's Record()
        if pbx.recorder is not None:
            pbx.recorder.message(args[0], pbx.clock.monotonic() - started)
    return None


async def app_musiconhold(pbx: Pbx, chan: Channel, data: str) -> str | None:
    args = [*dp.split_args(data), ""]
    klass = args[0] or "default"
    pbx.chan_event("MusicOnHoldStart", chan, [("Class", klass)])
    try:
        await pbx.pause(chan, float(args[1]) if args[1] else None)
    finally:
        pbx.chan_event("MusicOnHoldStop", chan)
    return None


def jump(pbx: Pbx, chan: Channel, target: str) -> str:
    parts = [p.strip() for p in target.split(",")]
    if len(parts) == 3:
        chan.context, chan.exten = parts[0], parts[1]
        prio = parts[2]
    elif len(parts) == 2:
        chan.exten, prio = parts
    else:
        prio = parts[0]
    if prio.isdigit():
        chan.priority = int(prio)
    else:
        ext = pbx.dialplan.locate(chan.context, chan.exten)
        if ext is None or prio not in ext.labels:
            raise dp.DialplanError(f"no label {prio} in {chan.context},{chan.exten}")
        chan.priority = ext.labels[prio]
    return GOTO


async def app_goto(pbx: Pbx, chan: Channel, data: str) -> str | None:
    return jump(pbx, chan, data)


async def app_gotoif(pbx: Pbx, chan: Channel, data: str) -> str | None:
    cond, _, branches = data.partition("?")
    yes, _, no = branches.partition(":")
    target = yes if dp._truthy(cond) else no
    if not target:
        return None
    return jump(pbx, chan, target)


async def app_hangup(pbx: Pbx, chan: Channel, data: str) -> str | None:
    cause = int(data) if data.strip().isdigit() else 16
    pbx.request_hangup(chan, cause, soft=True)
    return "hangup"


async def app_busy(pbx: Pbx, chan: Channel, data: str) -> str | None:
    await pbx.pause(chan, float(data or 0))
    return "hangup"


async def app_mixmonitor(pbx: Pbx, chan: Channel, data: str) -> str | None:
    """MixMonitor(file,options): ``r(file)``/``t(file)`` also write what the channel
    receives (its own party's voice) and what is sent to it (the other party's)."""
    args = [*dp.split_args(data), ""]
    filename = args[0]
    directions = dict(re.findall(r"([rt])\(([^)]*)\)", args[1]))
    pbx.set_var(chan, "MIXMONITOR_FILENAME", filename)
    pbx.chan_event("MixMonitorStart", chan)
    chan.extra["mixmonitor"] = filename
    if pbx.recorder is not None:
        pbx.recorder.start(
            chan,
            filename,
            pbx.clock.monotonic(),
            read=directions.get("r", ""),
            write=directions.get("t", ""),
        )
    return None


async def app_agi(pbx: Pbx, chan: Channel, data: str) -> str | None:

    args = dp.split_args(data)
    status = await run_agi(pbx, chan, args[0], args[1:])
    pbx.set_var(chan, "AGISTATUS", status)
    if status == "HANGUP" and not chan.in_h:
        raise ChannelHungUp()
    return None


async def app_queue(pbx: Pbx, chan: Channel, data: str) -> str | None:

    return await run_queue(pbx, chan, data)


APPS: dict[str, App] = {
    "noop": app_noop,
    "set": app_set,
    "answer": app_answer,
    "ringing": app_ringing,
    "wait": app_wait,
    "playback": app_playback,
    "background": app_background,
    "waitexten": app_waitexten,
    "musiconhold": app_musiconhold,
    "goto": app_goto,
    "gotoif": app_gotoif,
    "hangup": app_hangup,
    "congestion": app_busy,
    "busy": app_busy,
    "agi": app_agi,
    "mixmonitor": app_mixmonitor,
    "dial": app_dial,
    "queue": app_queue,
    "read": app_read,
    "senddtmf": app_senddtmf,
    "record": app_record,
    "chanspy": app_chanspy,
}

#: The names Asterisk registers the applications under: Newexten, Cdr and channel
#: snapshots show these, whatever case the dialplan wrote (``Background`` → ``BackGround``).
APP_NAMES: dict[str, str] = {
    "noop": "NoOp",
    "set": "Set",
    "answer": "Answer",
    "ringing": "Ringing",
    "wait": "Wait",
    "playback": "Playback",
    "background": "BackGround",
    "waitexten": "WaitExten",
    "musiconhold": "MusicOnHold",
    "goto": "Goto",
    "gotoif": "GotoIf",
    "hangup": "Hangup",
    "congestion": "Congestion",
    "busy": "Busy",
    "agi": "AGI",
    "mixmonitor": "MixMonitor",
    "dial": "Dial",
    "queue": "Queue",
    "read": "Read",
    "senddtmf": "SendDTMF",
    "record": "Record",
    "chanspy": "ChanSpy",
}
