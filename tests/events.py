"""Typed domain events as tests publish them: only what a test cares about, the rest defaulted."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.core.events import CallAnswered, CallEnded, CallRecord

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def answered(
    linkedid: str,
    interface: str,
    *,
    at: datetime = T0,
    uniqueid: str = "",
    wait_seconds: float = 0.0,
    caller_number: str = "",
    agent_channel: str = "",
    caller_channel: str = "",
) -> CallAnswered:
    return CallAnswered(
        linkedid=linkedid,
        at=at,
        interface=interface,
        uniqueid=uniqueid,
        wait_seconds=wait_seconds,
        caller_number=caller_number,
        agent_channel=agent_channel,
        caller_channel=caller_channel,
    )


def ended(linkedid: str, *, at: datetime = T0, caller_channel: str = "") -> CallEnded:
    """A call's end as the tracker publishes it, with a minimal record."""
    record = CallRecord(
        linkedid=linkedid, started_at=at, caller_channel=caller_channel, ended_at=at
    )
    return CallEnded(linkedid=linkedid, at=at, record=record)
