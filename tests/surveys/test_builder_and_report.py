"""The survey room over HTTP as its users drive it: the admin builds a survey with a
conditional question, an agent answers it on a call, the customer page shows the
response, and the supervisor's report (page and Excel) holds the numbers."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.db.models import Prompt, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from callcenter.db.repos import surveys as surveys_repo
from callcenter.registry import CLOCK, SESSIONMAKER
from tests.surveys.world import api, form, survey_world
from tests.tickets.pages_helpers import as_user
from tests.tickets.world import T0, Office

INTERIOR = "Anh/chị có hài lòng về nội thất xe không?"
WHY = "Vì sao anh/chị không hài lòng?"


@pytest.fixture
async def world(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> tuple[TestClient, Office, int]:
    return await survey_world(aiohttp_client, settings, engine, tmp_path)


async def build(client: TestClient, admin: int) -> tuple[int, dict[str, int]]:
    """The admin's clicks: a survey, a 1–5 score, the interior question, the "why"."""
    token = await as_user(client, admin)
    created = await form(client, "/admin/surveys", token,
                         {"name": "Sau bảo dưỡng", "description": "", "active": "on"})  # fmt: skip
    assert created.status == 302, await created.text()
    survey_id = int(re.search(r"/admin/surveys/(\d+)", created.headers["Location"]).group(1))  # type: ignore[union-attr]
    base = f"/admin/surveys/{survey_id}/questions"
    for fields in (
        {"kind": "scale_5", "text": "Chấm điểm dịch vụ"},
        {"kind": "single_choice", "text": INTERIOR,
         "options": "Không hài lòng\r\nBình thường\r\nHài lòng"},
        {"kind": "scale_10", "text": "Giới thiệu cho bạn bè (0–10)?"},
    ):  # fmt: skip
        answer = await form(client, base, token, fields)
        assert answer.status == 302, await answer.text()
    async with client.server.app[SESSIONMAKER]() as session:
        ids = {q.text: q.id for q in await session.scalars(select(SurveyQuestion))}
    # A condition naming an answer the interior question does not have: refused, kept typed.
    wrong = await form(client, base, token, {"kind": "free_text", "text": WHY,
                                             "depends_on_id": str(ids[INTERIOR]),
                                             "depends_values": "Tệ"})  # fmt: skip
    page = await wrong.text()
    assert wrong.status == 400 and "Tệ" in page and WHY in page
    good = await form(client, base, token, {"kind": "free_text", "text": WHY,
                                            "depends_on_id": str(ids[INTERIOR]),
                                            "depends_values": "Không hài lòng"})  # fmt: skip
    assert good.status == 302
    async with client.server.app[SESSIONMAKER]() as session:
        why = await session.scalar(select(SurveyQuestion).where(SurveyQuestion.text == WHY))
        assert why is not None
        assert (why.depends_on_id, why.depends_values) == (ids[INTERIOR], ["Không hài lòng"])
        ids[WHY] = why.id
    html = await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert f"«{INTERIOR}» = Không hài lòng" in html
    return survey_id, ids


async def test_admin_builds_agent_answers_report_shows_it(world: Any) -> None:
    client, office, admin = world
    survey_id, ids = await build(client, admin)
    url = f"/api/surveys/{survey_id}/responses"
    token = await as_user(client, office.agent)
    listed = await (await client.get("/api/surveys")).json()
    mine = next(s for s in listed["surveys"] if s["id"] == survey_id)
    assert [q["text"] for q in mine["questions"]][-1] == WHY

    # A wrong answer: 400 with the question named, nothing stored.
    status, body = await api(client, url, token,
                             {"answers": {str(ids["Chấm điểm dịch vụ"]): 7}, "linkedid": "tk.1"})  # fmt: skip
    assert status == 400 and "Chấm điểm dịch vụ" in body["error"]
    async with client.server.app[SESSIONMAKER]() as session:
        assert await session.scalar(select(func.count()).select_from(SurveyResponse)) == 0

    answers = [
        # (score, interior, nps, why) — the "why" of a satisfied customer is dropped
        (5, "Hài lòng", 10, "không hiển thị"),
        (2, "Không hài lòng", 3, "Ghế bị rách"),
        (4, "Bình thường", 9, ""),
    ]
    clock: ManualClock = client.server.app[CLOCK]  # type: ignore[assignment]
    for score, interior, nps, why in answers:
        status, body = await api(client, url, token, {
            "linkedid": "tk.1",
            "answers": {str(ids["Chấm điểm dịch vụ"]): score, str(ids[INTERIOR]): interior,
                        str(ids["Giới thiệu cho bạn bè (0–10)?"]): str(nps), str(ids[WHY]): why},
        })  # fmt: skip
        assert status == 201, body
        assert body["channel"] == "agent" and body["customer_id"] == office.customer
        await clock.advance(86400)  # one response a day
        token = await as_user(client, office.agent)  # a new day, a new login
    async with client.server.app[SESSIONMAKER]() as session:
        texts = (await session.scalars(select(SurveyAnswer.value_text).where(
            SurveyAnswer.question_id == ids[WHY]))).all()  # fmt: skip
        response = await session.scalar(select(SurveyResponse).order_by(SurveyResponse.id))
        assert response is not None
        assert (response.linkedid, response.agent_id, response.respondent_user_id) == (
            "tk.1", office.agent, office.agent
        )  # fmt: skip
    assert texts == ["Ghế bị rách"]
    # Per agent who took the call (what replaces reading call_surveys.score per agent).
    async with client.server.app[SESSIONMAKER]() as session:
        scores = await surveys_repo.agent_scores(session, T0, T0 + timedelta(days=7))
        none_yet = await surveys_repo.agent_scores(session, T0 - timedelta(days=7), T0)
    assert {k: (n, round(avg, 2)) for k, (n, avg) in scores.items()} == {office.agent: (3, 3.67)}
    assert none_yet == {}

    # The customer's page lists the responses with who and when.
    token = await as_user(client, office.supervisor)
    page = await (await client.get(f"/customers/{office.customer}")).text()
    assert "Ghế bị rách" in page and "Sau bảo dưỡng" in page and "tk.1" in page

    # The report: CSAT = 2 of 3 scores are 4–5 → 66.7; NPS: 10 and 9 promote, 3 detracts
    # → (2 − 1) / 3 → 33.3.
    report = await client.get(f"/surveys/report?survey={survey_id}&from=23/11/2026&to=30/11/2026")
    html = await report.text()
    assert report.status == 200
    foot = html.split("<tfoot>")[1].split("</tfoot>")[0]
    assert re.sub(r"<[^>]+>", " ", foot).split()[-3:] == ["3", "66.7", "33.3"]
    assert "Ghế bị rách" in html and "không hiển thị" not in html
    rows = html.split('id="report-periods"')[1].split("<tfoot>")[0]
    assert rows.count("<tr>") == 1 + 3  # header + one row per day

    xlsx = await client.get(f"/surveys/report.xlsx?survey={survey_id}&from=23/11/2026"
                            f"&to=30/11/2026&by=month")  # fmt: skip
    assert xlsx.status == 200
    book = openpyxl.load_workbook(io.BytesIO(await xlsx.read()))
    summary = [list(r) for r in book.worksheets[0].iter_rows(min_row=3, values_only=True)]
    assert summary == [["11/2026", 3, 66.7, 33.3], ["Tổng", 3, 66.7, 33.3]]
    assert book.worksheets[0]._charts  # a native chart
    per_answer = {
        (r[0], r[2]): r[3] for r in book.worksheets[1].iter_rows(min_row=2, values_only=True)
    }
    assert per_answer[(INTERIOR, "Không hài lòng")] == 1
    assert per_answer[(INTERIOR, "Hài lòng")] == 1
    assert per_answer[("Chấm điểm dịch vụ", "5")] == 1
    free = [r[2] for r in book.worksheets[2].iter_rows(min_row=2, values_only=True)]
    assert free == ["Ghế bị rách"]


async def test_report_is_for_supervisors_and_bad_dates_are_said(world: Any) -> None:
    client, office, _admin = world
    token = await as_user(client, office.agent)
    assert (await client.get("/surveys/report", allow_redirects=False)).status == 403
    del token
    await as_user(client, office.supervisor)
    page = await client.get("/surveys/report?from=31/02/2026")
    assert page.status == 200
    assert "dd/mm/yyyy" in await page.text()
    async with client.server.app[SESSIONMAKER]() as session:
        # the migrated default post-call survey is listed
        assert await session.scalar(select(func.count()).select_from(Survey)) == 1


async def test_a_question_with_dependents_or_answers_cannot_be_deleted(world: Any) -> None:
    client, office, admin = world
    survey_id, ids = await build(client, admin)
    token = await as_user(client, office.agent)
    status, _body = await api(client, f"/api/surveys/{survey_id}/responses", token,
                              {"answers": {str(ids["Chấm điểm dịch vụ"]): 3}})  # fmt: skip
    assert status == 201
    token = await as_user(client, admin)
    base = f"/admin/surveys/{survey_id}/questions"
    refused = await form(client, f"{base}/{ids[INTERIOR]}/delete", token, {})
    assert refused.status == 400  # the "why" depends on it
    refused = await form(client, f"{base}/{ids['Chấm điểm dịch vụ']}/delete", token, {})
    assert refused.status == 400  # it has an answer
    assert (await form(client, f"{base}/{ids[WHY]}/delete", token, {})).status == 302
    assert (await form(client, f"{base}/{ids[INTERIOR]}/delete", token, {})).status == 302
    async with client.server.app[SESSIONMAKER]() as session:
        left = (await session.scalars(select(SurveyQuestion.text).where(
            SurveyQuestion.survey_id == survey_id).order_by(SurveyQuestion.position))).all()  # fmt: skip
    assert left == ["Chấm điểm dịch vụ", "Giới thiệu cho bạn bè (0–10)?"]


async def test_the_phone_prompt_can_be_generated_as_speech(world: Any, tmp_path: Path) -> None:
    client, _office, admin = world
    survey_id, _ids = await build(client, admin)
    token = await as_user(client, admin)
    added = await form(client, f"/admin/surveys/{survey_id}/questions", token, {
        "kind": "single_choice", "text": "Xe đã được rửa sạch chưa?",
        "options": "Chưa\nRồi", "generate_speech": "on"})  # fmt: skip
    assert added.status == 302, await added.text()
    async with client.server.app[SESSIONMAKER]() as session:
        question = await session.scalar(
            select(SurveyQuestion).where(SurveyQuestion.text == "Xe đã được rửa sạch chưa?"))  # fmt: skip
        assert question is not None
        prompt = await session.scalar(select(Prompt).where(Prompt.code == question.ivr_prompt))
    assert prompt is not None and prompt.code == f"survey-{question.id}"
    wav = tmp_path / "prompts" / prompt.filename
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 8000  # real speech
    # Free text cannot be asked on the phone: refused, nothing added.
    refused = await form(client, f"/admin/surveys/{survey_id}/questions", token, {
        "kind": "free_text", "text": "Góp ý thêm", "generate_speech": "on"})  # fmt: skip
    assert refused.status == 400


async def test_a_question_is_reworded_but_its_conditions_stay_sound(world: Any) -> None:
    client, office, admin = world
    survey_id, ids = await build(client, admin)
    token = await as_user(client, admin)
    url = f"/admin/surveys/{survey_id}/questions/{ids[INTERIOR]}"
    # Dropping the option the "why" depends on: refused, nothing changed.
    refused = await form(client, url, token, {"text": INTERIOR, "ivr_prompt": "",
                                              "options": "Bình thường\nHài lòng"})  # fmt: skip
    assert refused.status == 400
    saved = await form(client, url, token, {
        "text": "Nội thất xe có làm anh/chị hài lòng?", "ivr_prompt": "noi-that",
        "options": "Không hài lòng\nBình thường\nHài lòng\nRất hài lòng"})  # fmt: skip
    assert saved.status == 302
    async with client.server.app[SESSIONMAKER]() as session:
        row = await session.get(SurveyQuestion, ids[INTERIOR])
        assert row is not None
        assert (row.text, row.ivr_prompt, len(row.options)) == (
            "Nội thất xe có làm anh/chị hài lòng?", "noi-that", 4
        )  # fmt: skip
    # Once answered, its options are fixed (the answers name them); the text is not.
    token = await as_user(client, office.agent)
    status, _ = await api(client, f"/api/surveys/{survey_id}/responses", token,
                          {"answers": {str(ids[INTERIOR]): "Rất hài lòng"}})  # fmt: skip
    assert status == 201
    token = await as_user(client, admin)
    refused = await form(client, url, token, {"text": "Nội thất?", "ivr_prompt": "",
                                              "options": "Không hài lòng\nHài lòng"})  # fmt: skip
    assert refused.status == 400
    assert "không thể đổi các lựa chọn" in await refused.text()


async def test_questions_move_up_and_down_but_never_above_their_condition(world: Any) -> None:
    client, _office, admin = world
    survey_id, ids = await build(client, admin)
    token = await as_user(client, admin)
    base = f"/admin/surveys/{survey_id}/questions"
    score, nps = ids["Chấm điểm dịch vụ"], ids["Giới thiệu cho bạn bè (0–10)?"]

    async def order() -> list[int]:
        async with client.server.app[SESSIONMAKER]() as session:
            return list((await session.scalars(select(SurveyQuestion.id).where(
                SurveyQuestion.survey_id == survey_id).order_by(SurveyQuestion.position))).all())  # fmt: skip

    assert await order() == [score, ids[INTERIOR], nps, ids[WHY]]
    moved = await form(client, f"{base}/{nps}/move", token, {"direction": "up"})
    assert moved.status == 302
    assert await order() == [score, nps, ids[INTERIOR], ids[WHY]]
    assert (await form(client, f"{base}/{score}/move", token, {"direction": "down"})).status == 302
    assert await order() == [nps, score, ids[INTERIOR], ids[WHY]]
    # The first stays first; the forms, the panel and the phone ask in the new order.
    assert (await form(client, f"{base}/{nps}/move", token, {"direction": "up"})).status == 302
    listed = await (await client.get("/api/surveys")).json()
    mine = next(s for s in listed["surveys"] if s["id"] == survey_id)
    assert [q["id"] for q in mine["questions"]] == [nps, score, ids[INTERIOR], ids[WHY]]
    # The "why" cannot pass the interior question it depends on, in either direction.
    for url, direction in ((f"{base}/{ids[WHY]}/move", "up"),
                           (f"{base}/{ids[INTERIOR]}/move", "down")):  # fmt: skip
        refused = await form(client, url, token, {"direction": direction})
        assert refused.status == 400
        assert "Câu hỏi phải nằm dưới câu hỏi mà nó phụ thuộc" in await refused.text()
    assert (
        await form(client, f"{base}/{score}/move", token, {"direction": "sideways"})
    ).status == 400
    assert await order() == [nps, score, ids[INTERIOR], ids[WHY]]
    # A question of another survey is not found through this one.
    assert (await form(client, f"/admin/surveys/1/questions/{nps}/move", token,
                       {"direction": "up"})).status == 404  # fmt: skip
    page = await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert page.count('class="move-up"') == 3 and page.count('class="move-down"') == 3
