"""The tickets room over HTTP, as its users drive it: the inbox, the ticket page and its
actions, the list and its export, the print sheet, attachments, notifications, the live
inbox stream, and the access rules (other departments' tickets are "not found")."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.db.models import CustomerPhone, Notification, Ticket, User
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.tickets.plugin import PLUGIN, TICKET_SERVICE
from callcenter.web.app import create_app
from tests.tickets.pages_helpers import Recorder, as_user, install_senders, wrapup_ticket
from tests.tickets.world import T0, Office, build_office

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


@pytest.fixture
async def world(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> tuple[TestClient, Office, dict[str, Recorder]]:
    settings = settings.model_copy(update={"attachments_dir": tmp_path / "files"})
    app = create_app(settings, clock=ManualClock(T0), engine=engine, extra_plugins=[PLUGIN])
    senders = install_senders(app)
    async with app[SESSIONMAKER]() as session:
        office = await build_office(session)
        session.add(
            CustomerPhone(customer_id=office.customer, number="+84912345678", is_primary=True)
        )
        await session.commit()
    client = await aiohttp_client(app)
    return client, office, senders


async def post(client: TestClient, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    response = await client.post(url, json=body or {}, headers={"X-CSRF-Token": token})
    if response.content_type != "application/json":
        return response.status, {"error": await response.text()}
    return response.status, await response.json()


async def ticket_row(client: TestClient, code: str) -> Ticket:
    async with client.server.app[SESSIONMAKER]() as session:
        found = await session.scalar(select(Ticket).where(Ticket.code == code))
        assert found is not None
        return found


async def test_wrapup_ticket_reaches_the_department_and_is_announced(world: Any) -> None:
    client, office, _ = world
    code = await wrapup_ticket(client.server.app, office)
    ticket = await ticket_row(client, code)
    assert ticket.assignee_id == office.head  # free and first in the head's order
    async with client.server.app[SESSIONMAKER]() as session:
        rows = (
            await session.scalars(select(Notification).where(Notification.ticket_id == ticket.id))
        ).all()
    assert {(n.channel, n.recipient) for n in rows} >= {
        ("email", "dichvu@example.vn"),
        ("email", "an@example.vn"),
    }
    # a second call of the hook (a retried save) announces nothing more
    await client.server.app[TICKET_SERVICE].ticket_saved(ticket.id)
    async with client.server.app[SESSIONMAKER]() as session:
        again = (
            await session.scalars(select(Notification).where(Notification.ticket_id == ticket.id))
        ).all()
    assert len(again) == len(rows)

    await as_user(client, office.head)
    page = await client.get("/tickets/inbox")
    html = await page.text()
    assert (
        page.status == 200 and code in html and "Chưa thực hiện" in html
    )  # assigned, in Vietnamese
    assert "assigned" not in html.split("<tbody>")[1].split("</tbody>")[0].replace(
        "status-assigned", ""
    )


async def test_other_departments_and_agents_cannot_read_it(world: Any) -> None:
    client, office, _ = world
    code = await wrapup_ticket(client.server.app, office)
    async with client.server.app[SESSIONMAKER]() as session:
        session.add_all([])
    for outsider in (office.dung,):  # another department's member
        token = await as_user(client, outsider)
        for url in (
            f"/tickets/{code}",
            f"/tickets/{code}/print",
            f"/tickets/{code}/sheet.pdf",
            f"/api/tickets/{code}",
            f"/tickets/{code}/files/1",
        ):
            assert (await client.get(url)).status == 404, url
        for action, body in (
            ("claim", {}),
            ("status", {"status": "in_progress"}),
            ("comments", {"text": "x"}),
            ("transfer", {"reason": "x", "to_department_id": office.parts}),
        ):
            status, _ = await post(client, f"/api/tickets/{code}/{action}", token, body)
            assert status == 404, action
        inbox = await (await client.get("/api/tickets/inbox")).json()
        assert code not in [t["code"] for t in inbox["tickets"]]
        listing = await (await client.get("/api/tickets")).json()
        assert code not in [t["code"] for t in listing["tickets"]]
    # the agent who took the call reads it (their call), without the recording
    await as_user(client, office.agent)
    page = await client.get(f"/tickets/{code}")
    html = await page.text()
    assert page.status == 200 and "<audio" not in html
    # the service staff see that the call was recorded but cannot play it; a supervisor can
    await as_user(client, office.binh)
    html = await (await client.get(f"/tickets/{code}")).text()
    assert "<audio" not in html and "Có ghi âm" in html
    await as_user(client, office.supervisor)
    assert "<audio" in await (await client.get(f"/tickets/{code}")).text()


async def test_work_a_ticket_through_its_statuses(world: Any) -> None:
    client, office, _ = world
    clock: ManualClock = client.server.app[CLOCK]  # type: ignore[assignment]
    code = await wrapup_ticket(client.server.app, office)  # → head (an)
    # a colleague who does not hold it may not move it
    token = await as_user(client, office.chi)
    status, body = await post(
        client, f"/api/tickets/{code}/status", token, {"status": "in_progress"}
    )
    assert status == 403 and body["error"]
    token = await as_user(client, office.head)
    status, body = await post(
        client, f"/api/tickets/{code}/status", token, {"status": "in_progress"}
    )
    assert status == 200 and body["status_label"] == "Đang thực hiện"
    status, body = await post(client, f"/api/tickets/{code}/status", token, {"status": "closed"})
    assert status == 400 and "Đang thực hiện" in body["error"]  # illegal move, translated statuses
    await clock.advance(30 * 60)
    assert (await post(client, f"/api/tickets/{code}/status", token, {"status": "waiting"}))[
        0
    ] == 200
    await clock.advance(2 * 3600)
    assert (await post(client, f"/api/tickets/{code}/status", token, {"status": "in_progress"}))[
        0
    ] == 200
    await clock.advance(15 * 60)
    html = await (await client.get(f"/tickets/{code}")).text()
    assert 'id="work-time">45 min' in html and 'id="wait-time">2 h 00' in html
    assert (
        await post(client, f"/api/tickets/{code}/comments", token, {"text": "Đã đặt phụ tùng"})
    )[0] == 200
    # transfer to a colleague, with a reason
    status, body = await post(client, f"/api/tickets/{code}/transfer", token,
                              {"reason": "Chuyên về động cơ", "to_user_id": office.binh})  # fmt: skip
    assert status == 200 and body["assignee_id"] == office.binh
    html = await (await client.get(f"/tickets/{code}")).text()
    assert "Chuyên về động cơ" in html and "Đã chuyển" in html


async def test_claim_when_everyone_is_busy(world: Any) -> None:
    client, office, _ = world
    codes = [await wrapup_ticket(client.server.app, office) for _ in range(4)]
    last = await ticket_row(client, codes[-1])
    assert last.assignee_id is None and last.status == "unassigned"  # 3 members, 3 busy
    token = await as_user(client, office.binh)
    assert (await post(client, f"/api/tickets/{codes[-1]}/claim", token))[0] == 400  # binh is busy
    # the head finishes theirs, then claims the waiting one
    token = await as_user(client, office.head)
    assert (
        await post(client, f"/api/tickets/{codes[0]}/status", token, {"status": "in_progress"})
    )[0] == 200
    assert (await post(client, f"/api/tickets/{codes[0]}/status", token, {"status": "waiting"}))[
        0
    ] == 200
    status, body = await post(client, f"/api/tickets/{codes[-1]}/claim", token)
    assert status == 200 and body["assignee_id"] == office.head
    # a supervisor does not claim (not a department member)
    token = await as_user(client, office.supervisor)
    assert (await post(client, f"/api/tickets/{codes[-1]}/claim", token))[0] in (400, 403)


async def test_attachments_are_checked_and_served_only_to_readers(world: Any) -> None:
    client, office, _ = world
    code = await wrapup_ticket(client.server.app, office)
    token = await as_user(client, office.binh)

    async def upload(name: str, data: bytes) -> tuple[int, Any]:
        form = FormData()
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        response = await client.post(
            f"/api/tickets/{code}/files", data=form, headers={"X-CSRF-Token": token}
        )
        return response.status, await response.json()

    status, body = await upload("virus.exe", b"MZ" + b"\0" * 10)
    assert status == 400 and "exe" in body["error"]
    status, body = await upload("anh.png", b"GIF89a" + b"\0" * 10)
    assert status == 400
    assert (await upload("anh.png", PNG))[0] == 200
    html = await (await client.get(f"/tickets/{code}")).text()
    href = html.split(f"/tickets/{code}/files/")[1].split('"')[0]
    download = await client.get(f"/tickets/{code}/files/{href}")
    assert download.status == 200 and await download.read() == PNG
    await as_user(client, office.dung)
    assert (await client.get(f"/tickets/{code}/files/{href}")).status == 404


async def test_follow_up_closes_or_reopens(world: Any) -> None:
    client, office, _ = world
    code = await wrapup_ticket(client.server.app, office)
    token = await as_user(client, office.head)
    for status in ("in_progress", "done"):
        assert (await post(client, f"/api/tickets/{code}/status", token, {"status": status}))[
            0
        ] == 200
    # department staff cannot close or reopen: that is the care team's call
    assert (await post(client, f"/api/tickets/{code}/status", token, {"status": "closed"}))[
        0
    ] == 403
    assert (await post(client, f"/api/tickets/{code}/follow-up", token, {"outcome": "satisfied"}))[
        0
    ] == 403
    token = await as_user(client, office.supervisor)
    status, body = await post(
        client, f"/api/tickets/{code}/follow-up", token, {"outcome": "not_satisfied"}
    )
    assert status == 400  # a comment is required
    status, body = await post(client, f"/api/tickets/{code}/follow-up", token,
                              {"outcome": "not_satisfied", "comment": "Xe vẫn kêu"})  # fmt: skip
    assert status == 200 and body["status"] == "in_progress"
    token = await as_user(client, office.head)
    assert (await post(client, f"/api/tickets/{code}/status", token, {"status": "done"}))[0] == 200
    token = await as_user(client, office.supervisor)
    status, body = await post(
        client, f"/api/tickets/{code}/follow-up", token, {"outcome": "satisfied"}
    )
    assert status == 200 and body["status"] == "closed"
    html = await (await client.get(f"/tickets/{code}")).text()
    assert "Khách hàng chưa hài lòng: Xe vẫn kêu" in html


async def test_list_filters_export_print_and_retry(world: Any) -> None:
    client, office, senders = world
    code = await wrapup_ticket(client.server.app, office)
    other = await wrapup_ticket(
        client.server.app, office, category_id=office.parts_order, notes="Đặt lọc gió"
    )
    await as_user(client, office.supervisor)
    listing = await (await client.get(f"/api/tickets?department={office.parts}")).json()
    assert [t["code"] for t in listing["tickets"]] == [other]
    page = await client.get("/tickets?status=assigned")
    assert page.status == 200 and code in await page.text()
    export = await client.get(f"/tickets/export.xlsx?department={office.service}")
    sheet = openpyxl.load_workbook(io.BytesIO(await export.read())).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert values[1][0] == code and values[1][2] == "Chưa thực hiện" and len(values) == 2
    printed = await client.get(f"/tickets/{code}/print")
    assert printed.status == 200 and code in await printed.text()
    pdf = await client.get(f"/tickets/{code}/sheet.pdf")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.read())).pages)
    assert code in text and "Chưa thực hiện" in text  # the status in words, in Vietnamese
    # a failed notification shows as failed and can be sent again
    await senders["email"].wait_for(4)  # the outbox delivers first (to the recording senders)
    async with client.server.app[SESSIONMAKER]() as session:
        ticket = await ticket_row(client, code)
        row = await session.scalar(select(Notification).where(Notification.ticket_id == ticket.id))
        assert row is not None and row.state == "sent"
        row.state = "failed"
        await session.commit()
        failed_id = row.id
    html = await (await client.get(f"/tickets/{code}")).text()
    assert "Không thành công" in html and "Gửi lại" in html
    token = await as_user(client, office.binh)  # not the head: may not retry
    assert (await post(client, f"/api/tickets/notifications/{failed_id}/retry", token))[0] == 403
    token = await as_user(client, office.supervisor)
    assert (await post(client, f"/api/tickets/notifications/{failed_id}/retry", token))[0] == 200


async def test_live_inbox_stream_reports_a_new_ticket(world: Any) -> None:
    client, office, _ = world
    await as_user(client, office.chi)
    response = await client.get("/tickets/inbox/events", headers={"Accept": "text/event-stream"})
    assert response.status == 200
    assert await response.content.readline() == b"retry: 3000\n"
    await response.content.readline()
    code = await wrapup_ticket(client.server.app, office)
    lines = []
    async with asyncio.timeout(5):
        while not lines or not lines[-1].startswith(b"data:"):
            lines.append(await response.content.readline())
    assert json.loads(lines[-1][5:])["code"] == code
    response.close()


async def test_click_to_call_goes_through_the_agent_pages_path(world: Any) -> None:
    client, office, _ = world
    code = await wrapup_ticket(client.server.app, office)
    async with client.server.app[SESSIONMAKER]() as session:
        head = await session.get(User, office.head)
        assert head is not None
        head.interface = "PJSIP/201"
        await session.commit()
    token = await as_user(client, office.head)
    status, body = await post(
        client, f"/api/tickets/{code}/call", token, {"number": "+84999999999"}
    )
    assert status == 400 and body["error"] == "Chỉ gọi được các số của khách hàng."
    # the customer's own number reaches the click-to-call path; no Asterisk link here
    status, body = await post(client, f"/api/tickets/{code}/call", token)
    assert status == 503 and "not connected" in body["error"]
    token = await as_user(client, office.dung)  # another department: not found
    assert (await post(client, f"/api/tickets/{code}/call", token))[0] == 404


RAW_CODES = ("in_progress", "status_changed", "new_ticket", "not_satisfied",
             "transferred", "notified", "queued", "email:", "due:")  # fmt: skip


async def test_no_raw_codes_in_either_language(world: Any) -> None:
    import re

    client, office, _ = world
    code = await wrapup_ticket(client.server.app, office)
    token = await as_user(client, office.head)
    for status in ("in_progress", "done"):
        await post(client, f"/api/tickets/{code}/status", token, {"status": status})
    token = await as_user(client, office.supervisor)
    await post(client, f"/api/tickets/{code}/follow-up", token,
               {"outcome": "not_satisfied", "comment": "Chưa ổn"})  # fmt: skip
    for language, word in (("vi", "Đang thực hiện"), ("en", "Being worked on")):
        await client.get(f"/language/{language}", allow_redirects=False)
        for url in (f"/tickets/{code}", "/tickets", "/tickets/inbox"):
            html = await (await client.get(url)).text()
            body = html.split("<main>")[1]
            body = re.sub(r"<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
            found = [raw for raw in RAW_CODES if raw in body]
            assert not found, (
                language,
                url,
                body[body.find(found[0]) - 200 :][:300] if found else "",
            )
        assert word in html or url == "/tickets/inbox"


async def test_a_timed_out_wrapup_is_categorised_by_a_supervisor(world: Any) -> None:
    from callcenter.core.tickets import plan_timed_out
    from callcenter.db.models import Call
    from callcenter.db.repos import tickets as ticket_repo

    client, office, _ = world
    app = client.server.app
    async with app[SESSIONMAKER]() as session:
        call = Call(linkedid="to.1", started_at=T0, caller_number="+84912345678",
                    customer_id=office.customer, agent_id=office.agent)  # fmt: skip
        session.add(call)
        await session.flush()
        ticket = await ticket_repo.apply_plan(
            session, plan_timed_out(notes="khách hỏi về bảo hành", now=T0), call_id=call.id,
            customer_id=office.customer, user_id=office.agent, now=T0, timed_out=True,
        )  # fmt: skip
        await session.commit()
        code = ticket.code
    await app[TICKET_SERVICE].ticket_saved(ticket.id)  # no department: nothing announced
    token = await as_user(client, office.supervisor)
    listing = await (await client.get("/api/tickets?review=1")).json()
    assert [t["code"] for t in listing["tickets"]] == [code]
    html = await (await client.get(f"/tickets/{code}")).text()
    assert 'id="categorise-form"' in html and "Cần xem lại" in html
    status, body = await post(client, f"/api/tickets/{code}/category", token,
                              {"category_id": office.warranty})  # fmt: skip
    assert status == 200 and body["department_id"] == office.service
    assert body["assignee_id"] == office.head and body["status"] == "assigned"
    status, body = await post(client, f"/api/tickets/{code}/category", token,
                              {"category_id": office.warranty})  # fmt: skip
    assert status == 400 and body["error"] == "Chỉ phân loại được phiếu đang chờ xem lại."
    async with app[SESSIONMAKER]() as session:
        refreshed = await session.scalar(select(Ticket).where(Ticket.code == code))
        assert refreshed is not None and not refreshed.needs_review and refreshed.due_at
        notices = (
            await session.scalars(
                select(Notification).where(Notification.ticket_id == refreshed.id)
            )
        ).all()
    assert {n.recipient for n in notices} >= {"dichvu@example.vn", "an@example.vn"}


async def test_a_ticket_saved_but_never_announced_is_announced_at_start_up(world: Any) -> None:
    """The daemon stopped between the wrap-up's commit and its hook: nothing is lost."""
    client, office, _ = world
    app = client.server.app
    service = app[TICKET_SERVICE]
    hook = service.ticket_saved

    async def crashed(ticket_id: int) -> None:  # the process died before announcing
        return None

    service.ticket_saved = crashed  # type: ignore[method-assign]
    code = await wrapup_ticket(app, office)
    service.ticket_saved = hook  # type: ignore[method-assign]
    ticket = await ticket_row(client, code)
    assert await service.announce_missed() == 1
    assert await service.announce_missed() == 0  # once
    async with app[SESSIONMAKER]() as session:
        notices = (
            await session.scalars(select(Notification).where(Notification.ticket_id == ticket.id))
        ).all()
    assert {n.recipient for n in notices} == {"dichvu@example.vn", "an@example.vn"}


async def test_pages_of_the_list_keep_the_filters(world: Any) -> None:
    client, office, _ = world
    async with client.server.app[SESSIONMAKER]() as session:
        session.add_all(
            Ticket(
                code=f"TK-2026-{900 + n:06d}", department_id=office.service, subject=f"Phiếu {n}"
            )
            for n in range(55)
        )
        await session.commit()
    await as_user(client, office.supervisor)
    html = await (
        await client.get(f"/tickets?status=unassigned&department={office.service}")
    ).text()
    assert "Trang 1 / 2" in html.replace("\n", " ").replace("  ", " ") or "1 / 2" in html
    assert f"?status=unassigned&amp;department={office.service}&amp;page=2" in html
    second = await (await client.get("/api/tickets?status=unassigned&page=2")).json()
    assert second["total"] == 55 and len(second["tickets"]) == 5
