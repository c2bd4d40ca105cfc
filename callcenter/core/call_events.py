"""Domain events the call tracker publishes on the :class:`~callcenter.core.bus.EventBus`.

Other parts (ACD, wallboard, database writer, agent page) subscribe to these
names instead of reading AMI. Each event's ``data`` holds the payload's fields
flattened (``event.data["linkedid"]``) and the payload object itself under
``"payload"`` for typed consumers. All instants are aware UTC taken from
Asterisk's ``Timestamp:`` header, never from arrival time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CALL_STARTED = "call_started"
CALL_QUEUED = "call_queued"
CALL_OFFERED = "call_offered"
CALL_OFFER_ENDED = "call_offer_ended"
CALL_ANSWERED = "call_answered"
CALL_HOLD = "call_hold"
CALL_TRANSFERRED = "call_transferred"
CALL_RECORDING = "call_recording"
CALL_ENDED = "call_ended"
AGENT_DEVICE_STATE = "agent_device_state"
ORIGINATE_RESULT = "originate_result"
CDR_MISMATCH = "cdr_mismatch"

ALL_EVENTS = (
    CALL_STARTED,
    CALL_QUEUED,
    CALL_OFFERED,
    CALL_OFFER_ENDED,
    CALL_ANSWERED,
    CALL_HOLD,
    CALL_TRANSFERRED,
    CALL_RECORDING,
    CALL_ENDED,
    AGENT_DEVICE_STATE,
    ORIGINATE_RESULT,
    CDR_MISMATCH,
)

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
class CallStarted:
    linkedid: str
    at: datetime
    caller_number: str
    caller_name: str
    dialed_number: str
    channel: str


@dataclass(frozen=True, slots=True)
class CallQueued:
    linkedid: str
    at: datetime
    queue: str
    position: int


@dataclass(frozen=True, slots=True)
class CallOffered:
    linkedid: str
    at: datetime
    interface: str
    channel: str
    uniqueid: str
    queue: str
    caller_number: str
    caller_channel: str = ""


@dataclass(frozen=True, slots=True)
class CallOfferEnded:
    linkedid: str
    at: datetime
    interface: str
    uniqueid: str
    outcome: str


@dataclass(frozen=True, slots=True)
class CallAnswered:
    linkedid: str
    at: datetime
    interface: str
    uniqueid: str
    wait_seconds: float
    caller_number: str
    agent_channel: str = ""
    caller_channel: str = ""


@dataclass(frozen=True, slots=True)
class CallHold:
    linkedid: str
    at: datetime
    channel: str
    on_hold: bool


@dataclass(frozen=True, slots=True)
class CallTransferred:
    linkedid: str
    at: datetime
    kind: str
    from_interface: str
    to: str


@dataclass(frozen=True, slots=True)
class CallRecording:
    linkedid: str
    at: datetime
    path: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    linkedid: str
    at: datetime
    record: CallRecord


@dataclass(frozen=True, slots=True)
class AgentDeviceState:
    """A phone's state: DeviceStateChange (NOT_INUSE, INUSE, RINGING, UNAVAILABLE, ...)
    or a PJSIP contact's reachability (ContactStatus: Reachable, Unreachable, Removed)."""

    device: str
    state: str
    at: datetime
    source: str  # DeviceStateChange | ContactStatus


@dataclass(frozen=True, slots=True)
class OriginateResult:
    action_id: str
    uniqueid: str
    linkedid: str
    success: bool
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CdrMismatch:
    linkedid: str
    field: str
    asterisk_value: str
    tracker_value: str
    at: datetime


def payload_data(payload: Any) -> dict[str, Any]:
    """The bus ``data`` for a payload: its fields, plus the object under ``"payload"``."""
    data = {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
    data["payload"] = payload
    return data
