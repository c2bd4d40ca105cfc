"""Retention: recordings and, separately, transcripts older than N days are deleted, the
deletion is logged and audited, newer ones stay."""

from __future__ import annotations

import logging
import wave
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from callcenter.clock import ManualClock
from callcenter.db.models import AuditEntry, Call, Transcript, TranscriptionJob
from callcenter.registry import SESSIONMAKER, SETTINGS
from callcenter.transcripts.retention import RetentionSweep
from tests.auth_helpers import login
from tests.transcripts.world import T0, World, build_world


def sweep(client: TestClient, clock: ManualClock, recordings: int, transcripts: int) -> Any:
    app = client.server.app
    return RetentionSweep(sessions=app[SESSIONMAKER], clock=clock,
                          recordings_dir=app[SETTINGS].recordings_dir,
                          recordings_days=recordings, transcripts_days=transcripts)  # fmt: skip


async def test_old_recordings_then_old_transcripts_are_deleted_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    world: World = await build_world(client.server.app)
    app = client.server.app
    folder = app[SETTINGS].recordings_dir
    later = T0 + timedelta(days=40)
    for name in ("1764554400.2.wav", "1764554400.2-agent.wav", "recent.wav"):
        with wave.open(str(folder / name), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\0\1" * 800)
    async with app[SESSIONMAKER]() as session, session.begin():
        session.add(Call(linkedid="recent", started_at=later - timedelta(days=1),
                         recording_path="/var/spool/x/recent.wav"))  # fmt: skip
    clock = ManualClock(later)
    with caplog.at_level(logging.INFO, logger="callcenter.transcripts.retention"):
        deleted = await sweep(client, clock, recordings=30, transcripts=0).sweep()
    assert (deleted.recordings, deleted.files, deleted.transcripts) == (2, 3, 0)
    assert sorted(p.name for p in folder.iterdir()) == ["recent.wav"]
    assert "retention: deleted 2 recording(s) (3 files" in caplog.text
    async with app[SESSIONMAKER]() as session:
        paths = dict((await session.execute(select(Call.linkedid, Call.recording_path))).all())
        transcript = await session.scalar(select(Transcript))
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.target == "retention"))
    assert paths == {world.linkedid: "", "1764554400.2": "", "recent": "/var/spool/x/recent.wav"}
    assert transcript is not None and transcript.audio_file == "" and transcript.text
    assert audit is not None and audit.action == "delete" and audit.details["files"] == 3
    await login_as_supervisor(client)
    page = await (await client.get(f"/calls/{world.warranty_call}")).text()
    assert "Cuộc gọi này không được ghi âm." in page

    # Transcripts have their own limit: now they go too, and the search no longer finds them.
    deleted = await sweep(client, clock, recordings=0, transcripts=30).sweep()
    assert deleted.transcripts == 1
    async with app[SESSIONMAKER]() as session:
        assert await session.scalar(select(func.count()).select_from(Transcript)) == 0
        remaining = await session.scalars(select(TranscriptionJob.linkedid))
        assert list(remaining) == ["1764554400.2"]  # the failed job stays visible
    listing = await (await client.get("/calls", params={"q": "bao hanh"})).text()
    assert "data-call=" not in listing
    # nothing older left: a second sweep deletes nothing and logs nothing
    assert (await sweep(client, clock, 30, 30).sweep()).recordings == 0


async def login_as_supervisor(client: TestClient) -> None:
    await login(client, "tr.super")
