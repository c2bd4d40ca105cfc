"""The transcription queue's runner: claim a job, transcribe in the worker processes,
compress, store the transcript and the suggested category, finish the job.

Everything slow happens off the event loop: recognition in the speech workers
(``callcenter.stt.pool``), file checks and compression in threads. One runner per
worker, so each worker transcribes one recording at a time. A failure is counted on
the job (three make it *failed*, with the reason shown on the call); the runner moves
on to the next job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import Clock
from callcenter.db.models import Call, CallWrapUp
from callcenter.db.models.transcripts import CategoryKeywords, TranscriptionJob
from callcenter.db.repos import transcripts as repo
from callcenter.stt.pool import EngineFailed, RecogniserPool, WorkerDied
from callcenter.stt.recogniser import AudioError, Transcription
from callcenter.transcripts import audio
from callcenter.transcripts.suggest import suggest

log = logging.getLogger(__name__)

#: Longest wait between two looks at the queue (a retry's ``not_before`` comes due).
POLL_SECONDS = 5.0
#: At start-up, recorded calls that ended this recently without a job are queued.
CATCH_UP = timedelta(days=2)


def merge_words(parts: list[tuple[str, Transcription]]) -> list[dict[str, Any]]:
    """Every speaker's words on one timeline: ``{"w", "s", "e", "c", "sp"}``, by start."""
    words = [
        {"w": w.word, "s": w.start, "e": w.end, "c": w.conf, "sp": speaker}
        for speaker, result in parts
        for w in result.words
    ]
    return sorted(words, key=lambda w: (w["s"], w["e"]))


class TranscriptionService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[Any],
        clock: Clock,
        recordings_dir: Path,
        pool_factory: Callable[[], RecogniserPool] | None,
        compress: bool = True,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._folder = Path(recordings_dir)
        self._pool_factory = pool_factory
        self._compress = compress
        self.wake = asyncio.Event()
        self.pool: RecogniserPool | None = None
        self.state = "off" if pool_factory is None else "starting"
        self.done = 0
        self.failures = 0
        self._recovered = False

    # ------------------------------------------------------------------ queueing
    async def enqueue(self, kind: str, linkedid: str, audio_file: str) -> bool:
        """Queue a recording (once); wake a runner."""
        async with self._sessions() as session, session.begin():
            job = await repo.enqueue(
                session, kind=kind, linkedid=linkedid, audio_file=audio_file,
                now=self._clock.now(),
            )  # fmt: skip
        if job is not None:
            self.wake.set()
        return job is not None

    # ------------------------------------------------------------------ the runner
    async def recover(self) -> None:
        """Start-up: requeue what a crash left running, queue calls recorded while the
        daemon was down. The plugin awaits it during start-up (not in a background task a
        failing start-up would cancel halfway through a query)."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            requeued = await repo.requeue_running(session, now)
            missed = await repo.enqueue_missed(session, now - CATCH_UP, now)
        self._recovered = True
        if requeued:
            log.info("transcription: %d job(s) left running by the last run queued again", requeued)
        if missed:
            log.info("transcription: %d call(s) recorded while the daemon was down queued", missed)

    async def run(self) -> None:
        """Supervised: recover (once), start the workers, run the queue."""
        if not self._recovered:
            await self.recover()
        if self._pool_factory is None:
            log.info("transcription is off (speech.model_path or speech.workers): jobs wait")
            await asyncio.Event().wait()
            return
        pool = self._pool_factory()
        try:
            await pool.start()
        except EngineFailed as exc:
            self.state = f"model failed: {exc}"
            raise
        self.pool, self.state = pool, "ready"
        log.info("transcription: %d worker(s), model %s", pool.size, pool.info.get("model"))
        try:
            await asyncio.gather(*(self._runner() for _ in range(pool.size)))
        finally:
            self.pool = None
            await pool.close()

    async def _runner(self) -> None:
        while True:
            async with self._sessions() as session, session.begin():
                job = await repo.claim_next(session, self._clock.now())
                if job is None:
                    due = await repo.next_due(session)
            if job is not None:
                await self.process(job)
                continue
            wait = POLL_SECONDS
            if due is not None:
                wait = max(0.05, min(wait, (due - self._clock.now()).total_seconds()))
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)

    async def process(self, job: TranscriptionJob) -> None:
        assert self.pool is not None
        try:
            files = await asyncio.to_thread(audio.find, self._folder, job.audio_file)
            parts = [
                (speaker, await self.pool.transcribe(path)) for speaker, path in files.sources()
            ]
            playback = files.mixed
            if self._compress:
                playback = await self.pool.compress(files.mixed)
            await self.store_result(job, parts, playback)
        except WorkerDied as exc:  # replaced before its next file: retry at once
            await self._failed(job, str(exc), retry_now=True)
            return
        except (AudioError, EngineFailed) as exc:
            await self._failed(job, str(exc))
            return
        except Exception as exc:
            log.exception("transcribing job %d (%s) failed", job.id, job.audio_file)
            await self._failed(job, f"{type(exc).__name__}: {exc}")
            return
        if playback != files.mixed:
            await asyncio.to_thread(audio.remove, files.wav_files())
        self.done += 1

    async def store_result(
        self, job: TranscriptionJob, parts: list[tuple[str, Transcription]], playback: Path
    ) -> None:
        words = merge_words(parts)
        text = " ".join(w["w"] for w in words)
        duration = max(result.duration for _speaker, result in parts)
        elapsed = sum(result.elapsed for _speaker, result in parts)
        size = (await asyncio.to_thread(playback.stat)).st_size
        async with self._sessions() as session, session.begin():
            rules = {
                row.category_id: row.keywords
                for row in await session.scalars(select(CategoryKeywords))
            }
            stored = await session.get(TranscriptionJob, job.id)
            assert stored is not None
            suggested = suggest(text, rules)
            transcript = await repo.store(
                session, stored, text_=text, words=words, engine=parts[0][1].engine,
                model=parts[0][1].model, audio_seconds=duration,
                real_time_factor=elapsed / duration if duration else 0.0,
                audio_file=playback.name, audio_bytes=size,
                suggested_category_id=suggested, now=self._clock.now(),
            )  # fmt: skip
            if job.kind == "call":
                call = await session.scalar(select(Call).where(Call.linkedid == job.linkedid))
                if call is not None:
                    call.recording_path = playback.name
                    # The agent usually chose a category before the transcript is ready:
                    # record whether the suggestion agrees (the person's choice stands).
                    chosen = await session.scalar(
                        select(CallWrapUp.category_id).where(CallWrapUp.call_id == call.id)
                    )
                    if chosen is not None and suggested is not None:
                        transcript.suggestion_accepted = chosen == suggested

    async def _failed(self, job: TranscriptionJob, reason: str, *, retry_now: bool = False) -> None:
        self.failures += 1
        async with self._sessions() as session, session.begin():
            status = await repo.failed(
                session, job.id, reason, self._clock.now(), retry_now=retry_now
            )
        log.warning("transcription of %s failed (%s): %s", job.audio_file, status, reason)


TRANSCRIPTION: web.AppKey[TranscriptionService] = web.AppKey("transcription", TranscriptionService)
