"""The calls list and the call page over HTTP: who sees which call, the filters and the
accent-insensitive transcript search, the suggested category and a person's choice."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from callcenter.db.models import CallWrapUp, Transcript
from callcenter.registry import SESSIONMAKER
from tests.auth_helpers import csrf_from_html, login
from tests.transcripts.world import World, build_world


@pytest.fixture
async def world(client: TestClient) -> World:
    return await build_world(client.server.app)


def call_ids(html: str) -> set[int]:
    return {int(found) for found in re.findall(r'data-call="(\d+)"', html)}


async def test_a_supervisor_filters_and_searches_every_call(
    client: TestClient, world: World
) -> None:
    await login(client, "tr.super")
    everything = await (await client.get("/calls")).text()
    assert call_ids(everything) == {world.warranty_call, world.failed_call}
    assert "Đang chờ" not in everything and "Chuyển thành văn bản thất bại" in everything
    for query, expected in (
        ({"q": "bao hanh"}, {world.warranty_call}),
        ({"q": "bảo hành"}, {world.warranty_call}),
        ({"q": "Bảo Hành phanh"}, {world.warranty_call}),
        ({"q": "khiếu nại"}, set()),
        ({"agent": str(world.other_agent)}, {world.failed_call}),
        ({"customer": "nguyen van"}, {world.warranty_call}),
        ({"customer": "0912345672"}, {world.failed_call}),
        ({"outcome": "abandoned"}, set()),
        ({"min_seconds": "200"}, {world.failed_call}),
        ({"max_seconds": "200"}, {world.warranty_call}),
        ({"from": "01/12/2026", "to": "01/12/2026"}, {world.warranty_call, world.failed_call}),
        ({"from": "02/12/2026"}, set()),
    ):
        response = await client.get("/calls", params=query)
        assert response.status == 200
        assert call_ids(await response.text()) == expected, query
    bad = await (await client.get("/calls", params={"from": "2026-12-01"})).text()
    assert "Ngày được viết theo dạng dd/mm/yyyy." in bad


async def test_an_agent_sees_and_hears_only_their_own_calls(
    client: TestClient, world: World
) -> None:
    await login(client, "tr.agent")
    page = await (await client.get("/calls")).text()
    assert call_ids(page) == {world.warranty_call}
    assert call_ids(await (await client.get("/calls", params={"q": "bao hanh"})).text()) == {
        world.warranty_call
    }
    assert (await client.get(f"/calls/{world.failed_call}")).status == 404
    own = await (await client.get(f"/calls/{world.warranty_call}")).text()
    assert f'src="/recordings/{world.warranty_call}"' in own
    assert (await client.get(f"/recordings/{world.failed_call}")).status == 404
    assert (await client.get(f"/recordings/{world.warranty_call}")).status == 200


async def test_the_call_page_shows_speakers_words_suggestion_and_failures(
    client: TestClient, world: World
) -> None:
    await login(client, "tr.super")
    page = await (await client.get(f"/calls/{world.warranty_call}")).text()
    assert 'class="turn turn-agent"' in page and 'class="turn turn-customer"' in page
    assert re.search(r'<span class="word" data-s="3.0" data-e="3.3" data-i="\d+">xe</span>', page)
    assert re.search(r'id="suggested-category"><span class="tag">Bảo hành</span>', page)
    failed = await (await client.get(f"/calls/{world.failed_call}")).text()
    assert "Chuyển thành văn bản thất bại" in failed
    assert "recording file missing: 1764554400.2.wav" in failed
    assert 'id="audio-problem"' in failed  # the WAV is not in the recordings folder

    # The supervisor chooses another category: the person's choice wins, the suggestion
    # is stored as not accepted.
    token = csrf_from_html(page)
    response = await client.post(
        f"/calls/{world.warranty_call}/category",
        data={"category_id": str(world.complaint), "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 303
    async with client.server.app[SESSIONMAKER]() as session:
        wrapup = await session.scalar(
            select(CallWrapUp).where(CallWrapUp.call_id == world.warranty_call)
        )
        transcript = await session.scalar(
            select(Transcript).where(Transcript.linkedid == world.linkedid)
        )
    assert wrapup is not None and wrapup.category_id == world.complaint
    assert transcript is not None and transcript.suggested_category_id == world.warranty
    assert transcript.suggestion_accepted is False
    page = await (await client.get(f"/calls/{world.warranty_call}")).text()
    assert 'id="call-category">Khiếu nại<' in page and "không được chọn" in page
    refused = await client.post(
        f"/calls/{world.warranty_call}/category", data={"category_id": "x", "csrf_token": token}
    )
    assert refused.status == 400


async def test_department_staff_hear_their_tickets_calls_and_a_voicemail_plays(
    client: TestClient, world: World
) -> None:
    from datetime import UTC, datetime

    from callcenter.clock import SystemClock
    from callcenter.db.models import Call, Department, Ticket
    from callcenter.db.repos import transcripts as repo
    from callcenter.registry import SETTINGS
    from callcenter.transcripts.services import TranscriptionService
    from tests.auth_helpers import make_user
    from tests.transcripts.world import said

    app = client.server.app
    now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    async with app[SESSIONMAKER]() as session, session.begin():
        service_dept, other_dept = (
            Department(code="tr_dv", name="Dịch vụ"),
            Department(code="tr_kd", name="Kinh doanh"),
        )
        session.add_all([service_dept, other_dept])
        await session.flush()
        session.add(Ticket(code="TK-2026-000077", department_id=service_dept.id,
                           call_id=world.warranty_call, subject="Bảo hành phanh"))  # fmt: skip
        voicemail_call = Call(linkedid="1764565200.5", caller_number="+84912000095",
                              started_at=now, disposition="abandoned")  # fmt: skip
        session.add(voicemail_call)
        await repo.enqueue(session, kind="voicemail", linkedid="1764565200.5",
                           audio_file="voicemail-1764565200.5.wav", now=now)  # fmt: skip
        await session.flush()
        job = await repo.claim_next(session, datetime.now(UTC))
        dept_ids = (service_dept.id, other_dept.id)
        voicemail_id = voicemail_call.id
    assert job is not None and job.kind == "voicemail"
    await make_user(app[SESSIONMAKER], "tr.dv", "department", department_id=dept_ids[0])
    await make_user(app[SESSIONMAKER], "tr.kd", "department", department_id=dept_ids[1])
    ogg = app[SETTINGS].recordings_dir / "voicemail-1764565200.5.ogg"
    ogg.write_bytes(b"OggS" + b"\0" * 50)
    service = TranscriptionService(sessions=app[SESSIONMAKER], clock=SystemClock(),
                                   recordings_dir=app[SETTINGS].recordings_dir, pool_factory=None)  # fmt: skip
    await service.store_result(job, [("", said("gọi lại cho tôi về bảo hành"))], ogg)

    await login(client, "tr.dv")
    assert call_ids(await (await client.get("/calls")).text()) == {world.warranty_call}
    assert (await client.get(f"/recordings/{world.warranty_call}")).status == 200
    assert (await client.get(f"/recordings/{voicemail_id}")).status == 404
    await client.get("/logout")
    client.session.cookie_jar.clear()
    await login(client, "tr.kd")
    assert call_ids(await (await client.get("/calls")).text()) == set()
    assert (await client.get(f"/recordings/{world.warranty_call}")).status == 404

    await client.get("/logout")
    client.session.cookie_jar.clear()
    await login(client, "tr.super")
    found = await (await client.get("/calls", params={"q": "goi lai"})).text()
    assert call_ids(found) == {voicemail_id}
    page = await (await client.get(f"/calls/{voicemail_id}")).text()
    assert "<h2>Hộp thư thoại</h2>" in page
    assert f'src="/recordings/{voicemail_id}"' in page
    audio = await client.get(f"/recordings/{voicemail_id}")
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/ogg"
