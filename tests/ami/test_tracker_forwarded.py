"""Issue 11 item 4, forwarding: a customer's channel runs ``Dial(Local/19006868@from-trunk)``
(call forwarding into the hotline), recorded from a real Asterisk 22 running the project's
dialplan: ``reference/forwarded.txt`` (the tier's recorder, ``tests.real_asterisk.record``,
playing ``Tier.call_forwarded`` for one caller; agent ``an`` on ``Local/101@tier-agents``).

The Local channel's ``;2`` half answers in ``[cc-inbound]`` and later dials the agent: that
leg is the caller's way in, not an agent, so the call's one attempt and its answer are
the agent's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.core import call_events as ev
from callcenter.core.calltracker import CallTracker
from tests.ami import traces

REFERENCE = Path(__file__).resolve().parent / "reference"
AGENT = "Local/101@tier-agents"


def recorded() -> list[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traces, "TRACES", REFERENCE)
        return traces.events("forwarded")


def _replay(events: list[Any]) -> tuple[list[Any], CallTracker]:
    seen: list[Any] = []
    tracker = CallTracker(seen.append)
    tracker.feed_all(events)
    return seen, tracker


def test_the_forwarding_local_channel_is_not_an_agent() -> None:
    seen, _ = _replay(recorded())
    (ended,) = [e for e in seen if isinstance(e, ev.CallEnded)]
    record = ended.record
    assert record.caller_number == "+84399000910"
    assert record.caller_channel.startswith("Local/19006868@tier-forward-")
    assert record.disposition == "answered"
    assert record.agent_interface == AGENT
    assert [(a.interface, a.outcome) for a in record.attempts] == [(AGENT, "answered")]
    agent_dial = next(
        e for e in recorded() if e.get("Event") == "DialEnd" and AGENT in e.get("DestChannel", "")
    )
    assert record.answered_at == datetime.fromtimestamp(float(agent_dial["Timestamp"]), UTC)
    assert record.hangup_by == "agent"


def test_no_call_recorded_for_the_local_pair() -> None:
    seen, tracker = _replay(recorded())
    assert len([e for e in seen if isinstance(e, ev.CallStarted)]) == 1
    assert not tracker.active_calls
    answered = [e for e in seen if isinstance(e, ev.CallAnswered)]
    assert answered[-1].interface == AGENT


def test_an_agent_local_leg_that_dials_while_ringing_stays_an_attempt() -> None:
    """Follow-me: an agent's own Local leg rings a phone before anyone answered; that is
    not forwarding (the ``;2`` half dials while its attempt still rings)."""
    events = recorded()
    first_answer = next(
        i
        for i, e in enumerate(events)
        if e.get("Event") == "DialEnd" and "from-trunk" in e.get("DestChannel", "")
    )
    # Drop the forwarding leg's answer: the ;2 half now dials while still ringing.
    seen, _ = _replay(events[:first_answer] + events[first_answer + 1 :])
    (ended,) = [e for e in seen if isinstance(e, ev.CallEnded)]
    interfaces = [a.interface for a in ended.record.attempts]
    assert interfaces == ["Local/19006868@from-trunk", AGENT]
