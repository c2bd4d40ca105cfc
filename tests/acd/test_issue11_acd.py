"""The ACD's side of issue 11: route deadline rollback, the survey route, hot-desking members."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.agi.server import FastAgiServer
from callcenter.core.acd import AgentState
from callcenter.core.events import CallbackTaskCreated
from callcenter.db.models import CallSurvey, SystemSetting, Task, User
from callcenter.services.survey import SurveyService
from tests.acd import test_service
from tests.acd.test_service import login_all, settle
from tests.agi.peer import FakeChannel, run_session

rig = test_service.rig  # the ACD service on a FastAGI server, seeded (fixture)


async def test_a_wait_decision_past_the_deadline_leaves_the_waiting_list(rig: Any) -> None:
    """Nobody is free, so the decision is "wait"; Asterisk answers so slowly that the 1 s
    deadline passes while the daemon is still setting variables. The dialplan goes to
    the fallback queue, so the ACD must not keep the caller in its own waiting list
    (it would Redirect a caller who is already in app_queue)."""
    slow = FakeChannel(variables={"CC_GROUP": "care"}, reply_delay=0.3)
    channel = await run_session("127.0.0.1", rig.server.port, "route", slow, uniqueid="d1.1")
    assert channel.variables["CC_ACTION"] == "fallback"
    assert rig.service.acd.waiting("care") == []
    assert "d1.1" not in rig.service.acd.calls
    # A free agent is not offered the caller who went to the fallback queue.
    await login_all(rig)
    await settle(rig.service)
    assert not [a for a in rig.control.actions if a[0] == "redirect"]
    # When the caller later hangs up in the fallback queue, no abandon is invented.
    await rig.agi("hangup", uniqueid="d1.1")
    await settle(rig.service)
    assert [e for e in rig.events if isinstance(e, CallbackTaskCreated)] == []


async def test_a_fast_wait_decision_is_kept(rig: Any) -> None:
    """The same request answered in time: the caller waits in the ACD's list (control)."""
    channel = await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="d2.1")
    assert channel.variables["CC_ACTION"] == "wait"
    assert [w.call_id for w in rig.service.acd.waiting("care")] == ["d2.1"]


async def test_a_dial_decision_past_the_deadline_frees_the_agent(rig: Any) -> None:
    await login_all(rig)
    slow = FakeChannel(variables={"CC_GROUP": "care"}, reply_delay=0.3)
    channel = await run_session("127.0.0.1", rig.server.port, "route", slow, uniqueid="d3.1")
    assert channel.variables["CC_ACTION"] == "fallback"
    assert "d3.1" not in rig.service.acd.calls
    states = {a.id: a.state for a in rig.service.acd.agents.values()}
    assert AgentState.RINGING not in states.values()


async def _enable_survey(rig: Any, session_factory: Any) -> None:
    async with session_factory() as session, session.begin():
        session.add(SystemSetting(key="survey_after_call", value=1))
    await rig.service.reload()


async def test_after_call_asks_the_survey_only_when_it_is_on(
    rig: Any, session_factory: Any
) -> None:
    off = await rig.agi("after-call", {"CC_PROMPT": "callcenter/menu"}, uniqueid="s0.1")
    assert off.variables.get("CC_ACTION", "") != "survey"
    await _enable_survey(rig, session_factory)
    on = await rig.agi("after-call", {"CC_PROMPT": "callcenter/menu"}, uniqueid="s1.1")
    assert on.variables["CC_ACTION"] == "survey"
    # The menu prompt left over from [cc-menu] is cleared: the dialplan's default plays.
    assert on.variables["CC_PROMPT"] == ""


@pytest.fixture
async def survey_server(session_factory: Any, rig: Any) -> Any:
    server = FastAgiServer(command_timeout=2.0)
    SurveyService(clock=rig.clock, sessions=session_factory).register_routes(server, 1.0)
    await server.start("127.0.0.1", 0)
    yield server
    await server.close()


async def test_the_survey_score_is_stored_with_the_call(
    survey_server: Any, session_factory: Any, rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The migrated default survey (one 1–5 question): the loop asks it, stores the key,
    and the ``call_surveys`` view still shows issue 11's score row."""
    async with session_factory() as session:
        agent = (await session.scalars(select(User).where(User.username == "agent2"))).one()

    async def press(digit: str, uniqueid: str, linkedid: str) -> FakeChannel:
        channel = FakeChannel(
            variables={"CHANNEL(linkedid)": linkedid, "CC_AGENT_ID": str(agent.id)}
        )
        for keys in ("", digit, digit):  # ask, answer, (a wrong key: answer again)
            await run_session(
                "127.0.0.1", survey_server.port, "survey", channel, uniqueid=uniqueid,
                args=(keys,),
            )  # fmt: skip
            if channel.variables["CC_ACTION"] != "survey-ask":
                break
        return channel

    with caplog.at_level(logging.INFO, logger="callcenter.services.survey"):
        done = await press("4", "v1.2", "v1.1")
        await press("9", "v2.2", "v2.1")  # not a score, twice: nothing stored
        await press("", "v3.2", "v3.1")  # timed out, no key
    assert done.variables["CC_ACTION"] == "survey-done"
    assert done.variables["CC_PROMPT"] == "callcenter/survey-thanks"
    async with session_factory() as session:
        rows = (await session.scalars(select(CallSurvey))).all()
    assert [(r.linkedid, r.uniqueid, r.score, r.agent_id) for r in rows] == [
        ("v1.1", "v1.2", 4, agent.id)
    ]
    assert rows[0].answered_at == rig.clock.now()
    ignored = [r.getMessage() for r in caplog.records if "answers no question" in r.getMessage()]
    assert len(ignored) == 2 and "'9'" in ignored[0]


async def test_an_agent_at_another_phone_joins_the_fallback_queue_there(rig: Any) -> None:
    """Hot-desking at a phone that is no agent's own (PJSIP/150): QueueAdd with the
    username at login, paused/unpaused there, QueueRemove at logout."""
    agent = rig.ids["agent2"]
    await rig.service.login(agent, "PJSIP/150")
    await settle(rig.service)
    await rig.service.pause(agent, "lunch")
    await settle(rig.service)
    await rig.service.logout(agent)
    await settle(rig.service)
    actions = [a for a in rig.control.actions if a[1] == "PJSIP/150"]
    assert actions == [
        ("queue_add", "PJSIP/150", "agent2", False, "cc-fallback"),
        ("queue_pause", "PJSIP/150", True, "cc-fallback", "lunch"),
        ("queue_remove", "PJSIP/150", "cc-fallback"),
    ]


async def test_an_agent_without_a_synced_member_is_added_when_queuepause_fails(
    rig: Any,
) -> None:
    """An agent added in the console after the last sync: QueuePause fails (not a member),
    so the service adds the member with the agent's pause state instead."""

    async def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("Interface not found")

    rig.control.queue_pause = refuse
    await rig.service.login(rig.ids["agent1"])
    await settle(rig.service)
    assert ("queue_add", "PJSIP/101", "agent1", False, "cc-fallback") in rig.control.actions


async def test_no_callback_task_is_lost_by_the_rollback(rig: Any, session_factory: Any) -> None:
    """A caller who hangs up while a (fast) wait decision stands is still an abandon."""
    await rig.agi("route", {"CC_GROUP": "care"}, uniqueid="d4.1", caller="0912000777")
    rig.clock.set(rig.clock.now() + timedelta(seconds=30))
    await rig.agi("hangup", uniqueid="d4.1", caller="0912000777")
    await settle(rig.service)
    async with session_factory() as session:
        tasks = (await session.scalars(select(Task))).all()
    assert [t.phone for t in tasks] == ["+84912000777"]
