"""The AMI link: one logged-in connection to Asterisk, kept alive for the daemon's life.

Why its own loop instead of panoramisk's ``Manager``: the Manager reconnects
on a fixed timer, re-sends queued actions after a reconnect (a Redirect must
never run twice) and has no place to resynchronise. Here each connection is
one coroutine: connect, log in, take a snapshot of Asterisk (channels,
bridges, queues) while live events wait in a short buffer, hand the snapshot
to the tracker, replay the buffer, then pump events until the link drops;
then back off exponentially (with jitter) and start again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias

from panoramisk.actions import Action
from panoramisk.message import Message

from callcenter.ami.framing import MAX_FRAME_BYTES
from callcenter.ami.protocol import GuardedAMIProtocol
from callcenter.clock import Clock, SystemClock
from callcenter.core.calltracker import AsteriskSnapshot, ChannelSnapshot

log = logging.getLogger(__name__)

Response: TypeAlias = "Message | list[Message]"

#: Live events held while a resync snapshot is taken (it takes well under a second).
MAX_BUFFERED_EVENTS = 100_000


class _SingleReply(Action):  # type: ignore[misc]
    """An action complete with its first reply: an async Originate's later
    OriginateResponse then reaches the event stream (and the tracker) instead. Atxfer too:
    its "Atxfer successfully queued" looked to panoramisk like an async Originate's, and
    without an ``Async`` header the reply was dropped and the transfer timed out."""

    @property
    def multi(self) -> bool:
        return False


class AmiError(Exception):
    """Base of the link's errors."""


class AmiNotConnected(AmiError):
    """An action was sent while the link is down."""


class AmiAuthError(AmiError):
    """Asterisk refused the login (wrong user/secret or not allowed from this host)."""


class AmiActionError(AmiError):
    """Asterisk answered an action with ``Response: Error``."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI {action} failed: {message}")
        self.action = action
        self.message = message


def _seconds(duration: str) -> float:
    """``00:01:05`` → 65.0 (CoreShowChannel's Duration)."""
    try:
        parts = [int(p) for p in duration.split(":")]
    except ValueError:
        return 0.0
    total = 0
    for part in parts:
        total = total * 60 + part
    return float(total)


def _text(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value in ("<unknown>", "<null>", None) else str(value)


class AmiLink:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: Callable[[Message], None] | None = None,
        on_resync: Callable[[AsteriskSnapshot], None] | None = None,
        on_state: Callable[[bool, str], None] | None = None,
        on_originate: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        ping_interval: float = 10.0,
        action_timeout: float = 10.0,
        max_frame: int = MAX_FRAME_BYTES,
        max_buffered: int = MAX_BUFFERED_EVENTS,
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self._on_event = on_event or (lambda message: None)
        self._on_resync = on_resync or (lambda snapshot: None)
        self._on_state = on_state or (lambda connected, detail: None)
        self._on_originate = on_originate or (lambda action_id: None)
        self._clock = clock or SystemClock()
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.ping_interval, self.action_timeout = ping_interval, action_timeout
        self.max_frame = max_frame
        self.max_buffered = max_buffered
        self._protocol: GuardedAMIProtocol | None = None
        self._lost: asyncio.Future[None] | None = None
        self._buffer: list[Message] | None = None
        self.connected = False
        self.connections = 0
        self.resyncs = 0
        self.oversized_drops = 0
        self.banner = ""

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Keep a connection up until cancelled."""
        delay = self.backoff_initial
        failures = 0  # in a row: the first is a warning, the repeats only info
        while True:
            try:
                await self._session()
                delay = self.backoff_initial
                failures = 0
                detail = "connection lost"
                log.warning("AMI connection to %s:%s lost", self.host, self.port)
            except AmiAuthError as exc:
                detail = str(exc)
                log.error("%s; retrying in %.1f s", exc, self.backoff_max)
                delay = self.backoff_max
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"
                failures += 1
                if not isinstance(exc, OSError | ConnectionError | TimeoutError | AmiError):
                    log.exception("AMI session failed unexpectedly; reconnecting")
                log.log(
                    logging.WARNING if failures == 1 else logging.INFO,
                    "AMI %s:%s unreachable (%s), attempt %d",
                    self.host, self.port, detail, failures,
                )  # fmt: skip
            self._set_state(False, detail)
            wait = delay * random.uniform(0.8, 1.2)
            log.debug("AMI reconnect in %.2f s", wait)
            await asyncio.sleep(wait)
            delay = min(self.backoff_max, delay * 2)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.action_timeout):
            transport, protocol = await loop.create_connection(
                lambda: GuardedAMIProtocol(self, self.max_frame), self.host, self.port
            )
        self.connections += 1
        self._protocol = protocol
        self._lost = loop.create_future()
        pinger: asyncio.Task[None] | None = None
        try:
            reply = await self._request(
                {
                    "Action": "Login",
                    "Username": self._username,
                    "Secret": self._secret,
                    "Events": "on",
                }
            )
            assert isinstance(reply, Message)
            if not reply.success:
                raise AmiAuthError(f"AMI login refused: {_text(reply, 'Message')}")
            self.banner = protocol.splitter.banner or ""
            self._buffer = []
            snapshot = await self.snapshot()
            buffered, self._buffer = self._buffer, None
            self._on_resync(snapshot)
            self.resyncs += 1
            for message in buffered:
                self._deliver(message)
            self._set_state(True, f"logged in to {self.host}:{self.port}")
            log.info("AMI logged in to %s:%s (%s)", self.host, self.port, self.banner)
            pinger = asyncio.create_task(self._ping_forever())
            await self._lost
        finally:
            self._buffer = None
            if pinger is not None:
                pinger.cancel()
            self.connected = False
            self._protocol = None
            transport.close()

    def on_connection_lost(self, protocol: GuardedAMIProtocol, exc: Exception | None) -> None:
        if protocol.dropped_for_size:
            self.oversized_drops += 1
        if protocol is self._protocol and self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    async def _ping_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._request({"Action": "Ping"})
            except (TimeoutError, ConnectionError, AmiError):
                log.warning("AMI ping unanswered; dropping the connection")
                if self._protocol is not None:
                    self._protocol.abort()
                return

    def _set_state(self, connected: bool, detail: str) -> None:
        self.connected = connected
        try:
            self._on_state(connected, detail)
        except Exception:
            log.exception("AMI state listener failed")

    # ------------------------------------------------------------------ events
    def on_message(self, message: Message) -> None:
        if self._buffer is not None:
            if len(self._buffer) < self.max_buffered:
                self._buffer.append(message)
            elif self._protocol is not None and not self._protocol.transport.is_closing():
                # Dropping events would leave the tracker wrong until the next resync:
                # start over with a fresh connection and snapshot instead.
                log.error(
                    "AMI: over %d events arrived during the resync; reconnecting",
                    self.max_buffered,
                )
                self._protocol.abort()
            return
        self._deliver(message)

    def _deliver(self, message: Message) -> None:
        try:
            self._on_event(message)
        except Exception:
            log.exception("AMI event listener failed on %s", message.get("Event"))

    # ------------------------------------------------------------------ actions
    async def _request(
        self, action: Mapping[str, Any], wait_seconds: float | None = None
    ) -> Response:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiNotConnected("the AMI link is down")
        future = protocol.send(
            action if isinstance(action, Action) else Action(dict(action)), as_list=None
        )
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that arrives as the reply does, and the caller's task would never stop.
            async with asyncio.timeout(wait_seconds or self.action_timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            for key in [k for k, v in protocol.responses.items() if v.future is future]:
                protocol.responses.pop(key, None)
            raise

    async def send_action(
        self, action: Mapping[str, Any], wait_seconds: float | None = None
    ) -> Response:
        """Send any AMI action; returns the reply, or the list of messages of a list reply."""
        if not self.connected:
            raise AmiNotConnected("the AMI link is down")
        return await self._request(action, wait_seconds)

    async def _checked(
        self, action: Mapping[str, Any], wait_seconds: float | None = None
    ) -> Message:
        reply = await self.send_action(action, wait_seconds)
        first = reply[0] if isinstance(reply, list) else reply
        if not first.success:
            raise AmiActionError(str(action.get("Action")), _text(first, "Message"))
        return first

    async def list_action(self, action: Mapping[str, Any], item: str) -> list[Message]:
        """Run a list action (EventList start … Complete) and return its items named ``item``."""
        reply = await self._request(action)
        if isinstance(reply, Message):
            if not reply.success:
                log.warning("AMI %s refused: %s", action.get("Action"), _text(reply, "Message"))
            return []
        return [m for m in reply if _text(m, "Event") == item]

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str = "",
        variables: Mapping[str, str] | None = None,
        timeout_ms: int = 30_000,
    ) -> str:
        """Start an outbound call (async Originate); returns its ActionID at once.

        The result arrives as an ``originate_result`` domain event (tracker),
        which may come before or after the channel's own events.
        """
        action_id = f"cc-originate-{uuid.uuid4().hex[:12]}"
        self._on_originate(action_id)
        action: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "Timeout": str(timeout_ms),
            "Async": "true",
        }
        if caller_id:
            action["CallerID"] = caller_id
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        await self._checked(_SingleReply(action))
        return action_id

    async def redirect(
        self, channel: str, context: str, exten: str, priority: int = 1, extra_channel: str = ""
    ) -> Message:
        action = {
            "Action": "Redirect",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
        }
        if extra_channel:
            action |= {
                "ExtraChannel": extra_channel,
                "ExtraContext": context,
                "ExtraExten": exten,
                "ExtraPriority": str(priority),
            }
        return await self._checked(action)

    async def setvar(self, channel: str, variable: str, value: str) -> Message:
        return await self._checked(
            {"Action": "Setvar", "Channel": channel, "Variable": variable, "Value": value}
        )

    async def hangup(self, channel: str, cause: int | None = None) -> Message:
        action = {"Action": "Hangup", "Channel": channel}
        if cause is not None:
            action["Cause"] = str(cause)
        return await self._checked(action)

    async def queue_pause(
        self, queue: str, interface: str, paused: bool, reason: str = ""
    ) -> Message:
        action = {
            "Action": "QueuePause",
            "Interface": interface,
            "Paused": "true" if paused else "false",
        }
        if queue:
            action["Queue"] = queue
        if reason:
            action["Reason"] = reason
        return await self._checked(action)

    async def mixmonitor_mute(self, channel: str, mute: bool, direction: str = "both") -> Message:
        return await self._checked(
            {
                "Action": "MixMonitorMute",
                "Channel": channel,
                "Direction": direction,
                "State": "1" if mute else "0",
            }
        )

    async def blind_transfer(self, channel: str, context: str, exten: str) -> Message:
        return await self._checked(
            {"Action": "BlindTransfer", "Channel": channel, "Context": context, "Exten": exten}
        )

    async def atxfer(self, channel: str, context: str, exten: str) -> Message:
        """Attended transfer; Asterisk only acts if the Dial had the ``t`` option and
        ``features.conf`` sets the ``atxfer`` code."""
        return await self._checked(
            _SingleReply(
                {"Action": "Atxfer", "Channel": channel, "Context": context, "Exten": exten}
            )
        )

    async def park(
        self, channel: str, timeout_channel: str = "", parkinglot: str = "", timeout_ms: int = 0
    ) -> Message:
        action = {"Action": "Park", "Channel": channel}
        if timeout_channel:
            action["TimeoutChannel"] = timeout_channel
        if parkinglot:
            action["Parkinglot"] = parkinglot
        if timeout_ms:
            action["Timeout"] = str(timeout_ms)
        return await self._checked(action)

    # ------------------------------------------------------------------ resync
    async def snapshot(self) -> AsteriskSnapshot:
        """Asterisk's current channels, bridges and queue callers (used on every connect)."""
        pong = await self._request({"Action": "Ping"})
        stamp = _text(pong, "Timestamp") if isinstance(pong, Message) else ""
        try:
            at = datetime.fromtimestamp(float(stamp), UTC)
        except (ValueError, OverflowError, OSError):  # missing, or not a time at all
            at = self._clock.now()
        channels = {
            _text(m, "Uniqueid"): ChannelSnapshot(
                uniqueid=_text(m, "Uniqueid"),
                linkedid=_text(m, "Linkedid") or _text(m, "Uniqueid"),
                name=_text(m, "Channel"),
                state=_text(m, "ChannelStateDesc"),
                context=_text(m, "Context"),
                exten=_text(m, "Exten"),
                caller_number=_text(m, "CallerIDNum"),
                caller_name=_text(m, "CallerIDName"),
                seconds=_seconds(_text(m, "Duration")),
                bridge=_text(m, "BridgeId"),
            )
            for m in await self.list_action({"Action": "CoreShowChannels"}, "CoreShowChannel")
        }
        for m in await self.list_action({"Action": "Status"}, "Status"):
            found = channels.get(_text(m, "Uniqueid"))
            if found is None:
                continue
            seconds = _text(m, "Seconds")
            if seconds.isdigit():
                found.seconds = float(seconds)
            found.bridge = found.bridge or _text(m, "BridgeID")
        for item in await self.list_action({"Action": "BridgeList"}, "BridgeListItem"):
            bridge = _text(item, "BridgeUniqueid")
            members = await self.list_action(
                {"Action": "BridgeInfo", "BridgeUniqueid": bridge}, "BridgeInfoChannel"
            )
            for member in members:
                found = channels.get(_text(member, "Uniqueid"))
                if found is not None:
                    found.bridge = bridge
        queue_entries: dict[str, tuple[str, int]] = {}
        for entry in await self.list_action({"Action": "QueueStatus"}, "QueueEntry"):
            position = _text(entry, "Position")
            queue_entries[_text(entry, "Uniqueid")] = (
                _text(entry, "Queue"),
                int(position) if position.isdigit() else 0,
            )
        return AsteriskSnapshot(
            at=at, channels=list(channels.values()), queue_entries=queue_entries
        )
