"""The simulator's channel model: names, ids, states and the header blocks Asterisk prints."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.sim.bridges import Bridge

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
}


class ChannelHungUp(Exception):
    """Raised inside an application when its channel is being hung up."""


class Redirected(Exception):
    """Raised inside an application when AMI Redirect (or a transfer) moved the channel."""


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = DOWN
    cid_num: str = ""
    cid_name: str = ""
    conn_num: str = ""
    conn_name: str = ""
    tech: str = "Local"
    vars: dict[str, str] = field(default_factory=dict)
    #: the other half of a Local channel pair
    peer: Channel | None = None
    #: True for the ";1" half of a Local pair
    is_one: bool = False
    bridge: Bridge | None = None
    app: str = ""
    appdata: str = ""
    created: float = 0.0
    answered_at: float | None = None
    hungup: bool = False
    hangup_pending: bool = False
    hangup_cause: int = 16
    redirect_to: tuple[str, str, int] | None = None
    running_pbx: bool = False
    in_h: bool = False
    #: events that wake an application waiting on this channel
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    #: set when the channel is gone (used by Dial and bridges)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    #: set when a Local ;2 (or phone) answers
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    #: set by a Local ;2 that starts ringing
    ringing: asyncio.Event = field(default_factory=asyncio.Event)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")

    def headers(self, prefix: str = "") -> list[tuple[str, str]]:
        """The standard channel block of every channel event (optionally prefixed, e.g. Dest)."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", self.state_desc),
            (f"{p}CallerIDNum", self.cid_num or "<unknown>"),
            (f"{p}CallerIDName", self.cid_name or "<unknown>"),
            (f"{p}ConnectedLineNum", self.conn_num or "<unknown>"),
            (f"{p}ConnectedLineName", self.conn_name or "<unknown>"),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]

    def interrupt(self) -> None:
        self.wake.set()

    def check(self) -> None:
        """Raise if the application must stop (hangup or redirect pending)."""
        if self.hangup_pending or self.hungup:
            raise ChannelHungUp()
        if self.redirect_to is not None:
            raise Redirected()
