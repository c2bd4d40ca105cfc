"""The AMI server side: banner, Login, the actions the daemon sends, and events.

Replies and list responses are shaped like Asterisk 22's (see the f-queries-live
and f2-* traces): list items carry the ActionID and no Timestamp, a failed
Login is answered after about one second and the socket is then closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.sim.channels import Channel
from callcenter.sim.pbx import Headers, Pbx, QueueMember

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
FAILED_LOGIN_DELAY = 1.0


@dataclass
class AmiUser:
    username: str
    secret: str
    #: advanced filters as (action, event name, header, regex); empty: every event
    filters: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: manager.conf "read" classes (None: all)
    read: set[str] | None = None

    def wants(self, block: Headers) -> bool:
        if self.read is not None and "all" not in self.read:
            privilege = next((v for k, v in block if k == "Privilege"), "")
            classes = {c for c in privilege.split(",") if c and c != "all"}
            if classes and not classes & self.read:
                return False
        if not self.filters:
            return True
        name = block[0][1]
        included = False
        for action, event, header, pattern in self.filters:
            if event and event != name:
                continue
            if header:
                values = [v for k, v in block if k == header]
                if not values or not any(re.search(pattern, v) for v in values):
                    continue
            if action == "exclude":
                return False
            included = True
        return included


def parse_manager_conf(text: str) -> dict[str, AmiUser]:
    """Users of ``manager.conf`` with their secrets and advanced event filters."""
    users: dict[str, AmiUser] = {}
    current: AmiUser | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            name = line[1 : line.index("]")]
            current = None if name == "general" else users.setdefault(name, AmiUser(name, ""))
            continue
        if current is None:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "secret":
            current.secret = value
        elif key == "read":
            current.read = {c.strip() for c in value.split(",") if c.strip()}
        elif key.startswith("eventfilter("):
            criteria = dict(re.findall(r"(\w+)\(([^)]*)\)", key[len("eventfilter(") : -1]))
            current.filters.append(
                (
                    criteria.get("action", "include"),
                    criteria.get("name", ""),
                    criteria.get("header", ""),
                    value,
                )
            )
    return users


def encode(headers: Headers) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode()


class AmiServer:
    def __init__(self, pbx: Pbx, users: dict[str, AmiUser]) -> None:
        self.pbx = pbx
        self.users = users
        self.server: asyncio.base_events.Server | None = None
        self.sessions: set[AmiSession] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self._accept, host, port)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for session in list(self.sessions):
            session.close()
        for _ in range(50):
            if not self.sessions:
                break
            await asyncio.sleep(0.01)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.run()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.sessions.discard(session)
            session.close()


class AmiSession:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.pbx = server.pbx
        self.reader = reader
        self.writer = writer
        self.user: AmiUser | None = None
        self.events = True

    def send(self, headers: Headers) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(headers))

    def on_event(self, block: Headers) -> None:
        if self.events and self.user is not None and self.user.wants(block):
            self.send(block)

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.pbx.listeners.remove(self.on_event)
        if not self.writer.is_closing():
            self.writer.close()

    async def run(self) -> None:
        self.writer.write(BANNER)
        while True:
            message = await self._read_message()
            if message is None:
                return
            action = next((v for k, v in message if k.lower() == "action"), "")
            if not await self.dispatch(action.lower(), message):
                return
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()

    async def _read_message(self) -> list[tuple[str, str]] | None:
        headers: list[tuple[str, str]] = []
        while True:
            try:
                line = await self.reader.readline()
            except (ConnectionError, asyncio.LimitOverrunError):
                return None
            if not line:
                return None
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                if headers:
                    return headers
                continue
            key, _, value = text.partition(":")
            headers.append((key.strip(), value.strip()))

    async def dispatch(self, action: str, msg: list[tuple[str, str]]) -> bool:
        get = _getter(msg)
        aid: Headers = [("ActionID", get("ActionID"))] if get("ActionID") else []
        if action == "login":
            user = self.server.users.get(get("Username"))
            if user is None or user.secret != get("Secret"):
                await asyncio.sleep(FAILED_LOGIN_DELAY)
                self.send([("Response", "Error"), *aid, ("Message", "Authentication failed")])
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
                return False
            self.user = user
            self.events = get("Events").lower() not in ("off", "no", "false", "0")
            self.send([("Response", "Success"), *aid, ("Message", "Authentication accepted")])
            up = int(self.pbx.clock.now().timestamp() - self.pbx.started)
            self.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", str(up)),
                    ("LastReload", str(up)),
                    ("Status", "Fully Booted"),
                ]
            )
            self.pbx.listeners.append(self.on_event)
            return True
        if self.user is None:
            self.send([("Response", "Error"), *aid, ("Message", "Permission denied")])
            return True
        if action == "logoff":
            self.send([("Response", "Goodbye"), *aid, ("Message", "Thanks for all the fish.")])
            return False
        handler = getattr(self, f"act_{action}", None)
        if handler is None:
            self.send(
                [
                    ("Response", "Error"),
                    *aid,
                    (
                        "Message",
                        f"Invalid/unknown command: {get('Action')}. Use Action: ListCommands to show available commands.",
                    ),
                ]
            )
            return True
        handler(get, aid, msg)
        return True

    # ------------------------------------------------------------------ actions

    def ok(self, aid: Headers, message: str) -> None:
        self.send([("Response", "Success"), *aid, ("Message", message)])

    def error(self, aid: Headers, message: str) -> None:
        self.send([("Response", "Error"), *aid, ("Message", message)])

    def channel(self, get: _Get, aid: Headers, header: str = "Channel") -> Channel | None:
        name = get(header)
        if not name:
            self.error(aid, "No channel specified")
            return None
        chan = self.pbx.find(name)
        if chan is None:
            self.error(aid, "No such channel")
        return chan

    def act_ping(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        self.send(
            [
                ("Response", "Success"),
                *aid,
                ("Ping", "Pong"),
                ("Timestamp", f"{self.pbx.clock.now().timestamp():.6f}"),
            ]
        )

    def act_originate(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        variables: dict[str, str] = {}
        for key, value in msg:
            if key.lower() == "variable":
                for part in value.split(","):
                    name, _, val = part.partition("=")
                    variables[name.strip()] = val
        channel = get("Channel")
        if not channel or "/" not in channel:
            self.error(aid, "Channel not specified")
            return
        self.ok(aid, "Originate successfully queued")
        action_id = get("ActionID")

        def response(block: Headers) -> None:
            self.on_event(block)

        self.pbx.spawn(
            self.pbx.originate(
                channel,
                context=get("Context"),
                exten=get("Exten"),
                priority=int(get("Priority") or 1),
                callerid=get("CallerID"),
                variables=variables,
                ring_seconds=float(get("Timeout") or 30000) / 1000.0,
                action_id=action_id,
                on_response=response,
            )
        )

    def act_redirect(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        chan = self.channel(get, aid)
        if chan is None:
            return
        context, exten = get("Context"), get("Exten")
        if self.pbx.dialplan.locate(context, exten) is None:
            self.error(aid, "Extension does not exist.")
            return
        self.pbx.redirect(chan, context, exten, int(get("Priority") or 1))
        extra = get("ExtraChannel")
        if extra and (other := self.pbx.find(extra)) is not None:
            self.pbx.redirect(
                other,
                get("ExtraContext") or context,
                get("ExtraExten") or exten,
                int(get("ExtraPriority") or 1),
            )
            self.ok(aid, "Dual Redirect successful")
            return
        self.ok(aid, "Redirect successful")

    def act_setvar(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        name = get("Variable")
        if not name:
            self.error(aid, "No variable specified")
            return
        if get("Channel"):
            chan = self.channel(get, aid)
            if chan is None:
                return
            self.pbx.set_var(chan, name, get("Value"))
        else:
            self.pbx.globals[name] = get("Value")
        self.ok(aid, "Variable Set")

    def act_getvar(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        name = get("Variable")
        if get("Channel"):
            chan = self.channel(get, aid)
            if chan is None:
                return
            value = self.pbx.substitute(chan, "${" + name + "}")
        else:
            value = self.pbx.globals.get(name, "")
        self.send([("Response", "Success"), *aid, ("Variable", name), ("Value", value)])

    def act_hangup(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        name = get("Channel")
        cause = int(get("Cause") or 16)
        if name.startswith("/") and name.endswith("/") and len(name) > 2:
            pattern = re.compile(name[1:-1])
            matched = [c for c in list(self.pbx.channels.values()) if pattern.search(c.name)]
            self.send(
                [
                    ("Response", "Success"),
                    *aid,
                    ("EventList", "start"),
                    ("Message", "Channels hung up will follow"),
                ]
            )
            for victim in matched:
                self.pbx.request_hangup(victim, cause, soft=True)
                self.send([("Event", "ChannelHungup"), ("Channel", victim.name), *aid])
            self.send(
                [
                    ("Event", "ChannelsHungupListComplete"),
                    *aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(matched))),
                ]
            )
            return
        chan = self.channel(get, aid)
        if chan is None:
            return
        self.pbx.request_hangup(chan, cause, soft=True)
        self.ok(aid, "Channel Hungup")

    def act_park(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        chan = self.channel(get, aid)
        if chan is None:
            return
        timeout_ms = get("Timeout")
        returning = self.pbx.find(get("TimeoutChannel"))
        return_to = self.pbx.device_of(returning) if returning is not None else ""
        self.pbx.park(
            chan, timeout=float(timeout_ms) / 1000.0 if timeout_ms else 45.0, return_to=return_to
        )
        self.ok(aid, "Park successful")

    def act_mixmonitor(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        chan = self.channel(get, aid)
        if chan is None:
            return
        filename = get("File") or f"{chan.uniqueid}.wav"
        self.pbx.set_var(chan, "MIXMONITOR_FILENAME", filename)
        self.pbx.chan_event("MixMonitorStart", chan)
        chan.extra["mixmonitor"] = filename
        self.ok(aid, "")

    def act_mixmonitormute(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        chan = self.channel(get, aid)
        if chan is None:
            return
        state = get("State") in ("1", "true", "yes", "on")
        self.pbx.chan_event(
            "MixMonitorMute",
            chan,
            [("Direction", get("Direction") or "both"), ("State", "1" if state else "0")],
        )
        chan.extra["muted"] = state
        self.send([("Response", "Success"), *aid])

    def act_queuepause(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        interface = get("Interface")
        paused = get("Paused").lower() in ("true", "yes", "1")
        queues = (
            [self.pbx.queues[get("Queue")]]
            if get("Queue") in self.pbx.queues
            else ([] if get("Queue") else list(self.pbx.queues.values()))
        )
        found = False
        for queue in queues:
            for member in queue.members:
                if member.interface == interface:
                    found = True
                    member.paused, member.reason = paused, get("Reason") if paused else ""
                    member.last_pause = self.pbx.clock.now().timestamp()
                    self.pbx.queue_member_event("QueueMemberPause", queue, member, 1)
        if not found:
            self.error(aid, "Interface not found")
            return
        self.ok(
            aid, "Interface paused successfully" if paused else "Interface unpaused successfully"
        )

    def act_queueadd(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        queue = self.pbx.queues.get(get("Queue"))
        if queue is None:
            self.error(aid, "Unable to add interface to queue: No such queue")
            return
        interface = get("Interface")
        if any(m.interface == interface for m in queue.members):
            self.error(aid, "Unable to add interface: Already there")
            return
        member = QueueMember(interface, get("MemberName") or interface, dynamic=True)
        member.paused = get("Paused").lower() in ("true", "yes", "1")
        member.reason = get("Reason") if member.paused else ""
        queue.members.append(member)
        self.pbx.queue_member_event("QueueMemberAdded", queue, member, 1)
        self.ok(aid, "Added interface to queue")

    def act_queueremove(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        queue = self.pbx.queues.get(get("Queue"))
        member = next(
            (m for m in (queue.members if queue else []) if m.interface == get("Interface")), None
        )
        if queue is None or member is None:
            self.error(aid, "Unable to remove interface: Not there")
            return
        if not member.dynamic:
            self.error(aid, "Member not dynamic")
            return
        queue.members.remove(member)
        self.pbx.queue_member_event("QueueMemberRemoved", queue, member, 1)
        self.ok(aid, "Removed interface from queue")

    def act_queuestatus(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        self.send(
            [
                ("Response", "Success"),
                *aid,
                ("EventList", "start"),
                ("Message", "Queue status will follow"),
            ]
        )
        items = 0
        for queue in self.pbx.queues.values():
            if get("Queue") and get("Queue") != queue.name:
                continue
            self.send(
                [
                    ("Event", "QueueParams"),
                    ("Queue", queue.name),
                    ("Max", "0"),
                    ("Strategy", queue.strategy),
                    ("Calls", str(len(queue.waiting))),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", str(queue.completed)),
                    ("Abandoned", str(queue.abandoned)),
                    ("ServiceLevel", "0"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                    *aid,
                ]
            )
            items += 1
            for member in queue.members:
                self.send(
                    [
                        ("Event", "QueueMember"),
                        ("Queue", queue.name),
                        ("Name", member.name),
                        ("Location", member.interface),
                        ("StateInterface", member.interface),
                        ("Membership", "static"),
                        ("Penalty", "0"),
                        ("CallsTaken", str(member.calls)),
                        ("LastCall", str(int(member.last_call))),
                        ("LastPause", str(int(member.last_pause))),
                        ("LoginTime", str(int(self.pbx.started))),
                        ("InCall", "1" if member.in_call else "0"),
                        ("Status", str(self._member_status(member))),
                        ("Paused", "1" if member.paused else "0"),
                        ("PausedReason", member.reason),
                        ("Wrapuptime", "0"),
                        *aid,
                    ]
                )
                items += 1
            for position, chan in enumerate(queue.waiting, 1):
                self.send(
                    [
                        ("Event", "QueueEntry"),
                        ("Queue", queue.name),
                        ("Position", str(position)),
                        ("Channel", chan.name),
                        ("Uniqueid", chan.uniqueid),
                        ("CallerIDNum", chan.cid_num or "<unknown>"),
                        ("CallerIDName", chan.cid_name or "<unknown>"),
                        ("ConnectedLineNum", chan.conn_num or "<unknown>"),
                        ("ConnectedLineName", chan.conn_name or "<unknown>"),
                        (
                            "Wait",
                            str(
                                int(
                                    self.pbx.clock.monotonic()
                                    - chan.extra.get("queue_join", chan.created)
                                )
                            ),
                        ),
                        ("Priority", "0"),
                        *aid,
                    ]
                )
                items += 1
        self.send(
            [
                ("Event", "QueueStatusComplete"),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(items)),
            ]
        )

    def _member_status(self, member: object) -> int:
        interface = getattr(member, "interface", "")
        busy = any(self.pbx.device_of(c) == interface for c in self.pbx.channels.values())
        endpoint = interface.split("/", 1)[-1]
        phone = self.pbx.phones.get(endpoint)
        if phone is not None and not phone.registered:
            return 5
        return 2 if busy else 1

    def _channel_row(self, chan: Channel, event: str, aid: Headers) -> Headers:
        seconds = int(self.pbx.clock.monotonic() - chan.created)
        bridge = chan.bridge.id if chan.bridge else ""
        if event == "CoreShowChannel":
            hours, rest = divmod(seconds, 3600)
            return [
                ("Event", event),
                *aid,
                *chan.headers(),
                ("Application", chan.app),
                ("ApplicationData", chan.appdata),
                ("Duration", f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"),
                ("BridgeId", bridge),
            ]
        return [
            ("Event", "Status"),
            ("Privilege", "Call"),
            *chan.headers(),
            ("Type", chan.tech),
            ("DNID", ""),
            ("EffectiveConnectedLineNum", chan.conn_num or "<unknown>"),
            ("EffectiveConnectedLineName", chan.conn_name or "<unknown>"),
            ("TimeToHangup", "0"),
            ("BridgeID", bridge),
            ("Application", chan.app),
            ("Data", chan.appdata),
            ("Nativeformats", "(ulaw)"),
            ("Readformat", "ulaw"),
            ("Readtrans", ""),
            ("Writeformat", "ulaw"),
            ("Writetrans", ""),
            ("Callgroup", "0"),
            ("Pickupgroup", "0"),
            ("Seconds", str(seconds)),
        ]

    def act_coreshowchannels(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        self.send(
            [
                ("Response", "Success"),
                *aid,
                ("EventList", "start"),
                ("Message", "Channels will follow"),
            ]
        )
        chans = list(self.pbx.channels.values())
        for chan in chans:
            self.send(self._channel_row(chan, "CoreShowChannel", aid))
        self.send(
            [
                ("Event", "CoreShowChannelsComplete"),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(chans))),
            ]
        )

    def act_status(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        if get("Channel"):
            chan = self.pbx.find(get("Channel"))
            if chan is None:
                self.error(aid, "No such channel")
                return
            chans = [chan]
        else:
            chans = list(self.pbx.channels.values())
        self.send(
            [
                ("Response", "Success"),
                *aid,
                ("EventList", "start"),
                ("Message", "Channel status will follow"),
            ]
        )
        wanted = [v.strip() for v in get("Variables").split(",") if v.strip()]
        for chan in chans:
            row = self._channel_row(chan, "Status", aid)
            row += [
                ("Variable", f"{name}={self.pbx.substitute(chan, '${' + name + '}')}")
                for name in wanted
            ]
            self.send([*row, *aid])
        self.send(
            [
                ("Event", "StatusComplete"),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(chans))),
                ("Items", str(len(chans))),
            ]
        )

    def act_bridgelist(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        bridges = {
            c.bridge.id: c.bridge for c in self.pbx.channels.values() if c.bridge is not None
        }
        self.send(
            [
                ("Response", "Success"),
                *aid,
                ("EventList", "start"),
                ("Message", "Bridge listing will follow"),
            ]
        )
        for bridge in bridges.values():
            self.send([("Event", "BridgeListItem"), *aid, *bridge.headers()])
        self.send(
            [
                ("Event", "BridgeListComplete"),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(bridges))),
            ]
        )

    def act_blindtransfer(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        chan = self.channel(get, aid)
        if chan is None:
            return
        from callcenter.sim.transfers import blind_transfer

        if blind_transfer(self.pbx, chan, get("Context") or chan.context, get("Exten")):
            self.ok(aid, "Transfer succeeded")
        else:
            self.error(aid, "Transfer failed")

    def act_atxfer(self, get: _Get, aid: Headers, msg: list[tuple[str, str]]) -> None:
        chan = self.channel(get, aid)
        if chan is None:
            return
        from callcenter.sim.transfers import attended_transfer

        attended_transfer(self.pbx, chan, get("Context") or chan.context, get("Exten"))
        self.ok(aid, "Atxfer successfully queued")


_Get = Callable[[str], str]


def _getter(msg: list[tuple[str, str]]) -> _Get:
    lowered: dict[str, str] = {}
    for key, value in msg:
        lowered.setdefault(key.lower(), value)

    def get(key: str) -> str:
        return lowered.get(key.lower(), "")

    return get
