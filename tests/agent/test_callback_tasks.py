"""The agents' task list: the callback rules on SQLite and PostgreSQL, and its API with access.

Rules: repeated misses from one number on one *local* day merge into one task (a new local
day starts a new one; a voicemail never merges); an outcome moves the task (reached and
wrong number end it, not reached reopens it for the group at the retry time); a claimed task
belongs to one agent. The API shows an agent only their groups' callbacks not claimed by a
colleague; every other task answers 404, as if it did not exist.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.config import Settings
from callcenter.core.tasks import TaskRuleError, plan_outcome, readable_notes
from callcenter.db.models import AgentGroup, AgentGroupMember, Task, User
from callcenter.db.repos import tasks as tasks_repo
from callcenter.i18n import translations
from callcenter.registry import SESSIONMAKER
from callcenter.web.app import create_app
from callcenter.web.openapi import build_document, undescribed_routes
from tests.agent.conftest import AgentWorld
from tests.auth_helpers import csrf_headers, login, make_user

PHONE = "+84912000777"
# 23:30 on 23/11 in Hanoi is 16:30 UTC; 00:30 on 24/11 in Hanoi is 17:30 UTC the same UTC day.
LATE_EVENING = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
# 01:00 and 23:00 on 24/11 in Hanoi: two UTC days, one local day.
EARLY_MORNING = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
LATE_NIGHT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


async def _callback(
    session: Any, now: datetime, *, origin: str = "abandoned", notes: str = ""
) -> Any:
    return await tasks_repo.record_callback(
        session, origin=origin, phone=PHONE, customer_id=None, group="care", notes=notes, now=now
    )


async def _people(factory: async_sessionmaker[Any]) -> tuple[int, int, int]:
    """Two agents of group care and one of group sales."""
    async with factory() as session, session.begin():
        users = [
            User(username=n, full_name=n.title(), role="agent") for n in ("lan", "minh", "hoa")
        ]
        care = AgentGroup(code="care", name="CSKH")
        sales = AgentGroup(code="sales", name="Kinh doanh")
        session.add_all([*users, care, sales])
        await session.flush()
        session.add_all(
            [
                AgentGroupMember(group_id=care.id, user_id=users[0].id),
                AgentGroupMember(group_id=care.id, user_id=users[1].id),
                AgentGroupMember(group_id=sales.id, user_id=users[2].id),
            ]
        )
    return users[0].id, users[1].id, users[2].id


# ---------------------------------------------------------------------- rules (both databases)
async def test_misses_merge_per_local_day_not_per_utc_day(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session, session.begin():
        first, merged = await _callback(session, EARLY_MORNING, notes="waited 40 s (waiting)")
        assert not merged
        again, merged = await _callback(session, LATE_NIGHT, origin="overflow")
        assert merged and again.id == first.id  # other UTC day, same local day: one task
        next_day, merged = await _callback(session, LATE_NIGHT + timedelta(hours=2))
        assert not merged and next_day.id != first.id  # 01:00 on the 25th: a new local day
    async with session_factory() as session, session.begin():
        evening, _ = await _callback(session, LATE_EVENING - timedelta(days=3))
        night, merged = await _callback(session, AFTER_MIDNIGHT - timedelta(days=3))
        assert not merged and night.id != evening.id  # same UTC day, two local days
    async with session_factory() as session:
        tasks = (await session.scalars(select(Task).order_by(Task.id))).all()
    assert len(tasks) == 4
    lines = tasks[0].notes.splitlines()
    assert lines[0] == "waited 40 s (waiting)"
    assert lines[1] == "24/11/2026 23:00 [overflow]"
    vi = translations("vi").gettext
    assert readable_notes(tasks[0].notes, vi).splitlines() == [
        "Gác máy sau 40 giây khi đang chờ",
        "24/11/2026 23:00 Yêu cầu gọi lại (chờ lâu):",
    ]


async def test_two_misses_at_the_same_moment_make_one_task(
    session_factory: async_sessionmaker[Any],
) -> None:
    async def miss(minute: int) -> bool:
        async with session_factory() as session, session.begin():
            _task, merged = await _callback(session, EARLY_MORNING + timedelta(minutes=minute))
            await asyncio.sleep(0.05)  # hold the transaction open: the other one must wait
            return merged

    results = await asyncio.gather(miss(0), miss(1))
    assert sorted(results) == [False, True]
    async with session_factory() as session:
        assert len((await session.scalars(select(Task))).all()) == 1


async def test_voicemail_and_finished_tasks_never_absorb_a_miss(
    session_factory: async_sessionmaker[Any],
) -> None:
    lan, _, _ = await _people(session_factory)
    async with session_factory() as session, session.begin():
        first, _ = await _callback(session, EARLY_MORNING)
        message, merged = await _callback(
            session,
            EARLY_MORNING + timedelta(minutes=5),
            origin="voicemail",
            notes="voicemail-1.wav",
        )
        assert not merged and message.id != first.id  # a message is its own task
        await tasks_repo.record_outcome(
            session, first.id, "reached", user_id=lan, now=EARLY_MORNING + timedelta(hours=1)
        )
        # The voicemail task is still open that day: the next miss joins it, not the done one.
        later, merged = await _callback(session, EARLY_MORNING + timedelta(hours=2))
        assert merged and later.id == message.id


async def test_outcomes_move_the_task(session_factory: async_sessionmaker[Any]) -> None:
    lan, minh, _ = await _people(session_factory)
    now = EARLY_MORNING + timedelta(hours=3)
    async with session_factory() as session, session.begin():
        task, _ = await _callback(session, EARLY_MORNING)
        task_id = task.id
    async with session_factory() as session, session.begin():
        with pytest.raises(TaskRuleError, match="choose when"):
            await tasks_repo.record_outcome(session, task_id, "not_reached", user_id=lan, now=now)
        with pytest.raises(TaskRuleError, match="future"):
            await tasks_repo.record_outcome(
                session, task_id, "not_reached", user_id=lan, now=now, retry_at=now
            )
        retry = now + timedelta(hours=2)
        moved = await tasks_repo.record_outcome(
            session, task_id, "not_reached", user_id=lan, now=now, retry_at=retry, note="bận"
        )
        assert (moved.status, moved.outcome, moved.assignee_id) == ("open", "not_reached", None)
        assert moved.due_at == retry
        assert moved.notes.endswith("→ not_reached (Lan): bận")
    async with session_factory() as session, session.begin():
        await tasks_repo.claim_callback(session, task_id, user_id=minh)
    async with session_factory() as session, session.begin():
        with pytest.raises(tasks_repo.TaskTaken):  # Minh holds it: Lan cannot record on it
            await tasks_repo.record_outcome(session, task_id, "reached", user_id=lan, now=now)
    async with session_factory() as session, session.begin():
        done = await tasks_repo.record_outcome(
            session, task_id, "wrong_number", user_id=minh, now=now
        )
        assert (done.status, done.outcome, done.assignee_id) == ("done", "wrong_number", minh)
    async with session_factory() as session:
        assert await tasks_repo.callbacks_for_agent(session, lan) == []


async def test_two_agents_claiming_together_one_wins(
    session_factory: async_sessionmaker[Any],
) -> None:
    lan, minh, _ = await _people(session_factory)
    async with session_factory() as session, session.begin():
        task, _ = await _callback(session, EARLY_MORNING)
        task_id = task.id

    async def claim(user_id: int) -> bool:
        async with session_factory() as session:
            try:
                await tasks_repo.claim_callback(session, task_id, user_id=user_id)
                await session.commit()
            except tasks_repo.TaskTaken:
                return False
            return True

    results = await asyncio.gather(claim(lan), claim(minh))
    assert sorted(results) == [False, True]
    async with session_factory() as session:
        holder = (await session.get(Task, task_id)).assignee_id  # type: ignore[union-attr]
    assert holder == (lan if results[0] else minh)


async def test_who_sees_which_callbacks(session_factory: async_sessionmaker[Any]) -> None:
    lan, minh, hoa = await _people(session_factory)
    async with session_factory() as session, session.begin():
        care, _ = await _callback(session, EARLY_MORNING)
        sales = await tasks_repo.create_task(
            session, origin="closed", phone="+84912000888", group="sales", created_at=EARLY_MORNING
        )
        nobody = await tasks_repo.create_task(
            session, origin="closed", phone="+84912000999", group="", created_at=EARLY_MORNING
        )
        follow_up = await tasks_repo.create_task(
            session,
            origin="ticket_follow_up",
            kind="follow_up",
            phone="+84912000111",
            group="care",
            created_at=EARLY_MORNING,
        )
        ids = {"care": care.id, "sales": sales.id, "none": nobody.id, "follow": follow_up.id}
    async with session_factory() as session, session.begin():
        await tasks_repo.claim_callback(session, ids["care"], user_id=minh)
    async with session_factory() as session:
        seen = {
            who: {t.id for t in await tasks_repo.callbacks_for_agent(session, uid)}
            for who, uid in (("lan", lan), ("minh", minh), ("hoa", hoa))
        }
        rows = await tasks_repo.all_open_tasks(session)
    assert seen["lan"] == {ids["none"]}  # care's one is Minh's now; follow-ups are the care team's
    assert seen["minh"] == {ids["care"], ids["none"]}
    assert seen["hoa"] == {ids["sales"], ids["none"]}
    assert {r.task.id for r in rows} == set(ids.values())  # supervisors: every open task
    assert next(r for r in rows if r.task.id == ids["care"]).assignee == "Minh"


def test_plan_outcome_refuses_unknown_outcomes() -> None:
    with pytest.raises(TaskRuleError, match="Choose an outcome"):
        plan_outcome("maybe", now=EARLY_MORNING, retry_at=None)


# ---------------------------------------------------------------------- API and access
async def _task(app: Any, *, group: str, phone: str, customer_id: int | None = None) -> int:
    async with app[SESSIONMAKER]() as session, session.begin():
        task, _ = await tasks_repo.record_callback(
            session,
            origin="abandoned",
            phone=phone,
            customer_id=customer_id,
            group=group,
            notes="waited 12 s (ringing)",
            now=datetime.now(UTC),
        )
        return int(task.id)


async def _client(world: AgentWorld, username: str) -> TestClient:
    """Another browser on the same server (each logs in as itself)."""
    client = TestClient(world.client.server)
    await client.start_server()
    await login(client, username)
    world_clients.append(client)
    return client


world_clients: list[TestClient] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> Any:
    yield
    while world_clients:
        await world_clients.pop().close()


async def test_task_api_shows_each_agent_only_theirs(
    agent_world: AgentWorld,
) -> None:
    app = agent_world.client.server.app
    async with app[SESSIONMAKER]() as session, session.begin():
        care, sales = AgentGroup(code="care", name="CSKH"), AgentGroup(code="sales", name="KD")
        session.add_all([care, sales])
        await session.flush()
        session.add(AgentGroupMember(group_id=care.id, user_id=agent_world.lan_id))
        session.add(AgentGroupMember(group_id=care.id, user_id=agent_world.minh_id))
    hoa = await make_user(app, "hoa", "agent", full_name="Hoa")
    async with app[SESSIONMAKER]() as session, session.begin():
        session.add(AgentGroupMember(group_id=sales.id, user_id=hoa.id))
    known = await _task(
        app, group="care", phone=agent_world.world.phone, customer_id=agent_world.world.customer_id
    )
    other = await _task(app, group="sales", phone="+84912000888")

    lan = agent_world.client
    await login(lan, "lan")
    minh = await _client(agent_world, "minh")
    hoa_client = await _client(agent_world, "hoa")

    listed = await (await lan.get("/api/agent/tasks", headers={"Accept-Language": "vi"})).json()
    assert [t["id"] for t in listed["tasks"]] == [known]
    first = listed["tasks"][0]
    assert first["customer_name"] == "Nguyễn Văn An" and first["phone_display"] == "0912 345 678"
    assert first["origin_label"] and first["origin_label"] != "abandoned"
    assert "ringing" not in first["notes"]  # translated, no code

    detail = await (await lan.get(f"/api/agent/tasks/{known}")).json()
    tickets = detail["history"]["open_tickets"]
    assert tickets and all(
        t["url"] == f"/tickets/{t['code']}" and t["code"].startswith("TK-") for t in tickets
    )
    assert (await lan.get(f"/api/agent/tasks/{other}")).status == 404  # another group's
    assert (await hoa_client.get(f"/api/agent/tasks/{known}")).status == 404

    # Lan claims; Minh no longer sees it and cannot take it; an outcome needs a retry time.
    claimed = await lan.post(f"/api/agent/tasks/{known}/claim", headers=csrf_headers(lan))
    assert claimed.status == 200 and (await claimed.json())["mine"] is True
    assert (await (await minh.get("/api/agent/tasks")).json())["tasks"] == []
    assert (
        await minh.post(f"/api/agent/tasks/{known}/claim", headers=csrf_headers(minh))
    ).status == 404
    no_time = await lan.post(
        f"/api/agent/tasks/{known}/outcome",
        json={"outcome": "not_reached"},
        headers=csrf_headers(lan),
    )
    assert no_time.status == 400
    garbled = await lan.post(
        f"/api/agent/tasks/{known}/outcome",
        json={"outcome": "not_reached", "retry_at": "ngày mai"},
        headers=csrf_headers(lan),
    )
    assert garbled.status == 400 and "retry_at" in (await garbled.json())["error"]
    unknown = await lan.post(
        f"/api/agent/tasks/{known}/outcome", json={"outcome": "maybe"}, headers=csrf_headers(lan)
    )
    assert unknown.status == 400 and "outcome" in (await unknown.json())["error"]
    # The page's datetime-local value is Hanoi time (UTC+7): two hours from now.
    local = (datetime.now(UTC) + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M")
    saved = await lan.post(
        f"/api/agent/tasks/{known}/outcome",
        json={"outcome": "not_reached", "retry_at": local, "note": "máy bận"},
        headers=csrf_headers(lan),
    )
    assert saved.status == 200, await saved.text()
    body = await saved.json()
    assert (body["status"], body["outcome"], body["mine"]) == ("open", "not_reached", False)
    # Back in the group's list: Minh reaches the customer.
    assert [t["id"] for t in (await (await minh.get("/api/agent/tasks")).json())["tasks"]] == [
        known
    ]
    done = await minh.post(
        f"/api/agent/tasks/{known}/outcome", json={"outcome": "reached"}, headers=csrf_headers(minh)
    )
    assert done.status == 200 and (await done.json())["status"] == "done"
    assert (await (await lan.get("/api/agent/tasks")).json())["tasks"] == []


async def test_supervisors_see_every_open_task_with_its_age(
    agent_world: AgentWorld,
) -> None:
    app = agent_world.client.server.app
    await _task(app, group="sales", phone="+84912000888")
    await make_user(app, "giam.sat", "supervisor", full_name="Giám Sát")
    boss = await _client(agent_world, "giam.sat")
    page = await boss.get("/tasks")
    html = await page.text()
    assert page.status == 200
    assert "0912 000 888" in html and "Gác máy trước khi được trả lời" in html
    assert "phút" in html  # the age, in words
    assert "abandoned" not in html and "ringing" not in html


def test_task_routes_are_described(settings: Settings) -> None:
    app = create_app(settings)
    assert not [r for r in undescribed_routes(app) if "/api/agent/tasks" in r]
    paths = build_document(app)["paths"]
    assert paths["/api/agent/tasks"]["get"]["x-roles"] == ["agent", "supervisor"]
    outcome = paths["/api/agent/tasks/{id}/outcome"]["post"]
    assert set(outcome["responses"]) == {"200", "400", "401", "403", "404", "409"}
