"""``queues.conf`` as the simulator reads it, and app_queue as the fallback path uses it:
join, ring members by strategy, connect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.sim import cdr
from callcenter.sim import dialplan as dp
from callcenter.sim.bridges import bridge_call
from callcenter.sim.channels import Channel, ChannelHungUp
from callcenter.sim.dial import create_outbound, dial_begin, dial_event, ring_callee, start_outbound

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx


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
    #: added with AMI QueueAdd (QueueRemove only removes these)
    dynamic: bool = False


@dataclass
class QueueConfig:
    name: str
    strategy: str = "leastrecent"
    timeout: int = 15
    retry: int = 2
    members: list[QueueMember] = field(default_factory=list)
    musicclass: str = "default"
    #: queues.conf joinempty / leavewhenempty: member states that count as "empty"
    joinempty: tuple[str, ...] = ()
    leavewhenempty: tuple[str, ...] = ()
    waiting: list[Channel] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    rr_next: int = 0


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
        elif key in ("joinempty", "leavewhenempty"):
            setattr(current, key, tuple(v.strip() for v in value.split(",") if v.strip()))
    return queues


def _available(pbx: Pbx, member: QueueMember) -> bool:
    if member.paused or member.in_call:
        return False
    if member.interface.startswith("PJSIP/"):
        phone = pbx.phones.get(member.interface.split("/", 1)[1])
        if phone is None or not phone.registered:
            return False
    return not any(pbx.device_of(c) == member.interface for c in pbx.channels.values())


def _empty(pbx: Pbx, queue: QueueConfig, rules: tuple[str, ...]) -> bool:
    """queues.conf joinempty/leavewhenempty: no member left once those states are discounted.

    As app_queue: a paused member counts as available unless ``paused`` is listed,
    an unregistered phone unless ``unavailable`` is.
    """

    def discounted(member: QueueMember) -> bool:
        if member.paused and "paused" in rules:
            return True
        if "unavailable" in rules and member.interface.startswith("PJSIP/"):
            phone = pbx.phones.get(member.interface.split("/", 1)[1])
            return phone is None or not phone.registered
        return False

    return not queue.members or all(discounted(m) for m in queue.members)


def _order(pbx: Pbx, queue: QueueConfig) -> list[QueueMember]:
    members = [m for m in queue.members if _available(pbx, m)]
    if queue.strategy == "leastrecent":
        return sorted(members, key=lambda m: m.last_call)
    if queue.strategy == "fewestcalls":
        return sorted(members, key=lambda m: m.calls)
    if queue.strategy == "random":
        pbx.rng.shuffle(members)
    if queue.strategy == "rrmemory" and members:
        start = queue.rr_next % len(members)
        queue.rr_next += 1
        return members[start:] + members[:start]
    return members


def _member_vars(
    pbx: Pbx, chan: Channel, queue: QueueConfig, member: QueueMember, hold: int
) -> None:
    for name, value in (
        ("MEMBERINTERFACE", member.interface),
        ("MEMBERNAME", member.name),
        ("MEMBERCALLS", str(member.calls)),
        ("MEMBERLASTCALL", str(int(member.last_call))),
        ("MEMBERPENALTY", "0"),
        ("MEMBERDYNAMIC", "0"),
        ("MEMBERREALTIME", "0"),
        ("QEHOLDTIME", str(hold)),
        ("QEORIGINALPOS", "1"),
    ):
        pbx.set_var(chan, name, value)


def _queue_vars(pbx: Pbx, chan: Channel, queue: QueueConfig) -> None:
    for name, value in (
        ("QUEUENAME", queue.name),
        ("QUEUEMAX", "0"),
        ("QUEUESTRATEGY", queue.strategy),
        ("QUEUECALLS", str(len(queue.waiting))),
        ("QUEUEHOLDTIME", "0"),
        ("QUEUETALKTIME", "0"),
        ("QUEUECOMPLETED", str(queue.completed)),
        ("QUEUEABANDONED", str(queue.abandoned)),
        ("QUEUESRVLEVEL", "0"),
        ("QUEUESRVLEVELPERF", "0.0"),
    ):
        pbx.set_var(chan, name, value)


def _caller_event(
    pbx: Pbx, name: str, chan: Channel, extra: list[tuple[str, str]], dest: Channel | None = None
) -> None:
    headers = chan.headers() + (dest.headers("Dest") if dest is not None else []) + extra
    pbx.emit(name, "agent", headers)


async def run_queue(pbx: Pbx, chan: Channel, data: str) -> str | None:
    args = dp.split_args(data) + [""] * 5
    name, options, timeout_text = args[0], args[1], args[4]
    queue = pbx.queues.get(name)
    if queue is None:
        pbx.set_var(chan, "QUEUESTATUS", "UNKNOWN")
        return None
    for var in (
        "ANSWEREDTIME",
        "ANSWEREDTIME_MS",
        "DIALEDTIME",
        "DIALEDTIME_MS",
        "QUEUEWAIT",
        "QUEUEWAIT_MS",
    ):
        pbx.set_var(chan, var, "")
    if _empty(pbx, queue, queue.joinempty):
        pbx.set_var(chan, "QUEUESTATUS", "JOINEMPTY")
        return None
    start = pbx.clock.monotonic()
    deadline = start + float(timeout_text) if timeout_text.strip() else None
    tried: set[str] = set()
    queue.waiting.append(chan)
    chan.extra["queue_join"] = start
    _caller_event(
        pbx,
        "QueueCallerJoin",
        chan,
        [
            ("Queue", queue.name),
            ("Position", str(len(queue.waiting))),
            ("Count", str(len(queue.waiting))),
        ],
    )
    pbx.chan_event("MusicOnHoldStart", chan, [("Class", queue.musicclass)])
    try:
        while True:
            if deadline is not None and pbx.clock.monotonic() >= deadline:
                pbx.chan_event("MusicOnHoldStop", chan)
                queue.waiting.remove(chan)
                _caller_event(
                    pbx,
                    "QueueCallerLeave",
                    chan,
                    [("Queue", queue.name), ("Position", "1"), ("Count", str(len(queue.waiting)))],
                )
                pbx.set_var(chan, "QUEUESTATUS", "TIMEOUT")
                return None
            members = _order(pbx, queue) if queue.waiting and queue.waiting[0] is chan else []
            untried = [m for m in members if m.interface not in tried]
            if members and not untried:
                tried.clear()
                untried = members
            members = untried
            if not members:
                if queue.leavewhenempty and _empty(pbx, queue, queue.leavewhenempty):
                    pbx.chan_event("MusicOnHoldStop", chan)
                    queue.waiting.remove(chan)
                    _caller_event(
                        pbx,
                        "QueueCallerLeave",
                        chan,
                        [
                            ("Queue", queue.name),
                            ("Position", "1"),
                            ("Count", str(len(queue.waiting))),
                        ],
                    )
                    pbx.set_var(chan, "QUEUESTATUS", "LEAVEEMPTY")
                    return None
                await pbx.pause(chan, 1.0)
                continue
            member = members[0]
            tried.add(member.interface)
            out = await create_outbound(pbx, chan, member.interface)
            if isinstance(out, str):
                await pbx.pause(chan, float(queue.retry))
                continue
            start_outbound(pbx, chan, out, "AppQueue")
            _caller_event(
                pbx,
                "AgentCalled",
                chan,
                [
                    ("Queue", queue.name),
                    ("Interface", member.interface),
                    ("MemberName", member.name),
                ],
                out,
            )
            dial_begin(pbx, chan, out, member.interface.split("/", 1)[1])
            ring_start = pbx.clock.monotonic()
            status = await ring_callee(pbx, chan, out, float(queue.timeout), ring_start)
            if status == "CANCEL":
                dial_event(pbx, "DialEnd", chan, out, "CANCEL")
                # app_queue's hangupcall() publishes CANCEL again for each ringing member.
                dial_event(pbx, "DialEnd", chan, out, "CANCEL")
                out.extra["owned"] = False
                pbx.destroy(out, 0)
                raise ChannelHungUp()
            if status != "ANSWER":
                _caller_event(
                    pbx,
                    "AgentRingNoAnswer",
                    chan,
                    [
                        ("Queue", queue.name),
                        ("Interface", member.interface),
                        ("MemberName", member.name),
                        ("RingTime", str(int((pbx.clock.monotonic() - ring_start) * 1000))),
                    ],
                    out,
                )
                dial_event(pbx, "DialEnd", chan, out, status)
                dial_event(pbx, "DialEnd", chan, out, "CANCEL")
                out.extra["owned"] = False
                pbx.destroy(out, 0)
                await pbx.pause(chan, float(queue.retry))
                continue
            dial_event(pbx, "DialEnd", chan, out, "ANSWER")
            cdr.dial_ended(pbx, chan, out, "ANSWER")
            pbx.chan_event("MusicOnHoldStop", chan)
            hold = int(pbx.clock.monotonic() - start)
            _member_vars(pbx, chan, queue, member, hold)
            _member_vars(pbx, out, queue, member, hold)
            _queue_vars(pbx, chan, queue)
            _queue_vars(pbx, out, queue)
            queue.waiting.remove(chan)
            _caller_event(
                pbx,
                "QueueCallerLeave",
                chan,
                [("Queue", queue.name), ("Position", "1"), ("Count", str(len(queue.waiting)))],
            )
            pbx.set_var(chan, "QUEUEPOSITION", "1")
            pbx.set_var(chan, "QUEUEWAIT", str(hold))
            pbx.set_var(chan, "QUEUEWAIT_MS", str(int((pbx.clock.monotonic() - start) * 1000)))
            ring = int(pbx.clock.monotonic() - ring_start)
            member_info = [
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
            ]
            _caller_event(
                pbx,
                "AgentConnect",
                chan,
                [*member_info, ("HoldTime", str(hold)), ("RingTime", str(ring))],
                out,
            )
            member.in_call = True
            talk_start = pbx.clock.monotonic()

            def complete(
                member: QueueMember = member,
                out: Channel = out,
                hold: int = hold,
                talk_start: float = talk_start,
                member_info: list[tuple[str, str]] = member_info,
            ) -> None:
                member.in_call = False
                member.calls += 1
                member.last_call = pbx.clock.now().timestamp()
                queue.completed += 1
                reason = "caller" if chan.hangup_pending or chan.hungup else "agent"
                talk = str(int(pbx.clock.monotonic() - talk_start))
                _caller_event(
                    pbx,
                    "AgentComplete",
                    chan,
                    [*member_info, ("HoldTime", str(hold)), ("TalkTime", talk), ("Reason", reason)],
                    out,
                )

            await bridge_call(pbx, chan, out, "AppQueue", complete)
            _queue_vars(pbx, chan, queue)
            chan.check()
            if "c" in options:
                # The member hung up and option c lets the caller go on (app_queue's
                # QUEUE_CONTINUE; trace daemon-down-fallback).
                pbx.set_var(chan, "QUEUESTATUS", "CONTINUE")
                return None
            pbx.request_hangup(chan, 16, soft=True)
            raise ChannelHungUp()
    except ChannelHungUp:
        if chan in queue.waiting:
            position = queue.waiting.index(chan) + 1
            queue.waiting.remove(chan)
            queue.abandoned += 1
            hold = int(pbx.clock.monotonic() - start)
            _caller_event(
                pbx,
                "QueueCallerAbandon",
                chan,
                [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("OriginalPosition", "1"),
                    ("HoldTime", str(hold)),
                ],
            )
            _caller_event(
                pbx,
                "QueueCallerLeave",
                chan,
                [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("Count", str(len(queue.waiting))),
                ],
            )
            pbx.chan_event("MusicOnHoldStop", chan)
        raise
