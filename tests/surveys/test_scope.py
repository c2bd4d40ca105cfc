"""A survey response names a call, customer, ticket, task and campaign by id in the JSON
body; each must be within the user's data scope, else 404 with a translated message and
nothing stored (no response, no answer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config import Settings
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    Call,
    CallList,
    CallListItem,
    Customer,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    Task,
    Ticket,
)
from callcenter.registry import SESSIONMAKER
from tests.auth_helpers import make_user
from tests.surveys.world import api, survey_world
from tests.tickets.pages_helpers import as_user
from tests.tickets.world import T0, Office


@dataclass
class Scene:
    client: TestClient
    office: Office
    url: str
    answers: dict[str, Any]
    other_agent: int
    other_call: str  # the other agent's call's linkedid
    stranger: int  # a customer only the other agent served
    other_task: int  # a callback the other agent holds
    care_task: int  # a follow-up the agent holds, about the stranger's parts ticket
    care_ticket: int  # that ticket (the parts department's, not the agent's)
    parts_ticket: int  # another parts ticket, nothing to do with the agent
    group_task: int  # an unclaimed callback of the agent's group
    campaign: int
    campaign_task: int  # the agent's campaign call


@pytest.fixture
async def scene(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> Scene:
    client, office, _admin = await survey_world(aiohttp_client, settings, engine, tmp_path)
    app = client.server.app
    other = await make_user(app, "sv_other_agent", "agent")
    async with app[SESSIONMAKER]() as session:
        survey = Survey(name="Sau cuộc gọi", active=True)
        session.add(survey)
        await session.flush()
        question = SurveyQuestion(survey_id=survey.id, position=1, kind="scale_5",
                                  text="Chấm điểm dịch vụ")  # fmt: skip
        stranger = Customer(name="Trần Thị Bích")
        group = AgentGroup(code="sv_sales", name="Bán hàng")
        session.add_all([question, stranger, group])
        await session.flush()
        session.add(AgentGroupMember(group_id=group.id, user_id=office.agent))
        session.add(Call(linkedid="sv.other", started_at=T0, caller_number="+84987654321",
                         customer_id=stranger.id, agent_id=other.id, disposition="answered"))  # fmt: skip

        def ticket(code: str) -> Ticket:
            return Ticket(code=code, customer_id=stranger.id, department_id=office.parts,
                          category_id=office.parts_order, subject="Đặt gương", status="done")  # fmt: skip

        care_ticket, parts_ticket = ticket("TK-2026-901"), ticket("TK-2026-902")
        session.add_all([care_ticket, parts_ticket])
        await session.flush()

        def task(**fields: Any) -> Task:
            return Task(phone="+84987654321", customer_id=stranger.id, created_at=T0, **fields)

        other_task = task(kind="callback", origin="missed", assignee_id=other.id,
                          status="in_progress")  # fmt: skip
        care_task = task(kind="follow_up", origin="ticket_follow_up", assignee_id=office.agent,
                         status="in_progress", origin_ticket_id=care_ticket.id, group="care")  # fmt: skip
        group_task = task(kind="callback", origin="missed", group="sv_sales", status="open")
        campaign_task = task(kind="care_call", origin="manual", assignee_id=office.agent,
                             status="in_progress")  # fmt: skip
        campaign = CallList(kind="care", name="Chăm sóc tháng 11", created_at=T0)
        session.add_all([other_task, care_task, group_task, campaign_task, campaign])
        await session.flush()
        session.add(CallListItem(list_id=campaign.id, customer_id=stranger.id,
                                 task_id=campaign_task.id))  # fmt: skip
        await session.commit()
        return Scene(
            client=client, office=office, url=f"/api/surveys/{survey.id}/responses",
            answers={str(question.id): 4}, other_agent=other.id, other_call="sv.other",
            stranger=stranger.id, other_task=other_task.id, care_task=care_task.id,
            care_ticket=care_ticket.id, parts_ticket=parts_ticket.id, group_task=group_task.id,
            campaign=campaign.id, campaign_task=campaign_task.id,
        )  # fmt: skip


async def _stored(scene: Scene) -> tuple[int, int]:
    async with scene.client.server.app[SESSIONMAKER]() as session:
        responses = await session.scalar(select(func.count()).select_from(SurveyResponse))
        answers = await session.scalar(select(func.count()).select_from(SurveyAnswer))
    return responses or 0, answers or 0


async def _post(scene: Scene, user: int, **ids: Any) -> tuple[int, Any]:
    token = await as_user(scene.client, user)
    return await api(scene.client, scene.url, token, {"answers": scene.answers, **ids})


async def test_an_agent_cannot_file_a_response_outside_their_scope(scene: Scene) -> None:
    agent = scene.office.agent
    refused = [
        ({"linkedid": scene.other_call}, "Không có cuộc gọi này"),
        ({"linkedid": "sv.nowhere"}, "Không có cuộc gọi này"),
        ({"customer_id": scene.stranger}, "Không có khách hàng này"),
        # the agent's own call does not open another customer
        ({"linkedid": "tk.1", "customer_id": scene.stranger}, "Không có khách hàng này"),
        ({"task_id": scene.other_task}, "Không có công việc này"),
        ({"ticket_id": scene.parts_ticket}, "Không có phiếu này"),
        # the follow-up the agent holds opens its own ticket, not another one
        ({"task_id": scene.care_task, "ticket_id": scene.parts_ticket}, "Không có phiếu này"),
        ({"campaign_id": scene.campaign}, "Không có chiến dịch này"),
        ({"task_id": scene.care_task, "campaign_id": scene.campaign}, "Không có chiến dịch này"),
        ({"task_id": scene.campaign_task, "campaign_id": 9999}, "Không có chiến dịch này"),
    ]
    for ids, message in refused:
        status, body = await _post(scene, agent, **ids)
        assert (status, message in body["error"]) == (404, True), (ids, body)
        assert await _stored(scene) == (0, 0), ids
    # In English for an agent who reads English.
    english = await make_user(scene.client, "sv_en_agent", "agent", language="en")
    status, body = await _post(scene, english.id, task_id=scene.other_task)
    assert (status, body["error"]) == (404, "No such task, or it is not yours.")
    assert await _stored(scene) == (0, 0)


async def test_an_agent_files_responses_for_their_own_calls_and_tasks(scene: Scene) -> None:
    agent, customer = scene.office.agent, scene.office.customer
    status, body = await _post(scene, agent, linkedid="tk.1", customer_id=customer)
    assert status == 201 and body["customer_id"] == customer, body
    # The care follow-up the agent holds: its customer and its ticket come with it.
    status, body = await _post(scene, agent, task_id=scene.care_task,
                               ticket_id=scene.care_ticket, customer_id=scene.stranger)  # fmt: skip
    assert status == 201 and body["customer_id"] == scene.stranger, body
    status, body = await _post(scene, agent, task_id=scene.group_task)  # their group's, unclaimed
    assert status == 201 and body["customer_id"] == scene.stranger, body
    status, body = await _post(scene, agent, task_id=scene.campaign_task,
                               campaign_id=scene.campaign)  # fmt: skip
    assert status == 201, body
    async with scene.client.server.app[SESSIONMAKER]() as session:
        rows = (await session.scalars(select(SurveyResponse).order_by(SurveyResponse.id))).all()
    assert [(r.task_id, r.ticket_id, r.campaign_id) for r in rows] == [
        (None, None, None),
        (scene.care_task, scene.care_ticket, None),
        (scene.group_task, None, None),
        (scene.campaign_task, None, scene.campaign),
    ]
    assert await _stored(scene) == (4, 4)


async def test_departments_reach_their_tickets_and_managers_everything(scene: Scene) -> None:
    office = scene.office
    status, body = await _post(scene, office.binh, ticket_id=scene.parts_ticket)  # service staff
    assert status == 404 and "Không có phiếu này" in body["error"]
    status, body = await _post(scene, office.binh, task_id=scene.care_task)
    assert status == 404
    assert await _stored(scene) == (0, 0)
    status, body = await _post(scene, office.dung, ticket_id=scene.parts_ticket,
                               task_id=scene.care_task)  # parts: the ticket and its follow-up  # fmt: skip
    assert status == 201 and body["channel"] == "care", body
    status, body = await _post(scene, office.supervisor, linkedid=scene.other_call,
                               task_id=scene.other_task, customer_id=scene.stranger,
                               ticket_id=scene.parts_ticket, campaign_id=scene.campaign)  # fmt: skip
    assert status == 201 and body["customer_id"] == scene.stranger, body
    assert await _stored(scene) == (2, 2)
