"""The persistent job queue on both databases: once per recording, claimed once, three
failures make it failed with the reason, a crash's running jobs go back to the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.db.models import Transcript, TranscriptionJob
from callcenter.db.repos import transcripts as repo

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_queue_lifecycle(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session, session.begin():
        job = await repo.enqueue(
            session, kind="call", linkedid="1.1", audio_file="1.1.wav", now=NOW
        )
        again = await repo.enqueue(
            session, kind="call", linkedid="1.1", audio_file="1.1.wav", now=NOW
        )
        await repo.enqueue(session, kind="voicemail", linkedid="1.1", audio_file="v.wav", now=NOW)
    assert job is not None and again is None
    async with session_factory() as session, session.begin():
        first = await repo.claim_next(session, NOW)
        second = await repo.claim_next(session, NOW)
        third = await repo.claim_next(session, NOW)
    assert first is not None and second is not None and third is None
    assert (first.status, first.kind, second.kind) == ("running", "call", "voicemail")

    # a crash: both were running; start-up puts them back
    async with session_factory() as session, session.begin():
        assert await repo.requeue_running(session, NOW) == 2
    # three failures (each retried later) → failed, with the reason kept
    now = NOW
    for attempt in (1, 2, 3):
        async with session_factory() as session, session.begin():
            claimed = await repo.claim_next(session, now)
            assert claimed is not None and claimed.id == first.id, attempt
            status = await repo.failed(session, claimed.id, "recording file missing: 1.1.wav", now)
        assert status == ("failed" if attempt == 3 else "queued")
        async with session_factory() as session:
            waiting = await repo.claim_next(session, now)  # not due yet: the voicemail is
            assert waiting is not None and waiting.kind == "voicemail"
            await session.rollback()
        now += timedelta(minutes=2)
    async with session_factory() as session:
        stored = await session.get(TranscriptionJob, first.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == ("failed", 3)
    assert stored.last_error == "recording file missing: 1.1.wav"


async def test_search_is_accent_insensitive(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session, session.begin():
        for linkedid, text in (("a", "xe tải của tôi cần bảo hành phanh"), ("b", "cảm ơn em")):
            job = await repo.enqueue(
                session, kind="call", linkedid=linkedid, audio_file=f"{linkedid}.wav", now=NOW
            )
            assert job is not None
            await session.flush()
            await repo.store(
                session, job, text_=text, words=[], engine="vosk", model="m",
                audio_seconds=1.0, real_time_factor=0.1, audio_file=f"{linkedid}.ogg",
                audio_bytes=10, suggested_category_id=None, now=NOW,
            )  # fmt: skip
    for query, expected in (
        ("bao hanh", {"a"}),
        ("bảo hành", {"a"}),
        ("BẢO HÀNH phanh", {"a"}),
        ("cam on", {"b"}),
        ("khong co", set()),
    ):
        async with session_factory() as session:
            condition = repo.search_condition(session, query)
            found = set(await session.scalars(select(Transcript.linkedid).where(condition)))
        assert found == expected, query


async def test_calls_recorded_while_the_daemon_was_down_are_queued_once(
    session_factory: async_sessionmaker[Any],
) -> None:
    from callcenter.db.models import Call

    async with session_factory() as session, session.begin():
        for linkedid, path, ended in (
            ("new.1", "/var/spool/x/new.1.wav", NOW - timedelta(hours=1)),
            ("queued.2", "/var/spool/x/queued.2.wav", NOW - timedelta(hours=1)),
            ("old.3", "/var/spool/x/old.3.wav", NOW - timedelta(days=5)),
            ("done.4", "done.4.ogg", NOW - timedelta(hours=1)),
            ("none.5", "", NOW - timedelta(hours=1)),
        ):
            session.add(Call(linkedid=linkedid, started_at=ended, ended_at=ended,
                             answered_at=ended, recording_path=path))  # fmt: skip
        session.add(Call(linkedid="abandoned.6", started_at=NOW, ended_at=NOW,
                         recording_path="/var/spool/x/abandoned.6.wav"))  # fmt: skip
        await repo.enqueue(session, kind="call", linkedid="queued.2", audio_file="q.wav", now=NOW)
    async with session_factory() as session, session.begin():
        assert await repo.enqueue_missed(session, NOW - timedelta(days=2), NOW) == 1
    async with session_factory() as session, session.begin():
        assert await repo.enqueue_missed(session, NOW - timedelta(days=2), NOW) == 0
        jobs = dict((await session.execute(select(TranscriptionJob.linkedid,
                                                  TranscriptionJob.audio_file))).all())  # fmt: skip
    assert jobs == {"queued.2": "q.wav", "new.1": "/var/spool/x/new.1.wav"}


async def test_only_answered_calls_are_queued_at_hang_up(
    session_factory: async_sessionmaker[Any],
) -> None:
    from callcenter.clock import ManualClock
    from callcenter.core.bus import EventBus
    from callcenter.core.call_events import CallRecord
    from callcenter.core.events import CallEnded
    from callcenter.transcripts.bus_consume import RecordingsToTranscribe
    from callcenter.transcripts.services import TranscriptionService

    service = TranscriptionService(sessions=session_factory, clock=ManualClock(NOW),
                                   recordings_dir=Path("."), pool_factory=None)  # fmt: skip
    consumer = RecordingsToTranscribe(service, session_factory)
    bus = EventBus()
    unsubscribe = consumer.subscribe(bus)
    path = "/var/spool/asterisk/monitor/callcenter/{}.wav"
    for linkedid, answered in (("answered.1", NOW), ("abandoned.2", None), ("answered.1", NOW)):
        record = CallRecord(linkedid, NOW, answered_at=answered, ended_at=NOW,
                            recording_path=path.format(linkedid))  # fmt: skip
        bus.publish(CallEnded(linkedid, NOW, record))
    await consumer.drain()
    unsubscribe()
    async with session_factory() as session:
        jobs = list(await session.scalars(select(TranscriptionJob)))
    assert [(j.linkedid, j.audio_file, j.status) for j in jobs] == [
        ("answered.1", path.format("answered.1"), "queued")
    ]
