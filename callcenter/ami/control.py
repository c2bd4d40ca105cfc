"""The call-control port (:class:`~callcenter.core.call_control.CallControl`) over AMI.

A thin translation: the application speaks in channels, contexts and
interfaces; the link speaks AMI actions. Asterisk's refusals and a link that is
down become the port's :class:`CallControlError` / :class:`CallControlUnavailable`,
so no caller needs to know about AMI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from panoramisk.actions import Action

from callcenter.ami.link import AmiActionError, AmiError, AmiLink, AmiNotConnected
from callcenter.core.call_control import CallControlError, CallControlUnavailable, ListenMode

#: The dialplan context a listen-in call runs (``asterisk/extensions.conf``: ChanSpy).
LISTEN_CONTEXT = "cc-listen"
#: The extension of ``[cc-listen]`` each mode runs (ChanSpy options ``q``, ``qw``, ``qB``).
LISTEN_EXTENSIONS = {
    ListenMode.LISTEN: "s",
    ListenMode.WHISPER: "whisper",
    ListenMode.BARGE: "barge",
}


class _OneReply(Action):  # type: ignore[misc]
    """QueueAdd's success reply ("Added interface to queue") looks to panoramisk like the
    start of a list, so it would wait for a list end that never comes: it has one reply."""

    @property
    def multi(self) -> bool:
        return False


def _text(message: Any, key: str) -> str:
    value = message.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value in ("<unknown>", "<null>", None) else str(value)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except AmiNotConnected as exc:
        raise CallControlUnavailable(str(exc) or "not connected") from exc
    except (AmiError, TimeoutError) as exc:
        raise CallControlError(str(exc) or type(exc).__name__) from exc


class AmiCallControl:
    def __init__(self, link: AmiLink) -> None:
        self.link = link

    @property
    def connected(self) -> bool:
        return bool(self.link.connected)

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
        async with _translated():
            return await self.link.originate(
                channel,
                context=context,
                exten=exten,
                priority=priority,
                caller_id=caller_id,
                variables=variables,
                timeout_ms=timeout_ms,
            )

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        async with _translated():
            await self.link.redirect(channel, context, exten, priority)

    async def hangup(self, channel: str) -> None:
        async with _translated():
            await self.link.hangup(channel)

    async def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        async with _translated():
            await self.link.blind_transfer(channel, context, exten)

    async def attended_transfer(self, channel: str, context: str, exten: str) -> None:
        async with _translated():
            await self.link.atxfer(channel, context, exten)

    async def park(self, channel: str, *, timeout_channel: str = "") -> None:
        async with _translated():
            await self.link.park(channel, timeout_channel=timeout_channel)

    async def mute_recording(self, channel: str, mute: bool) -> None:
        async with _translated():
            await self.link.mixmonitor_mute(channel, mute)

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str = "", reason: str = ""
    ) -> None:
        async with _translated():
            await self.link.queue_pause(queue, interface, paused, reason)

    async def queue_add(
        self, interface: str, *, queue: str, member_name: str, paused: bool, reason: str = ""
    ) -> None:
        action = {
            "Action": "QueueAdd",
            "Queue": queue,
            "Interface": interface,
            "MemberName": member_name,
            "StateInterface": interface,
            "Paused": "true" if paused else "false",
        }
        if paused and reason:
            action["Reason"] = reason
        await self._checked(_OneReply(action))

    async def queue_remove(self, interface: str, *, queue: str) -> None:
        await self._checked({"Action": "QueueRemove", "Queue": queue, "Interface": interface})

    async def _checked(self, action: Mapping[str, str]) -> None:
        async with _translated():
            reply = await self.link.send_action(action)
            first = reply[0] if isinstance(reply, list) else reply
            if not getattr(first, "success", False):
                raise AmiActionError(action["Action"], _text(first, "Message"))

    async def setvar(self, channel: str, variable: str, value: str) -> None:
        async with _translated():
            await self.link.setvar(channel, variable, value)

    async def getvar(self, channel: str, variable: str) -> str | None:
        async with _translated():
            reply = await self.link.send_action(
                {"Action": "Getvar", "Channel": channel, "Variable": variable}
            )
        first = reply[0] if isinstance(reply, list) else reply
        if not getattr(first, "success", False):
            return None
        value = _text(first, "Value")
        return value or None

    async def channels(self) -> list[dict[str, str]]:
        async with _translated():
            items = await self.link.list_action({"Action": "CoreShowChannels"}, "CoreShowChannel")
        keys = ("Channel", "Uniqueid", "Linkedid", "Context", "Exten", "CallerIDNum", "Duration")
        return [{key: _text(item, key) for key in keys} for item in items]

    async def listen_in(
        self,
        listener: str,
        channel: str,
        *,
        mode: ListenMode = ListenMode.LISTEN,
        caller_id: str = "",
    ) -> str:
        """Originate to the listener's phone into ``[cc-listen]``, which runs ChanSpy on
        ``CC_SPY_CHANNEL``: ``s`` listens quietly, ``whisper`` also speaks to the agent,
        ``barge`` speaks to both parties."""
        return await self.originate(
            listener,
            context=LISTEN_CONTEXT,
            exten=LISTEN_EXTENSIONS[ListenMode(mode)],
            caller_id=caller_id,
            variables={"CC_SPY_CHANNEL": channel},
        )
