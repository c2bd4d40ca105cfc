"""A survey answered on a campaign's call moves the campaign's progress on the open
campaign pages at once (the server-sent progress stream), as an outcome does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config import Settings
from callcenter.db.models import CallList, CallListItem, Customer, Survey, SurveyQuestion, Task
from callcenter.outbound.plugin import PLUGIN as OUTBOUND
from callcenter.registry import SESSIONMAKER
from tests.auth_helpers import make_user
from tests.surveys.world import api, survey_world
from tests.tickets.pages_helpers import as_user
from tests.tickets.world import T0


async def next_progress(stream: ClientResponse, list_id: int) -> dict[str, Any]:
    """The next ``progress`` message about ``list_id`` on an open event stream."""
    async with asyncio.timeout(5):
        event = ""
        async for raw in stream.content:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "progress":
                message: dict[str, Any] = json.loads(line.split(":", 1)[1])
                if message["list_id"] == list_id:
                    return message
    raise AssertionError("the stream ended")


async def test_a_survey_answered_on_a_campaign_call_shows_on_its_page_live(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    client, office, _admin = await survey_world(
        aiohttp_client, settings, engine, tmp_path, more_plugins=(OUTBOUND,)
    )
    app = client.server.app
    supervisor = await make_user(app, "sv_giamsat", "supervisor")
    async with app[SESSIONMAKER]() as session:
        survey = Survey(name="Sau chăm sóc", active=True)
        customer = Customer(name="Võ Văn Hải")
        campaign = CallList(kind="care", name="Chăm sóc tháng 12", created_at=T0)
        session.add_all([survey, customer, campaign])
        await session.flush()
        question = SurveyQuestion(
            survey_id=survey.id, position=1, kind="scale_5", text="Anh/chị hài lòng không?"
        )
        call = Task(
            kind="care_call", origin="manual", assignee_id=office.agent, status="in_progress",
            phone="+84902000001", customer_id=customer.id, created_at=T0,
        )  # fmt: skip
        session.add_all([question, call])
        await session.flush()
        session.add(CallListItem(list_id=campaign.id, customer_id=customer.id, task_id=call.id))
        await session.commit()
        survey_id, question_id, list_id, task_id = survey.id, question.id, campaign.id, call.id

    await as_user(client, supervisor.id)  # the supervisor's campaign page is open
    stream = await client.get("/outbound/progress/events", headers={"Accept": "text/event-stream"})
    assert stream.status == 200
    await asyncio.sleep(0.1)  # the stream is registered before anything happens

    token = await as_user(client, office.agent)  # the agent answers for the customer
    status, _ = await api(
        client,
        f"/api/surveys/{survey_id}/responses",
        token,
        {"answers": {str(question_id): 5}, "task_id": task_id, "campaign_id": list_id},
    )
    assert status == 201
    progress = await next_progress(stream, list_id)
    assert progress["survey_answered"] == 1 and progress["items"] == 1
    stream.close()
