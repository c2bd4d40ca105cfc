"""Hostile input for the AMI parser and the tracker: nothing crashes, hangs or grows memory."""

from __future__ import annotations

import gc
import logging
from typing import Any

import psutil
from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from callcenter.ami.framing import MAX_FRAME_BYTES, FrameSplitter, FrameTooLarge
from callcenter.ami.protocol import GuardedAMIProtocol
from callcenter.core.calltracker import CallTracker
from tests.ami.traces import messages, raw_bytes

TRACE = raw_bytes("e3-atxfer")


class FakeTransport:
    def __init__(self) -> None:
        self.aborted = False
        self.written: list[bytes] = []

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.aborted


class Sink:
    """Stands in for the link: collects what the protocol dispatches."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lost = 0

    def on_message(self, message: Message) -> None:
        self.messages.append(message)

    def on_connection_lost(self, protocol: Any, exc: Exception | None) -> None:
        self.lost += 1


def protocol() -> tuple[GuardedAMIProtocol, FakeTransport, Sink]:
    sink = Sink()
    proto = GuardedAMIProtocol(sink)  # type: ignore[arg-type]
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport, sink


def feed(proto: GuardedAMIProtocol, data: bytes, cuts: list[int]) -> None:
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        proto.data_received(data[start:cut])
        start = max(start, cut)
    proto.data_received(data[start:])


def test_whole_trace_parses_to_the_same_messages_as_the_helper() -> None:
    proto, transport, sink = protocol()
    proto.data_received(TRACE)
    assert not transport.aborted
    events = [m for m in messages("e3-atxfer") if "event" in m]
    assert [dict(m) for m in sink.messages] == [dict(m) for m in events]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TRACE)), max_size=60))
def test_any_chunking_of_a_real_trace_gives_the_same_messages(cuts: list[int]) -> None:
    whole, _t, whole_sink = protocol()
    whole.data_received(TRACE)
    chunked, transport, sink = protocol()
    feed(chunked, TRACE, cuts)
    assert not transport.aborted
    assert [dict(m) for m in sink.messages] == [dict(m) for m in whole_sink.messages]


def test_a_utf8_name_split_across_reads_survives() -> None:
    block = "Event: NewCallerid\r\nCallerIDName: Nguyễn Văn Đức\r\nUniqueid: 1.1\r\n\r\n".encode()
    split = block.index("ễ".encode()) + 1  # in the middle of a multi-byte character
    proto, _transport, sink = protocol()
    proto.data_received(block[:split])
    proto.data_received(block[split:])
    assert sink.messages[0]["CallerIDName"] == "Nguyễn Văn Đức"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_random_bytes_never_crash_the_parser(data: bytes, cuts: list[int]) -> None:
    proto, _transport, sink = protocol()
    feed(proto, data, cuts)
    assert proto.splitter.pending <= MAX_FRAME_BYTES
    tracker = CallTracker()
    tracker.feed_all(sink.messages)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(TRACE)), st.binary(max_size=64))
def test_truncated_frames_never_crash(cut: int, noise: bytes) -> None:
    proto, transport, sink = protocol()
    proto.data_received(TRACE[:cut] + noise)
    tracker = CallTracker()
    tracker.feed_all(sink.messages)  # a call cut short stays active, nothing raises
    assert not transport.aborted


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=3 * MAX_FRAME_BYTES))
def test_a_frame_over_64_kib_drops_the_connection(size: int) -> None:
    proto, transport, sink = protocol()
    proto.data_received(b"Event: Flood\r\nData: " + b"x" * size)
    assert transport.aborted and proto.dropped_for_size
    assert proto.splitter.pending == 0
    assert sink.messages == []


def test_a_frame_just_under_the_limit_is_accepted() -> None:
    proto, transport, sink = protocol()
    body = b"Event: Big\r\nData: " + b"y" * (MAX_FRAME_BYTES - 100) + b"\r\n\r\n"
    proto.data_received(body)
    assert not transport.aborted and len(sink.messages) == 1


def test_splitter_raises_on_an_endless_banner() -> None:
    splitter = FrameSplitter()
    try:
        splitter.feed(b"Asterisk Call Manager/" + b"9" * (MAX_FRAME_BYTES + 10))
    except FrameTooLarge:
        return
    raise AssertionError("an endless banner must be refused")


event_names = st.sampled_from(
    ["Newchannel", "Hangup", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave", "Hold",
     "Unhold", "AgentConnect", "BlindTransfer", "AttendedTransfer", "Cdr", "VarSet",
     "OriginateResponse", "QueueCallerJoin", "SoftHangupRequest", "Newstate", "NewCallerid"]
)  # fmt: skip
header_values = st.one_of(st.text(max_size=12), st.sampled_from(["1.1", "1.2", "2.1", "ANSWER", "CANCEL", "Success", "16", "Local/1@a-00000001;1"]))  # fmt: skip
random_event = st.fixed_dictionaries(
    {"Event": event_names},
    optional={
        key: header_values
        for key in (
            "Uniqueid",
            "Linkedid",
            "Channel",
            "DestUniqueid",
            "DestChannel",
            "DialStatus",
            "Timestamp",
            "Cause",
            "Result",
            "TransfereeLinkedid",
            "Variable",
            "Value",
            "UniqueID",
            "Disposition",
            "Duration",
            "Response",
        )
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(random_event, max_size=40))
def test_random_events_never_crash_the_tracker(stream: list[dict[str, str]]) -> None:
    tracker = CallTracker()
    tracker.feed_all(stream)
    for record in tracker.active_calls.values():
        assert record.disposition == "active"


def test_rss_stays_flat_over_10000_oversized_frames() -> None:
    """Each oversized frame costs a dropped connection (a fresh protocol), never memory."""
    chunk = b"x" * 16384
    # pytest keeps every captured log record in memory: silence the 10,000 error lines.
    quiet = logging.getLogger("callcenter.ami.protocol")
    quiet.disabled = True
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    dropped = 0
    for _ in range(10_000):
        proto, transport, _sink = protocol()
        proto.data_received(b"Event: Flood\r\nData: ")
        for _part in range(5):  # 80 KiB without an end of frame, as TCP would deliver it
            proto.data_received(chunk)
            if transport.aborted:
                break
        dropped += transport.aborted
    quiet.disabled = False
    gc.collect()
    grown = process.memory_info().rss - before
    assert dropped == 10_000
    assert grown < 20 * 1024 * 1024, f"RSS grew by {grown / 1e6:.1f} MB"


garbage_frames = (
    st.binary(max_size=200)
    .map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").replace(b":", b""))
    .filter(lambda raw: raw.decode("utf-8", "replace").strip() != "")
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.one_of(st.none(), garbage_frames), min_size=1, max_size=30),
    st.lists(st.integers(min_value=0, max_value=8192), max_size=12),
)
def test_malformed_frames_are_logged_and_skipped_and_valid_ones_around_them_arrive(
    layout: list[bytes | None], cuts: list[int]
) -> None:
    """None marks a valid event; every other item is a frame that is not AMI."""
    stream = bytearray(b"Asterisk Call Manager/9.0.0\r\n")
    expected: list[str] = []
    for item in layout:
        if item is None:
            sequence = str(len(expected))
            expected.append(sequence)
            stream += f"Event: FuzzProbe\r\nSequence: {sequence}\r\n\r\n".encode()
        else:
            stream += item + b"\r\n\r\n"
    garbage = sum(item is not None for item in layout)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("callcenter.ami.framing")
    logger.addHandler(handler)
    try:
        proto, transport, sink = protocol()
        feed(proto, bytes(stream), cuts)
    finally:
        logger.removeHandler(handler)
    assert not transport.aborted
    assert [m["Sequence"] for m in sink.messages] == expected
    skipped = [r for r in records if r.levelno == logging.WARNING and "skipped" in r.getMessage()]
    assert len(skipped) == garbage


class ExplodingSink(Sink):
    def on_message(self, message: Message) -> None:
        if message.get("Explode"):
            raise RuntimeError("listener bug")
        super().on_message(message)


def test_a_listener_that_raises_on_one_event_does_not_stop_the_next() -> None:
    sink = ExplodingSink()
    proto = GuardedAMIProtocol(sink)  # type: ignore[arg-type]
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    proto.data_received(b"Event: A\r\nExplode: yes\r\n\r\nEvent: B\r\n\r\n")
    assert [m["Event"] for m in sink.messages] == ["B"] and not transport.aborted
