"""Test doubles shared by the test packages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.call_control import (
    CallControl,
    CallControlError,
    CallControlUnavailable,
    ListenMode,
)


@dataclass
class RecordingCallControl:
    """The call-control port, recorded: each action is appended to ``actions`` as a tuple
    (name, arguments…). ``live_channels``/``variables`` answer the queries; ``refuse``
    makes the named actions fail as Asterisk would; ``connected=False`` is a link down."""

    actions: list[tuple[Any, ...]] = field(default_factory=list)
    live_channels: list[dict[str, str]] = field(default_factory=list)
    variables: dict[tuple[str, str], str] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    connected: bool = True

    def _do(self, *action: Any) -> None:
        if not self.connected:
            raise CallControlUnavailable("not connected")
        if action[0] in self.refuse:
            raise CallControlError(f"{action[0]} refused")
        self.actions.append(action)

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
        self._do("originate", channel, context, exten, caller_id, dict(variables or {}))
        return f"fake-originate-{len(self.actions)}"

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self._do("redirect", channel, context, exten, priority)

    async def hangup(self, channel: str) -> None:
        self._do("hangup", channel)

    async def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        self._do("blind_transfer", channel, context, exten)

    async def attended_transfer(self, channel: str, context: str, exten: str) -> None:
        self._do("attended_transfer", channel, context, exten)

    async def park(self, channel: str, *, timeout_channel: str = "") -> None:
        self._do("park", channel, timeout_channel)

    async def mute_recording(self, channel: str, mute: bool) -> None:
        self._do("mute_recording", channel, mute)

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str = "", reason: str = ""
    ) -> None:
        self._do("queue_pause", interface, paused, queue, reason)

    async def queue_add(
        self, interface: str, *, queue: str, member_name: str, paused: bool, reason: str = ""
    ) -> None:
        self._do("queue_add", interface, member_name, paused, queue)

    async def queue_remove(self, interface: str, *, queue: str) -> None:
        self._do("queue_remove", interface, queue)

    async def setvar(self, channel: str, variable: str, value: str) -> None:
        self._do("setvar", channel, variable, value)

    async def getvar(self, channel: str, variable: str) -> str | None:
        return self.variables.get((channel, variable))

    async def channels(self) -> list[dict[str, str]]:
        return self.live_channels

    async def listen_in(
        self,
        listener: str,
        channel: str,
        *,
        mode: ListenMode = ListenMode.LISTEN,
        caller_id: str = "",
    ) -> str:
        self._do("listen_in", listener, channel, str(mode))
        return f"fake-listen-{len(self.actions)}"


def _conforms(control: RecordingCallControl) -> CallControl:
    return control  # mypy: the fake implements the whole port
