"""Care schedules through the daemon on a moved clock (ManualClock) and two restarts: each
rule fires once per customer, vehicle and local date — a care call on the group's task
list, or an SMS / email in the outbox with the customer's fields — from 08:00 local on;
a do-not-call customer gets no care call; a clock moved weeks ahead catches up once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.clock import ManualClock
from callcenter.db.models import CareFiring, Notification, Task
from callcenter.outbound.plugin import CARE_SCHEDULER
from callcenter.registry import SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.conftest import MigratedTemplates
from tests.outbound.conftest import OutboundStack, outbound_stack
from tests.outbound.helpers import add_customer, get_json, post_form

START = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # Monday 07:30 in Hồ Chí Minh City


async def sweep_at(stack: OutboundStack, instant: datetime | None = None) -> None:
    """Move the clock forward to ``instant``, then let one sweep run there and finish.

    The clock only ever advances (a ManualClock wakes sleepers in deadline order); the
    sweep woken on the way may read any time up to ``instant``, so a second one, woken
    ``every_seconds`` later, is the one that surely sees it."""
    assert stack.app is not None
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    scheduler = stack.app[CARE_SCHEDULER]
    if instant is not None and instant > clock.now():
        await _wake(stack, (instant - clock.now()).total_seconds())
    await _wake(stack, scheduler.every_seconds)


async def _wake(stack: OutboundStack, seconds: float) -> None:
    assert stack.app is not None and isinstance(stack.clock, ManualClock)
    scheduler = stack.app[CARE_SCHEDULER]
    before = scheduler.completed
    await stack.clock.advance(seconds)
    for _ in range(200):
        if scheduler.completed > before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the care sweep did not run")


async def started(stack: OutboundStack) -> None:
    """Wait for the sweep a (re)started daemon runs at once."""
    assert stack.app is not None
    for _ in range(200):
        if stack.app[CARE_SCHEDULER].completed:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the care sweep did not start")


@pytest.fixture
async def clocked(
    tmp_path: Path, migrated_templates: MigratedTemplates
) -> AsyncIterator[OutboundStack]:
    stack = await outbound_stack(tmp_path, migrated_templates, ManualClock(START))
    await stack.start_daemon()
    yield stack
    await stack.close()


async def _state(
    factory: Any,
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], list[Any]]:
    async with factory() as session:
        tasks = [
            (t.phone, t.notes)
            for t in await session.scalars(
                select(Task).where(Task.origin == "care_schedule").order_by(Task.id)
            )
        ]
        messages = [
            (n.channel, n.recipient, n.subject + "|" + n.body_text)
            for n in await session.scalars(
                select(Notification).where(Notification.kind == "care").order_by(Notification.id)
            )
        ]
        firings = [
            (f.rule_id, f.customer_id, f.vehicle_key, f.on_date, f.outcome)
            for f in await session.scalars(select(CareFiring).order_by(CareFiring.id))
        ]
    return tasks, messages, firings


async def test_care_rules_fire_once_across_restarts_and_a_moved_clock(
    clocked: OutboundStack,
) -> None:
    stack = clocked
    assert stack.app is not None
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    factory = stack.app[SESSIONMAKER]
    await make_user(factory, "sup", "supervisor")
    an = await add_customer(
        factory, "Ngô Văn An", "+84903000001", model="HD120SL", vin="RL4TH1234AB100001",
        purchased=date(2026, 11, 30),
    )  # fmt: skip
    dung = await add_customer(
        factory, "Tạ Văn Dũng", "+84903000004", model="HD72", vin="RL4TH1234AB100004",
        purchased=date(2026, 11, 30), do_not_call=True,
    )  # fmt: skip
    bao = await add_customer(factory, "Trần Văn Bảo", "+84903000002", birthday=date(1980, 12, 8))
    chi = await add_customer(
        factory, "Lý Thị Chi", "+84903000003", email="chi@example.vn", model="Mighty EX8",
        vin="RL4TH1234AB100003", purchased=date(2024, 1, 7), warranty_end=date(2027, 1, 7),
    )  # fmt: skip

    sup = AgentClient(stack.base_url)
    lan = AgentClient(stack.base_url)
    try:
        await sup.login("sup")
        rules = [
            {"name": "Sau mua 7 ngày", "trigger": "purchase", "offset_days": 7, "channel": "call",
             "template": "Hỏi thăm {name} về xe {model}", "group": "care"},
            {"name": "Sau mua 30 ngày", "trigger": "purchase", "offset_days": 30,
             "channel": "call", "template": "Gọi lần 2 {name}", "group": "care"},
            {"name": "Sinh nhật", "trigger": "birthday", "offset_days": 0, "channel": "sms",
             "template": "Chúc mừng sinh nhật {name}!"},
            {"name": "Trước hết bảo hành (email)", "trigger": "warranty_end", "offset_days": -30,
             "channel": "email", "subject": "Bảo hành xe {model}",
             "template": "Bảo hành xe {vin} hết hạn ngày {warranty_end}."},
            {"name": "Trước hết bảo hành (gọi)", "trigger": "warranty_end", "offset_days": -30,
             "channel": "call", "template": "Nhắc {name} hết bảo hành", "group": "care"},
        ]  # fmt: skip
        status, _, body = await post_form(
            sup, "/outbound/care-rules", {**rules[2], "template": "Chào {ten}"}
        )
        assert status == 400 and "Mẫu có trường không xác định: ten" in body
        for rule in rules:
            status, _, _ = await post_form(sup, "/outbound/care-rules", rule)
            assert status == 302

        # 07:35 local: An's +7 days falls today, but nothing goes out before 08:00.
        await sweep_at(stack)
        assert await _state(factory) == ([], [], [])

        await sweep_at(stack, datetime(2026, 12, 7, 1, 1, tzinfo=UTC))  # 08:06 local
        tasks, messages, firings = await _state(factory)
        assert tasks == [
            ("+84903000001", "[care_schedule] Sau mua 7 ngày: Hỏi thăm Ngô Văn An về xe HD120SL")
        ]
        assert messages == []
        assert [(f[1], f[3], f[4]) for f in firings] == [
            (an, date(2026, 12, 7), "task"),
            (dung, date(2026, 12, 7), "skipped_dnc"),  # do not call: no care call
        ]

        # The care call is on Lan's list (she answers for the "care" group).
        await lan.login("lan")
        status, body = await get_json(lan, "/api/agent/tasks")
        care = [t for t in body["tasks"] if t["origin"] == "care_schedule"]
        assert [(t["customer_name"], t["origin_label"]) for t in care] == [
            ("Ngô Văn An", "Lịch chăm sóc")
        ]

        # A restart the same day: nothing again.
        await stack.stop_daemon()
        await stack.start_daemon()
        await started(stack)
        await sweep_at(stack)
        assert (await _state(factory))[0] == tasks

        # The next day, 09:00: Bảo's birthday SMS, Chi's warranty email and call.
        await sweep_at(stack, datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
        tasks, messages, firings = await _state(factory)
        assert messages == [
            ("sms", "+84903000002", "|Chúc mừng sinh nhật Trần Văn Bảo!"),
            ("email", "chi@example.vn",
             "Bảo hành xe Mighty EX8|Bảo hành xe RL4TH1234AB100003 hết hạn ngày 07/01/2027."),
        ]  # fmt: skip
        assert [t[1] for t in tasks] == [
            "[care_schedule] Sau mua 7 ngày: Hỏi thăm Ngô Văn An về xe HD120SL",
            "[care_schedule] Trước hết bảo hành (gọi): Nhắc Lý Thị Chi hết bảo hành",
        ]
        assert {(f[1], f[2], f[3]) for f in firings if f[3] == date(2026, 12, 8)} == {
            (bao, "", date(2026, 12, 8)),
            (chi, "RL4TH1234AB100003", date(2026, 12, 8)),
        }

        # The daemon is down while the clock moves three weeks ahead (to 30/12, 09:00):
        # on start it catches up on +30 days (30/12) for An, once — and never again.
        await stack.stop_daemon()
        await clock.advance(
            (datetime(2026, 12, 30, 2, 0, tzinfo=UTC) - clock.now()).total_seconds()
        )
        await stack.start_daemon()
        await started(stack)
        tasks, messages, firings = await _state(factory)
        assert [t[1] for t in tasks][2:] == [
            "[care_schedule] Sau mua 30 ngày: Gọi lần 2 Ngô Văn An"
        ]
        assert [(f[1], f[3], f[4]) for f in firings][-2:] == [
            (an, date(2026, 12, 30), "task"),
            (dung, date(2026, 12, 30), "skipped_dnc"),
        ]
        before = await _state(factory)
        await stack.stop_daemon()
        await stack.start_daemon()
        await started(stack)
        await sweep_at(stack, datetime(2026, 12, 30, 5, 0, tzinfo=UTC))
        assert await _state(factory) == before
        assert len(messages) == 2
    finally:
        await sup.close()
        await lan.close()
