"""The caller's post-call survey on the phone, through the simulator running the production
dialplan: the agent hangs up, the caller stays on (Dial's ``g``), answers with the keypad,
and the response is stored and shows in the next pop for that caller (issue 15's done-when).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter.db.models import Survey, SurveyQuestion, SurveyResponse, SystemSetting
from callcenter.db.repos import surveys as surveys_repo
from callcenter.registry import SESSIONMAKER
from callcenter.sim.channels import Channel
from tests.agent.stack import Stack, build_stack
from tests.agent.test_through_simulator import AgentClient
from tests.conftest import MigratedTemplates

INTERIOR = "Anh/chị có hài lòng về nội thất xe không?"
WHY = "Vì sao anh/chị không hài lòng?"
OPTIONS = ["Không hài lòng", "Bình thường", "Hài lòng"]


async def _survey_world(stack: Stack) -> dict[str, int]:
    """Survey on; the migrated default survey off; a survey with a conditional scale."""
    from callcenter.db.engine import make_engine, sessionmaker

    engine = make_engine(stack.settings.database.url)
    factory = sessionmaker(engine)
    try:
        async with factory() as session, session.begin():
            session.add(SystemSetting(key="survey_after_call", value=1))
            await session.execute(update(Survey).values(active=False))
            survey = Survey(name="Sau cuộc gọi", after_call=True, active=True)
            session.add(survey)
            await session.flush()
            score = SurveyQuestion(
                survey_id=survey.id, position=1, kind="scale_5", text="Chấm điểm từ 1 đến 5",
                ivr_prompt="callcenter/survey",
            )  # fmt: skip
            interior = SurveyQuestion(
                survey_id=survey.id, position=2, kind="single_choice", text=INTERIOR,
                options=OPTIONS, ivr_prompt="callcenter/survey-interior",
            )  # fmt: skip
            session.add_all([score, interior])
            await session.flush()
            why = SurveyQuestion(
                survey_id=survey.id, position=3, kind="free_text", text=WHY,
                depends_on_id=interior.id, depends_values=["Không hài lòng"],
            )  # fmt: skip
            # Asked on the phone only when the interior was not satisfying.
            nps = SurveyQuestion(
                survey_id=survey.id, position=4, kind="scale_10",
                text="Anh/chị có giới thiệu chúng tôi cho bạn bè không (0–10)?",
                depends_on_id=interior.id, depends_values=["Không hài lòng"],
                ivr_prompt="callcenter/survey-nps",
            )  # fmt: skip
            skipped = SurveyQuestion(
                survey_id=survey.id, position=5, kind="scale_5", text="Không được hỏi",
                depends_on_id=interior.id, depends_values=["Hài lòng"],
                ivr_prompt="callcenter/survey",
            )  # fmt: skip
            session.add_all([why, nps, skipped])
            await session.flush()
            return {"survey": survey.id, "score": score.id, "interior": interior.id,
                    "nps": nps.id, "skipped": skipped.id}  # fmt: skip
    finally:
        await engine.dispose()


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    stack.ids = await _survey_world(stack)  # type: ignore[attr-defined]
    await stack.start_daemon()
    yield stack
    await stack.close()


async def _asked(
    caller: Channel, question_id: int, within: float = 10.0, prompt: str | None = None
) -> None:
    """Wait until the dialplan reads keys for ``question_id`` (the daemon handed it over),
    with ``prompt`` when given: the route answer sets its variables one after the other, so
    the question's id can be there before its prompt (seen once on a loaded machine)."""
    for _ in range(int(within / 0.02)):
        if caller.hungup:
            raise AssertionError(f"the caller hung up before question {question_id}")
        if (
            caller.vars.get("CC_ACTION") == "survey-ask"
            and caller.vars.get("CC_SURVEY_Q") == str(question_id)
            and caller.context == "cc-survey"
            and (prompt is None or caller.vars.get("CC_PROMPT") == prompt)
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"question {question_id} never asked: {caller.vars.get('CC_SURVEY_Q')}")


async def test_dtmf_answers_are_stored_and_shown_in_the_next_pop(stack: Stack) -> None:
    ids: dict[str, int] = stack.ids  # type: ignore[attr-defined]
    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        assert status == 200, body
        caller = await stack.call("0912345678", "NGUYEN VAN AN")
        first_pop = await lan.next_of("pop")
        assert first_pop["history"]["surveys"] == []
        linkedid = first_pop["call"]["linkedid"]
        phone = await stack.wait_ringing("PJSIP/101")
        stack.answer(phone)
        assert (await lan.next_of("call"))["call"]["phase"] == "talking"
        await asyncio.sleep(0.3)
        stack.hang_up(phone)  # the agent hangs up; the caller stays for the survey

        await _asked(caller, ids["score"])
        stack.pbx.press(caller, "7")  # no 1–5 answer: the question is asked again
        await asyncio.sleep(0.3)
        await _asked(caller, ids["score"])
        assert caller.vars["CC_SURVEY_TRIES"] == "1"
        assert caller.vars["CC_PROMPT"].startswith("callcenter/invalid&")
        stack.pbx.press(caller, "4")
        await _asked(caller, ids["interior"], prompt="callcenter/survey-interior")
        assert caller.vars["CC_PROMPT"] == "callcenter/survey-interior"  # its own prompt
        stack.pbx.press(caller, "1")  # Không hài lòng
        await _asked(caller, ids["nps"])  # the free-text "why" cannot be asked on the phone
        stack.pbx.press(caller, "10")  # two keys for 0–10
        for _ in range(200):
            if caller.hungup:
                break
            await asyncio.sleep(0.05)
        assert caller.hungup, "the caller was not thanked and hung up"
        assert caller.vars["CC_ACTION"] == "survey-done"

        assert stack.app is not None
        async with stack.app[SESSIONMAKER]() as session:
            response = await session.scalar(select(SurveyResponse))
            assert response is not None
            assert (response.channel, response.linkedid, response.survey_id) == (
                "ivr", linkedid, ids["survey"]
            )  # fmt: skip
            assert response.agent_id == stack.agents["lan"]
            assert stack.world is not None and response.customer_id == stack.world.customer_id
            answers = await surveys_repo.answers_of(session, response.id)
        assert {q: a.display() for q, a in answers.items()} == {
            ids["score"]: "4",
            ids["interior"]: "Không hài lòng",
            ids["nps"]: "10",
        }

        # The wrap-up ends; the same customer calls again: the pop shows the answers.
        await asyncio.sleep(0.2)
        status, body = await lan.post(
            f"/api/agent/calls/{linkedid}/wrapup",
            {"outcome": "info_only", "category_id": stack.world.category_id, "notes": ""},
        )
        assert status == 200, body
        status, body = await lan.post("/api/agent/state", {"action": "available"})
        assert status == 200, body
        await stack.call("0912345678", "NGUYEN VAN AN")
        pop = await lan.next_of("pop", within=10)
        shown = [(s["question"], s["answer"]) for s in pop["history"]["surveys"]]
        assert shown == [
            ("Chấm điểm từ 1 đến 5", "4"),
            (INTERIOR, "Không hài lòng"),
            ("Anh/chị có giới thiệu chúng tôi cho bạn bè không (0–10)?", "10"),
        ]
    finally:
        await lan.close()


async def test_a_simulated_caller_answers_the_survey_by_itself(stack: Stack) -> None:
    """The simulator's callers answer each question the dialplan reads (as ``callcenter
    sim`` does with ``survey_answer_ratio``): a wrong key is asked again."""
    ids: dict[str, int] = stack.ids  # type: ignore[attr-defined]
    keys = iter(["9", "5", "1", "7#"])  # 9 is no 1–5 score: the daemon repeats the question
    asked: list[int] = []

    def answer(digits: int) -> str:
        asked.append(digits)
        return next(keys)

    lan = AgentClient(stack.base_url)
    try:
        await lan.login("lan")
        await lan.connect()
        assert (await lan.post("/api/agent/state", {"action": "available"}))[0] == 200
        caller = await stack.pbx.place_call(
            "19006868", "0912345678", "NGUYEN VAN AN", survey_keys=answer
        )
        phone = await stack.wait_ringing("PJSIP/101")
        stack.answer(phone)
        await asyncio.sleep(0.5)
        stack.hang_up(phone)
        for _ in range(300):
            if caller.hungup:
                break
            await asyncio.sleep(0.05)
        assert caller.hungup and caller.vars["CC_ACTION"] == "survey-done"
    finally:
        await lan.close()
    assert asked == [1, 1, 1, 2]  # the 0–10 question reads two keys
    assert stack.app is not None
    async with stack.app[SESSIONMAKER]() as session:
        response = await session.scalar(select(SurveyResponse))
        assert response is not None
        answers = await surveys_repo.answers_of(session, response.id)
    assert {q: a.display() for q, a in answers.items()} == {
        ids["score"]: "5",
        ids["interior"]: "Không hài lòng",
        ids["nps"]: "7",
    }
