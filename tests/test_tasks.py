"""Supervised background tasks: a failure is logged once with its cause, then restarted."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter import tasks


async def test_a_failing_loop_is_restarted_with_backoff_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    delays: list[float] = []

    async def loop() -> None:
        runs.append(len(runs))
        if len(runs) <= 3:
            raise ConnectionResetError("peer went away")

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    with caplog.at_level(logging.WARNING, logger="callcenter.tasks"):
        task = tasks.supervise("reader", loop, backoff=0.5, backoff_max=1.5, sleep=no_wait)
        await asyncio.wait_for(task, timeout=5)
    assert runs == [0, 1, 2, 3]  # three failures, then a run that ended normally
    assert delays == [0.5, 1.0, 1.5]  # doubling, up to the ceiling
    with_cause = [r for r in caplog.records if r.exc_info]
    assert len(with_cause) == 1 and "peer went away" in str(with_cause[0].exc_info[1])
    assert with_cause[0].getMessage() == "reader failed; restarting in 0.5 s"
    repeats = [r.getMessage() for r in caplog.records if not r.exc_info]
    assert repeats == [
        "reader failed again (2 times: ConnectionResetError); restarting in 1.0 s",
        "reader failed again (3 times: ConnectionResetError); restarting in 1.5 s",
    ]


async def test_too_many_failures_in_a_row_call_on_fatal_once() -> None:
    reasons: list[str] = []

    async def loop() -> None:
        raise ValueError("bad row")

    async def no_wait(_seconds: float) -> None:
        return None

    task = tasks.supervise("writer", loop, on_fatal=reasons.append, max_restarts=2, sleep=no_wait)
    await asyncio.wait_for(task, timeout=5)
    assert reasons == ["writer failed 3 times in a row: ValueError: bad row"]


async def test_stop_logs_what_a_task_raised_instead_of_hiding_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("could not close the file") from None

    task = asyncio.get_running_loop().create_task(stubborn(), name="exporter")
    await started.wait()
    with caplog.at_level(logging.ERROR, logger="callcenter.tasks"):
        await tasks.stop(task)
    assert task.done()
    [record] = caplog.records
    assert record.getMessage() == "background task exporter failed while stopping"
    assert "could not close the file" in str(record.exc_info and record.exc_info[1])


async def test_stop_does_not_swallow_its_own_cancellation() -> None:
    """Cancelling the one who stops a slow task cancels it too, not just the task."""
    cleaning = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cleaning.set()
            await asyncio.sleep(60)  # a long cleanup

    inner = asyncio.get_running_loop().create_task(slow_to_stop())
    await asyncio.sleep(0)
    outer = asyncio.get_running_loop().create_task(tasks.stop(inner))
    await asyncio.wait_for(cleaning.wait(), timeout=5)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(outer, timeout=5)
    assert inner.cancelled()
