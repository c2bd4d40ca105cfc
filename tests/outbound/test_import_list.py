"""A lead list from an Excel file: uploaded and previewed by the customer importer (same
preview counts and rejected rows), imported when the list is created, then called by
the "care" group from their task lists — the do-not-call customer left out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, update

from callcenter.db.models import CallList, CallListItem, Customer
from callcenter.registry import SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.customers.workbooks import messy_rows, write_workbook
from tests.outbound.conftest import OutboundStack
from tests.outbound.helpers import get_json, post_form


async def test_lead_list_imported_from_excel(stack: OutboundStack, tmp_path: Path) -> None:
    assert stack.app is not None
    factory = stack.app[SESSIONMAKER]
    await make_user(factory, "sup", "supervisor")
    async with factory() as session, session.begin():  # the stack's Nguyễn Văn An: do not call
        await session.execute(
            update(Customer).where(Customer.name == "Nguyễn Văn An").values(do_not_call=True)
        )
    workbook = write_workbook(tmp_path / "leads.xlsx", messy_rows())
    sup, lan = AgentClient(stack.base_url), AgentClient(stack.base_url)
    try:
        await sup.login("sup")
        data = aiohttp.FormData()
        data.add_field("file", workbook.read_bytes(), filename="leads.xlsx")
        async with sup.http.post(
            stack.base_url + "/customers/import",
            data=data,
            headers={"X-CSRF-Token": sup.csrf, "Accept": "application/json"},
        ) as response:
            assert response.status == 200, await response.text()
            import_id = (await response.json())["import_id"]
        state: dict[str, Any] = {}
        for _ in range(200):
            _, state = await get_json(sup, f"/api/customers/imports/{import_id}")
            if state["status"] == "previewed":
                break
            await asyncio.sleep(0.05)
        assert state["preview"]["rejected"] == 1 and state["preview"]["partial"] == 3

        # Without a previewed import: a clear error.
        status, _, body = await post_form(
            sup, "/outbound/lists", {"name": "Từ Excel", "source": "import", "group": "care"}
        )
        assert status == 400 and "Hãy chọn một tệp nhập đã xem trước." in body
        status, location, _ = await post_form(
            sup,
            "/outbound/lists",
            {"name": "Từ Excel", "source": "import", "import_id": import_id, "group": "care",
             "order_by": "province"},
        )  # fmt: skip
        assert status == 302, location
        list_id = int(location.rsplit("/", 1)[1])
        _, state = await get_json(sup, f"/api/customers/imports/{import_id}")
        assert state["status"] == "done"  # the file went through the customer importer

        async with factory() as session:
            call_list = await session.get(CallList, list_id)
            rows = (
                await session.execute(
                    select(Customer.name, Customer.province)
                    .join(CallListItem, CallListItem.customer_id == Customer.id)
                    .where(CallListItem.list_id == list_id)
                    .order_by(CallListItem.position)
                )
            ).all()
        assert call_list is not None and call_list.skipped_do_not_call == 1
        # by province: Đà Nẵng, Hải Phòng, TP.HCM (three) — Nguyễn Văn An is do-not-call
        assert [tuple(row) for row in rows] == [
            ("Lê Văn Cường", "Đà Nẵng"),
            ("Phạm Văn Dũng", "Hải Phòng"),
            ("Trần Thị Bình", "TP.HCM"),
            ("Vũ Văn F", "TP.HCM"),
            ("Công ty Vận tải Gấu", "TP.HCM"),
        ]

        await lan.login("lan")  # a member of "care": the group's leads are on her list
        _, body = await get_json(lan, "/api/agent/tasks")
        leads = [t["customer_name"] for t in body["tasks"] if t["kind"] == "lead_call"]
        assert leads == [row[0] for row in rows]
    finally:
        await sup.close()
        await lan.close()
