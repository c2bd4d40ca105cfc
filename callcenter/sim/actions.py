"""What the outside does to the simulated PBX: AMI Originate, Park and Redirect, and the
callers on the trunk (``place_call``: arrive, press digits, give up, hang up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.sim.channels import DOWN, RING, UP, Channel, ChannelHungUp, Redirected
from callcenter.sim.events import Headers, originate_response
from callcenter.sim.phones import ring_phone

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx


async def originate(
    pbx: Pbx,
    channel: str,
    *,
    context: str = "",
    exten: str = "",
    priority: int = 1,
    application: str = "",
    app_data: str = "",
    callerid: str = "",
    variables: dict[str, str] | None = None,
    ring_seconds: float = 30.0,
    action_id: str = "",
    on_response: Callable[[Headers], None] | None = None,
) -> Channel | None:
    """AMI Originate: dial ``channel``; when it answers, run context/exten (or an app)."""
    variables = variables or {}
    name, num = _parse_callerid(callerid)
    if channel.startswith("Local/"):
        one, two = pbx.local_pair(channel, None)
        pbx.chan_event(
            "Newexten",
            one,
            [
                ("Extension", one.exten),
                ("Application", "AppDial2"),
                ("AppData", "(Outgoing Line)"),
            ],
            "dialplan",
        )
        for key, value in reversed(list(variables.items())):
            pbx.set_var(one, key, value)
        if callerid:
            one.cid_num, one.cid_name, one.conn_num, one.conn_name = num, name, num, name
            pbx.chan_event(
                "NewCallerid",
                one,
                [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
            )
            pbx.chan_event("NewConnectedLine", one)
        for key, value in variables.items():
            pbx.set_var(two, key, value)
            if key.startswith("_"):
                two.extra.setdefault("inherit", {})[key.lstrip("_")] = key
        if callerid:
            two.cid_num, two.cid_name, two.conn_num, two.conn_name = num, name, num, name
            pbx.chan_event(
                "NewCallerid",
                two,
                [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
            )
            pbx.chan_event("NewConnectedLine", two)
        pbx.local_bridge_event(one, two)
        pbx.emit(
            "DialBegin",
            "call",
            [*one.headers("Dest"), ("DialString", channel.split("/", 1)[1])],
        )
        one.extra["owned"] = True
        pbx.spawn(pbx.run_pbx(two))
        pbx.spawn(
            _originate_wait(
                pbx, one, context, exten, priority, ring_seconds, action_id, on_response
            )
        )
        return one
    if channel.startswith("PJSIP/"):
        endpoint = channel.split("/", 1)[1]
        phone = pbx.phones.get(endpoint)
        if phone is None or not phone.registered:
            _respond(
                pbx,
                on_response,
                originate_response(pbx, None, action_id, context, exten, "Failure", 0, num, name),
            )
            return None
        suffix = f"{next(pbx._chan_seq):08x}"
        chan = pbx.new_channel(
            f"PJSIP/{endpoint}-{suffix}", context, exten, state=DOWN, tech="PJSIP"
        )
        chan.extra["phone"] = phone
        chan.extra["owned"] = True
        pbx.chan_event("Newchannel", chan)
        for key, value in variables.items():
            pbx.set_var(chan, key, value)
        chan.cid_num, chan.cid_name = num, name
        pbx.spawn(ring_phone(pbx, chan))
        pbx.spawn(
            _originate_wait(
                pbx, chan, context, exten, priority, ring_seconds, action_id, on_response
            )
        )
        return chan
    _respond(
        pbx,
        on_response,
        originate_response(pbx, None, action_id, context, exten, "Failure", 0, num, name),
    )
    return None


def _respond(pbx: Pbx, on_response: Callable[[Headers], None] | None, block: Headers) -> None:
    """OriginateResponse is a manager event: Asterisk sends it to every AMI session that
    reads ``call`` events, not only to the one that sent the Originate (its ActionID says
    whose it is)."""
    for listener in list(pbx.listeners):
        listener(block)
    if on_response is not None and on_response not in pbx.listeners:
        on_response(block)


async def _originate_wait(
    pbx: Pbx,
    one: Channel,
    context: str,
    exten: str,
    priority: int,
    ring_seconds: float,
    action_id: str,
    on_response: Callable[[Headers], None] | None,
) -> None:
    waiters = [
        asyncio.ensure_future(one.answered.wait()),
        asyncio.ensure_future(one.gone.wait()),
    ]
    sleeper = asyncio.ensure_future(pbx.clock.sleep(ring_seconds))
    try:
        await asyncio.wait([*waiters, sleeper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in [*waiters, sleeper]:
            w.cancel()
    if one.state != UP:
        if not one.hungup:
            one.extra["owned"] = False
            pbx.destroy(one, 0)
        _respond(
            pbx,
            on_response,
            originate_response(
                pbx, None, action_id, context, exten, "Failure", 0, one.cid_num, one.cid_name
            ),
        )
        return
    if one.tech == "Local":
        pbx.emit("DialEnd", "call", [*one.headers("Dest"), ("DialStatus", "ANSWER")])
    one.extra["owned"] = False
    one.context, one.exten, one.priority = context, exten, priority
    _respond(
        pbx,
        on_response,
        originate_response(
            pbx, one, action_id, context, exten, "Success", 4, one.cid_num, one.cid_name
        ),
    )
    if one.hangup_pending:
        pbx.destroy(one)
        return
    await pbx.run_pbx(one)


def park(pbx: Pbx, chan: Channel, *, timeout: float = 45.0, return_to: str = "") -> str:
    """AMI Park: the channel leaves its bridge for the parking lot (music on hold).

    It comes back when Redirected (ParkedCallGiveUp, as res_parking reports a parkee
    that left by other means), or after ``timeout`` rings ``return_to`` through
    ``[cc-dial]`` (ParkedCallTimeOut). Returns the parking space.
    """
    space = str(701 + sum(1 for c in pbx.channels.values() if c.extra.get("parking")))
    bridge = chan.bridge
    if bridge is not None and chan.running_pbx and chan.app in ("Dial", "Queue"):
        chan.extra["go_on"] = True
    chan.extra["parking"] = {"space": space, "timeout": timeout, "return_to": return_to}
    chan.redirect_to = (chan.context, chan.exten, chan.priority)
    if bridge is not None:
        bridge.leave(chan)
    chan.interrupt()
    pbx.emit(
        "ParkedCall",
        "call",
        [
            *chan.headers("Parkee"),
            ("ParkerDialString", return_to),
            ("Parkinglot", "default"),
            ("ParkingSpace", space),
            ("ParkingTimeout", str(int(timeout))),
            ("ParkingDuration", "0"),
        ],
    )
    if not chan.running_pbx:
        chan.extra["owned"] = False
        pbx.spawn(pbx.run_pbx(chan))
    return space


async def parked(pbx: Pbx, chan: Channel) -> None:
    info = chan.extra["parking"]
    chan.extra.pop("go_on", None)
    pbx.chan_event("MusicOnHoldStart", chan, [("Class", "default")])
    outcome = "ParkedCallTimeOut"
    try:
        await pbx.pause(chan, info["timeout"])
    except Redirected:
        outcome = "ParkedCallGiveUp"
    except ChannelHungUp:
        outcome = "ParkedCallGiveUp"
    chan.extra.pop("parking", None)
    pbx.chan_event("MusicOnHoldStop", chan)
    pbx.emit(
        outcome,
        "call",
        [*chan.headers("Parkee"), ("Parkinglot", "default"), ("ParkingSpace", info["space"])],
    )
    if outcome == "ParkedCallTimeOut" and not chan.hangup_pending:
        if info["return_to"] and pbx.dialplan.locate("cc-dial", "s") is not None:
            pbx.set_var(chan, "CC_AGENT_CHANNEL", info["return_to"])
            chan.context, chan.exten, chan.priority = "cc-dial", "s", 1
        else:
            pbx.request_hangup(chan, 16)


def redirect(pbx: Pbx, chan: Channel, context: str, exten: str, priority: int) -> None:
    """AMI Redirect: the channel leaves what it is doing and continues at the target."""
    chan.redirect_to = (context, exten, priority)
    if chan.bridge is not None:
        if chan.running_pbx and chan.app in ("Dial", "Queue"):
            # Asterisk moves a bridged channel with an after-bridge goto: the snapshot
            # shows the target at once (a Newexten still naming Dial), then the target
            # priority runs; AMI derives Newexten from snapshot changes of context,
            # extension and priority, and these did not change, so that step raises
            # none (traces e-redirect-transfer, blind-transfer-external; Asterisk's
            # verbose log shows it executing).
            chan.context, chan.exten, chan.priority = context, exten, priority
            chan.extra["published_cep"] = (context, exten, priority)
            pbx.chan_event(
                "Newexten",
                chan,
                [("Extension", exten), ("Application", chan.app), ("AppData", chan.appdata)],
                "dialplan",
            )
        chan.bridge.leave(chan)
    chan.interrupt()
    if not chan.running_pbx:
        chan.extra["owned"] = False
        pbx.spawn(pbx.run_pbx(chan))


async def place_call(
    pbx: Pbx,
    did: str,
    caller_num: str,
    caller_name: str = "",
    *,
    context: str = "from-trunk",
    trunk: str = "trunk",
    digits: str = "",
    digit_delay: float = 3.0,
    patience: float | None = None,
    talk_seconds: float | None = None,
    survey_keys: Callable[[int], str] | None = None,
) -> Channel:
    """An inbound call from the provider trunk: the caller channel runs the dialplan.

    The caller presses ``digits`` after ``digit_delay`` seconds (IVR), hangs up if no
    agent answered within ``patience`` seconds, and ends an answered call after
    ``talk_seconds`` (None: waits for the agent to hang up). A caller who stays on after
    the agent hung up answers each question of the post-call survey ([cc-survey]) with
    ``survey_keys(digits the dialplan reads)``; without it the caller presses nothing.
    """
    suffix = f"{next(pbx._chan_seq):08x}"
    chan = pbx.new_channel(f"PJSIP/{trunk}-{suffix}", context, did, state=RING, tech="PJSIP")
    chan.cid_num, chan.cid_name = caller_num, caller_name
    chan.extra["dnid"] = did  # the number dialled, as the INVITE's Request-URI gave it
    pbx.chan_event("Newchannel", chan)
    pbx.set_var(chan, "SIPDOMAIN", "127.0.0.1")
    pbx.spawn(pbx.run_pbx(chan))
    pbx.spawn(
        _caller_behaviour(pbx, chan, digits, digit_delay, patience, talk_seconds, survey_keys)
    )
    return chan


async def _caller_behaviour(
    pbx: Pbx,
    chan: Channel,
    digits: str,
    digit_delay: float,
    patience: float | None,
    talk_seconds: float | None,
    survey_keys: Callable[[int], str] | None = None,
) -> None:
    start = pbx.clock.monotonic()
    pressed = False
    answered_question = ""
    while not chan.hungup:
        if survey_keys is not None and chan.context == "cc-survey" and chan.app == "Read":
            # Read runs once the daemon handed over a question (or repeats it, with a new
            # try count): answer each once.
            asked = f"{chan.vars.get('CC_SURVEY_Q', '')}/{chan.vars.get('CC_SURVEY_TRIES', '')}"
            if asked != answered_question:
                answered_question = asked
                wanted = chan.vars.get("CC_SURVEY_DIGITS", "1")
                pbx.press(chan, survey_keys(int(wanted) if wanted.isdigit() else 1))
        elapsed = pbx.clock.monotonic() - start
        in_talk = chan.bridge is not None and len(chan.bridge.channels) == 2
        if digits and not pressed and elapsed >= digit_delay:
            pressed = True
            pbx.press(chan, digits)
        if in_talk:
            if talk_seconds is not None:
                bridged_at = chan.extra.setdefault("talk_start", pbx.clock.monotonic())
                if pbx.clock.monotonic() - bridged_at >= talk_seconds:
                    pbx.request_hangup(chan, 16)
                    return
        elif chan.extra.get("talk_start") is None and patience is not None and elapsed >= patience:
            pbx.request_hangup(chan, 16)
            return
        await pbx.clock.sleep(0.25)


def press(pbx: Pbx, chan: Channel, digits: str) -> None:
    """The caller presses ``digits`` on their keypad (DTMF received on ``chan``)."""
    for digit in digits:
        pbx.emit(
            "DTMFEnd",
            "dtmf",
            [
                *chan.headers(),
                ("Digit", digit),
                ("DurationMs", "120"),
                ("Direction", "Received"),
            ],
        )
        chan.dtmf.put_nowait(digit)
    chan.interrupt()


def _parse_callerid(text: str) -> tuple[str, str]:
    text = text.strip()
    if "<" in text:
        # The number is in the last <…>: a quoted name may itself contain "<".
        name, _, rest = text.rpartition("<")
        return name.strip().strip('"'), rest.rstrip(">").strip()
    return "", text
