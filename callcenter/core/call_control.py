"""The call-control port: every action the application takes on a live call.

The ACD (move a waiting caller, mirror pauses), the agent page (hang up,
transfer, park, mute the recording, click-to-call) and a supervisor's listen-in
all act on calls through this one protocol. The AMI adapter implements it
(``callcenter.ami.control.AmiCallControl``); tests use a recording fake
(``tests/fakes.py``). Channel, context and interface names are Asterisk's.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol


class CallControlError(Exception):
    """The telephone system refused or did not answer the action."""


class CallControlUnavailable(CallControlError):
    """The telephone system is not connected: nothing was sent."""


class ListenMode(StrEnum):
    """How a supervisor joins an agent's call (Asterisk ChanSpy)."""

    LISTEN = "listen"  # hears both sides, nobody hears them
    WHISPER = "whisper"  # also speaks to the agent only
    BARGE = "barge"  # speaks to both the agent and the caller


class CallControl(Protocol):
    @property
    def connected(self) -> bool:
        """Whether actions can be sent now."""
        ...

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
        """Ring ``channel``; when answered it runs ``exten@context``. Returns the action's
        id, which the tracker's ``OriginateResult`` carries."""
        ...

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        """Send a channel to another place in the dialplan."""
        ...

    async def hangup(self, channel: str) -> None: ...

    async def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        """The transferer (``channel``) hands its peer to ``exten@context`` at once."""
        ...

    async def attended_transfer(self, channel: str, context: str, exten: str) -> None:
        """The transferer talks to ``exten@context`` first, then hands its peer over."""
        ...

    async def park(self, channel: str, *, timeout_channel: str = "") -> None:
        """Park ``channel``; on timeout the lot rings ``timeout_channel`` again."""
        ...

    async def mute_recording(self, channel: str, mute: bool) -> None:
        """Mute or unmute the call's recording (both directions)."""
        ...

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str = "", reason: str = ""
    ) -> None: ...

    async def queue_add(
        self, interface: str, *, queue: str, member_name: str, paused: bool, reason: str = ""
    ) -> None:
        """Make a phone a (dynamic) member of an app_queue queue, e.g. a hot-desked agent."""
        ...

    async def queue_remove(self, interface: str, *, queue: str) -> None: ...

    async def setvar(self, channel: str, variable: str, value: str) -> None: ...

    async def getvar(self, channel: str, variable: str) -> str | None: ...

    async def channels(self) -> list[dict[str, str]]:
        """Live channels (Channel, Uniqueid, Linkedid, Context, Exten, CallerIDNum, Duration)."""
        ...

    async def listen_in(
        self,
        listener: str,
        channel: str,
        *,
        mode: ListenMode = ListenMode.LISTEN,
        caller_id: str = "",
    ) -> str:
        """Ring ``listener`` (a supervisor's phone); when answered it listens to ``channel``
        (ChanSpy), whispers to the agent or barges in, as ``mode`` says. Returns the
        action's id."""
        ...
