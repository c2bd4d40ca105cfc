"""Worker processes: the model loads in the worker, the loop stays free, a killed worker is
replaced, a model that cannot load is a clear error."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from callcenter.stt.pool import (
    EngineFailed,
    EngineSpec,
    RecogniserPool,
    WorkerDied,
    check_model,
    default_worker_count,
)
from callcenter.stt.recogniser import AudioError
from tests.stt.speech_audio import PHRASES, speech_with_gaps


def test_default_worker_count_leaves_a_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_worker_count() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert default_worker_count() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert default_worker_count() == 7


async def test_a_killed_worker_is_replaced_and_the_next_file_completes(tmp_path: Path) -> None:
    from tests.stt.speech_audio import model_folder

    long_call = tmp_path / "long.wav"
    speech_with_gaps(long_call, PHRASES * 6, gap=1.0)
    pool = RecogniserPool(EngineSpec("vosk", model_folder()), 1)
    await pool.start()
    try:
        [first_pid] = pool.pids()
        assert psutil.Process(first_pid).nice() == min(19, psutil.Process().nice() + 10)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        job = asyncio.create_task(pool.transcribe(long_call))
        while not pool.busy_pids():  # noqa: ASYNC110 - the pool has no event to wait on
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(WorkerDied, match="ended"):
            await job
        result = await pool.transcribe(long_call)  # a fresh worker takes the file
        ticker.cancel()
        assert pool.replaced == 1
        assert pool.pids() and pool.pids()[0] != first_pid
        assert result.words and result.duration > 20
        assert ticks > 50, "the event loop was blocked while the worker transcribed"
        with pytest.raises(AudioError, match="missing"):
            await pool.transcribe(tmp_path / "gone.wav")
    finally:
        await pool.close()
    assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie"


async def test_a_model_that_cannot_load_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineFailed, match="no Vosk model"):
        await check_model(EngineSpec("vosk", str(tmp_path)))
    with pytest.raises(EngineFailed, match="unknown speech engine"):
        await check_model(EngineSpec("whisper", str(tmp_path)))
