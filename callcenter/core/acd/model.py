"""The ACD's vocabulary: agent states, strategies, settings, agents and calls as it
keeps them, and the answers it gives (ring these phones, wait, a state changed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.localtime import DEFAULT_ZONE


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    PAUSED = "paused"


class Strategy(StrEnum):
    LEAST_RECENT = "least_recent"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"


class CallPhase(StrEnum):
    NEW = "new"
    RINGING = "ringing"
    WAITING = "waiting"
    CONNECTED = "connected"


MISSED_CALLS_REASON = "missed_calls"

#: Dial outcomes (Asterisk ``DIALSTATUS``) that mean "this agent did not take it, try the next".
NOT_TAKEN = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"})


class AcdError(Exception):
    """A request the ACD refuses (unknown agent, pause while on a call...), in plain words."""


@dataclass
class AcdSettings:
    wrapup_seconds: float = 30.0
    missed_calls_pause_after: int = 2
    sticky_seconds: float = 8.0
    page_grace_seconds: float = 60.0
    #: after a BUSY / CHANUNAVAIL / CONGESTION dial, skip the phone this long (or until
    #: a device state says it is free again): never ring a busy phone in a loop
    failed_dial_backoff_seconds: float = 30.0
    zone: ZoneInfo = DEFAULT_ZONE


@dataclass
class GroupConfig:
    code: str
    strategy: Strategy = Strategy.FEWEST_CALLS
    ring_timeout: float = 15.0
    max_wait: float = 300.0
    overflow_action: str = "callback"
    #: agent id → member priority (lower rings first when the strategy ties)
    members: dict[int, int] = field(default_factory=dict)


@dataclass
class Agent:
    id: int
    name: str = ""
    interface: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    state_since: datetime | None = None
    login_interface: str = ""
    logged_in_at: datetime | None = None
    last_call_ended_at: datetime | None = None
    calls_today: int = 0
    calls_day: date | None = None
    missed_in_a_row: int = 0
    phone_registered: bool = True
    phone_busy: bool = False
    page_closed_since: datetime | None = None
    wrapup_until: datetime | None = None
    blocked_until: datetime | None = None
    call_id: str | None = None
    pause_after_call: str | None = None
    #: blending (core/acd/blending.py): in outbound mode, inbound only after this wait
    outbound_mode: bool = False
    blend_wait_seconds: float = 0.0

    @property
    def channel(self) -> str:
        """The phone to ring: the one picked at login (hot-desking), else the configured one."""
        return self.login_interface or self.interface


@dataclass
class Call:
    id: str
    group: str
    caller: str = ""
    channel: str = ""
    customer_id: int | None = None
    priority: int = 0
    sticky_agent_id: int | None = None
    arrived_at: datetime | None = None
    enqueued_at: datetime | None = None
    seq: int = 0
    phase: CallPhase = CallPhase.NEW
    tried: set[int] = field(default_factory=set)
    ringing: tuple[int, ...] = ()
    sticky_offer: bool = False
    sticky_done: bool = False
    agent_id: int | None = None
    #: its agent transferred it and nobody has taken it yet: the agent who answers it next
    #: (the blind transfer's target) is on it, as if the ACD had rung them
    passed_on: bool = False


@dataclass(frozen=True)
class Dial:
    """Ring these agents' phones for ``ring_timeout`` seconds (several = ring all)."""

    call_id: str
    agent_ids: tuple[int, ...]
    channels: tuple[str, ...]
    ring_timeout: float
    sticky: bool = False

    @property
    def dial_string(self) -> str:
        return "&".join(self.channels)


@dataclass(frozen=True)
class Wait:
    """Nobody is free: the caller waits in Asterisk at ``position`` (1 = next)."""

    call_id: str
    position: int


@dataclass(frozen=True)
class StateChange:
    agent_id: int
    previous: AgentState
    state: AgentState
    reason: str
    interface: str
    at: datetime


@dataclass(frozen=True)
class WaitingCaller:
    call_id: str
    group: str
    caller: str
    channel: str
    priority: int
    enqueued_at: datetime
    waited_seconds: float


@dataclass(frozen=True)
class CallGone:
    """What the ACD knew about a call that ended before an agent answered it."""

    call_id: str
    group: str
    caller: str
    customer_id: int | None
    abandoned_while: str  # "waiting", "ringing", "routing", "connected"
    waited_seconds: float


StateListener = Callable[[StateChange], None]
