"""The simulated Asterisk's façade: one :class:`Pbx` holds the state (channels, queues,
phones, AstDB, listeners) and the primitives every part uses (raise an event, set a
variable, create/answer/hang up/destroy a channel, wait on a channel's clock).

The behaviour lives beside it, one concern a module: ``interpreter.py`` (running the
dialplan), ``apps.py`` (the dialplan applications, by name), ``dial.py`` (Dial),
``queue.py`` (queues.conf and Queue), ``bridges.py``, ``phones.py`` (agents' phones),
``actions.py`` (Originate, Park, Redirect, callers on the trunk), ``events.py`` (long
event shapes), ``transfers.py``. Their entry points are also methods here, so AMI,
FastAGI, the runner and tests drive one object (those typed delegations, with
Originate's and place_call's keyword signatures repeated, are why this file is a
little over 400 lines).

Events are raised with the names, order and headers of a real Asterisk 22 (recorded
traces are the reference; the conformance tests in ``tests/sim`` compare against
them). Time comes from the injected clock, so a :class:`~callcenter.clock.ScaledClock`
runs a day of calls in minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.clock import Clock, SystemClock
from callcenter.sim import actions, cdr, interpreter
from callcenter.sim import dialplan as dp
from callcenter.sim.apps import APPS, App
from callcenter.sim.channels import CAUSE_TEXT, DOWN, RING, RINGING, UP, Channel
from callcenter.sim.events import Headers, Listener, rtp_qos
from callcenter.sim.phones import PhoneBehaviour, set_registered
from callcenter.sim.queue import QueueConfig, QueueMember, parse_queues

__all__ = ["Headers", "Pbx", "PbxConfig", "QueueConfig", "QueueMember", "parse_queues"]

log = logging.getLogger(__name__)


@dataclass
class PbxConfig:
    """What the simulated PBX runs: a dialplan, queues, phones and prompt lengths."""

    dialplan: Path
    queues: Path | None = None
    #: overrides of [globals] (e.g. CC_AGI pointing at a test's FastAGI port)
    globals: dict[str, str] = field(default_factory=dict)
    #: prompt name -> seconds it plays (unknown prompts: default_sound_seconds)
    sounds: dict[str, float] = field(default_factory=dict)
    default_sound_seconds: float = 2.0
    phones: dict[str, PhoneBehaviour] = field(default_factory=dict)
    recordings_dir: Path | None = None
    #: map Asterisk's recording directory onto recordings_dir (keep the file name only)
    write_recordings: bool = True
    seed: int = 1
    agi_connect_timeout: float = 2.0
    #: provider trunks (pjsip.conf endpoint -> its context): Dial(PJSIP/<number>@trunk)
    trunks: dict[str, str] = field(default_factory=lambda: {"trunk": "from-trunk"})
    #: who answers a call out over a trunk (an external transfer, click-to-call)
    outside: PhoneBehaviour = field(
        default_factory=lambda: PhoneBehaviour("outside", answer_delay=2.0, talk_seconds=30.0)
    )
    #: the provider sends calls out back in on the trunk (the real-Asterisk rig does)
    provider_loopback: bool = False


class Pbx:
    """One simulated Asterisk. Listeners (AMI sessions) receive every raised event."""

    def __init__(self, config: PbxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.rng = random.Random(config.seed)
        self.dialplan = dp.load(config.dialplan)
        self.globals = dict(self.dialplan.globals)
        self.globals.update(config.globals)
        self.queues = parse_queues(dp.read_config(config.queues)) if config.queues else {}
        self.channels: dict[str, Channel] = {}
        self.listeners: list[Listener] = []
        self._uid_seq = itertools.count(1)
        self._chan_seq = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.astdb: dict[tuple[str, str], str] = {}
        self.phones: dict[str, PhoneBehaviour] = dict(config.phones)
        self.started = self.clock.now().timestamp()
        self.recordings: list[Path] = []
        self.stats = {"channels": 0, "calls_answered": 0, "agi_sessions": 0}
        self.recorder: Any = None
        #: set whenever no channel exists (a run can wait for its calls to finish)
        self.idle = asyncio.Event()
        self.idle.set()
        #: dialplan application name (lower case) -> its function (see apps.py)
        self.apps: dict[str, App] = dict(APPS)

    # ------------------------------------------------------------------ events

    def emit(self, name: str, privilege: str, headers: Headers, *, timestamp: bool = True) -> None:
        block: Headers = [("Event", name), ("Privilege", f"{privilege},all")]
        if timestamp:
            block.append(("Timestamp", f"{self.clock.now().timestamp():.6f}"))
        block.extend(headers)
        for listener in list(self.listeners):
            listener(block)

    def chan_event(
        self, name: str, chan: Channel, extra: Headers | None = None, privilege: str = "call"
    ) -> None:  # type: ignore[assignment]
        self.emit(name, privilege, chan.headers() + list(extra or []))

    def set_var(self, chan: Channel, name: str, value: str) -> None:
        chan.vars[name.lstrip("_")] = value
        if name.startswith("_"):
            chan.extra.setdefault("inherit", {})[name.lstrip("_")] = name
        self.chan_event("VarSet", chan, [("Variable", name), ("Value", value)], "dialplan")

    def set_state(self, chan: Channel, state: int) -> None:
        if chan.state != state:
            chan.state = state
            if state == RINGING:
                chan.extra["rang"] = True
            self.chan_event("Newstate", chan)

    def device_state(self, device: str, state: str) -> None:
        self.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])
        for queue in self.queues.values():
            for member in queue.members:
                if member.interface == device:
                    status = {
                        "NOT_INUSE": 1,
                        "INUSE": 2,
                        "BUSY": 3,
                        "UNAVAILABLE": 5,
                        "RINGING": 6,
                    }.get(state, 0)
                    self.queue_member_event("QueueMemberStatus", queue, member, status)

    def queue_member_event(
        self, name: str, queue: QueueConfig, member: QueueMember, status: int
    ) -> None:
        self.emit(
            name,
            "agent",
            [
                ("Queue", queue.name),
                ("MemberName", member.name),
                ("Interface", member.interface),
                ("StateInterface", member.interface),
                ("Membership", "dynamic" if member.dynamic else "static"),
                ("Penalty", "0"),
                ("CallsTaken", str(member.calls)),
                ("LastCall", str(int(member.last_call))),
                ("LastPause", str(int(member.last_pause))),
                ("LoginTime", str(int(self.started))),
                ("InCall", "1" if member.in_call else "0"),
                ("Status", str(status)),
                ("Paused", "1" if member.paused else "0"),
                ("PausedReason", member.reason),
                ("Ringinuse", "0"),
                ("Wrapuptime", "0"),
            ],
        )

    # ------------------------------------------------------------------ channels

    def _uniqueid(self) -> str:
        return f"{int(self.clock.now().timestamp())}.{next(self._uid_seq)}"

    def new_channel(
        self,
        name: str,
        context: str,
        exten: str,
        *,
        state: int,
        linkedid: str | None = None,
        tech: str = "Local",
    ) -> Channel:
        uid = self._uniqueid()
        chan = Channel(
            name=name,
            uniqueid=uid,
            linkedid=linkedid or uid,
            context=context,
            exten=exten,
            state=state,
            tech=tech,
            created=self.clock.monotonic(),
        )
        self.channels[name] = chan
        self.idle.clear()
        self.stats["channels"] += 1
        return chan

    def local_pair(self, target: str, linkedid: str | None) -> tuple[Channel, Channel]:
        """``Local/exten@context``: two halves; ;1 faces the caller, ;2 runs the dialplan."""
        body = target.split("/", 1)[1].split("/", 1)[0]
        exten, _, context = body.partition("@")
        context = context or "default"
        suffix = f"{next(self._chan_seq):08x}"
        one = self.new_channel(
            f"Local/{exten}@{context}-{suffix};1", context, exten, state=DOWN, linkedid=linkedid
        )
        two = self.new_channel(
            f"Local/{exten}@{context}-{suffix};2", context, exten, state=RING, linkedid=one.linkedid
        )
        one.peer, two.peer, one.is_one = two, one, True
        self.chan_event("Newchannel", one)
        self.chan_event("Newchannel", two)
        return one, two

    def local_bridge_event(self, one: Channel, two: Channel) -> None:
        headers: Headers = []
        for prefix, chan in (("LocalOne", one), ("LocalTwo", two)):
            for key, value in chan.headers():
                headers.append((prefix + key, value))
        headers += [("Context", two.context), ("Exten", two.exten), ("LocalOptimization", "Yes")]
        self.emit("LocalBridge", "call", headers)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def request_hangup(self, chan: Channel, cause: int = 16, *, soft: bool = False) -> None:
        """Ask a channel to hang up (Local peer hangup, AMI Hangup, a caller giving up)."""
        if chan.hungup or chan.hangup_pending:
            return
        complete = chan.extra.pop("on_transferer_hangup", None)
        if complete is not None:
            complete()
            return
        if chan.tech == "PJSIP" and not soft:
            rtp_qos(self, chan)  # BYE: the RTP session ends first
        chan.hangup_cause = cause
        self.chan_event(
            "SoftHangupRequest" if soft else "HangupRequest", chan, [("Cause", str(cause))]
        )
        chan.hangup_pending = True
        chan.extra["soft_announced"] = soft
        chan.interrupt()
        if chan.bridge is not None:
            for other in chan.bridge.channels:
                other.interrupt()
        if not chan.running_pbx and chan.bridge is None and not chan.extra.get("owned"):
            self.destroy(chan)

    def destroy(self, chan: Channel, cause: int | None = None) -> None:
        """The channel is gone: Cdr/Hangup events, the Local peer is told, devices freed."""
        if chan.hungup:
            return
        if cause is not None:
            chan.hangup_cause = cause
        chan.hungup = True
        if chan.bridge is not None:
            chan.bridge.leave(chan)
        if chan.tech == "PJSIP":
            rtp_qos(self, chan)
        if chan.peer is not None and not chan.peer.hungup:
            if not chan.is_one and not chan.peer.extra.get("owned"):
                self.set_var(
                    chan.peer,
                    "CHANLOCALSTATUS",
                    "ANSWER" if chan.answered_at is not None else "NOANSWER",
                )
            self.request_hangup(chan.peer, chan.hangup_cause)
        cdr.post(self, chan)
        self.chan_event(
            "Hangup",
            chan,
            [
                ("Cause", str(chan.hangup_cause)),
                ("Cause-txt", CAUSE_TEXT.get(chan.hangup_cause, "Unknown")),
            ],
        )
        self.channels.pop(chan.name, None)
        if not self.channels:
            self.idle.set()
        chan.gone.set()
        chan.interrupt()
        device = self.device_of(chan)
        if device and not any(self.device_of(c) == device for c in self.channels.values()):
            self.device_state(device, "NOT_INUSE")
        if self.recorder is not None and chan.extra.get("mixmonitor"):
            self.recorder.finish(chan, self.clock.monotonic())

    def call_id(self, chan: Channel) -> str:
        """The SIP Call-ID of a PJSIP channel (stable per channel)."""
        return chan.extra.setdefault(
            "call_id", str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        )

    @staticmethod
    def device_of(chan: Channel) -> str:
        if chan.tech == "Local":
            return chan.name.rsplit("-", 1)[0]
        return chan.name.rsplit("-", 1)[0]

    def answer(self, chan: Channel) -> None:
        """A channel goes Up (for a Local ;2, its ;1 follows)."""
        if chan.state == UP:
            return
        chan.answered_at = self.clock.monotonic()
        self.set_state(chan, UP)
        if chan.peer is not None and chan.peer.state != UP:
            queue_exten = chan.peer.extra.pop("queue_exten", None)
            if queue_exten is not None:  # a queue member answers (see dial.start_outbound)
                chan.peer.exten = queue_exten
                chan.peer.app, chan.peer.appdata = "AppQueue", "(Outgoing Line)"
                self.chan_event(
                    "Newexten",
                    chan.peer,
                    [
                        ("Extension", queue_exten),
                        ("Application", "AppQueue"),
                        ("AppData", "(Outgoing Line)"),
                    ],
                    "dialplan",
                )
                self.chan_event("NewConnectedLine", chan.peer)
            chan.peer.answered_at = chan.answered_at
            self.set_state(chan.peer, UP)
            chan.peer.answered.set()
        chan.answered.set()

    # ------------------------------------------------------------------ waiting

    async def pause(
        self, chan: Channel, seconds: float | None, *, digits: bool = False
    ) -> str | None:
        """Sleep on the channel's clock; wake early on hangup/redirect (raise) or a digit."""
        chan.check()
        deadline = None if seconds is None else self.clock.monotonic() + max(0.0, seconds)
        while True:
            if digits and not chan.dtmf.empty():
                return chan.dtmf.get_nowait()
            remaining = None if deadline is None else deadline - self.clock.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            chan.wake.clear()
            sleeper = asyncio.ensure_future(
                self.clock.sleep(remaining if remaining is not None else 3600.0)
            )
            waker = asyncio.ensure_future(chan.wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
            chan.check()

    def sound_seconds(self, name: str) -> float:
        return self.config.sounds.get(name, self.config.default_sound_seconds)

    # ------------------------------------------------------------------ dialplan (interpreter.py)

    def lookup(self, chan: Channel) -> Callable[[str], str]:
        return interpreter.lookup(self, chan)

    def substitute(self, chan: Channel, text: str) -> str:
        return interpreter.substitute(self, chan, text)

    async def run_pbx(self, chan: Channel) -> None:
        await interpreter.run_pbx(self, chan)

    # ------------------------------------------------------------------ outside actions (actions.py)

    async def originate(
        self,
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
        return await actions.originate(
            self,
            channel,
            context=context,
            exten=exten,
            priority=priority,
            application=application,
            app_data=app_data,
            callerid=callerid,
            variables=variables,
            ring_seconds=ring_seconds,
            action_id=action_id,
            on_response=on_response,
        )

    def park(self, chan: Channel, *, timeout: float = 45.0, return_to: str = "") -> str:
        return actions.park(self, chan, timeout=timeout, return_to=return_to)

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        actions.redirect(self, chan, context, exten, priority)

    async def place_call(
        self,
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
        return await actions.place_call(
            self,
            did,
            caller_num,
            caller_name,
            context=context,
            trunk=trunk,
            digits=digits,
            digit_delay=digit_delay,
            patience=patience,
            talk_seconds=talk_seconds,
            survey_keys=survey_keys,
        )

    def press(self, chan: Channel, digits: str) -> None:
        actions.press(self, chan, digits)

    def set_registered(self, endpoint: str, registered: bool) -> None:
        set_registered(self, endpoint, registered)

    # ------------------------------------------------------------------ queries

    def find(self, name: str) -> Channel | None:
        return self.channels.get(name)
