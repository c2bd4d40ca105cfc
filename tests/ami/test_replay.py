"""Replay the real Asterisk traces through the call tracker.

The expected records below were written by reading each trace by hand (see
tests/sim/reference/TRACES.md and the Timestamp: lines quoted in the
comments); nothing here is computed by the tracker under test.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import call_events as ev
from callcenter.core.bus import EventBus
from callcenter.core.calltracker import CallTracker
from tests.ami.traces import events


@dataclass
class Expected:
    linkedid: str
    caller_number: str
    caller_name: str
    dialed_number: str
    disposition: str
    hangup_by: str
    started: float  # epoch seconds, read from the trace
    ended: float
    answered: float | None = None
    agent: str = ""
    talk: float = 0.0
    hold: float = 0.0
    queue: str = ""
    recording: str = ""
    attempts: list[tuple[str, str]] = field(default_factory=list)  # (interface, outcome)
    transfers: list[tuple[str, str, str]] = field(default_factory=list)  # kind, from, to


REC = "/var/spool/asterisk/monitor/"
EXPECTED: dict[str, list[Expected]] = {
    # Customer A calls 100; Local/401 answers after the 1.5 s ring (DialEnd ANSWER at
    # 102.35); the caller's ;1 half hangs up first (SoftHangupRequest ;1 at 120.46).
    "a-answered-caller-hangup": [
        Expected(
            "1795436100.36",
            "+15551230001",
            "Customer A",
            "100",
            "answered",
            "caller",
            started=1795436100.82,
            ended=1795436120.46,
            answered=1795436102.35,
            agent="Local/401@sim-agent",
            talk=18.1,
            recording=REC + "1795436100.37.wav",
            attempts=[("Local/401@sim-agent", "answered")],
        ),
    ],
    # Local/299 rings 6 s then DialEnd NOANSWER (129.30); reroute to Local/301 which
    # answers at 130.81; the agent's ;2 hangs up first at 152.08.
    "b-noanswer-reroute": [
        Expected(
            "1795436123.40",
            "+15551230002",
            "Customer B",
            "100",
            "answered",
            "agent",
            started=1795436123.27,
            ended=1795436152.08,
            answered=1795436130.81,
            agent="Local/301@sim-agent",
            talk=21.3,
            recording=REC + "1795436123.41.wav",
            attempts=[("Local/299@sim-agent", "noanswer"), ("Local/301@sim-agent", "answered")],
        ),
    ],
    # The caller hangs up at 161.21 while Local/299 still rings: DialEnd CANCEL.
    "c-abandon-while-ringing": [
        Expected(
            "1795436154.46",
            "+15551230003",
            "Customer C",
            "100",
            "abandoned",
            "caller",
            started=1795436154.89,
            ended=1795436161.21,
            recording=REC + "1795436154.47.wav",
            attempts=[("Local/299@sim-agent", "caller_gone")],
        ),
    ],
    # Queue hotline-q: AgentCalled 301 at 164.04, AgentConnect at 165.55, the agent's
    # SoftHangupRequest at 179.82 (AgentComplete Reason agent).
    "d-queue-answered": [
        Expected(
            "1795436164.50",
            "+15551230004",
            "Customer D",
            "100",
            "answered",
            "agent",
            started=1795436164.02,
            ended=1795436179.83,
            answered=1795436165.55,
            agent="Local/301@sim-agent",
            talk=14.3,
            queue="hotline-q",
            recording=REC + "1795436164.51.wav",
            attempts=[("Local/301@sim-agent", "answered")],
        ),
    ],
    # Queue hotline-q-ring: AgentRingNoAnswer for 299 at 187.66, then 202 answers at 190.16
    # and hangs up at 196.50.
    "d2-queue-ringnoanswer": [
        Expected(
            "1795436182.54",
            "+15551230005",
            "Customer D2",
            "100",
            "answered",
            "agent",
            started=1795436182.63,
            ended=1795436196.50,
            answered=1795436190.16,
            agent="Local/202@sim-agent",
            talk=6.3,
            queue="hotline-q-ring",
            recording=REC + "1795436182.55.wav",
            attempts=[("Local/299@sim-agent", "noanswer"), ("Local/202@sim-agent", "answered")],
        ),
    ],
    # The caller leaves the queue at 204.13 while 299 rings (QueueCallerAbandon).
    "d3-queue-abandon": [
        Expected(
            "1795436199.60",
            "+15551230006",
            "Customer D3",
            "100",
            "abandoned",
            "caller",
            started=1795436199.31,
            ended=1795436204.13,
            queue="hotline-q-ring",
            recording=REC + "1795436199.61.wav",
            attempts=[("Local/299@sim-agent", "caller_gone")],
        ),
    ],
    # 401 answers at 208.46; AMI Redirect of the PBX half to 501@hotline-transfer at 212.46;
    # 501 answers at 213.47 and hangs up first at 220.17.
    "e-redirect-transfer": [
        Expected(
            "1795436206.64",
            "+15551230007",
            "Customer E",
            "100",
            "answered",
            "agent",
            started=1795436206.94,
            ended=1795436220.17,
            answered=1795436208.46,
            agent="Local/401@sim-agent",
            talk=11.7,
            recording=REC + "1795436206.65.wav",
            attempts=[("Local/401@sim-agent", "answered"), ("Local/501@sim-agent", "answered")],
            transfers=[("redirect", "Local/401@sim-agent", "501@hotline-transfer")],
        ),
    ],
    # BlindTransfer by 401 to 502@hotline-transfer at 228.51; 502 answers, hangs up at 236.21.
    "e2-blindtransfer": [
        Expected(
            "1795436222.70",
            "+15551230008",
            "Customer E2",
            "100",
            "answered",
            "agent",
            started=1795436222.98,
            ended=1795436236.21,
            answered=1795436224.50,
            agent="Local/401@sim-agent",
            talk=11.7,
            recording=REC + "1795436222.71.wav",
            attempts=[("Local/401@sim-agent", "answered"), ("Local/502@sim-agent", "answered")],
            transfers=[("blind", "Local/401@sim-agent", "502@hotline-transfer")],
        ),
    ],
    # 401 answers at 240.55, puts the caller on Hold at 244.80, consults 503 (answers at
    # 248.98), AttendedTransfer at 250.48 (401 leaves at 250.48: 5.7 s of hold); 503 hangs
    # up at 257.68.
    "e3-atxfer": [
        Expected(
            "1795436239.76",
            "+15551230009",
            "Customer E3",
            "100",
            "answered",
            "agent",
            started=1795436239.01,
            ended=1795436257.68,
            answered=1795436240.55,
            agent="Local/401@sim-agent",
            talk=11.4,
            hold=5.7,
            recording=REC + "1795436239.77.wav",
            attempts=[("Local/401@sim-agent", "answered"), ("Local/503@sim-agent", "answered")],
            transfers=[("attended", "Local/401@sim-agent", "Local/503@sim-agent")],
        ),
    ],
    # Two live calls; both are hung up by AMI Hangup on their PBX half at 264.53.
    "f-queries-live": [
        Expected(
            "1795436260.84",
            "+15551230010",
            "Customer F",
            "100",
            "answered",
            "system",
            started=1795436260.48,
            ended=1795436264.53,
            answered=1795436262.01,
            agent="Local/401@sim-agent",
            talk=2.5,
            recording=REC + "1795436260.85.wav",
            attempts=[("Local/401@sim-agent", "answered")],
        ),
        Expected(
            "1795436262.88",
            "+15551230011",
            "Waiting Caller",
            "101",
            "missed",
            "system",
            started=1795436262.01,
            ended=1795436264.53,
            queue="hotline-q-ring",
            recording=REC + "1795436262.89.wav",
            attempts=[("Local/299@sim-agent", "cancelled")],
        ),
    ],
    # FastAGI down: the dialplan falls back to Local/201, which answers at 275.18 and
    # hangs up first at 281.52. OriginateResponse arrives before the Newchannel here.
    "g-fastagi-down": [
        Expected(
            "1795436273.92",
            "+15551230012",
            "Customer G",
            "100",
            "answered",
            "agent",
            started=1795436273.65,
            ended=1795436281.52,
            answered=1795436275.18,
            agent="Local/201@sim-agent",
            talk=6.3,
            recording=REC + "1795436273.93.wav",
            attempts=[("Local/201@sim-agent", "answered")],
        ),
    ],
    # sipp (caller id "sipp") calls 100 over chan_pjsip; PJSIP/agent1 answers at once;
    # the caller's BYE gives HangupRequest on PJSIP/sipp at 305.33.
    "h-pjsip-sipp-call": [
        Expected(
            "1795436297.96",
            "sipp",
            "sipp",
            "100",
            "answered",
            "caller",
            started=1795436297.31,
            ended=1795436305.33,
            answered=1795436297.82,
            agent="PJSIP/agent1",
            talk=7.5,
            recording=REC + "1795436297.96.wav",
            attempts=[("PJSIP/agent1", "answered")],
        ),
    ],
    # The caller hangs up during the FastAGI session, before any agent is dialled.
    "i-fastagi-protocol": [
        Expected(
            "1795436376.98",
            "+15551230013",
            "Customer I",
            "100",
            "abandoned",
            "caller",
            started=1795436376.37,
            ended=1795436381.24,
        ),
    ],
}


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def check(record: ev.CallRecord, want: Expected) -> None:
    assert record.linkedid == want.linkedid
    assert (record.caller_number, record.caller_name) == (want.caller_number, want.caller_name)
    assert record.dialed_number == want.dialed_number
    assert record.disposition == want.disposition
    assert record.hangup_by == want.hangup_by
    assert abs((record.started_at - _ts(want.started)).total_seconds()) < 1
    assert record.ended_at is not None
    assert abs((record.ended_at - _ts(want.ended)).total_seconds()) < 1
    if want.answered is None:
        assert record.answered_at is None
        assert record.talk_seconds == 0
    else:
        assert record.answered_at is not None
        assert abs((record.answered_at - _ts(want.answered)).total_seconds()) < 1
    assert record.agent_interface == want.agent
    assert record.talk_seconds == pytest.approx(want.talk, abs=1)
    assert record.hold_seconds == pytest.approx(want.hold, abs=1)
    assert record.queue == want.queue
    assert record.recording_path == want.recording
    assert [(a.interface, a.outcome) for a in record.attempts] == want.attempts
    assert [(t.kind, t.from_interface, t.to) for t in record.transfers] == want.transfers
    assert record.hangup_cause


def replay(
    stream: list[Any],
) -> tuple[dict[str, ev.CallRecord], list[tuple[type, Any]], CallTracker]:
    published: list[tuple[type, Any]] = []
    tracker = CallTracker(lambda payload: published.append((type(payload), payload)))
    tracker.feed_all(stream)
    ended = {p.linkedid: p.record for name, p in published if name == ev.CallEnded}
    return ended, published, tracker


@pytest.mark.parametrize("trace", sorted(EXPECTED))
def test_trace_gives_the_hand_derived_record(trace: str) -> None:
    ended, published, tracker = replay(events(trace))
    assert tracker.active_calls == {}
    assert sorted(ended) == sorted(w.linkedid for w in EXPECTED[trace])
    for want in EXPECTED[trace]:
        check(ended[want.linkedid], want)
    # Asterisk's own CDRs agree with every record.
    assert [p for name, p in published if name == ev.CdrMismatch] == []
    # Exactly one call_ended per call.
    names = [p.linkedid for name, p in published if name == ev.CallEnded]
    assert len(names) == len(set(names))


def test_login_traces_have_no_calls() -> None:
    for trace in ("f2-login-banner-failed-login", "f2-failed-login-conn2", "f2-unknown-user-conn3"):
        ended, _published, tracker = replay(events(trace))
        assert ended == {} and tracker.active_calls == {}


def test_every_offer_is_published_with_its_outcome() -> None:
    _ended, published, _tracker = replay(events("b-noanswer-reroute"))
    offers = [(p.interface, p.queue) for name, p in published if name == ev.CallOffered]
    outcomes = [(p.interface, p.outcome) for name, p in published if name == ev.CallOfferEnded]
    assert offers == [("Local/299@sim-agent", ""), ("Local/301@sim-agent", "")]
    assert outcomes == [("Local/299@sim-agent", "noanswer"), ("Local/301@sim-agent", "answered")]
    answered = [p for name, p in published if name == ev.CallAnswered]
    assert len(answered) == 1 and answered[0].wait_seconds == pytest.approx(7.5, abs=0.5)


def test_originate_response_before_newchannel_is_applied_when_the_channel_appears() -> None:
    _ended, published, _tracker = replay(events("g-fastagi-down"))
    first = [name for name, _p in published][:2]
    assert first == [ev.OriginateResult, ev.CallStarted]
    ended = [p.record for name, p in published if name == ev.CallEnded]
    assert ended[0].originate_action_id == "ref-2"


def test_events_reach_the_bus_typed() -> None:
    bus = EventBus()
    seen: list[Any] = []
    bus.subscribe(ev.CallEnded, seen.append)
    CallTracker(bus).feed_all(events("a-answered-caller-hangup"))
    assert len(seen) == 1
    assert seen[0].linkedid == "1795436100.36"
    assert isinstance(seen[0], ev.CallEnded)
    assert seen[0].record.disposition == "answered"


def test_device_states_are_published() -> None:
    _ended, published, _tracker = replay(events("a-answered-caller-hangup"))
    states = [(p.device, p.state) for name, p in published if name == ev.AgentDeviceState]
    assert ("Local/401@sim-agent", "INUSE") in states
    assert ("Local/401@sim-agent", "NOT_INUSE") in states


CALL_TRACES = [t for t in sorted(EXPECTED) if t != "f-queries-live"] + ["f-queries-live"]


@functools.cache
def parsed_once(trace: str) -> tuple[Any, ...]:
    """A trace's events parsed once for the examples below (the tracker only reads them)."""
    return tuple(events(trace))


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_interleaved_traces_give_the_same_records(seed: int) -> None:
    """Merge every trace's events at random points, each trace's (so each channel's) order kept."""
    rnd = random.Random(seed)
    streams = [list(parsed_once(t)) for t in CALL_TRACES]
    merged: list[Any] = []
    while streams:
        stream = rnd.choice(streams)
        take = rnd.randint(1, 4)
        merged.extend(stream[:take])
        del stream[:take]
        streams = [s for s in streams if s]
    ended, published, tracker = replay(merged)
    assert tracker.active_calls == {}
    for trace in CALL_TRACES:
        for want in EXPECTED[trace]:
            check(ended[want.linkedid], want)
    assert len(ended) == sum(len(w) for w in EXPECTED.values())
    assert [p for name, p in published if name == ev.CdrMismatch] == []


def test_cdr_that_disagrees_is_reported() -> None:
    stream = list(events("c-abandon-while-ringing"))
    # Make Asterisk claim the unanswered dial leg was answered.
    for message in stream:
        if message.get("Event") == "Cdr" and message.get("DestinationChannel", "").startswith(
            "Local/299"
        ):
            message["Disposition"] = "ANSWERED"
    _ended, published, _tracker = replay(stream)
    mismatches = [p for name, p in published if name == ev.CdrMismatch]
    assert [(m.field, m.asterisk_value, m.tracker_value) for m in mismatches] == [
        ("answered", "ANSWERED", "caller_gone")
    ]


def _cdrs_after_the_hangups(trace: str) -> list[Any]:
    """The trace with its Cdr events moved after every other event: Asterisk's CDR engine
    raises them from its own thread, so they may reach AMI after the call's last Hangup."""
    stream = [dict(m) for m in events(trace)]
    return [m for m in stream if m["Event"] != "Cdr"] + [m for m in stream if m["Event"] == "Cdr"]


def _later(stream: list[Any], seconds: float) -> dict[str, str]:
    """Any later event (here a stray Newstate) that moves Asterisk's clock on."""
    last = max(float(m["Timestamp"]) for m in stream if "Timestamp" in m)
    return {"Event": "Newstate", "Timestamp": f"{last + seconds:.6f}", "Uniqueid": "none"}


def test_a_rerouted_call_is_compared_with_all_its_cdrs() -> None:
    """Re-routed after no answer, the dialplan channel has one CDR per Dial attempt
    (6 s NO ANSWER to 299, 22 s ANSWERED to 301, then 0 s): its first alone is not a mismatch."""
    stream = _cdrs_after_the_hangups("b-noanswer-reroute")
    chain = [m for m in stream if m["Event"] == "Cdr" and m["UniqueID"] == "1795436123.41"]
    assert [m["Duration"] for m in chain] == ["6", "22", "0"]  # as Asterisk sent them
    published: list[tuple[type, Any]] = []
    tracker = CallTracker(lambda payload: published.append((type(payload), payload)))
    for message in stream:
        tracker.feed(message)
        assert [p for name, p in published if name is ev.CdrMismatch] == [], message
    tracker.feed(_later(stream, 10))  # settled: every CDR is in and they agree
    assert [p for name, p in published if name is ev.CdrMismatch] == []
    assert [name for name, _p in published].count(ev.CallEnded) == 1


def test_a_cdr_chain_that_disagrees_on_duration_is_reported() -> None:
    # Longer than the channel lived: wrong whatever may still come, reported at once.
    stream = _cdrs_after_the_hangups("b-noanswer-reroute")
    for message in stream:
        if message["Event"] == "Cdr" and message["UniqueID"] == "1795436123.40":
            message["Duration"] = "60"
    _ended, published, _tracker = replay(stream)
    assert [(m.field, m.asterisk_value) for name, m in published if name is ev.CdrMismatch] == [
        ("duration", "60")
    ]
    # Shorter: more records could still be on their way, so only once they are settled.
    stream = _cdrs_after_the_hangups("b-noanswer-reroute")
    for message in stream:
        if message.get("DestinationChannel") == "Local/301@sim-agent-00000010;1":
            message["Duration"] = "2"
    _ended, published, tracker = replay(stream)
    assert [p for name, p in published if name is ev.CdrMismatch] == []
    tracker.feed(_later(stream, 10))
    mismatches = [m for name, m in published if name is ev.CdrMismatch]
    assert [(m.field, m.asterisk_value, m.tracker_value) for m in mismatches] == [
        ("duration", "8", "28.8")
    ]
