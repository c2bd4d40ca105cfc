"""Every domain event, in one place: import from here to publish or subscribe.

One frozen dataclass per fact. The call tracker's facts (``CallStarted`` …
``CdrMismatch``) are defined next to the call record they describe
(:mod:`callcenter.core.call_events`) and re-exported here; the facts the ACD
service and the console publish are defined below.

    bus.subscribe(CallAnswered, on_answered)   # def on_answered(e: CallAnswered) -> None
    bus.publish(ConfigChanged(area="groups"))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from callcenter.core.bus import DomainEvent
from callcenter.core.call_events import (
    AgentDeviceState,
    CallAnswered,
    CallEnded,
    CallerIdChanged,
    CallFact,
    CallHold,
    CallOffered,
    CallOfferEnded,
    CallQueued,
    CallRecord,
    CallRecording,
    CallsResynced,
    CallStarted,
    CallTransferred,
    CdrMismatch,
    OriginateResult,
)

__all__ = [
    "AgentDeviceState",
    "AgentStateChanged",
    "CallAnswered",
    "CallEnded",
    "CallFact",
    "CallHold",
    "CallOfferEnded",
    "CallOffered",
    "CallQueued",
    "CallRecord",
    "CallRecording",
    "CallStarted",
    "CallTransferred",
    "CallbackTaskCreated",
    "CallerIdChanged",
    "CallsResynced",
    "CdrMismatch",
    "ConfigChanged",
    "DomainEvent",
    "OriginateResult",
    "QueueChanged",
    "SurveyAnswered",
]


@dataclass(frozen=True, slots=True)
class AgentStateChanged(DomainEvent):
    """The ACD moved an agent to another state (available, ringing, talking, wrapup, …)."""

    agent_id: int
    state: str
    previous: str
    reason: str
    interface: str
    at: datetime


@dataclass(frozen=True, slots=True)
class QueueChanged(DomainEvent):
    """Per group: callers waiting and the longest wait (seconds), after every ACD change."""

    groups: Mapping[str, Mapping[str, float]]
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CallbackTaskCreated(DomainEvent):
    """A callback task was stored for a caller (abandoned, out of hours, overflow, voicemail)."""

    task_id: int
    phone: str
    origin: str
    group: str


@dataclass(frozen=True, slots=True)
class ConfigChanged(DomainEvent):
    """The console committed a change to ``area`` (groups, hotlines, users, schedule, …)."""

    area: str


@dataclass(frozen=True, slots=True)
class SurveyAnswered(DomainEvent):
    """A survey response was stored or answered further (agent panel, care follow-up or
    the caller's keypad); on a campaign's call, that campaign's progress changed."""

    survey_id: int
    response_id: int
    channel: str
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class TicketChanged(DomainEvent):
    """A ticket was created, moved, assigned, claimed, transferred or commented on: whoever
    shows it (its department's inbox, its holder, supervisors) refreshes."""

    ticket_id: int
    code: str
    change: str
    status: str
    department_id: int | None
    assignee_id: int | None
