"""Keyword rules: set in the admin console, matched accent-insensitively on whole words,
and the category they suggest appears on the call once the transcript is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from callcenter.clock import SystemClock
from callcenter.db.models import AuditEntry, Call, Category, CategoryKeywords, Transcript
from callcenter.db.repos import transcripts as repo
from callcenter.registry import SESSIONMAKER, SETTINGS
from callcenter.transcripts.services import TranscriptionService
from callcenter.transcripts.suggest import suggest
from tests.auth_helpers import csrf_from_html, login, make_user
from tests.transcripts.world import said


def test_matching_folds_accents_and_needs_whole_words() -> None:
    rules = {1: "bảo hành\nwarranty", 2: "phanh, thắng xe"}
    assert suggest("Xe tôi cần BAO HANH gấp", rules) == 1
    assert suggest("the warranty ran out", rules) == 1
    assert suggest("phanh kêu, phanh mòn, còn bảo hành không", rules) == 2  # most hits win
    assert suggest("phanhxyz không liên quan", rules) is None
    assert suggest("", rules) is None and suggest("bảo hành", {}) is None


async def test_an_admin_sets_keywords_and_the_next_transcript_gets_the_suggestion(
    client: TestClient,
) -> None:
    await make_user(client, "kw.admin", "admin")
    await make_user(client, "kw.super", "supervisor")
    app = client.server.app
    async with app[SESSIONMAKER]() as session, session.begin():
        brakes = Category(code="kw_brakes", name="Hỏng phanh", name_en="Brake failure")
        other = Category(code="kw_other", name="Khác", name_en="Other")
        session.add_all([brakes, other])
        await session.flush()
        brakes_id, other_id = brakes.id, other.id
    await login(client, "kw.admin")
    page = await (await client.get("/admin/category-keywords")).text()
    assert f'name="keywords-{brakes_id}"' in page and "Hỏng phanh" in page
    token = csrf_from_html(page)
    too_long = await client.post(
        "/admin/category-keywords",
        data={"csrf_token": token, f"keywords-{brakes_id}": "x" * 4001},
    )
    assert too_long.status == 400 and "4000" in await too_long.text()
    saved = await client.post(
        "/admin/category-keywords",
        data={"csrf_token": token, f"keywords-{brakes_id}": " hỏng phanh \n\nbrake failure ",
              f"keywords-{other_id}": ""},
        allow_redirects=False,
    )  # fmt: skip
    assert saved.status == 302
    async with app[SESSIONMAKER]() as session:
        rule = await session.scalar(select(CategoryKeywords))
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.target == "category_keywords")
        )
    assert rule is not None and rule.keywords == "hỏng phanh\nbrake failure"
    assert audit is not None and audit.details["changed"] == {
        "kw_brakes": ["hong phanh", "brake failure"]
    }

    # A call is transcribed (stored as the pipeline stores it): the suggestion appears.
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    async with app[SESSIONMAKER]() as session, session.begin():
        call = Call(linkedid="1764558000.9", started_at=now, disposition="answered")
        session.add(call)
        await repo.enqueue(session, kind="call", linkedid=call.linkedid, audio_file="x.wav",
                           now=now)  # fmt: skip
        await session.flush()
        job = await repo.claim_next(session, now)
        call_id = call.id
    assert job is not None
    service = TranscriptionService(sessions=app[SESSIONMAKER], clock=SystemClock(),
                                   recordings_dir=app[SETTINGS].recordings_dir, pool_factory=None)  # fmt: skip
    ogg = app[SETTINGS].recordings_dir / "1764558000.9.ogg"
    ogg.write_bytes(b"OggS")
    await service.store_result(job, [("customer", said("xe tải bị HONG PHANH rồi em"))], ogg)
    async with app[SESSIONMAKER]() as session:
        transcript = await session.scalar(select(Transcript))
    assert transcript is not None and transcript.suggested_category_id == brakes_id
    assert transcript.suggestion_accepted is None  # nobody chose yet
    await client.get("/logout")
    client.session.cookie_jar.clear()
    await login(client, "kw.super")
    page = await (await client.get(f"/calls/{call_id}")).text()
    assert 'id="suggested-category"><span class="tag">Hỏng phanh</span>' in page
    # the choice form proposes the suggestion; choosing it marks it accepted
    response = await client.post(
        f"/calls/{call_id}/category",
        data={"category_id": str(brakes_id), "csrf_token": csrf_from_html(page)},
        allow_redirects=False,
    )
    assert response.status == 303
    async with app[SESSIONMAKER]() as session:
        transcript = await session.scalar(select(Transcript))
    assert transcript is not None and transcript.suggestion_accepted is True
