"""Wiring of the transcripts room: the queue runner and its speech workers (supervised),
the bus consumer that queues recordings, the calls pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from callcenter import tasks
from callcenter.config import Settings
from callcenter.plugins import Plugin
from callcenter.registry import BUS, CLOCK, SESSIONMAKER, SETTINGS
from callcenter.stt.pool import EngineSpec, RecogniserPool, default_worker_count
from callcenter.transcripts import http, keywords_admin
from callcenter.transcripts.bus_consume import RecordingsToTranscribe
from callcenter.transcripts.retention import RetentionSweep
from callcenter.transcripts.services import TRANSCRIPTION, TranscriptionService

CONSUMER: web.AppKey[RecordingsToTranscribe] = web.AppKey(
    "transcripts_consumer", RecordingsToTranscribe
)
RETENTION = web.AppKey("transcripts_retention", RetentionSweep)


def pool_factory(settings: Settings) -> Callable[[], RecogniserPool] | None:
    """Workers from ``speech.*``; None (off) without a model or with ``workers = 0``."""
    speech = settings.speech
    count = default_worker_count() if speech.workers is None else speech.workers
    if not speech.model_path or count == 0:
        return None
    spec = EngineSpec(speech.engine, speech.model_path, speech.niceness)
    return lambda: RecogniserPool(spec, count)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    factory = pool_factory(settings)
    service = TranscriptionService(
        sessions=app[SESSIONMAKER],
        clock=app[CLOCK],
        recordings_dir=settings.recordings_dir,
        pool_factory=factory,
        compress=settings.speech.compress,
    )
    app[TRANSCRIPTION] = service
    app[CONSUMER] = RecordingsToTranscribe(service, app[SESSIONMAKER])
    app[RETENTION] = RetentionSweep(
        sessions=app[SESSIONMAKER],
        clock=app[CLOCK],
        recordings_dir=settings.recordings_dir,
        recordings_days=settings.retention.recordings_days,
        transcripts_days=settings.retention.transcripts_days,
    )
    http.setup(app)
    app.router.add_routes(keywords_admin.routes)
    app.cleanup_ctx.append(_work_ctx)


async def _work_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[TRANSCRIPTION]
    await service.recover()
    unsubscribe = app[CONSUMER].subscribe(app[BUS])
    runner = tasks.supervise("transcription", service.run, backoff=5.0, backoff_max=300.0)
    sweep = app[RETENTION]
    retention = tasks.supervise("retention", sweep.run, backoff=60.0) if sweep.enabled else None
    yield
    unsubscribe()
    await app[CONSUMER].drain()
    await tasks.stop(retention)
    await tasks.stop(runner)


PLUGIN = Plugin("transcripts", setup)

__all__ = ["CONSUMER", "PLUGIN", "RETENTION", "TRANSCRIPTION"]
