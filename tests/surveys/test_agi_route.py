"""The FastAGI ``survey`` route on its own, as Asterisk 22 speaks it: what it hands over
when there is nothing to ask, a campaign call's response, an uploaded prompt's sound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from callcenter.agi.server import FastAgiServer
from callcenter.clock import ManualClock
from callcenter.db.models import Prompt, Survey, SurveyQuestion, SurveyResponse
from callcenter.services.survey import SurveyService
from tests.agi.peer import FakeChannel, run_session
from tests.tickets.world import T0


@pytest.fixture
async def server(session_factory: Any) -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer(command_timeout=2.0)
    SurveyService(clock=ManualClock(T0), sessions=session_factory).register_routes(server, 1.0)
    await server.start("127.0.0.1", 0)
    yield server
    await server.close()


async def ask(server: FastAgiServer, channel: FakeChannel, keys: str, uniqueid: str) -> str:
    await run_session("127.0.0.1", server.port, "survey", channel, uniqueid=uniqueid,
                      args=(keys,))  # fmt: skip
    return channel.variables["CC_ACTION"]


async def test_nothing_to_ask_ends_the_survey_without_thanks(
    server: FastAgiServer, session_factory: Any
) -> None:
    async with session_factory() as session, session.begin():
        await session.execute(update(Survey).values(active=False))  # the migrated default off
    assert await ask(server, FakeChannel(), "", "n1.1") == "survey-end"
    async with session_factory() as session, session.begin():
        survey = Survey(name="Chỉ câu hỏi tự do", after_call=True, active=True)
        session.add(survey)
        await session.flush()
        session.add(SurveyQuestion(survey_id=survey.id, position=1, kind="free_text",
                                   text="Góp ý?", ivr_prompt="callcenter/survey"))  # fmt: skip
    channel = FakeChannel()
    assert await ask(server, channel, "", "n2.1") == "survey-end"  # free text: not by phone
    assert channel.variables["CC_PROMPT"] == ""


async def test_a_campaign_call_and_an_uploaded_prompt(
    server: FastAgiServer, session_factory: Any
) -> None:
    async with session_factory() as session, session.begin():
        question = await session.scalar(select(SurveyQuestion))  # the default 1–5 question
        assert question is not None
        question.ivr_prompt = "cham-diem"
        session.add(Prompt(code="cham-diem", name="Chấm điểm", filename="cham-diem.wav"))
    channel = FakeChannel(variables={"CC_CAMPAIGN_ID": "42", "CHANNEL(linkedid)": "k1.1"})
    assert await ask(server, channel, "", "k1.2") == "survey-ask"
    assert channel.variables["CC_PROMPT"] == "callcenter/cham-diem"  # the uploaded file
    assert channel.variables["CC_SURVEY_DIGITS"] == "1"
    assert await ask(server, channel, "5", "k1.2") == "survey-done"
    async with session_factory() as session:
        response = await session.scalar(select(SurveyResponse))
    assert response is not None
    assert (response.campaign_id, response.linkedid, response.channel) == (42, "k1.1", "ivr")
    assert response.created_at == T0
