"""Call records and the typed facts the call tracker publishes on the
:class:`~callcenter.core.bus.EventBus` (re-exported with every other domain
event by :mod:`callcenter.core.events`).

Other parts (ACD, wallboard, call-record writer, agent page) subscribe to these
types instead of reading AMI. All instants are aware UTC taken from Asterisk's
``Timestamp:`` header, never from arrival time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.core.bus import DomainEvent


class CallFact(DomainEvent):
    """A fact about one call (one Asterisk ``Linkedid``): subscribe to this base class to
    hear about every call change (the call-record writer does)."""

    __slots__ = ()
    linkedid: str


#: Final outcomes of one offer to an agent ("ringing" while it is still open).
ATTEMPT_OUTCOMES = (
    "ringing",
    "answered",
    "noanswer",
    "busy",
    "rejected",
    "caller_gone",
    "cancelled",
    "failed",
)
#: Final dispositions of a call ("active" while it is in progress).
DISPOSITIONS = ("active", "answered", "abandoned", "missed", "failed")


@dataclass(slots=True)
class AttemptRecord:
    """One offer of a call to one agent's phone and what became of it."""

    uniqueid: str
    channel: str
    interface: str
    offered_at: datetime
    queue: str = ""
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = "ringing"


@dataclass(slots=True)
class TransferRecord:
    kind: str  # blind | attended | redirect
    at: datetime
    from_interface: str
    to: str  # extension@context, or the target's interface


@dataclass(slots=True)
class CallRecord:
    """Everything the tracker knows about one call (one Asterisk ``Linkedid``)."""

    linkedid: str
    started_at: datetime
    caller_channel: str = ""
    caller_number: str = ""
    caller_name: str = ""
    dialed_number: str = ""
    direction: str = "inbound"
    queue: str = ""
    #: the ACD group the caller was routed to (CC_GROUP: the hotline's or the IVR choice)
    route_group: str = ""
    answered_at: datetime | None = None
    agent_interface: str = ""
    ended_at: datetime | None = None
    disposition: str = "active"
    hangup_by: str = ""  # caller | agent | system | unknown
    hangup_cause: str = ""
    hold_seconds: float = 0.0
    recording_path: str = ""
    originate_action_id: str = ""
    end_estimated: bool = False  # ended while the AMI link was down: time is the resync time
    attempts: list[AttemptRecord] = field(default_factory=list)
    transfers: list[TransferRecord] = field(default_factory=list)

    @property
    def wait_seconds(self) -> float:
        """Time before an agent answered (or until the end, if nobody did)."""
        until = self.answered_at or self.ended_at
        return max(0.0, (until - self.started_at).total_seconds()) if until else 0.0

    @property
    def talk_seconds(self) -> float:
        """Connected time with an agent, hold excluded."""
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        connected = (self.ended_at - self.answered_at).total_seconds()
        return max(0.0, connected - self.hold_seconds)

    @property
    def duration_seconds(self) -> float:
        if self.ended_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.started_at).total_seconds())

    def snapshot(self) -> CallRecord:
        """An independent copy, safe to hand to subscribers while the call goes on."""
        return dataclasses.replace(
            self,
            attempts=[dataclasses.replace(a) for a in self.attempts],
            transfers=[dataclasses.replace(t) for t in self.transfers],
        )


@dataclass(frozen=True, slots=True)
class CallStarted(CallFact):
    linkedid: str
    at: datetime
    caller_number: str
    caller_name: str
    dialed_number: str
    channel: str


@dataclass(frozen=True, slots=True)
class CallerIdChanged(CallFact):
    """The caller's number or name became known or changed after the call started (a Local
    channel's ``;2`` half gets the caller ID set by the dialplan, a ``NewCallerid`` event)."""

    linkedid: str
    at: datetime
    caller_number: str
    caller_name: str
    channel: str


@dataclass(frozen=True, slots=True)
class CallQueued(CallFact):
    linkedid: str
    at: datetime
    queue: str
    position: int


@dataclass(frozen=True, slots=True)
class CallOffered(CallFact):
    linkedid: str
    at: datetime
    interface: str
    channel: str
    uniqueid: str
    queue: str
    caller_number: str
    caller_channel: str = ""


@dataclass(frozen=True, slots=True)
class CallOfferEnded(CallFact):
    linkedid: str
    at: datetime
    interface: str
    uniqueid: str
    outcome: str


@dataclass(frozen=True, slots=True)
class CallAnswered(CallFact):
    linkedid: str
    at: datetime
    interface: str
    uniqueid: str
    wait_seconds: float
    caller_number: str
    agent_channel: str = ""
    caller_channel: str = ""


@dataclass(frozen=True, slots=True)
class CallHold(CallFact):
    linkedid: str
    at: datetime
    channel: str
    on_hold: bool


@dataclass(frozen=True, slots=True)
class CallTransferred(CallFact):
    linkedid: str
    at: datetime
    kind: str
    from_interface: str
    to: str


@dataclass(frozen=True, slots=True)
class CallRecording(CallFact):
    linkedid: str
    at: datetime
    path: str


@dataclass(frozen=True, slots=True)
class CallEnded(CallFact):
    linkedid: str
    at: datetime
    record: CallRecord


@dataclass(frozen=True, slots=True)
class CallsResynced(DomainEvent):
    """After a (re)connect the tracker matches Asterisk again: ``live`` are the calls
    Asterisk still has; a stored call not among them ended while we were away."""

    live: frozenset[str]
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentDeviceState(DomainEvent):
    """A phone's state: DeviceStateChange (NOT_INUSE, INUSE, RINGING, UNAVAILABLE, ...)
    or a PJSIP contact's reachability (ContactStatus: Reachable, Unreachable, Removed)."""

    device: str
    state: str
    at: datetime
    source: str  # DeviceStateChange | ContactStatus


@dataclass(frozen=True, slots=True)
class OriginateResult(DomainEvent):
    action_id: str
    uniqueid: str
    linkedid: str
    success: bool
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CdrMismatch(DomainEvent):
    linkedid: str
    field: str
    asterisk_value: str
    tracker_value: str
    at: datetime
