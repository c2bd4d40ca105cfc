"""The typed event bus: dispatch by type, a failing subscriber is contained and logged
once, and mypy rejects a subscriber that reads a field its event does not have."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

from callcenter.core.bus import EventBus
from callcenter.core.events import CallFact, ConfigChanged, DomainEvent
from tests.events import answered, ended

REPO = Path(__file__).resolve().parents[1]


def test_dispatch_by_type_and_base_type() -> None:
    bus = EventBus()
    exact: list[Any] = []
    calls: list[Any] = []
    everything: list[Any] = []
    bus.subscribe(type(answered("1.1", "PJSIP/101")), exact.append)
    bus.subscribe(CallFact, calls.append)
    bus.subscribe(DomainEvent, everything.append)
    bus.publish(answered("1.1", "PJSIP/101"))
    bus.publish(ended("1.1"))
    bus.publish(ConfigChanged(area="groups"))
    assert [type(e).__name__ for e in exact] == ["CallAnswered"]
    assert [type(e).__name__ for e in calls] == ["CallAnswered", "CallEnded"]
    assert [type(e).__name__ for e in everything] == ["CallAnswered", "CallEnded", "ConfigChanged"]


def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    seen: list[ConfigChanged] = []
    unsubscribe = bus.subscribe(ConfigChanged, seen.append)
    bus.publish(ConfigChanged(area="users"))
    unsubscribe()
    unsubscribe()  # twice is harmless
    bus.publish(ConfigChanged(area="groups"))
    assert [e.area for e in seen] == ["users"]


def test_a_raising_subscriber_is_logged_once_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    before: list[str] = []
    after: list[str] = []

    def broken_reload(event: ConfigChanged) -> None:
        raise RuntimeError("database gone")

    bus.subscribe(ConfigChanged, lambda e: before.append(e.area))
    bus.subscribe(ConfigChanged, broken_reload)
    bus.subscribe(ConfigChanged, lambda e: after.append(e.area))
    with caplog.at_level(logging.ERROR, logger="callcenter.core.bus"):
        for n in range(25):
            bus.publish(ConfigChanged(area=f"a{n}"))  # the publisher never sees the error
    assert len(before) == len(after) == 25
    failures = [r for r in caplog.records if r.name == "callcenter.core.bus"]
    # the first failure, then the 10th: never one line per failure
    assert len(failures) == 2
    first = failures[0].getMessage()
    assert "broken_reload" in first and "ConfigChanged" in first
    assert failures[0].exc_info is not None and "database gone" in str(failures[0].exc_info[1])
    assert "10 times" in failures[1].getMessage()
    assert bus.failures(broken_reload, ConfigChanged) == 25


async def test_an_async_subscriber_runs_as_a_task_and_its_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    done: list[str] = []

    async def slow(event: ConfigChanged) -> None:
        await asyncio.sleep(0)
        done.append(event.area)

    async def failing(event: ConfigChanged) -> None:
        raise ValueError("bad")

    bus.subscribe(ConfigChanged, slow)
    bus.subscribe(ConfigChanged, failing)
    with caplog.at_level(logging.ERROR, logger="callcenter.core.bus"):
        bus.publish(ConfigChanged(area="groups"))
        assert done == []  # publish does not wait: synchronous-in-the-loop semantics
        await bus.drain()
    assert done == ["groups"]
    assert [r.getMessage() for r in caplog.records if r.name == "callcenter.core.bus"] == [
        "event handler test_an_async_subscriber_runs_as_a_task_and_its_failure_is_logged."
        "<locals>.failing failed on ConfigChanged"
    ]


SNIPPET = """
from callcenter.core.bus import EventBus
from callcenter.core.events import CallAnswered, CallEnded

bus = EventBus()

def on_answered(event: CallAnswered) -> None:
    print(event.interface, event.agent_id)  # CallAnswered has no agent_id

def on_ended(event: CallEnded) -> None:
    print(event.record.disposition)

bus.subscribe(CallAnswered, on_answered)
bus.subscribe(CallAnswered, on_ended)  # a handler for another event
bus.publish(CallEnded(linkedid="1", at=None, record=None, cause="x"))  # wrong payload
"""


def test_mypy_rejects_a_wrong_payload_field(tmp_path: Path) -> None:
    """Run mypy as a developer would: the payload mistakes are type errors."""
    snippet = tmp_path / "subscriber.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    stdout, stderr, status = mypy_api.run(
        [
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports",
            "silent",
            "--config-file",
            "",
            "--python-version",
            "3.11",
            "--show-error-codes",
            str(snippet),
        ]
    )
    assert status == 1, stdout + stderr
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert any(':8: error: "CallAnswered" has no attribute "agent_id"' in e for e in errors)
    assert any(":14: error:" in e and "subscribe" in e for e in errors), errors
    assert any(":15: error:" in e and '"cause"' in e for e in errors), errors
    assert any(":15: error:" in e and '"None"' in e for e in errors), errors
