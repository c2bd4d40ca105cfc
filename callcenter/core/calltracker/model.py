"""The call tracker's vocabulary: what Asterisk lists, what the tracker keeps per channel and call.

Plain data and the one header reader every handler uses; no behaviour of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.bus import DomainEvent

Emit = Callable[[DomainEvent], None]
#: Hangup causes that mean "someone hung up" rather than "the network failed".
NORMAL_CAUSES = frozenset({0, 16, 17, 18, 19, 21, 31, 127})
_UNKNOWN = ("<unknown>", "<null>")
#: Asterisk's CDR engine dispatches a channel's records from its own thread when the channel
#: ends, so they may reach AMI just after the last Hangup; this much later they are all in.
CDR_SETTLE = timedelta(seconds=5)
_DIAL_OUTCOMES = {
    "ANSWER": "answered",
    "NOANSWER": "noanswer",
    "BUSY": "busy",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
}


def _value(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    value = str(value) if value is not None else ""
    return "" if value in _UNKNOWN else value


@dataclass(slots=True)
class ChannelSnapshot:
    """One live channel as Asterisk lists it (CoreShowChannels / Status)."""

    uniqueid: str
    linkedid: str
    name: str
    state: str = ""
    context: str = ""
    exten: str = ""
    caller_number: str = ""
    caller_name: str = ""
    seconds: float = 0.0
    bridge: str = ""


@dataclass(slots=True)
class AsteriskSnapshot:
    """What Asterisk has right now, gathered after a (re)connect."""

    at: datetime
    channels: list[ChannelSnapshot] = field(default_factory=list)
    #: caller channel uniqueid → (queue, position)
    queue_entries: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    name: str
    linkedid: str
    state: str = ""
    context: str = ""
    exten: str = ""
    role: str = "other"  # caller | caller_partner | agent | agent_partner | other
    attempt: ev.AttemptRecord | None = None


@dataclass(slots=True)
class _Call:
    record: ev.CallRecord
    channels: set[str] = field(default_factory=set)
    uniqueids: set[str] = field(default_factory=set)
    current_agent: str = ""  # uniqueid of the attempt now talking to the caller
    holds: dict[str, datetime] = field(default_factory=dict)
    hold_since: datetime | None = None
    bridge_place: dict[str, tuple[str, str]] = field(default_factory=dict)
    cdrs: list[dict[str, str]] = field(default_factory=list)
    #: caller-side channel (the caller, its Local partner) → [created, hung up]: the span
    #: each one's chain of CDRs must add up to
    spans: dict[str, list[datetime | None]] = field(default_factory=dict)
    originate_failed: bool = False
    caller_cause: str = ""
    flagged: set[str] = field(default_factory=set)
