"""Do-not-call cancels the calls already planned to the customer (both databases, over
HTTP as the supervisor and the agent do it): lead and care calls, care-schedule and lead
callbacks, a callback for one of their numbers; each is cancelled with the reason and
audited, leaves the agent's list, and stays cancelled when do-not-call is cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import ManualClock
from callcenter.db.models import AuditEntry, CallListItem, Customer, Task
from callcenter.db.repos import tasks as tasks_repo
from callcenter.excel import importer
from callcenter.registry import CLOCK, SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.outbound.conftest import WebDaemon
from tests.outbound.helpers import add_customer, get_json, post_form


async def _task(daemon: WebDaemon, **fields: object) -> int:
    assert daemon.app is not None
    now = daemon.app[CLOCK].now()
    async with daemon.app[SESSIONMAKER]() as session, session.begin():
        status = fields.pop("status", "open")
        task = await tasks_repo.create_task(session, created_at=now, **fields)  # type: ignore[arg-type]
        task.status = str(status)
        return task.id


async def _listed(agent: AgentClient) -> list[int]:
    status, body = await get_json(agent, "/api/agent/tasks")
    assert status == 200, body
    return sorted(task["id"] for task in body["tasks"])


async def test_do_not_call_cancels_planned_calls_for_good(daemon: WebDaemon) -> None:
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    now = daemon.app[CLOCK].now()
    lan = await make_user(factory, "lan", "agent", full_name="Trần Thị Lan")
    await make_user(factory, "sup", "supervisor", full_name="Phạm Giám Sát")
    an = await add_customer(factory, "Ngô Văn An", "+84903000001")
    binh = await add_customer(factory, "Lý Văn Bình", "+84903000002", province="Hà Nội")
    chi = await add_customer(factory, "Tạ Thị Chi", "+84903000003", province="Huế")

    sup, agent = AgentClient(daemon.base_url), AgentClient(daemon.base_url)
    try:
        await sup.login("sup")
        await agent.login("lan")
        # A lead list for Cần Thơ: An's lead call on Lan's list.
        status, location, _ = await post_form(
            sup, "/outbound/lists",
            {"kind": "lead", "name": "Khách Cần Thơ", "source": "filter", "province": "Cần Thơ",
             "agent_ids": lan.id},
        )  # fmt: skip
        assert status == 302 and location.startswith("/outbound/lists/"), location
        async with factory() as session:
            lead_task = await session.scalar(select(Task.id).where(Task.customer_id == an))
        assert lead_task is not None
        care_call = await _task(daemon, origin="care_schedule", kind="callback",
                                phone="+84903000001", customer_id=an, notes="[care_schedule] +7")  # fmt: skip
        lead_callback = await _task(daemon, origin="lead_callback", kind="callback",
                                    phone="+84903000001", customer_id=an,
                                    due_at=now + timedelta(hours=24))  # fmt: skip
        by_number = await _task(daemon, origin="abandoned", kind="callback", phone="+84903000001")
        done = await _task(daemon, origin="abandoned", kind="callback", phone="+84903000001",
                           customer_id=an, status="done")  # fmt: skip
        binh_call = await _task(daemon, origin="abandoned", kind="callback", phone="+84903000002",
                                customer_id=binh)  # fmt: skip
        chi_call = await _task(daemon, origin="care_schedule", kind="callback",
                               phone="+84903000003", customer_id=chi)  # fmt: skip
        an_planned = sorted([lead_task, care_call, lead_callback, by_number])
        assert await _listed(agent) == sorted([*an_planned, binh_call, chi_call])

        # An asks not to be called (the customer page's button, with a reason).
        status, _, _ = await post_form(
            sup, f"/customers/{an}/do-not-call", {"action": "mark", "reason": "khách từ chối"}
        )
        assert status == 302
        # Chi is marked on the edit form.
        status, _, body = await post_form(
            sup, f"/customers/{chi}/edit",
            {"name": "Tạ Thị Chi", "phones": "0903 000 003", "province": "Huế",
             "customer_type": "individual", "source": "hotline", "do_not_call": "on"},
        )  # fmt: skip
        assert status == 302, body

        # Nobody is asked to call them any more; Bình's callback is untouched.
        assert await _listed(agent) == [binh_call]
        async with agent.http.get(f"{daemon.base_url}/outbound/tasks/{lead_task}") as page:
            assert page.status == 404
        status, _ = await agent.post(f"/api/agent/tasks/{care_call}/claim", {})
        assert status == 404

        # Clearing do-not-call brings none of them back.
        status, _, _ = await post_form(sup, f"/customers/{an}/do-not-call", {"action": "clear"})
        assert status == 302
        assert await _listed(agent) == [binh_call]

        async with factory() as session:
            rows = {
                task.id: (task.status, task.outcome)
                for task in await session.scalars(select(Task).order_by(Task.id))
            }
            item = await session.scalar(
                select(CallListItem).where(CallListItem.task_id == lead_task)
            )
            audit = [
                (entry.action, entry.username, entry.target, entry.details)
                for entry in await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "task.cancelled")
                    .order_by(AuditEntry.id)
                )
            ]
        cancelled = ("cancelled", "do_not_call")
        assert {task: rows[task] for task in [*an_planned, chi_call]} == dict.fromkeys(
            [*an_planned, chi_call], cancelled
        )
        assert rows[done] == ("done", "")
        assert rows[binh_call] == ("open", "")
        assert item is not None and item.status == "do_not_call"
        kinds = {lead_task: "lead_call", care_call: "callback", lead_callback: "callback",
                 by_number: "callback", chi_call: "callback"}  # fmt: skip
        assert audit == [
            ("task.cancelled", "sup", f"task:{task}",
             {"reason": "do_not_call", "customer_id": an if task != chi_call else chi,
              "kind": kinds[task]})
            for task in [*an_planned, chi_call]
        ]  # fmt: skip
    finally:
        await sup.close()
        await agent.close()


async def test_an_import_marking_do_not_call_cancels_their_planned_calls(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    """The customers' Excel import marks an existing customer do-not-call ("x" in "Không
    gọi"): their care call is cancelled and audited under whoever ran the import."""
    admin = await make_user(session_factory, "quantri", "admin")
    an = await add_customer(session_factory, "Ngô Văn An", "+84903000001")
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    async with session_factory() as session, session.begin():
        care = await tasks_repo.create_task(
            session, origin="care_schedule", kind="callback", phone="+84903000001",
            customer_id=an, created_at=now,
        )  # fmt: skip
        care_id = care.id
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Họ và tên", "SĐT", "Không gọi"])
    sheet.append(["Ngô Văn An", "0903 000 001", "x"])
    path = tmp_path / "khong-goi.xlsx"
    workbook.save(path)
    batch = await importer.prepare(session_factory, path, filename=path.name, at=now,
                                   keep_copy=False)  # fmt: skip
    counts = await importer.run(
        session_factory, batch.id, dry_run=False, clock=ManualClock(now), actor=admin
    )
    assert counts.updated == 1
    async with session_factory() as session:
        customer = await session.get(Customer, an)
        task = await session.get(Task, care_id)
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "task.cancelled"))
        ).one()
    assert customer is not None and customer.do_not_call and customer.do_not_call_by_id == admin.id
    assert task is not None and (task.status, task.outcome) == ("cancelled", "do_not_call")
    assert (audit.username, audit.target) == ("quantri", f"task:{care_id}")
