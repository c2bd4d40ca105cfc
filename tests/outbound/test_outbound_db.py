"""The outbound queries on both databases (SQLite and PostgreSQL): the customer filter,
building a list (do-not-call and number-less customers left out), outcomes, the reports,
campaign progress, and the care sweep's exactly-once bookkeeping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.outbound import check_opportunity
from callcenter.db.models import AgentGroup, CareRule, Customer, Notification, Survey, Task
from callcenter.db.repos import outbound as repo
from callcenter.db.repos import surveys as surveys_repo
from callcenter.db.repos import tasks as tasks_repo
from callcenter.outbound.care import care_sweep
from tests.auth_helpers import make_user
from tests.outbound.helpers import add_customer

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 09:00 local
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_filter_list_outcomes_reports(session_factory: async_sessionmaker[Any]) -> None:
    lan = await make_user(session_factory, "lan", "agent", full_name="Trần Thị Lan")
    minh = await make_user(session_factory, "minh", "agent", full_name="Lê Minh")
    a = await add_customer(session_factory, "A Fleet", "+84904000001", province="Cần Thơ",
                           tags=["VIP", "xe tải"], model="HD120SL", vin="RL4TH1234AB200001",
                           purchased=date(2025, 5, 1), customer_type="fleet")  # fmt: skip
    b = await add_customer(session_factory, "B Single", "+84904000002", province="cần thơ",
                           tags=["xe tải"], model="HD72", vin="RL4TH1234AB200002",
                           purchased=date(2024, 1, 10))  # fmt: skip
    c = await add_customer(session_factory, "C DNC", "+84904000003", province="Cần Thơ",
                           tags=["xe tải"], do_not_call=True)  # fmt: skip
    d = await add_customer(session_factory, "D Hà Nội", "+84904000004", province="Hà Nội",
                           tags=["Xe Tải"], model="HD120SL", vin="RL4TH1234AB200004",
                           purchased=date(2025, 6, 1))  # fmt: skip
    async with session_factory() as session:
        match = repo.customers_matching
        assert await match(session, repo.CustomerFilter(province="Cần Thơ")) == [a, b, c]
        assert await match(session, repo.CustomerFilter(tags=["xe tai"])) == [a, b, c, d]
        assert await match(session, repo.CustomerFilter(tags=["vip", "xe tải"])) == [a]
        assert await match(session, repo.CustomerFilter(model="hd120")) == [a, d]
        assert await match(
            session,
            repo.CustomerFilter(purchased_from=date(2025, 1, 1), purchased_to=date(2025, 5, 31)),
        ) == [a]
        assert await match(session, repo.CustomerFilter(customer_type="fleet")) == [a]
        assert await match(session, repo.CustomerFilter(customer_type="individual")) == [b, c, d]

    async with session_factory() as session, session.begin():
        ids = await repo.customers_matching(session, repo.CustomerFilter(tags=["xe tải"]))
        summary = await repo.create_list(
            session, kind="care", name="Chăm sóc", customer_ids=ids, source="filter", now=NOW,
            order_by="province", agent_ids=[lan.id, minh.id], survey_id=7,
        )  # fmt: skip
        list_id = summary.call_list.id
    assert (summary.items, summary.skipped_do_not_call, summary.skipped_no_phone) == (3, 1, 0)
    async with session_factory() as session:
        tasks = (
            await session.execute(
                select(Task.customer_id, Task.assignee_id, Task.kind, Task.origin)
                .where(Task.origin == "care_campaign")
                .order_by(Task.id)
            )
        ).all()
    # Cần Thơ (VIP first) then Hà Nội; round robin Lan, Minh, Lan
    assert [tuple(t) for t in tasks] == [
        (a, lan.id, "care_call", "care_campaign"),
        (b, minh.id, "care_call", "care_campaign"),
        (d, lan.id, "care_call", "care_campaign"),
    ]
    async with session_factory() as session:
        task_ids = {
            row.customer_id: row.id
            for row in (await session.scalars(select(Task).where(Task.origin == "care_campaign")))
        }
    async with session_factory() as session, session.begin():
        await repo.record_lead_outcome(
            session, task_ids[a], "reached", user_id=lan.id, now=NOW, conversion="buying",
            opportunity=check_opportunity("HD120SL", 2, 1_000_000_000, "negotiating"),
        )  # fmt: skip
        await repo.record_lead_outcome(
            session, task_ids[b], "not_reached", user_id=minh.id, now=NOW,
            retry_at=NOW + timedelta(hours=1),
        )  # fmt: skip
        await repo.record_lead_outcome(
            session, task_ids[d], "not_interested", user_id=lan.id, now=NOW, reason="đắt"
        )
    async with session_factory() as session, session.begin():  # the survey of A's call
        survey_id = await session.scalar(select(Survey.id).order_by(Survey.id).limit(1))
        assert survey_id is not None
        await surveys_repo.save_response(
            session, survey_id=survey_id, channel="care", answers=[], at=NOW,
            customer_id=a, campaign_id=list_id, respondent_user_id=lan.id,
        )  # fmt: skip
    async with session_factory() as session:
        progress = await repo.campaign_progress(session, [list_id])
        by_agent = await repo.report(session, by="agent")
        by_list = await repo.report(session, by="list")
    assert progress == {list_id: {"items": 3, "called": 3, "reached": 1, "survey_answered": 1}}
    assert [(r["name"], r["items"], r["reached"], r["not_interested"], r["open"], r["buying"],
             r["opportunity_value"]) for r in by_agent] == [
        ("Lê Minh", 1, 0, 0, 1, 0, 0),
        ("Trần Thị Lan", 2, 1, 1, 0, 1, 1_000_000_000),
    ]  # fmt: skip
    assert [(r["name"], r["items"], r["called"]) for r in by_list] == [("Chăm sóc", 3, 3)]


async def test_care_sweep_once_and_catch_up(session_factory: async_sessionmaker[Any]) -> None:
    an = await add_customer(session_factory, "An", "+84905000001", model="HD72",
                            vin="RL4TH1234AB300001", purchased=date(2026, 11, 30))  # fmt: skip
    await add_customer(session_factory, "Bảo", "+84905000002", birthday=date(1990, 12, 9))
    async with session_factory() as session, session.begin():
        session.add_all([
            CareRule(name="+7", trigger="purchase", offset_days=7, channel="call",
                     template="Hỏi thăm {name}", group="care", active=True, created_at=NOW),
            CareRule(name="sinh nhật", trigger="birthday", offset_days=0, channel="sms",
                     template="Chúc mừng {name}", active=True, created_at=NOW),
        ])  # fmt: skip

    async def sweep(at: datetime) -> list[tuple[Any, ...]]:
        async with session_factory() as session, session.begin():
            result = await care_sweep(session, now=at, zone=ZONE, fire_hour=8, domain="x.vn")
        return [(f[1], f[3], f[4]) for f in result.fired]

    assert await sweep(NOW) == [(an, date(2026, 12, 7), "task")]
    assert await sweep(NOW + timedelta(hours=5)) == []  # the same day: nothing again
    # two days later: the birthday on the 9th; nothing for the 8th
    fired = await sweep(NOW + timedelta(days=2))
    assert [(f[1], f[2]) for f in fired] == [(date(2026, 12, 9), "message")]
    assert await sweep(NOW + timedelta(days=2, hours=1)) == []
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Task)) == 1
        body = await session.scalar(select(Notification.body_text))
        customers = await session.scalar(select(func.count()).select_from(Customer))
    assert body == "Chúc mừng Bảo" and customers == 2


async def test_a_campaign_is_due_from_its_first_day(
    session_factory: async_sessionmaker[Any],
) -> None:
    from callcenter.core.outbound import OutboundRuleError
    from callcenter.outbound import services

    lan = await make_user(session_factory, "lan", "agent")
    await add_customer(session_factory, "Khách", "+84906000001", province="Huế")
    async with session_factory() as session, session.begin():
        session.add(AgentGroup(code="care", name="CSKH"))
    wanted = repo.CustomerFilter(province="Huế")
    for bad, message in (
        ({"agent_ids": [lan.id, 9999]}, "Choose agents who answer calls"),
        ({"group": "nope"}, "No such group"),
        ({"name": " "}, "Give the list a name"),
        ({"group": "", "agent_ids": []}, "Assign the list to agents or a group"),
        ({"survey_id": 4242}, "survey does not exist or is not active"),
    ):
        fields = {"kind": "care", "name": "Đợt 2", "group": "care", **bad}
        with pytest.raises(OutboundRuleError, match=message):
            await services.list_from_filter(
                session_factory, services.ListRequest(**fields), wanted, now=NOW,
                created_by_id=None, zone=ZONE,
            )  # fmt: skip
    request = services.ListRequest(
        kind="care", name="Đợt 2", group="care",
        starts_on=date(2026, 12, 10), ends_on=date(2026, 12, 20),
    )  # fmt: skip
    await services.list_from_filter(
        session_factory, request, wanted, now=NOW, created_by_id=None, zone=ZONE
    )
    async with session_factory() as session:
        due = await session.scalar(select(Task.due_at).where(Task.origin == "care_campaign"))
    assert due == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)  # 10/12 00:00 local
    async with session_factory() as session, session.begin():
        assert await repo.close_ended_campaigns(session, date(2026, 12, 20)) == []
        closed = await repo.close_ended_campaigns(session, date(2026, 12, 21))
    async with session_factory() as session:
        status = await session.scalar(select(Task.status).where(Task.origin == "care_campaign"))
    assert len(closed) == 1 and status == "cancelled"  # after its last day: called off
    request.ends_on = date(2026, 12, 1)
    with pytest.raises(OutboundRuleError, match="The campaign ends before it starts"):
        await services.list_from_filter(
            session_factory, request, wanted, now=NOW, created_by_id=None, zone=ZONE
        )


async def test_marking_do_not_call_calls_off_planned_calls(
    session_factory: async_sessionmaker[Any],
) -> None:
    from callcenter.db.models import CallListItem
    from callcenter.db.repos import customers as customers_repo

    lan = await make_user(session_factory, "lan", "agent")
    kim = await add_customer(session_factory, "Kim", "+84907000001", province="Huế")
    async with session_factory() as session, session.begin():
        await repo.create_list(
            session, kind="lead", name="Huế", customer_ids=[kim], source="filter", now=NOW,
            agent_ids=[lan.id],
        )  # fmt: skip
    async with session_factory() as session, session.begin():
        customer = await session.get(Customer, kim)
        assert customer is not None
        assert await customers_repo.set_do_not_call(
            session, customer, on=True, reason="phiền", at=NOW, actor=lan
        )
    async with session_factory() as session:
        task = (await session.scalars(select(Task).where(Task.customer_id == kim))).one()
        item = (await session.scalars(select(CallListItem))).one()
        visible = await tasks_repo.callbacks_for_agent(session, lan.id, now=NOW)
    assert (task.status, item.status, visible) == ("cancelled", "do_not_call", [])
