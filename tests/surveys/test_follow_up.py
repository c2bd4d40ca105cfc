"""The care team's follow-up with a survey instead of the plain satisfied / not satisfied:
the answers are stored against the ticket and its follow-up task, and they decide
whether the ticket closes or goes back to the department."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config import Settings
from callcenter.db.models import Survey, SurveyQuestion, SurveyResponse, Task
from callcenter.db.repos import surveys as surveys_repo
from callcenter.registry import SESSIONMAKER
from tests.surveys.world import api, survey_world
from tests.tickets.pages_helpers import as_user, wrapup_ticket
from tests.tickets.world import Office

INTERIOR = "Anh/chị có hài lòng về nội thất xe không?"
WHY = "Vì sao anh/chị không hài lòng?"


@pytest.fixture
async def world(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> tuple[TestClient, Office, int]:
    client, office, _admin = await survey_world(aiohttp_client, settings, engine, tmp_path)
    async with client.server.app[SESSIONMAKER]() as session:
        survey = Survey(name="Theo dõi sau xử lý", follow_up=True, active=True)
        session.add(survey)
        await session.flush()
        interior = SurveyQuestion(survey_id=survey.id, position=1, kind="single_choice",
                                  text=INTERIOR, options=["Không hài lòng", "Bình thường", "Hài lòng"])  # fmt: skip
        session.add(interior)
        await session.flush()
        session.add(SurveyQuestion(survey_id=survey.id, position=2, kind="free_text", text=WHY,
                                   depends_on_id=interior.id, depends_values=["Không hài lòng"]))  # fmt: skip
        await session.commit()
        ids = {"survey": survey.id, "interior": interior.id, "why": interior.id + 1}
    return client, office, ids  # type: ignore[return-value]


async def _done(client: TestClient, office: Office) -> str:
    code = await wrapup_ticket(client.server.app, office)
    token = await as_user(client, office.head)
    for status in ("in_progress", "done"):
        assert (await api(client, f"/api/tickets/{code}/status", token, {"status": status}))[
            0
        ] == 200
    return code


async def test_the_survey_decides_the_follow_up_and_is_stored(world: Any) -> None:
    client, office, ids = world
    code = await _done(client, office)
    token = await as_user(client, office.supervisor)
    page = await (await client.get(f"/tickets/{code}")).text()
    assert 'id="follow-up-survey"' in page and "Theo dõi sau xử lý" in page
    async with client.server.app[SESSIONMAKER]() as session:
        task = await session.scalar(select(Task).where(Task.kind == "follow_up"))
        assert task is not None and task.status == "open"
    url = f"/api/tickets/{code}/follow-up"
    # An answer the survey cannot take: 400, the ticket stays done, nothing stored.
    status, body = await api(client, url, token, {"survey_id": ids["survey"],
                                                  "answers": {str(ids["interior"]): "Tệ"}})  # fmt: skip
    assert status == 400 and INTERIOR in body["error"]
    status, body = await api(client, url, token, {
        "survey_id": ids["survey"],
        "answers": {str(ids["interior"]): "Không hài lòng", str(ids["why"]): "Ghế vẫn bẩn"},
    })  # fmt: skip
    assert status == 200 and body["status"] == "in_progress", body  # not satisfied: reopened
    async with client.server.app[SESSIONMAKER]() as session:
        response = await session.scalar(select(SurveyResponse))
        assert response is not None
        assert (response.channel, response.ticket_id, response.task_id) == (
            "care", task.origin_ticket_id, task.id
        )  # fmt: skip
        assert response.customer_id == office.customer
        assert response.respondent_user_id == office.supervisor
        answers = await surveys_repo.answers_of(session, response.id)
        assert {a.display() for a in answers.values()} == {"Không hài lòng", "Ghế vẫn bẩn"}
        assert (await session.get(Task, task.id)).status == "done"  # type: ignore[union-attr]
    html = await (await client.get(f"/tickets/{code}")).text()
    assert "Ghế vẫn bẩn" in html  # the free text became the follow-up's comment

    # Done again; this time "Hài lòng": the ticket closes.
    token = await as_user(client, office.head)
    assert (await api(client, f"/api/tickets/{code}/status", token, {"status": "done"}))[0] == 200
    token = await as_user(client, office.supervisor)
    status, body = await api(client, url, token, {
        "survey_id": ids["survey"], "answers": {str(ids["interior"]): "Hài lòng"}})  # fmt: skip
    assert status == 200 and body["status"] == "closed"
    # The customer's page shows both responses.
    page = await (await client.get(f"/customers/{office.customer}")).text()
    assert page.count('class="survey-response"') == 2


async def test_staff_of_another_department_cannot_attach_a_response_to_the_ticket(
    world: Any,
) -> None:
    client, office, ids = world
    code = await _done(client, office)
    async with client.server.app[SESSIONMAKER]() as session:
        task = await session.scalar(select(Task).where(Task.kind == "follow_up"))
        assert task is not None
    body = {"ticket_id": task.origin_ticket_id, "answers": {str(ids["interior"]): "Hài lòng"}}
    token = await as_user(client, office.dung)  # Phụ tùng: the ticket is Dịch vụ's
    status, _ = await api(client, f"/api/surveys/{ids['survey']}/responses", token, body)
    assert status == 404
    token = await as_user(client, office.binh)  # Dịch vụ staff: a care response
    status, answer = await api(client, f"/api/surveys/{ids['survey']}/responses", token, body)
    assert status == 201 and answer["channel"] == "care"
    assert answer["customer_id"] == office.customer
    del code


async def test_the_plain_follow_up_still_works_with_a_survey_configured(world: Any) -> None:
    client, office, _ids = world
    code = await _done(client, office)
    token = await as_user(client, office.supervisor)
    status, body = await api(client, f"/api/tickets/{code}/follow-up", token,
                             {"outcome": "satisfied"})  # fmt: skip
    assert status == 200 and body["status"] == "closed"
    async with client.server.app[SESSIONMAKER]() as session:
        assert await session.scalar(select(SurveyResponse)) is None
