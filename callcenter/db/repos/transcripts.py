"""Queries for transcription: the job queue's moves, storing a transcript, searching them.

The queue lives in the database so a crash loses nothing: a job is *queued* until a
worker claims it (*running*), then *done*, or back to *queued* after a failure until
``MAX_ATTEMPTS`` failures make it *failed* with the reason. Jobs left *running* by a
daemon that died go back to *queued* at start-up (:func:`requeue_running`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.text import fold
from callcenter.db.models.calls import Call
from callcenter.db.models.org import Category
from callcenter.db.models.transcripts import Transcript, TranscriptionJob

MAX_ATTEMPTS = 3
#: Wait before retrying a failed job: the file may still be being closed by Asterisk.
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=60))


async def enqueue(
    session: AsyncSession, *, kind: str, linkedid: str, audio_file: str, now: datetime
) -> TranscriptionJob | None:
    """Queue a recording once; None when it is already queued (a repeated hang-up event)."""
    existing = await session.scalar(
        select(TranscriptionJob).where(
            TranscriptionJob.kind == kind, TranscriptionJob.linkedid == linkedid
        )
    )
    if existing is not None:
        return None
    job = TranscriptionJob(
        kind=kind, linkedid=linkedid, audio_file=audio_file, status="queued", attempts=0,
        last_error="", not_before=now, created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:
        return None
    return job


async def requeue_running(session: AsyncSession, now: datetime) -> int:
    """At start-up: jobs a previous run left *running* go back to *queued*."""
    result: Any = await session.execute(
        update(TranscriptionJob)
        .where(TranscriptionJob.status == "running")
        .values(status="queued", not_before=now, updated_at=now)
    )
    return int(result.rowcount or 0)


async def enqueue_missed(session: AsyncSession, since: datetime, now: datetime) -> int:
    """At start-up: calls that ended since ``since`` with a recording still in WAV and no
    job (they hung up while the daemon was down) are queued now."""

    has_job = (
        select(TranscriptionJob.id)
        .where(TranscriptionJob.kind == "call", TranscriptionJob.linkedid == Call.linkedid)
        .exists()
    )
    rows = (
        await session.execute(
            select(Call.linkedid, Call.recording_path).where(
                Call.ended_at >= since,
                Call.answered_at.is_not(None),
                Call.recording_path.like("%.wav"),
                ~has_job,
            )
        )
    ).all()
    for linkedid, path in rows:
        await enqueue(session, kind="call", linkedid=linkedid, audio_file=path, now=now)
    return len(rows)


async def claim_next(session: AsyncSession, now: datetime) -> TranscriptionJob | None:
    """Take the oldest due job and mark it *running* (one claimant wins a race)."""
    for _ in range(3):
        job = await session.scalar(
            select(TranscriptionJob)
            .where(TranscriptionJob.status == "queued", TranscriptionJob.not_before <= now)
            .order_by(TranscriptionJob.id)
            .limit(1)
        )
        if job is None:
            return None
        result: Any = await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id, TranscriptionJob.status == "queued")
            .values(status="running", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            await session.refresh(job)
            return job
    return None


async def next_due(session: AsyncSession) -> datetime | None:
    due: datetime | None = await session.scalar(
        select(func.min(TranscriptionJob.not_before)).where(TranscriptionJob.status == "queued")
    )
    return due


async def failed(
    session: AsyncSession, job_id: int, reason: str, now: datetime, *, retry_now: bool = False
) -> str:
    """Count a failure: back to *queued* (later, unless ``retry_now``: a worker died, the
    file is fine), or *failed* for good after the third."""
    job = await session.get(TranscriptionJob, job_id)
    assert job is not None
    job.attempts += 1
    job.last_error = reason[:500]
    job.updated_at = now
    if job.attempts >= MAX_ATTEMPTS:
        job.status = "failed"
    else:
        job.status = "queued"
        delay = RETRY_DELAYS[min(job.attempts, len(RETRY_DELAYS)) - 1]
        job.not_before = now if retry_now else now + delay
    return job.status


async def store(
    session: AsyncSession,
    job: TranscriptionJob,
    *,
    text_: str,
    words: list[dict[str, Any]],
    engine: str,
    model: str,
    audio_seconds: float,
    real_time_factor: float,
    audio_file: str,
    audio_bytes: int,
    suggested_category_id: int | None,
    now: datetime,
) -> Transcript:
    """Save the transcript (replacing an earlier one of the same job) and finish the job."""
    old = await session.scalar(select(Transcript).where(Transcript.job_id == job.id))
    if old is not None:
        await session.delete(old)
        await session.flush()
    transcript = Transcript(
        job_id=job.id, kind=job.kind, linkedid=job.linkedid, text=text_,
        text_folded=fold(text_), words=words, engine=engine, model=model,
        audio_seconds=audio_seconds, real_time_factor=real_time_factor,
        audio_file=audio_file, audio_bytes=audio_bytes,
        suggested_category_id=suggested_category_id, created_at=now,
    )  # fmt: skip
    session.add(transcript)
    job.status = "done"
    job.last_error = ""
    job.updated_at = now
    return transcript


def search_condition(session: AsyncSession, query: str) -> Any:
    """A WHERE clause on ``Transcript.id`` for a text search, accent-insensitive."""
    folded = fold(query)
    terms = [t for t in folded.replace('"', " ").split() if t]
    if not terms:
        return None
    if session.get_bind().dialect.name == "sqlite":
        match = " ".join(f'"{t}"' for t in terms)
        return Transcript.id.in_(
            select(text("rowid"))
            .select_from(text("transcripts_fts"))
            .where(text("transcripts_fts MATCH :match").bindparams(match=match))
        )
    return text(
        "to_tsvector('simple', transcripts.text_folded) @@ plainto_tsquery('simple', :q)"
    ).bindparams(q=" ".join(terms))


async def by_linkedids(session: AsyncSession, linkedids: Sequence[str]) -> dict[str, Transcript]:
    """Each call's transcript: of its recording, or else of the voicemail its caller left
    (a voicemail's job is keyed by the caller's channel, which is the call's Linkedid)."""
    if not linkedids:
        return {}
    rows = await session.scalars(
        select(Transcript).where(Transcript.linkedid.in_(linkedids)).order_by(Transcript.id)
    )
    found: dict[str, Transcript] = {}
    for row in rows:
        if row.linkedid not in found or row.kind == "call":
            found[row.linkedid] = row
    return found


async def suggestion_for_call(session: AsyncSession, call_id: int) -> tuple[int, str] | None:
    """The category (id, name) suggested from the call's transcript, if there is one and
    the category still exists: what the ticket page offers to accept."""
    row = (
        await session.execute(
            select(Category.id, Category.name)
            .join(Transcript, Transcript.suggested_category_id == Category.id)
            .join(Call, Call.linkedid == Transcript.linkedid)
            .where(Call.id == call_id, Transcript.kind == "call")
            .order_by(Transcript.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def record_choice(session: AsyncSession, linkedid: str, category_id: int) -> None:
    """A person chose the call's category (on the call page, or a ticket made from the
    call): its transcript's suggestion is marked accepted or not, which is what the
    suggestions' accuracy is measured by. A transcript without a suggestion stays None."""
    await session.execute(
        update(Transcript)
        .where(
            Transcript.kind == "call",
            Transcript.linkedid == linkedid,
            Transcript.suggested_category_id.is_not(None),
        )
        .values(suggestion_accepted=Transcript.suggested_category_id == category_id)
        .execution_options(synchronize_session=False)
    )


async def jobs_by_linkedids(
    session: AsyncSession, linkedids: Sequence[str]
) -> dict[str, TranscriptionJob]:
    if not linkedids:
        return {}
    rows = await session.scalars(
        select(TranscriptionJob)
        .where(TranscriptionJob.linkedid.in_(linkedids))
        .order_by(TranscriptionJob.id)
    )
    found: dict[str, TranscriptionJob] = {}
    for row in rows:
        if row.linkedid not in found or row.kind == "call":
            found[row.linkedid] = row
    return found
