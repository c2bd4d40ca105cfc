"""Retention: delete recordings, and separately transcripts, older than the configured
number of days; log and audit what was deleted.

Recordings: every file of the call (the Opus or WAV for playback, each side's WAV) is
removed, and the call and its transcript forget the file name, so the call page says
"not recorded" rather than "missing". Transcripts: the rows go (the search index with
them); their jobs go too, so nothing queues them again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import Clock
from callcenter.db.models import Call, Transcript, TranscriptionJob
from callcenter.db.repos.audit import record
from callcenter.stt.codec import COMPRESSED_SUFFIX
from callcenter.transcripts import audio

log = logging.getLogger(__name__)

#: How often the sweep runs; it is cheap when there is nothing to delete.
SWEEP_EVERY_SECONDS = 6 * 3600.0


@dataclass
class Deleted:
    recordings: int = 0
    files: int = 0
    bytes: int = 0
    transcripts: int = 0
    calls: list[str] = field(default_factory=list)


def _files_of(folder: Path, names: set[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        try:
            base = audio.inside(folder, name)
        except audio.AudioError:
            continue
        wav = base.with_suffix(".wav")  # Linkedids have a dot: only the last suffix changes
        candidates = [base, wav, wav.with_suffix(COMPRESSED_SUFFIX)]
        candidates += [audio.speaker_file(wav, speaker) for speaker in audio.SPEAKERS]
        found.extend(path for path in candidates if path.is_file() and path not in found)
    return found


def _remove(paths: list[Path]) -> int:
    size = 0
    for path in paths:
        size += path.stat().st_size
        path.unlink(missing_ok=True)
    return size


class RetentionSweep:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[Any],
        clock: Clock,
        recordings_dir: Path,
        recordings_days: int,
        transcripts_days: int,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._folder = Path(recordings_dir)
        self._recordings_days = recordings_days
        self._transcripts_days = transcripts_days

    @property
    def enabled(self) -> bool:
        return bool(self._recordings_days or self._transcripts_days)

    async def run(self, every: float = SWEEP_EVERY_SECONDS) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(every)

    async def sweep(self) -> Deleted:
        now = self._clock.now()
        deleted = Deleted()
        if self._recordings_days:
            await self._recordings(now - timedelta(days=self._recordings_days), deleted)
        if self._transcripts_days:
            await self._transcripts(now - timedelta(days=self._transcripts_days), deleted)
        if deleted.recordings or deleted.transcripts:
            log.info(
                "retention: deleted %d recording(s) (%d files, %.1f MB) older than %d days "
                "and %d transcript(s) older than %d days",
                deleted.recordings, deleted.files, deleted.bytes / 1e6, self._recordings_days,
                deleted.transcripts, self._transcripts_days,
            )  # fmt: skip
            async with self._sessions() as session, session.begin():
                await record(
                    session, action="delete", target="retention", username="retention",
                    details={"recordings": deleted.recordings, "files": deleted.files,
                             "bytes": deleted.bytes, "transcripts": deleted.transcripts,
                             "calls": deleted.calls[:200]}, at=now,
                )  # fmt: skip
        return deleted

    async def _recordings(self, cutoff: datetime, deleted: Deleted) -> None:
        async with self._sessions() as session, session.begin():
            calls = list(
                await session.scalars(
                    select(Call).where(Call.started_at < cutoff, Call.recording_path != "")
                )
            )
            linkedids = [call.linkedid for call in calls]
            transcripts = list(
                await session.scalars(
                    select(Transcript).where(
                        Transcript.audio_file != "",
                        or_(Transcript.linkedid.in_(linkedids), Transcript.created_at < cutoff),
                    )
                )
            )
            names = {call.recording_path for call in calls}
            names |= {t.audio_file for t in transcripts}
            files = await asyncio.to_thread(_files_of, self._folder, names)
            deleted.bytes += await asyncio.to_thread(_remove, files)
            deleted.files += len(files)
            deleted.recordings += len({*linkedids, *(t.linkedid for t in transcripts)})
            deleted.calls.extend(linkedids)
            for call in calls:
                call.recording_path = ""
            for transcript in transcripts:
                transcript.audio_file, transcript.audio_bytes = "", 0

    async def _transcripts(self, cutoff: datetime, deleted: Deleted) -> None:
        async with self._sessions() as session, session.begin():
            old = list(
                await session.scalars(select(Transcript).where(Transcript.created_at < cutoff))
            )
            job_ids = [t.job_id for t in old if t.job_id is not None]
            for transcript in old:
                await session.delete(transcript)
            await session.flush()
            if job_ids:
                await session.execute(
                    delete(TranscriptionJob).where(TranscriptionJob.id.in_(job_ids))
                )
            deleted.transcripts += len(old)
