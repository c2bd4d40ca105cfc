"""AMI events per second through the guarded parser and the call tracker, on one core.

Input: the real Asterisk traces in tests/sim/reference/ (every call scenario), their raw wire bytes
repeated ``--repeat`` times with the Uniqueid/Linkedid prefix changed per
repetition, so every repetition is a new set of calls (not ignored as already
ended). Bytes are fed in 4 KiB reads, as a socket would deliver them, into
GuardedAMIProtocol (framing + panoramisk Message parsing) whose events go to
CallTracker.feed. Domain events are published on a real EventBus.

    .venv/bin/python bench/ami_events.py --repeat 200
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from callcenter.ami.protocol import GuardedAMIProtocol
from callcenter.core.bus import DomainEvent, EventBus
from callcenter.core.calltracker import CallTracker
from tests.ami.traces import raw_bytes

TRACES = [
    "a-answered-caller-hangup", "b-noanswer-reroute", "c-abandon-while-ringing",
    "d-queue-answered", "d2-queue-ringnoanswer", "d3-queue-abandon", "e-redirect-transfer",
    "e2-blindtransfer", "e3-atxfer", "f-queries-live", "g-fastagi-down", "h-pjsip-sipp-call",
    "i-fastagi-protocol",
]  # fmt: skip


class _Transport:
    def abort(self) -> None:
        raise SystemExit("the benchmark input was refused as oversized")

    close = abort


class _Sink:
    def __init__(self, tracker: CallTracker) -> None:
        self.tracker = tracker
        self.events = 0

    def on_message(self, message: Any) -> None:
        self.events += 1
        self.tracker.feed(message)

    def on_connection_lost(self, protocol: Any, exc: Any) -> None:
        pass


def build_stream(repeat: int) -> bytes:
    base = b"".join(raw_bytes(name).split(b"\r\n", 1)[1] for name in TRACES)
    # Ids and timestamps all start with 17954…: a new prefix per repetition makes new calls.
    return b"".join(base.replace(b"17954", b"%05d" % (20000 + k)) for k in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--read-size", type=int, default=4096)
    args = parser.parse_args()
    stream = build_stream(args.repeat)
    bus = EventBus()
    published = [0]
    bus.subscribe(DomainEvent, lambda event: published.__setitem__(0, published[0] + 1))
    tracker = CallTracker(bus)
    sink = _Sink(tracker)
    protocol = GuardedAMIProtocol(sink)  # type: ignore[arg-type]
    protocol.connection_made(_Transport())  # type: ignore[arg-type]
    protocol.data_received(b"Asterisk Call Manager/11.0.0\r\n")
    size = args.read_size
    start = time.perf_counter()
    cpu_start = time.process_time()
    for offset in range(0, len(stream), size):
        protocol.data_received(stream[offset : offset + size])
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(f"bytes            {len(stream):,}")
    print(f"AMI events       {sink.events:,}")
    print(f"domain events    {published[0]:,}")
    print(f"calls still live {len(tracker.active_calls)}")
    print(f"elapsed          {elapsed:.2f} s")
    print(f"cpu time         {cpu:.2f} s")
    print(f"throughput       {sink.events / elapsed:,.0f} AMI events/s wall clock")
    print(f"throughput       {sink.events / cpu:,.0f} AMI events/s per CPU second (one core)")


if __name__ == "__main__":
    main()
