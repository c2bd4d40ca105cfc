"""The simulated Asterisk: channels, bridges, the dialplan interpreter and its applications.

Events are raised with the names, order and headers of a real Asterisk 22
(the traces in ``tests/sim/reference`` are the reference; the conformance tests in
``tests/sim`` compare against it). Time comes from the injected clock, so a
:class:`~callcenter.clock.ScaledClock` runs a day of calls in minutes.
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
from callcenter.sim import dialplan as dp
from callcenter.sim.channels import (
    CAUSE_TEXT,
    DOWN,
    RING,
    RINGING,
    UP,
    Channel,
    ChannelHungUp,
    Redirected,
)
from callcenter.sim.phones import PhoneBehaviour

log = logging.getLogger(__name__)

Headers = list[tuple[str, str]]
Listener = Callable[[Headers], None]

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


@dataclass
class QueueMember:
    interface: str
    name: str
    paused: bool = False
    reason: str = ""
    calls: int = 0
    last_call: float = 0.0
    last_pause: float = 0.0
    in_call: bool = False


@dataclass
class QueueConfig:
    name: str
    strategy: str = "leastrecent"
    timeout: int = 15
    retry: int = 2
    members: list[QueueMember] = field(default_factory=list)
    musicclass: str = "default"
    waiting: list[Channel] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    rr_next: int = 0


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


def parse_queues(text: str) -> dict[str, QueueConfig]:
    """Read the parts of ``queues.conf`` the simulator models."""
    queues: dict[str, QueueConfig] = {}
    current: QueueConfig | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            name = line[1 : line.index("]")]
            current = None if name == "general" else queues.setdefault(name, QueueConfig(name))
            continue
        if current is None:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().rstrip(">").strip(), value.lstrip(">").strip()
        if key == "member":
            parts = [p.strip() for p in value.split(",")]
            current.members.append(
                QueueMember(parts[0], parts[2] if len(parts) > 2 and parts[2] else parts[0])
            )
        elif key == "strategy":
            current.strategy = value
        elif key == "timeout":
            current.timeout = int(value)
        elif key == "retry":
            current.retry = int(value)
        elif key == "musicclass":
            current.musicclass = value
    return queues


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


App = Callable[[Channel, str], Awaitable[str | None]]
GOTO = "goto"


class Pbx:
    """One simulated Asterisk. Listeners (AMI sessions) receive every raised event."""

    def __init__(self, config: PbxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.rng = random.Random(config.seed)
        self.dialplan = dp.load(config.dialplan)
        self.globals = dict(self.dialplan.globals)
        self.globals.update(config.globals)
        self.queues = (
            parse_queues(config.queues.read_text(encoding="utf-8")) if config.queues else {}
        )
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
        self.apps: dict[str, App] = {
            "noop": self.app_noop,
            "set": self.app_set,
            "answer": self.app_answer,
            "ringing": self.app_ringing,
            "wait": self.app_wait,
            "playback": self.app_playback,
            "background": self.app_background,
            "waitexten": self.app_waitexten,
            "musiconhold": self.app_musiconhold,
            "goto": self.app_goto,
            "gotoif": self.app_gotoif,
            "hangup": self.app_hangup,
            "congestion": self.app_busy,
            "busy": self.app_busy,
            "agi": self.app_agi,
            "mixmonitor": self.app_mixmonitor,
            "dial": self.app_dial,
            "queue": self.app_queue,
            "read": self.app_read,
            "record": self.app_record,
        }

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
                ("Membership", "static"),
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
            self.rtp_qos(chan)  # BYE: the RTP session ends first
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
            self.rtp_qos(chan)
        if chan.peer is not None and not chan.peer.hungup:
            if not chan.is_one and not chan.peer.extra.get("owned"):
                self.set_var(
                    chan.peer,
                    "CHANLOCALSTATUS",
                    "ANSWER" if chan.answered_at is not None else "NOANSWER",
                )
            self.request_hangup(chan.peer, chan.hangup_cause)
        self.emit_cdr(chan)
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

    def rtp_qos(self, chan: Channel) -> None:
        """chan_pjsip's RTP statistics variables when a media session ends (once per channel)."""
        if chan.extra.get("qos_done"):
            return
        chan.extra["qos_done"] = True
        ssrc = self.rng.getrandbits(31)
        seconds = self.clock.monotonic() - (chan.answered_at or self.clock.monotonic())
        packets = int(seconds * 50)
        values = {
            "RTPAUDIOQOS": (
                f"ssrc={ssrc};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;"
                f"txcount={packets};rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"
            ),
            "RTPAUDIOQOSJITTER": "minrxjitter=0.000000;maxrxjitter=0.000000;avgrxjitter=0.000000;stdevrxjitter=0.000000;",
            "RTPAUDIOQOSLOSS": "minrxlost=0.000000;maxrxlost=0.000000;avgrxlost=0.000000;stdevrxlost=0.000000;",
            "RTPAUDIOQOSRTT": "minrtt=0.000000;maxrtt=0.000000;avgrtt=0.000000;stdevrtt=0.000000;",
            "RTPAUDIOQOSMES": "minmes=0.000000;maxmes=0.000000;avgmes=0.000000;stdevmes=0.000000;",
        }
        peer = None
        if chan.bridge is not None:
            peer = next(
                (c for c in chan.bridge.channels if c is not chan and c.tech == "PJSIP"), None
            )
        for name, value in values.items():
            self.set_var(chan, name, value)
        if peer is not None:
            for name, value in values.items():
                self.set_var(peer, name + "BRIDGED", value)

    def emit_cdr(self, chan: Channel) -> None:
        now = self.clock.now()
        start = now.timestamp() - (self.clock.monotonic() - chan.created)
        fmt = "%Y-%m-%d %H:%M:%S"
        from datetime import UTC, datetime

        answered = chan.answered_at is not None
        self.emit(
            "Cdr",
            "cdr",
            [
                ("AccountCode", ""),
                ("Source", chan.cid_num),
                ("Destination", chan.exten),
                ("DestinationContext", chan.context),
                ("CallerID", f'"{chan.cid_name}" <{chan.cid_num}>' if chan.cid_num else ""),
                ("Channel", chan.name),
                ("DestinationChannel", chan.vars.get("BRIDGEPEER", "")),
                ("LastApplication", chan.app),
                ("LastData", chan.appdata),
                ("StartTime", datetime.fromtimestamp(start, UTC).strftime(fmt)),
                ("AnswerTime", now.strftime(fmt) if answered else ""),
                ("EndTime", now.strftime(fmt)),
                ("Duration", str(int(self.clock.monotonic() - chan.created))),
                (
                    "BillableSeconds",
                    str(int(self.clock.monotonic() - chan.answered_at))
                    if chan.answered_at is not None
                    else "0",
                ),
                ("Disposition", "ANSWERED" if answered else "NO ANSWER"),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", chan.uniqueid),
                ("UserField", ""),
            ],
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

    # ------------------------------------------------------------------ dialplan

    def lookup(self, chan: Channel) -> Callable[[str], str]:
        def lookup(name: str) -> str:
            if name.startswith("CALLERID("):
                part = name[9:-1].lower()
                if part in ("num", "number"):
                    return chan.cid_num
                if part == "name":
                    return chan.cid_name
                if part == "all":
                    return f'"{chan.cid_name}" <{chan.cid_num}>'
                return ""
            if name.startswith("CHANNEL("):
                part = name[8:-1].lower()
                return {
                    "linkedid": chan.linkedid,
                    "name": chan.name,
                    "uniqueid": chan.uniqueid,
                }.get(part, "")
            if "(" in name:
                raise dp.DialplanError(f"function {name} is not simulated")
            builtin = {
                "UNIQUEID": chan.uniqueid,
                "EXTEN": chan.exten,
                "CONTEXT": chan.context,
                "PRIORITY": str(chan.priority),
                "CHANNEL": chan.name,
                "EPOCH": str(int(self.clock.now().timestamp())),
            }
            if name in chan.vars:
                return chan.vars[name]
            if name in builtin:
                return builtin[name]
            return self.globals.get(name, "")

        return lookup

    def substitute(self, chan: Channel, text: str) -> str:
        return dp.substitute(text, self.lookup(chan))

    async def run_pbx(self, chan: Channel) -> None:
        """Run the channel through the dialplan until it hangs up (Asterisk's PBX thread)."""
        chan.running_pbx = True
        try:
            while not chan.hungup:
                if chan.redirect_to is not None:
                    chan.context, chan.exten, chan.priority = chan.redirect_to
                    chan.redirect_to = None
                    if chan.extra.pop("go_on", False):
                        chan.priority += 1
                if chan.extra.get("parking") is not None:
                    await self._parked(chan)
                    continue
                if chan.hangup_pending:
                    break
                ext = self.dialplan.locate(chan.context, chan.exten)
                step = ext.steps.get(chan.priority) if ext else None
                if step is None:
                    break
                data = self.substitute(chan, step.data)
                chan.app, chan.appdata = step.app, data
                self.chan_event(
                    "Newexten",
                    chan,
                    [("Extension", chan.exten), ("Application", step.app), ("AppData", data)],
                    "dialplan",
                )
                app = self.apps.get(step.app.lower())
                if app is None:
                    raise dp.DialplanError(f"application {step.app} is not simulated")
                try:
                    result = await app(chan, data)
                except Redirected:
                    continue
                except ChannelHungUp:
                    break
                if chan.redirect_to is not None:
                    continue
                if result != GOTO:
                    chan.priority += 1
                if result == "hangup":
                    break
            await self._hangup_path(chan)
        finally:
            chan.running_pbx = False
            if not chan.hungup:
                self.destroy(chan)

    async def _hangup_path(self, chan: Channel) -> None:
        """Announce the hangup, then run the context's ``h`` extension (if any) to its end."""
        if chan.hungup:
            return
        if not chan.extra.get("soft_announced"):
            self.chan_event("SoftHangupRequest", chan, [("Cause", "16")])
            chan.extra["soft_announced"] = True
        ctx = self.dialplan.context(chan.context)
        ext = ctx.find("h") if ctx is not None else None
        if ext is None or chan.in_h:
            return
        chan.in_h = True
        chan.exten, chan.priority = "h", 1
        while True:
            step = ext.steps.get(chan.priority)
            if step is None:
                break
            data = self.substitute(chan, step.data)
            chan.app, chan.appdata = step.app, data
            self.chan_event(
                "Newexten",
                chan,
                [("Extension", chan.exten), ("Application", step.app), ("AppData", data)],
                "dialplan",
            )
            chan.priority += 1
            app = self.apps.get(step.app.lower())
            if app is None:
                raise dp.DialplanError(f"application {step.app} is not simulated")
            try:
                result = await app(chan, data)
            except (ChannelHungUp, Redirected):
                continue
            if result == "hangup":
                break

    # ------------------------------------------------------------------ applications

    async def app_noop(self, chan: Channel, data: str) -> str | None:
        return None

    async def app_set(self, chan: Channel, data: str) -> str | None:
        name, _, value = data.partition("=")
        self.set_var(chan, name.strip(), value)
        return None

    async def app_answer(self, chan: Channel, data: str) -> str | None:
        self.answer(chan)
        return None

    async def app_ringing(self, chan: Channel, data: str) -> str | None:
        if chan.peer is not None and chan.peer.state != RINGING and chan.peer.state != UP:
            self.set_state(chan.peer, RINGING)
        chan.ringing.set()
        if chan.peer is not None:
            chan.peer.ringing.set()
        return None

    async def app_wait(self, chan: Channel, data: str) -> str | None:
        await self.pause(chan, float(data or 0))
        return None

    async def app_playback(self, chan: Channel, data: str) -> str | None:
        name = dp.split_args(data)[0]
        if chan.state != UP:
            self.answer(chan)
        try:
            for part in name.split("&"):
                await self.pause(chan, self.sound_seconds(part))
        except ChannelHungUp:
            self.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
            raise
        self.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
        return None

    async def app_background(self, chan: Channel, data: str) -> str | None:
        name = dp.split_args(data)[0]
        if chan.state != UP:
            self.answer(chan)
        digit = await self.pause(chan, self.sound_seconds(name), digits=True)
        if digit is not None:
            return self._goto_digit(chan, digit)
        return None

    async def app_waitexten(self, chan: Channel, data: str) -> str | None:
        seconds = float(dp.split_args(data)[0] or 10)
        digit = await self.pause(chan, seconds, digits=True)
        if digit is not None:
            return self._goto_digit(chan, digit)
        if self.dialplan.locate(chan.context, "t") is not None:
            chan.exten, chan.priority = "t", 1
            return GOTO
        return "hangup"

    def _goto_digit(self, chan: Channel, digit: str) -> str:
        target = digit if self.dialplan.locate(chan.context, digit) is not None else "i"
        chan.exten, chan.priority = target, 1
        return GOTO

    async def app_read(self, chan: Channel, data: str) -> str | None:
        args = dp.split_args(data) + [""] * 6
        var, prompt, timeout = args[0], args[1], float(args[5] or 5)
        digit = await self.pause(chan, self.sound_seconds(prompt) + timeout, digits=True)
        self.set_var(chan, var, digit or "")
        self.set_var(chan, "READSTATUS", "OK" if digit else "TIMEOUT")
        return None

    async def app_record(self, chan: Channel, data: str) -> str | None:
        """Record(file,silence,maxduration,options): the caller speaks until silence or the limit."""
        args = [*dp.split_args(data), "", "", ""]
        limit = float(args[2] or 0) or None
        self.set_var(chan, "RECORDED_FILE", args[0].rsplit(".", 1)[0])
        try:
            await self.pause(chan, min(limit, 20.0) if limit else 20.0)
        except ChannelHungUp:
            self.set_var(chan, "RECORD_STATUS", "HANGUP")
            raise
        self.set_var(chan, "RECORD_STATUS", "SILENCE")
        return None

    async def app_musiconhold(self, chan: Channel, data: str) -> str | None:
        args = [*dp.split_args(data), ""]
        klass = args[0] or "default"
        self.chan_event("MusicOnHoldStart", chan, [("Class", klass)])
        try:
            await self.pause(chan, float(args[1]) if args[1] else None)
        finally:
            self.chan_event("MusicOnHoldStop", chan)
        return None

    def jump(self, chan: Channel, target: str) -> str:
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
            ext = self.dialplan.locate(chan.context, chan.exten)
            if ext is None or prio not in ext.labels:
                raise dp.DialplanError(f"no label {prio} in {chan.context},{chan.exten}")
            chan.priority = ext.labels[prio]
        return GOTO

    async def app_goto(self, chan: Channel, data: str) -> str | None:
        return self.jump(chan, data)

    async def app_gotoif(self, chan: Channel, data: str) -> str | None:
        cond, _, branches = data.partition("?")
        yes, _, no = branches.partition(":")
        target = yes if dp._truthy(cond) else no
        if not target:
            return None
        return self.jump(chan, target)

    async def app_hangup(self, chan: Channel, data: str) -> str | None:
        cause = int(data) if data.strip().isdigit() else 16
        self.request_hangup(chan, cause, soft=True)
        return "hangup"

    async def app_busy(self, chan: Channel, data: str) -> str | None:
        await self.pause(chan, float(data or 0))
        return "hangup"

    async def app_mixmonitor(self, chan: Channel, data: str) -> str | None:
        filename = dp.split_args(data)[0]
        self.set_var(chan, "MIXMONITOR_FILENAME", filename)
        self.chan_event("MixMonitorStart", chan)
        chan.extra["mixmonitor"] = filename
        if self.recorder is not None:
            self.recorder.start(chan, filename, self.clock.monotonic())
        return None

    async def app_agi(self, chan: Channel, data: str) -> str | None:
        from callcenter.sim.fastagi import run_agi

        args = dp.split_args(data)
        status = await run_agi(self, chan, args[0], args[1:])
        self.set_var(chan, "AGISTATUS", status)
        if status == "HANGUP" and not chan.in_h:
            raise ChannelHungUp()
        return None

    # ------------------------------------------------------------------ Dial

    async def create_outbound(self, caller: Channel, target: str) -> Channel | str:
        """Make the callee channel for Dial/Queue, or return a DIALSTATUS when impossible."""
        if target.startswith("Local/"):
            one, two = self.local_pair(target, caller.linkedid)
            dialed = target.split("/", 1)[1]
            self.set_var(one, "DIALEDPEERNUMBER", dialed)
            for name in caller.extra.get("inherit", {}).values():
                self.set_var(one, name, caller.vars[name.lstrip("_")])
            self.set_var(two, "DIALEDPEERNUMBER", dialed)
            for name in caller.extra.get("inherit", {}).values():
                self.set_var(two, name, caller.vars[name.lstrip("_")])
            one.extra["owned"] = True
            return one
        if target.startswith("PJSIP/"):
            endpoint = target.split("/", 1)[1].split("@", 1)[0]
            phone = self.phones.get(endpoint)
            if phone is None or not phone.registered:
                return "CHANUNAVAIL"
            suffix = f"{next(self._chan_seq):08x}"
            chan = self.new_channel(
                f"PJSIP/{endpoint}-{suffix}",
                phone.context,
                "s",
                state=DOWN,
                linkedid=caller.linkedid,
                tech="PJSIP",
            )
            chan.extra["owned"] = True
            chan.extra["phone"] = phone
            # One call per phone (pjsip.conf device_state_busy_at = 1): a second call is refused.
            if any(
                c is not chan and c.tech == "PJSIP" and self.device_of(c) == f"PJSIP/{endpoint}"
                for c in self.channels.values()
            ):
                chan.extra["busy"] = True
            self.chan_event("Newchannel", chan)
            self.set_var(chan, "DIALEDPEERNUMBER", endpoint)
            return chan
        return "CHANUNAVAIL"

    def start_outbound(self, caller: Channel, out: Channel, app: str) -> None:
        """After DialBegin: the callee starts ringing (Local ;2 runs its dialplan; phones ring)."""
        out.cid_num, out.cid_name = caller.exten, caller.cid_name
        out.conn_num, out.conn_name = caller.cid_num, caller.cid_name
        if out.tech == "Local":
            assert out.peer is not None
            two = out.peer
            out.exten = caller.exten
            self.chan_event(
                "Newexten",
                out,
                [("Extension", out.exten), ("Application", app), ("AppData", "(Outgoing Line)")],
                "dialplan",
            )
            self.chan_event(
                "NewCallerid", out, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
            )
            self.chan_event("NewConnectedLine", out)
            two.extra["inherit"] = dict(caller.extra.get("inherit", {}))
            two.cid_num, two.cid_name = caller.cid_num, caller.cid_name
            two.conn_num, two.conn_name = caller.exten, caller.cid_name
            self.chan_event(
                "NewCallerid", two, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
            )
            self.chan_event("NewConnectedLine", two)
            self.local_bridge_event(out, two)
            self.spawn(self.run_pbx(two))
        else:
            out.exten = caller.exten
            self.chan_event(
                "Newexten",
                out,
                [("Extension", out.exten), ("Application", app), ("AppData", "(Outgoing Line)")],
                "dialplan",
            )
            self.chan_event(
                "NewCallerid", out, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
            )
            self.chan_event("NewConnectedLine", out)
            self.spawn(self.ring_phone(out))

    async def ring_phone(self, chan: Channel) -> None:
        """An agent's phone: rings, then answers after its delay (or never, or busy)."""
        phone: PhoneBehaviour = chan.extra["phone"]
        device = self.device_of(chan)
        if phone.mode == "busy" or chan.extra.get("busy"):
            chan.extra["busy"] = True
            chan.ringing.set()
            return
        self.set_state(chan, RINGING)
        self.device_state(device, "RINGING")
        chan.ringing.set()
        if phone.mode == "no_answer" or (
            phone.no_answer_ratio and self.rng.random() < phone.no_answer_ratio
        ):
            return
        delay = phone.answer_delay
        if phone.answer_delay_max is not None:
            delay = self.rng.uniform(phone.answer_delay, phone.answer_delay_max)
        try:
            await self.pause(chan, delay)
        except (ChannelHungUp, Redirected):
            return
        if chan.hungup:
            return
        self.answer(chan)
        self.device_state(device, "INUSE")
        if phone.talk_seconds is None:
            return
        talk = phone.talk_seconds
        if phone.talk_seconds_max is not None:
            talk = self.rng.uniform(phone.talk_seconds, phone.talk_seconds_max)
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
            await self.pause(chan, talk)
            self.request_hangup(chan, 16)  # the phone sends BYE
            if chan.bridge is None and not chan.hungup:
                self.destroy(chan)

    def set_registered(self, endpoint: str, registered: bool) -> None:
        """A phone registers or goes away: ContactStatus and DeviceStateChange, like chan_pjsip."""
        phone = self.phones.get(endpoint)
        if phone is None:
            raise KeyError(endpoint)
        phone.registered = registered
        if registered and phone.mode == "unregistered":
            phone.mode = "answer"
        self.emit(
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
        self.device_state(f"PJSIP/{endpoint}", "NOT_INUSE" if registered else "UNAVAILABLE")

    def dial_begin(self, caller: Channel, out: Channel, dialstring: str) -> None:
        self.emit(
            "DialBegin",
            "call",
            caller.headers() + out.headers("Dest") + [("DialString", dialstring)],
        )

    def dial_event(self, name: str, caller: Channel, out: Channel, status: str) -> None:
        self.emit(name, "call", caller.headers() + out.headers("Dest") + [("DialStatus", status)])

    async def app_dial(self, chan: Channel, data: str) -> str | None:
        args = [*dp.split_args(data), "", ""]
        target, timeout_text, options = args[0], args[1], args[2]
        timeout = float(timeout_text) if timeout_text.strip() else None
        for name in DIAL_VARS:
            self.set_var(chan, name, "")
        started = self.clock.monotonic()
        out = await self.create_outbound(chan, target)
        if isinstance(out, str):
            self.set_var(chan, "DIALSTATUS", out)
            return None
        self.start_outbound(chan, out, "AppDial")
        self.dial_begin(chan, out, target.split("/", 1)[1])
        status = await self._ring(chan, out, timeout, started)
        if status != "ANSWER":
            if status == "CANCEL":
                self.dial_event("DialEnd", chan, out, "CANCEL")
            elif status in ("NOANSWER", "BUSY"):
                self.dial_event("DialEnd", chan, out, status)
            out.extra["owned"] = False
            self.destroy(out, 17 if status == "BUSY" else 0)
            self.set_var(chan, "DIALSTATUS", status)
            if status == "CANCEL":
                raise ChannelHungUp()
            return None
        self.set_var(chan, "DIALSTATUS", "ANSWER")
        self.set_var(chan, "DIALEDPEERNAME", out.name)
        self.set_var(chan, "DIALEDPEERNUMBER", out.vars.get("DIALEDPEERNUMBER", ""))
        self.dial_event("DialEnd", chan, out, "ANSWER")
        if chan.state != UP:
            self.answer(chan)
        answered = self.clock.monotonic()
        continue_after = "g" in options
        await self.bridge_call(chan, out, "AppDial")
        if chan.extra.get("parking") is not None and not chan.hangup_pending:
            self.set_var(chan, "DIALSTATUS", "ANSWER")
            raise Redirected()
        if chan.redirect_to is not None and not chan.hangup_pending:
            self.set_var(chan, "DIALSTATUS", "ANSWER")
            raise Redirected()
        talk = self.clock.monotonic() - answered
        total = self.clock.monotonic() - started
        self.set_var(chan, "ANSWEREDTIME", str(int(talk)))
        self.set_var(chan, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        self.set_var(chan, "DIALEDTIME", str(int(total)))
        self.set_var(chan, "DIALEDTIME_MS", str(int(total * 1000)))
        self.set_var(chan, "DIALSTATUS", "ANSWER")
        chan.check()
        if continue_after:
            return None
        self.request_hangup(chan, 16, soft=True)
        raise ChannelHungUp()

    async def _ring(self, chan: Channel, out: Channel, limit: float | None, started: float) -> str:
        """Wait for the callee: ANSWER, NOANSWER (timeout), BUSY or CANCEL (caller hung up)."""
        deadline = None if limit is None else started + limit
        rang = False
        while True:
            if out.extra.get("busy"):
                return "BUSY"
            if (out.state == RINGING or out.extra.get("rang")) and not rang:
                rang = True
                if chan.state != UP and chan.peer is not None and chan.peer.state < RINGING:
                    self.set_state(chan.peer, RINGING)  # ringing goes back to the caller
                ring_ms = int((self.clock.monotonic() - started) * 1000)
                self.set_var(chan, "RINGTIME", str(ring_ms // 1000))
                self.set_var(chan, "RINGTIME_MS", str(ring_ms))
                self.dial_event("DialState", chan, out, "RINGING")
            if out.state == UP:
                return "ANSWER"
            if out.hungup:
                return "NOANSWER"
            remaining = None if deadline is None else deadline - self.clock.monotonic()
            if remaining is not None and remaining <= 0:
                return "NOANSWER"
            try:
                await self._wait_any(chan, [out.answered, out.ringing, out.gone], remaining)
            except ChannelHungUp:
                return "CANCEL"
            out.ringing.clear() if rang else None

    async def _wait_any(
        self, chan: Channel, events: list[asyncio.Event], seconds: float | None
    ) -> None:
        chan.check()
        chan.wake.clear()
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(e.wait()) for e in events]
        waiters.append(asyncio.ensure_future(chan.wake.wait()))
        if seconds is not None:
            waiters.append(asyncio.ensure_future(self.clock.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if chan.hangup_pending or chan.hungup:
            raise ChannelHungUp()

    async def bridge_call(
        self, chan: Channel, out: Channel, app: str, on_end: Callable[[], None] | None = None
    ) -> None:
        """Caller and callee talk until one leaves; the callee is hung up after."""
        bridge = Bridge(self)
        self.stats["calls_answered"] += 1
        if out.tech in ("Local", "PJSIP"):
            self.emit("BridgeCreate", "call", bridge.headers())
            bridge.created = True
            out.exten = ""
            out.priority = 1
            self.chan_event(
                "Newexten",
                out,
                [("Extension", ""), ("Application", app), ("AppData", "(Outgoing Line)")],
                "dialplan",
            )
        bridge.enter(out)
        bridge.enter(chan)
        bridge.set_peers()
        out.extra.setdefault("bridged", asyncio.Event()).set()
        if self.recorder is not None:
            self.recorder.bridged(chan, out, self.clock.monotonic())
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
                    self.destroy(member)
        if on_end is not None:
            on_end()
        if chan.bridge is bridge:
            bridge.leave(chan)
        moved = out.bridge is not None and out.bridge is not bridge
        if not out.hungup and not out.running_pbx and not moved:
            out.extra["owned"] = False
            if out.bridge is bridge:
                bridge.leave(out)
            self.destroy(out)

    # ------------------------------------------------------------------ Queue

    async def app_queue(self, chan: Channel, data: str) -> str | None:
        from callcenter.sim.queue import run_queue

        return await run_queue(self, chan, data)

    # ------------------------------------------------------------------ outside actions

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
        """AMI Originate: dial ``channel``; when it answers, run context/exten (or an app)."""
        variables = variables or {}
        name, num = _parse_callerid(callerid)
        if channel.startswith("Local/"):
            one, two = self.local_pair(channel, None)
            self.chan_event(
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
                self.set_var(one, key, value)
            if callerid:
                one.cid_num, one.cid_name, one.conn_num, one.conn_name = num, name, num, name
                self.chan_event(
                    "NewCallerid",
                    one,
                    [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
                )
                self.chan_event("NewConnectedLine", one)
            for key, value in variables.items():
                self.set_var(two, key, value)
                if key.startswith("_"):
                    two.extra.setdefault("inherit", {})[key.lstrip("_")] = key
            if callerid:
                two.cid_num, two.cid_name, two.conn_num, two.conn_name = num, name, num, name
                self.chan_event(
                    "NewCallerid",
                    two,
                    [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
                )
                self.chan_event("NewConnectedLine", two)
            self.local_bridge_event(one, two)
            self.emit(
                "DialBegin",
                "call",
                [*one.headers("Dest"), ("DialString", channel.split("/", 1)[1])],
            )
            one.extra["owned"] = True
            self.spawn(self.run_pbx(two))
            self.spawn(
                self._originate_wait(
                    one, context, exten, priority, ring_seconds, action_id, on_response
                )
            )
            return one
        if channel.startswith("PJSIP/"):
            endpoint = channel.split("/", 1)[1]
            phone = self.phones.get(endpoint)
            if phone is None or not phone.registered:
                if on_response:
                    on_response(
                        self._originate_response(
                            None, action_id, context, exten, "Failure", 0, num, name
                        )
                    )
                return None
            suffix = f"{next(self._chan_seq):08x}"
            chan = self.new_channel(
                f"PJSIP/{endpoint}-{suffix}", context, exten, state=DOWN, tech="PJSIP"
            )
            chan.extra["phone"] = phone
            chan.extra["owned"] = True
            self.chan_event("Newchannel", chan)
            for key, value in variables.items():
                self.set_var(chan, key, value)
            chan.cid_num, chan.cid_name = num, name
            self.spawn(self.ring_phone(chan))
            self.spawn(
                self._originate_wait(
                    chan, context, exten, priority, ring_seconds, action_id, on_response
                )
            )
            return chan
        if on_response:
            on_response(
                self._originate_response(None, action_id, context, exten, "Failure", 0, num, name)
            )
        return None

    def _originate_response(
        self,
        chan: Channel | None,
        action_id: str,
        context: str,
        exten: str,
        response: str,
        reason: int,
        num: str,
        name: str,
    ) -> Headers:
        return [
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            ("Timestamp", f"{self.clock.now().timestamp():.6f}"),
            ("ActionID", action_id),
            ("Response", response),
            ("Channel", chan.name if chan else ""),
            ("Context", context),
            ("Exten", exten),
            ("Reason", str(reason)),
            ("Uniqueid", chan.uniqueid if chan else "<null>"),
            ("CallerIDNum", num or "<unknown>"),
            ("CallerIDName", name or "<unknown>"),
        ]

    async def _originate_wait(
        self,
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
        sleeper = asyncio.ensure_future(self.clock.sleep(ring_seconds))
        try:
            await asyncio.wait([*waiters, sleeper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in [*waiters, sleeper]:
                w.cancel()
        if one.state != UP:
            if not one.hungup:
                one.extra["owned"] = False
                self.destroy(one, 0)
            if on_response:
                on_response(
                    self._originate_response(
                        None, action_id, context, exten, "Failure", 0, one.cid_num, one.cid_name
                    )
                )
            return
        if one.tech == "Local":
            self.emit("DialEnd", "call", [*one.headers("Dest"), ("DialStatus", "ANSWER")])
        one.extra["owned"] = False
        one.context, one.exten, one.priority = context, exten, priority
        if on_response:
            on_response(
                self._originate_response(
                    one, action_id, context, exten, "Success", 4, one.cid_num, one.cid_name
                )
            )
        if one.hangup_pending:
            self.destroy(one)
            return
        await self.run_pbx(one)

    def park(self, chan: Channel, *, timeout: float = 45.0, return_to: str = "") -> str:
        """AMI Park: the channel leaves its bridge for the parking lot (music on hold).

        It comes back when Redirected (ParkedCallGiveUp, as res_parking reports a parkee
        that left by other means), or after ``timeout`` rings ``return_to`` through
        ``[cc-dial]`` (ParkedCallTimeOut). Returns the parking space.
        """
        space = str(701 + sum(1 for c in self.channels.values() if c.extra.get("parking")))
        bridge = chan.bridge
        if bridge is not None and chan.running_pbx and chan.app in ("Dial", "Queue"):
            chan.extra["go_on"] = True
        chan.extra["parking"] = {"space": space, "timeout": timeout, "return_to": return_to}
        chan.redirect_to = (chan.context, chan.exten, chan.priority)
        if bridge is not None:
            bridge.leave(chan)
        chan.interrupt()
        self.emit(
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
            self.spawn(self.run_pbx(chan))
        return space

    async def _parked(self, chan: Channel) -> None:
        info = chan.extra["parking"]
        chan.extra.pop("go_on", None)
        self.chan_event("MusicOnHoldStart", chan, [("Class", "default")])
        outcome = "ParkedCallTimeOut"
        try:
            await self.pause(chan, info["timeout"])
        except Redirected:
            outcome = "ParkedCallGiveUp"
        except ChannelHungUp:
            outcome = "ParkedCallGiveUp"
        chan.extra.pop("parking", None)
        self.chan_event("MusicOnHoldStop", chan)
        self.emit(
            outcome,
            "call",
            [*chan.headers("Parkee"), ("Parkinglot", "default"), ("ParkingSpace", info["space"])],
        )
        if outcome == "ParkedCallTimeOut" and not chan.hangup_pending:
            if info["return_to"] and self.dialplan.locate("cc-dial", "s") is not None:
                self.set_var(chan, "CC_AGENT_CHANNEL", info["return_to"])
                chan.context, chan.exten, chan.priority = "cc-dial", "s", 1
            else:
                self.request_hangup(chan, 16)

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: the channel leaves what it is doing and continues at the target."""
        chan.redirect_to = (context, exten, priority)
        if chan.bridge is not None:
            if chan.running_pbx and chan.app in ("Dial", "Queue"):
                # Asterisk moves a bridged channel with an after-bridge "go on": the
                # snapshot shows the target at once, and the dialplan resumes at the
                # priority AFTER the target one (seen in trace e-redirect-transfer).
                chan.context, chan.exten, chan.priority = context, exten, priority
                chan.extra["go_on"] = True
                self.chan_event(
                    "Newexten",
                    chan,
                    [("Extension", exten), ("Application", chan.app), ("AppData", chan.appdata)],
                    "dialplan",
                )
            chan.bridge.leave(chan)
        chan.interrupt()
        if not chan.running_pbx:
            chan.extra["owned"] = False
            self.spawn(self.run_pbx(chan))

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
    ) -> Channel:
        """An inbound call from the provider trunk: the caller channel runs the dialplan.

        The caller presses ``digits`` after ``digit_delay`` seconds (IVR), hangs up if no
        agent answered within ``patience`` seconds, and ends an answered call after
        ``talk_seconds`` (None: waits for the agent to hang up).
        """
        suffix = f"{next(self._chan_seq):08x}"
        chan = self.new_channel(f"PJSIP/{trunk}-{suffix}", context, did, state=RING, tech="PJSIP")
        chan.cid_num, chan.cid_name = caller_num, caller_name
        self.chan_event("Newchannel", chan)
        self.set_var(chan, "SIPDOMAIN", "127.0.0.1")
        self.spawn(self.run_pbx(chan))
        self.spawn(self._caller_behaviour(chan, digits, digit_delay, patience, talk_seconds))
        return chan

    async def _caller_behaviour(
        self,
        chan: Channel,
        digits: str,
        digit_delay: float,
        patience: float | None,
        talk_seconds: float | None,
    ) -> None:
        start = self.clock.monotonic()
        pressed = False
        while not chan.hungup:
            elapsed = self.clock.monotonic() - start
            in_talk = chan.bridge is not None and len(chan.bridge.channels) == 2
            if digits and not pressed and elapsed >= digit_delay:
                pressed = True
                self.press(chan, digits)
            if in_talk:
                if talk_seconds is not None:
                    bridged_at = chan.extra.setdefault("talk_start", self.clock.monotonic())
                    if self.clock.monotonic() - bridged_at >= talk_seconds:
                        self.request_hangup(chan, 16)
                        return
            elif (
                chan.extra.get("talk_start") is None
                and patience is not None
                and elapsed >= patience
            ):
                self.request_hangup(chan, 16)
                return
            await self.clock.sleep(0.25)

    def press(self, chan: Channel, digits: str) -> None:
        """The caller presses ``digits`` on their keypad (DTMF received on ``chan``)."""
        for digit in digits:
            self.emit(
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

    # ------------------------------------------------------------------ queries

    def find(self, name: str) -> Channel | None:
        return self.channels.get(name)


def _parse_callerid(text: str) -> tuple[str, str]:
    text = text.strip()
    if "<" in text:
        name, _, rest = text.partition("<")
        return name.strip().strip('"'), rest.rstrip(">").strip()
    return "", text
