"""A lead list through the daemon and the simulated PBX, as supervisors and agents use it:
built from a customer filter (do-not-call left out), worked from the agent's task list with
click-to-call, through all four outcomes and both conversions, then reported."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from callcenter.clock import ManualClock
from callcenter.db.models import CallListItem, Opportunity, Task
from callcenter.registry import SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.conftest import MigratedTemplates
from tests.outbound.conftest import OutboundStack, outbound_stack
from tests.outbound.helpers import add_customer, get_json, post_form

START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hồ Chí Minh City


@pytest.fixture
async def clocked(
    tmp_path: Path, migrated_templates: MigratedTemplates
) -> AsyncIterator[OutboundStack]:
    stack = await outbound_stack(tmp_path, migrated_templates, ManualClock(START))
    await stack.start_daemon()
    yield stack
    await stack.close()


LEADS = {
    # name: (phone, tags, do not call)
    "Nguyễn Văn Bình": ("+84901000001", ["lead", "VIP"], False),
    "Trần Thị Cúc": ("+84901000002", ["lead"], False),
    "Lê Văn Dũng": ("+84901000003", ["lead"], False),
    "Phạm Thị Én": ("+84901000004", ["lead"], False),
    "Hồ Văn Phát": ("+84901000005", ["lead"], False),
    "Đỗ Thị Giang": ("+84901000006", ["lead"], True),  # do not call: never on a list
}


async def test_a_lead_list_through_all_four_outcomes(clocked: OutboundStack) -> None:
    stack = clocked
    assert stack.app is not None
    factory = stack.app[SESSIONMAKER]
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    await make_user(factory, "sup", "supervisor", full_name="Phạm Giám Sát")
    ids = {}
    for name, (phone, tags, dnc) in LEADS.items():
        ids[name] = await add_customer(factory, name, phone, tags=tags, do_not_call=dnc)
    await add_customer(factory, "Khách Hà Nội", "+84901000009", province="Hà Nội", tags=["lead"])

    sup, lan = AgentClient(stack.base_url), AgentClient(stack.base_url)
    try:
        await sup.login("sup")
        await lan.login("lan")
        # A name is required: a clear error, nothing created.
        status, _, body = await post_form(sup, "/outbound/lists", {"name": "", "province": "x"})
        assert status == 400 and "Hãy đặt tên cho danh sách" in body
        status, location, _ = await post_form(
            sup,
            "/outbound/lists",
            {
                "name": "Khách tiềm năng Cần Thơ", "kind": "lead", "source": "filter",
                "tags": "lead", "province": "cần thơ", "agent_ids": [stack.agents["lan"]],
                "order_by": "priority", "max_attempts": "2",
            },
        )  # fmt: skip
        assert status == 302 and location.startswith("/outbound/lists/"), location
        list_id = int(location.rsplit("/", 1)[1])

        # Lan's task list: the five callable leads, VIP first, each with its lead page.
        status, body = await get_json(lan, "/api/agent/tasks")
        assert status == 200
        leads = [t for t in body["tasks"] if t["kind"] == "lead_call"]
        assert [t["customer_name"] for t in leads] == [
            "Nguyễn Văn Bình", "Trần Thị Cúc", "Lê Văn Dũng", "Phạm Thị Én", "Hồ Văn Phát",
        ]  # fmt: skip
        assert all(t["kind_label"] == "Cuộc gọi khách tiềm năng" for t in leads)
        task_of = {t["customer_name"]: t["id"] for t in leads}
        assert leads[0]["work_url"] == f"/outbound/tasks/{task_of['Nguyễn Văn Bình']}"
        async with lan.http.get(stack.base_url + leads[0]["work_url"]) as page:
            html = await page.text()
        assert page.status == 200 and "0901 000 001" in html and "Khách tiềm năng Cần Thơ" in html

        # Click-to-call from the lead: claim, then the agent's phone rings first.
        status, _ = await lan.post(f"/api/agent/tasks/{task_of['Nguyễn Văn Bình']}/claim", {})
        assert status == 200
        status, body = await lan.post("/api/agent/originate", {"number": "0901 000 001"})
        assert status == 200 and body["exten"] == "0901000001", body
        await stack.wait_ringing("PJSIP/101")

        # The agent page's generic outcome does not apply to a lead.
        status, body = await lan.post(
            f"/api/agent/tasks/{task_of['Nguyễn Văn Bình']}/outcome", {"outcome": "reached"}
        )
        assert status == 409

        async def outcome(name: str, **body: Any) -> tuple[int, dict[str, Any]]:
            return await lan.post(f"/api/outbound/tasks/{task_of[name]}/outcome", body)

        # Reached and buying → an opportunity.
        status, body = await outcome(
            "Nguyễn Văn Bình",
            outcome="reached",
            conversion="buying",
            vehicle_model="",
        )
        assert status == 400 and "mẫu xe" in body["error"]
        status, body = await outcome(
            "Nguyễn Văn Bình", outcome="reached", conversion="buying", vehicle_model="HD120SL",
            quantity=3, value_vnd=2_100_000_000, stage="quoted",
        )  # fmt: skip
        assert status == 200 and body["status_label"] == "Đã liên lạc được", body
        assert body["opportunity_id"] is not None and body["callback_task_id"] is None

        # Reached, not buying yet → a callback task exactly 24 hours later.
        status, body = await outcome("Trần Thị Cúc", outcome="reached", conversion="not_buying")
        assert status == 200 and body["callback_task_id"] is not None
        callback_id = body["callback_task_id"]

        # Not reached → gone from the list until the chosen time, then back.
        status, body = await outcome("Lê Văn Dũng", outcome="not_reached")
        assert status == 400  # a retry time is required
        status, body = await outcome(
            "Lê Văn Dũng", outcome="not_reached", retry_at="2026-12-07T11:30"
        )
        assert status == 200 and body["status"] == "open" and body["attempts"] == 1

        # Not interested needs a reason.
        status, body = await outcome("Phạm Thị Én", outcome="not_interested")
        assert status == 400 and "lý do" in body["error"]
        status, body = await outcome(
            "Phạm Thị Én", outcome="not_interested", reason="đã mua xe hãng khác"
        )
        assert status == 200 and body["status"] == "not_interested"

        # Wrong or fake number.
        status, body = await outcome("Hồ Văn Phát", outcome="wrong_number")
        assert status == 200 and body["status"] == "wrong_number"

        status, body = await get_json(lan, "/api/agent/tasks")
        names = [(t["kind"], t["customer_name"]) for t in body["tasks"]]
        assert ("lead_call", "Lê Văn Dũng") not in names  # not due before 11:30
        assert ("callback", "Trần Thị Cúc") in names
        callback = next(t for t in body["tasks"] if t["id"] == callback_id)
        assert callback["origin_label"] == "Gọi lại khách đã chuyển đổi (24 giờ)"
        assert callback["due_at"] == (START + timedelta(hours=24)).isoformat()

        await clock.advance(timedelta(hours=2, minutes=29).total_seconds())
        status, body = await get_json(lan, "/api/agent/tasks")
        assert ("lead_call", "Lê Văn Dũng") not in [
            (t["kind"], t["customer_name"]) for t in body["tasks"]
        ]
        await clock.advance(60)  # 11:30 local: the lead returns
        status, body = await get_json(lan, "/api/agent/tasks")
        assert ("lead_call", "Lê Văn Dũng") in [
            (t["kind"], t["customer_name"]) for t in body["tasks"]
        ]
        # The second miss reaches the list's two tries: closed as unreachable.
        status, body = await outcome(
            "Lê Văn Dũng", outcome="not_reached", retry_at="2026-12-07T15:00"
        )
        assert status == 200 and body["status"] == "unreachable" and body["attempts"] == 2

        async with factory() as session:
            items = {
                item.customer_id: (item.status, item.attempts, item.conversion, item.reason)
                for item in await session.scalars(
                    select(CallListItem).where(CallListItem.list_id == list_id)
                )
            }
            opportunity = (await session.scalars(select(Opportunity))).one()
            callback_task = await session.get(Task, callback_id)
        assert items == {
            ids["Nguyễn Văn Bình"]: ("reached", 1, "buying", ""),
            ids["Trần Thị Cúc"]: ("reached", 1, "not_buying", ""),
            ids["Lê Văn Dũng"]: ("unreachable", 2, "", ""),
            ids["Phạm Thị Én"]: ("not_interested", 1, "", "đã mua xe hãng khác"),
            ids["Hồ Văn Phát"]: ("wrong_number", 1, "", ""),
        }
        assert (opportunity.customer_id, opportunity.vehicle_model, opportunity.quantity,
                opportunity.value_vnd, opportunity.stage) == (
            ids["Nguyễn Văn Bình"], "HD120SL", 3, 2_100_000_000, "quoted")  # fmt: skip
        assert callback_task is not None
        assert (callback_task.kind, callback_task.assignee_id, callback_task.customer_id) == (
            "callback",
            stack.agents["lan"],
            ids["Trần Thị Cúc"],
        )

        # The list page, and the reports per agent and per list (page and Excel).
        async with sup.http.get(f"{stack.base_url}/outbound/lists/{list_id}") as page:
            html = await page.text()
        assert "Bỏ qua: không gọi" in html and "Không liên lạc được" in html
        async with sup.http.get(f"{stack.base_url}/outbound/reports?by=agent") as page:
            assert page.status == 200
        async with sup.http.get(
            f"{stack.base_url}/outbound/reports?by=agent&format=xlsx"
        ) as response:
            sheet = load_workbook(io.BytesIO(await response.read())).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows == [
            ("Điện thoại viên", "Khách tiềm năng", "Đã gọi", "Đã liên lạc được", "Không quan tâm",
             "Sai số hoặc số ảo", "Không liên lạc được", "Cần gọi",
             "Đã chuyển đổi: chưa mua", "Đã chuyển đổi: mua", "Giá trị cơ hội (VND)"),
            ("Trần Thị Lan", 5, 5, 2, 1, 1, 1, 0, 1, 1, 2_100_000_000),
        ]  # fmt: skip
        async with sup.http.get(
            f"{stack.base_url}/outbound/reports?by=list&format=xlsx"
        ) as response:
            sheet = load_workbook(io.BytesIO(await response.read())).active
        assert sheet is not None
        assert list(sheet.iter_rows(values_only=True))[1] == (
            "Khách tiềm năng Cần Thơ",
            5,
            5,
            2,
            1,
            1,
            1,
            0,
            1,
            1,
            2_100_000_000,
        )
        async with sup.http.get(
            f"{stack.base_url}/outbound/lists/{list_id}/results.xlsx"
        ) as response:
            sheet = load_workbook(io.BytesIO(await response.read())).active
        assert sheet is not None
        results = list(sheet.iter_rows(values_only=True))
        assert results[1][:5] == (
            "Nguyễn Văn Bình",
            "0901 000 001",
            "Cần Thơ",
            "Trần Thị Lan",
            "Đã liên lạc được",
        )
        assert len(results) == 6  # the do-not-call customer is not on the list
    finally:
        await sup.close()
        await lan.close()
