"""A small live AMI peer over TCP that plays real trace content (test helper).

It speaks the wire protocol the way the recorded Asterisk 22 did (banner,
Login, list replies with EventList start … Complete), keeps its own table of
channels, bridges and queue callers from the events it plays, and answers
CoreShowChannels / Status / BridgeList / BridgeInfo / QueueStatus from that
table. Played events keep their recorded content; only ``Timestamp:`` is set
to the peer's clock when played, so durations are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


def parse_block(block: bytes) -> list[tuple[str, str]]:
    headers = []
    for line in block.decode("utf-8", "replace").split("\r\n"):
        if ": " in line:
            key, value = line.split(": ", 1)
            headers.append((key, value))
        elif line.endswith(":"):
            headers.append((line[:-1], ""))
    return headers


def render(headers: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n"


@dataclass
class PeerChannel:
    headers: dict[str, str]
    created: float
    bridge: str = ""


@dataclass
class AmiPeer:
    username: str = "callcenter"
    secret: str = "s3cret"
    port: int = 0
    accepting: bool = True
    connections: int = 0
    logins: int = 0
    channels: dict[str, PeerChannel] = field(default_factory=dict)
    bridges: dict[str, set[str]] = field(default_factory=dict)
    queue: dict[str, tuple[str, int, float]] = field(default_factory=dict)
    actions: list[dict[str, str]] = field(default_factory=list)
    _clients: set[asyncio.StreamWriter] = field(default_factory=set)
    _server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop(self) -> None:
        """Cut every client connection (the link sees the socket close)."""
        for writer in list(self._clients):
            writer.close()
        self._clients.clear()
        await asyncio.sleep(0)

    @staticmethod
    def now() -> float:
        return time.time()

    # ------------------------------------------------------------------ playing
    def play(self, block: bytes) -> float:
        """Raise one recorded event now: update the table, send it to logged-in clients."""
        at = self.now()
        headers = [(k, f"{at:.6f}" if k == "Timestamp" else v) for k, v in parse_block(block)]
        self._apply(dict(headers), at)
        data = render(headers)
        for writer in list(self._clients):
            writer.write(data)
        return at

    def send_raw(self, data: bytes) -> None:
        for writer in list(self._clients):
            writer.write(data)

    def _apply(self, h: dict[str, str], at: float) -> None:
        event, uid = h.get("Event", ""), h.get("Uniqueid", "")
        channel = self.channels.get(uid)
        if event == "Newchannel":
            self.channels[uid] = PeerChannel(dict(h), at)
        elif channel is None:
            return
        elif event in ("Newstate", "NewCallerid", "Newexten"):
            for key in ("ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                        "Context", "Exten", "Application", "AppData"):  # fmt: skip
                if key in h:
                    channel.headers[key] = h[key]
        elif event == "BridgeEnter":
            channel.bridge = h["BridgeUniqueid"]
            self.bridges.setdefault(channel.bridge, set()).add(uid)
        elif event == "BridgeLeave":
            self.bridges.get(channel.bridge, set()).discard(uid)
            if not self.bridges.get(channel.bridge):
                self.bridges.pop(channel.bridge, None)
            channel.bridge = ""
        elif event == "QueueCallerJoin":
            self.queue[uid] = (h.get("Queue", ""), int(h.get("Position", "1")), at)
        elif event == "QueueCallerLeave":
            self.queue.pop(uid, None)
        elif event == "Hangup":
            self.channels.pop(uid, None)
            self.queue.pop(uid, None)
            if channel.bridge in self.bridges:
                self.bridges[channel.bridge].discard(uid)

    def linkedids(self) -> set[str]:
        return {c.headers["Linkedid"] for c in self.channels.values()}

    # ------------------------------------------------------------------ serving
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if not self.accepting:
            writer.close()
            return
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        logged_in = False
        buffer = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data
                while b"\r\n\r\n" in buffer:
                    block, buffer = buffer.split(b"\r\n\r\n", 1)
                    action = dict(parse_block(block))
                    self.actions.append(action)
                    logged_in = await self._answer(writer, action, logged_in)
                    if writer.is_closing():
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(
        self, writer: asyncio.StreamWriter, action: dict[str, str], logged_in: bool
    ) -> bool:
        name = action.get("Action", "")
        aid = [("ActionID", action.get("ActionID", ""))]
        if name == "Login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                self.logins += 1
                writer.write(render([("Response", "Success"), *aid,
                                     ("Message", "Authentication accepted")]))  # fmt: skip
                writer.write(render([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                     ("Status", "Fully Booted")]))  # fmt: skip
                self._clients.add(writer)
                return True
            await asyncio.sleep(0.2)  # Asterisk waits about 1 s before refusing
            writer.write(render([("Response", "Error"), *aid,
                                 ("Message", "Authentication failed")]))  # fmt: skip
            writer.close()
            return False
        if not logged_in:
            writer.write(render([("Response", "Error"), *aid, ("Message", "Permission denied")]))
            return False
        if name == "Ping":
            writer.write(render([("Response", "Success"), *aid, ("Ping", "Pong"),
                                 ("Timestamp", f"{self.now():.6f}")]))  # fmt: skip
        elif name in ("CoreShowChannels", "Status"):
            self._list(writer, aid, name)
        elif name == "BridgeList":
            items = [
                [("Event", "BridgeListItem"), *aid, ("BridgeUniqueid", bridge),
                 ("BridgeType", "basic"), ("BridgeNumChannels", str(len(members)))]
                for bridge, members in self.bridges.items()
            ]  # fmt: skip
            self._reply_list(writer, aid, "Bridge listing will follow", items, "BridgeListComplete")
        elif name == "BridgeInfo":
            members = self.bridges.get(action.get("BridgeUniqueid", ""), set())
            items = [
                [("Event", "BridgeInfoChannel"), *aid,
                 ("Channel", self.channels[uid].headers["Channel"]), ("Uniqueid", uid),
                 ("Linkedid", self.channels[uid].headers["Linkedid"])]
                for uid in members if uid in self.channels
            ]  # fmt: skip
            self._reply_list(
                writer, aid, "Bridge channel listing will follow", items, "BridgeInfoComplete"
            )
        elif name == "QueueStatus":
            items = [
                [("Event", "QueueEntry"), ("Queue", queue), ("Position", str(position)),
                 ("Channel", self.channels[uid].headers["Channel"]), ("Uniqueid", uid),
                 ("Wait", str(int(self.now() - since))), *aid]
                for uid, (queue, position, since) in self.queue.items() if uid in self.channels
            ]  # fmt: skip
            self._reply_list(writer, aid, "Queue status will follow", items, "QueueStatusComplete")
        elif name == "Atxfer":  # Asterisk 22.10.1's words (checked on the real one)
            writer.write(render([("Response", "Success"), *aid,
                                 ("Message", "Atxfer successfully queued")]))  # fmt: skip
        elif name in ("Redirect", "Setvar", "Hangup", "QueuePause", "BlindTransfer",
                      "Park", "MixMonitorMute", "Originate"):  # fmt: skip
            writer.write(render([("Response", "Success"), *aid, ("Message", f"{name} done")]))
        else:
            writer.write(render([("Response", "Error"), *aid, ("Message",
                f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.")]))  # fmt: skip
        return True

    def _list(self, writer: asyncio.StreamWriter, aid: list[tuple[str, str]], name: str) -> None:
        items = []
        for uid, channel in self.channels.items():
            h = channel.headers
            seconds = int(self.now() - channel.created)
            common = [
                ("Channel", h["Channel"]), ("ChannelState", h.get("ChannelState", "")),
                ("ChannelStateDesc", h.get("ChannelStateDesc", "")),
                ("CallerIDNum", h.get("CallerIDNum", "")), ("CallerIDName", h.get("CallerIDName", "")),
                ("Context", h.get("Context", "")), ("Exten", h.get("Exten", "")),
                ("Uniqueid", uid), ("Linkedid", h["Linkedid"]),
                ("Application", h.get("Application", "")),
            ]  # fmt: skip
            if name == "CoreShowChannels":
                duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
                items.append([("Event", "CoreShowChannel"), *aid, *common,
                              ("Duration", duration), ("BridgeId", channel.bridge)])  # fmt: skip
            else:
                items.append([("Event", "Status"), ("Privilege", "Call"), *common,
                              ("BridgeID", channel.bridge), ("Seconds", str(seconds)), *aid])  # fmt: skip
        complete = "CoreShowChannelsComplete" if name == "CoreShowChannels" else "StatusComplete"
        message = (
            "Channels will follow" if name == "CoreShowChannels" else "Channel status will follow"
        )
        self._reply_list(writer, aid, message, items, complete)

    @staticmethod
    def _reply_list(
        writer: asyncio.StreamWriter,
        aid: list[tuple[str, str]],
        message: str,
        items: list[list[tuple[str, str]]],
        complete: str,
    ) -> None:
        writer.write(render([("Response", "Success"), *aid, ("EventList", "start"),
                             ("Message", message)]))  # fmt: skip
        for item in items:
            writer.write(render(item))
        writer.write(render([("Event", complete), *aid, ("EventList", "Complete"),
                             ("ListItems", str(len(items)))]))  # fmt: skip
