"""The ACD's :class:`~callcenter.services.acd.CallControl` on top of the daemon's AMI link.

A thin translation: the service speaks in channels, contexts and interfaces;
the link speaks AMI actions. ``connected`` lets the service wait for the link
before rebuilding the waiting list from ``CoreShowChannels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panoramisk.actions import Action

from callcenter.ami.link import AmiActionError, AmiLink


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


class AmiCallControl:
    def __init__(self, link: AmiLink) -> None:
        self.link = link

    @property
    def connected(self) -> bool:
        return bool(self.link.connected)

    async def setvar(self, channel: str, variable: str, value: str) -> None:
        await self.link.setvar(channel, variable, value)

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        await self.link.redirect(channel, context, exten, priority)

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str = "", reason: str = ""
    ) -> None:
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
        reply = await self.link.send_action(action)
        first = reply[0] if isinstance(reply, list) else reply
        if not getattr(first, "success", False):
            raise AmiActionError(action["Action"], _text(first, "Message"))

    async def channels(self) -> list[dict[str, str]]:
        items = await self.link.list_action({"Action": "CoreShowChannels"}, "CoreShowChannel")
        keys = ("Channel", "Uniqueid", "Linkedid", "Context", "Exten", "CallerIDNum", "Duration")
        return [{key: _text(item, key) for key in keys} for item in items]

    async def getvar(self, channel: str, variable: str) -> str | None:
        reply = await self.link.send_action(
            {"Action": "Getvar", "Channel": channel, "Variable": variable}
        )
        first = reply[0] if isinstance(reply, list) else reply
        if not getattr(first, "success", False):
            return None
        value = _text(first, "Value")
        return value or None
