"""The call page in a real browser (headless Chromium): the compressed recording of a call
transcribed by the real pipeline plays from the middle through HTTP Range requests, the
spoken word is highlighted, a click on a word seeks there; the calls list finds the call
with and without diacritics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, update

from callcenter.auth.passwords import hash_password
from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.models import Call, Transcript, TranscriptionJob, User
from callcenter.db.repos import transcripts as repo
from callcenter.registry import SESSIONMAKER
from callcenter.stt.pool import EngineSpec, RecogniserPool
from callcenter.transcripts.plugin import PLUGIN
from callcenter.transcripts.services import TranscriptionService
from callcenter.web.app import create_app
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.stt.speech_audio import PHRASES, model_folder, speech_with_gaps
from tests.transcripts.world import T0, World, build_world

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LINKEDID = "1764554400.3"


@dataclass
class Site:
    url: str
    world: World
    call_id: int
    transcript: Transcript


async def transcribe_for_real(app: web.Application, settings: Settings, agent_id: int) -> int:
    """A recorded call through the real pipeline: queue, Vosk in a worker, Opus."""
    sessions = app[SESSIONMAKER]
    speech_with_gaps(settings.recordings_dir / f"{LINKEDID}.wav", PHRASES * 3, gap=1.5)
    async with sessions() as session, session.begin():
        call = Call(linkedid=LINKEDID, caller_number="+84912345673", agent_id=agent_id,
                    started_at=T0, answered_at=T0, ended_at=T0, talk_seconds=30.0,
                    disposition="answered", recording_path=f"/var/spool/x/{LINKEDID}.wav")  # fmt: skip
        session.add(call)
        await repo.enqueue(session, kind="call", linkedid=LINKEDID,
                           audio_file=f"{LINKEDID}.wav", now=T0)  # fmt: skip
    spec = EngineSpec("vosk", model_folder())
    service = TranscriptionService(
        sessions=sessions, clock=SystemClock(), recordings_dir=settings.recordings_dir,
        pool_factory=lambda: RecogniserPool(spec, 1),
    )  # fmt: skip
    pool = RecogniserPool(spec, 1)
    await pool.start()
    service.pool = pool
    try:
        async with sessions() as session, session.begin():
            job = await repo.claim_next(session, SystemClock().now())
        assert job is not None
        await service.process(job)
    finally:
        await pool.close()
    async with sessions() as session:
        done = await session.scalar(select(TranscriptionJob.status))
        assert done == "done"
        return call.id


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    await migrate.upgrade_async(settings.database.url)
    app = create_app(settings, extra_plugins=[PLUGIN])
    world = await build_world(app)
    call_id = await transcribe_for_real(app, settings, world.agent)
    async with app[SESSIONMAKER]() as session, session.begin():
        await session.execute(update(User).values(password_hash=hash_password(DEFAULT_PASSWORD)))
        transcript = await session.scalar(select(Transcript).where(Transcript.linkedid == LINKEDID))
    assert transcript is not None and len(transcript.words) >= 6
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        yield Site(f"http://127.0.0.1:{runner.addresses[0][1]}", world, call_id, transcript)
    finally:
        await runner.cleanup()


async def test_play_from_the_middle_highlight_click_to_seek_and_search(site: Site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    words = site.transcript.words
    async with chromium() as browser:
        from playwright.async_api import expect

        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        page.set_default_timeout(15_000)
        ranges: list[tuple[str, int, str]] = []

        async def on_response(response: Any) -> None:
            if "/recordings/" in response.url:
                header = await response.request.header_value("range")
                kind = await response.header_value("content-type")
                ranges.append((header or "", response.status, kind or ""))

        page.on("response", on_response)
        await page.goto(f"{site.url}/login")
        await page.fill("#username", "tr.super")
        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_load_state()

        # Search with and without diacritics finds the Vietnamese call.
        for query in ("bao hanh", "bảo hành"):
            await page.goto(f"{site.url}/calls")
            await page.fill("#call-filters input[name=q]", query)
            await page.click("#call-filters button[type=submit]")
            await expect(page.locator("#call-rows tbody tr")).to_have_count(1)
            await expect(
                page.locator(f"tr[data-call='{site.world.warranty_call}']")
            ).to_be_visible()

        await page.goto(f"{site.url}/calls/{site.call_id}")
        audio = page.locator("#call-audio")
        await expect(audio).to_be_visible()
        await page.wait_for_function(
            "document.getElementById('call-audio').readyState >= 1"
        )  # metadata loaded
        duration = await page.evaluate("document.getElementById('call-audio').duration")
        assert duration == pytest.approx(site.transcript.audio_seconds, abs=0.2)

        # Play from the middle: seek to a word in the second half, play, the word lights up.
        middle = next(w for w in words if w["s"] > duration / 2)
        await page.evaluate(
            "t => { const a = document.getElementById('call-audio'); a.muted = true;"
            " a.currentTime = t; return a.play(); }",
            middle["s"],
        )
        lit = page.locator("#transcript .word.speaking")
        await expect(lit).to_have_count(1)
        lit_start = float(await lit.get_attribute("data-s") or "-1")
        now = await page.evaluate("document.getElementById('call-audio').currentTime")
        assert lit_start >= middle["s"] - 0.01 and lit_start <= now
        await page.screenshot(path=str(ARTIFACTS / "transcripts-call-page.png"), full_page=True)

        # A click on the first word seeks back there.
        first = page.locator("#transcript .word").first
        await first.click()
        await page.wait_for_function(
            f"Math.abs(document.getElementById('call-audio').currentTime - {words[0]['s']}) < 1.0"
        )
        await expect(first).to_have_class("word speaking")
        await page.evaluate("document.getElementById('call-audio').pause()")
        # the player fetched the compressed file by byte ranges (206), as seeking needs
        assert any(
            header.startswith("bytes=") and status == 206 and kind == "audio/ogg"
            for header, status, kind in ranges
        ), ranges
        await context.close()
