"""A small call centre for the transcripts pages: two agents, a supervisor, a category with
keyword rules, calls with transcripts stored the way the pipeline stores them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import SystemClock
from callcenter.db.models import Call, Category, CategoryKeywords, Customer
from callcenter.db.repos import transcripts as repo
from callcenter.registry import SESSIONMAKER, SETTINGS
from callcenter.stt.recogniser import Transcription, Word
from callcenter.transcripts.services import TranscriptionService
from tests.auth_helpers import make_user

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class World:
    agent: int
    other_agent: int
    warranty: int
    complaint: int
    warranty_call: int
    failed_call: int
    linkedid: str


def said(text: str, start: float = 0.5, speaker_gap: float = 0.4) -> Transcription:
    """What a recogniser returns for ``text``: one word every ``speaker_gap`` seconds."""
    words = [
        Word(word, round(start + i * speaker_gap, 2), round(start + i * speaker_gap + 0.3, 2), 0.9)
        for i, word in enumerate(text.split())
    ]
    return Transcription(text=text, words=words, engine="vosk", model="vosk-model-small-vn",
                         duration=start + len(words) * speaker_gap + 1, elapsed=0.5,
                         sample_rate=8000)  # fmt: skip


async def build_world(app: web.Application) -> World:
    sessions: async_sessionmaker[Any] = app[SESSIONMAKER]
    agent = await make_user(sessions, "tr.agent", "agent", full_name="Lê Văn Tâm")
    other = await make_user(sessions, "tr.other", "agent", full_name="Phạm Thu")
    await make_user(sessions, "tr.super", "supervisor")
    async with sessions() as session, session.begin():
        warranty = Category(code="tr_warranty", name="Bảo hành", name_en="Warranty")
        complaint = Category(code="tr_complaint", name="Khiếu nại", name_en="Complaint")
        customer = Customer(name="Nguyễn Văn Bình", name_search="nguyen van binh")
        session.add_all([warranty, complaint, customer])
        await session.flush()
        session.add(CategoryKeywords(category_id=warranty.id, keywords="bảo hành\nwarranty"))
        session.add(CategoryKeywords(category_id=complaint.id, keywords="khiếu nại, phàn nàn"))
        calls = [
            Call(linkedid=f"1764554400.{n}", caller_number="+8491234567" + str(n),
                 customer_id=customer.id if n == 1 else None, agent_id=owner,
                 started_at=T0.replace(hour=2 + n), answered_at=T0.replace(hour=2 + n),
                 ended_at=T0.replace(hour=2 + n, minute=3), talk_seconds=180.0 * n,
                 disposition="answered", recording_path=f"/var/spool/x/1764554400.{n}.wav")
            for n, owner in ((1, agent.id), (2, other.id))
        ]  # fmt: skip
        session.add_all(calls)
        await session.flush()
        ids = [call.id for call in calls]
        for n in (1, 2):
            await repo.enqueue(
                session, kind="call", linkedid=f"1764554400.{n}",
                audio_file=f"1764554400.{n}.wav", now=T0,
            )  # fmt: skip
        await session.flush()
        first = await repo.claim_next(session, datetime.now(UTC))
        assert first is not None and first.linkedid.endswith(".1")
        for _ in range(3):  # the second call's file never arrived
            job = await repo.claim_next(session, datetime.now(UTC))
            assert job is not None and job.linkedid.endswith(".2")
            await repo.failed(session, job.id, "recording file missing: 1764554400.2.wav",
                              datetime.now(UTC), retry_now=True)  # fmt: skip
    service = TranscriptionService(
        sessions=sessions, clock=SystemClock(), recordings_dir=app[SETTINGS].recordings_dir,
        pool_factory=None,
    )  # fmt: skip
    playback = Path(app[SETTINGS].recordings_dir) / "1764554400.1.ogg"
    playback.write_bytes(b"OggS" + b"\0" * 100)
    await service.store_result(
        first,
        [
            ("agent", said("xin chào anh em nghe")),
            ("customer", said("xe của tôi cần BẢO HÀNH phanh", start=3.0)),
        ],
        playback,
    )
    return World(agent.id, other.id, warranty.id, complaint.id, ids[0], ids[1], "1764554400.1")
