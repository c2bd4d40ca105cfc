"""Transcription (issue 14): the persistent job queue, the transcripts, keyword rules.

A job names its recording by the call's Linkedid (or a voicemail's Uniqueid) and the
file's base name, not by the call's row id: the job is queued at hang-up, when the
call record may still be on its way to the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base

JOB_STATUSES = ("queued", "running", "done", "failed")


class TranscriptionJob(Base):
    __tablename__ = "transcription_jobs"
    __table_args__ = (UniqueConstraint("kind", "linkedid", name="uq_transcription_jobs_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="call", doc="call or voicemail")
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    audio_file: Mapped[str] = mapped_column(String(300), doc="base name in recordings_dir")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Transcript(Base):
    """What was said, with every word's time and speaker (agent / customer / "" if mixed)."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("transcription_jobs.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="call")
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    text_folded: Mapped[str] = mapped_column(Text, default="", doc="accent-folded, for search")
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    engine: Mapped[str] = mapped_column(String(40), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    audio_seconds: Mapped[float] = mapped_column(default=0.0)
    real_time_factor: Mapped[float] = mapped_column(default=0.0)
    audio_file: Mapped[str] = mapped_column(String(300), default="", doc="what playback serves")
    audio_bytes: Mapped[int] = mapped_column(default=0)
    suggested_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    suggestion_accepted: Mapped[bool | None] = mapped_column(
        doc="None until a person chose a category; then whether they chose the suggestion"
    )
    created_at: Mapped[datetime] = mapped_column(index=True)


class CategoryKeywords(Base):
    """Keywords that suggest a category when a transcript contains one (accent-insensitive)."""

    __tablename__ = "category_keywords"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), unique=True
    )
    keywords: Mapped[str] = mapped_column(Text, default="", doc="one keyword or phrase a line")
