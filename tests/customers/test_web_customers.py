"""The customer pages as users drive them: search, customer page, edit form, web import, export."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.models import AuditEntry, Customer, CustomerChange
from callcenter.registry import SESSIONMAKER
from callcenter.web.app import create_app
from tests.auth_helpers import csrf_from_html, csrf_headers, login, make_user
from tests.customers.workbooks import messy_rows, write_workbook


async def _client(aiohttp_client: Any, settings: Settings) -> TestClient:
    await migrate.upgrade_async(settings.database.url)
    client: TestClient = await aiohttp_client(create_app(settings))
    for role in ("agent", "supervisor", "admin"):
        await make_user(client, f"web.{role}", role)
    return client


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await _client(aiohttp_client, settings)


async def _form_token(client: TestClient, path: str) -> str:
    page = await client.get(path)
    assert page.status == 200, await page.text()
    return csrf_from_html(await page.text())


async def _upload(
    client: TestClient, path: Path, *, name: str = "khach.xlsx"
) -> aiohttp.ClientResponse:
    data = aiohttp.FormData()
    content = path.read_bytes()  # noqa: ASYNC240 — a small test file
    data.add_field("file", content, filename=name, content_type="application/octet-stream")
    return await client.post(
        "/customers/import",
        data=data,
        headers={**csrf_headers(client), "Accept": "application/json"},
    )


async def _wait_for(client: TestClient, import_id: int, statuses: set[str]) -> dict[str, Any]:
    for _ in range(200):
        response = await client.get(f"/api/customers/imports/{import_id}")
        state: dict[str, Any] = await response.json()
        if state["status"] in statuses:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {import_id} stuck in {state['status']}")


async def test_web_import_preview_confirm_and_reimport(client: TestClient, tmp_path: Path) -> None:
    await login(client, "web.supervisor")
    workbook = write_workbook(tmp_path / "messy.xlsx", messy_rows())
    response = await _upload(client, workbook)
    assert response.status == 200, await response.text()
    import_id = (await response.json())["import_id"]
    state = await _wait_for(client, import_id, {"previewed", "failed"})
    assert state["status"] == "previewed"
    assert state["preview"] == {
        "rows": 10, "new": 6, "merged": 2, "updated": 0, "unchanged": 0, "skipped": 1,
        "rejected": 1, "partial": 3,
    }  # fmt: skip
    async with client.server.app[SESSIONMAKER]() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0

    page = await (await client.get(f"/customers/import/{import_id}")).text()
    assert "Nhập ngay" in page  # Vietnamese by default
    assert "31/02/2024" in page  # the bad date row and its reason are listed
    assert "đã nhập khách hàng, bỏ trống ô lỗi" in page  # ... as imported without the date

    rejected = await client.get(f"/customers/import/{import_id}/rejected.xlsx")
    assert rejected.status == 200
    sheet = load_workbook(io.BytesIO(await rejected.read()), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == "Họ và tên" and rows[0][-2] == "Lý do"
    assert [row[1] for row in rows[1:]] == [
        "Lê Văn Cường", "Phạm Văn Dũng", "Hoàng Thị E", "Vũ Văn F",
    ]  # fmt: skip
    assert [str(row[-2]).startswith("đã nhập khách hàng, bỏ trống ô lỗi: ") for row in rows[1:]] == [
        True, True, False, True,
    ]  # fmt: skip

    token = csrf_from_html(page)
    confirm = await client.post(
        f"/customers/import/{import_id}/confirm", data={"csrf_token": token}, allow_redirects=False
    )
    assert confirm.status == 302
    state = await _wait_for(client, import_id, {"done", "failed"})
    assert state["result"]["new"] == 6 and state["status"] == "done"
    async with client.server.app[SESSIONMAKER]() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 6
        changes_before = await session.scalar(select(func.count()).select_from(CustomerChange))

    # the same file again: the preview says nothing changes, and the import changes nothing
    again = await (await _upload(client, workbook)).json()
    state = await _wait_for(client, again["import_id"], {"previewed"})
    assert state["preview"]["unchanged"] == 8 and state["preview"]["new"] == 0
    token = await _form_token(client, f"/customers/import/{again['import_id']}")
    await client.post(f"/customers/import/{again['import_id']}/confirm", data={"csrf_token": token})
    state = await _wait_for(client, again["import_id"], {"done"})
    assert state["result"]["updated"] == 0 and state["result"]["new"] == 0
    async with client.server.app[SESSIONMAKER]() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 6
        assert (
            await session.scalar(select(func.count()).select_from(CustomerChange)) == changes_before
        )


async def test_user_corrects_the_column_mapping(client: TestClient, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Khách", "Liên lạc", "Ghi chú"])  # "Liên lạc" (contact) is not a known header
    sheet.append(["Đỗ Minh Khoa", "0903 555 666", "gọi buổi sáng"])
    workbook.save(tmp_path / "odd.xlsx")
    await login(client, "web.admin")
    import_id = (await (await _upload(client, tmp_path / "odd.xlsx")).json())["import_id"]
    state = await _wait_for(client, import_id, {"previewed", "failed"})
    assert state["status"] == "failed"  # no name, phone or VIN column recognised
    assert "hãy chọn ít nhất cột họ tên" in state["error"]
    page = await (await client.get(f"/customers/import/{import_id}")).text()
    token = csrf_from_html(page)
    response = await client.post(
        f"/customers/import/{import_id}/mapping",
        data={"csrf_token": token, "column_0": "name", "column_1": "phones", "column_2": "notes"},
    )
    assert response.status == 200
    state = await _wait_for(client, import_id, {"previewed"})
    assert state["preview"]["new"] == 1 and state["preview"]["rejected"] == 0


async def test_upload_refusals_import_nothing(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    small = settings.model_copy(
        update={"http": settings.http.model_copy(update={"max_upload_mb": 0.02})}
    )
    client = await _client(aiohttp_client, small)
    await login(client, "web.supervisor")
    not_excel = tmp_path / "list.xlsx"
    not_excel.write_text("Họ tên,SĐT\nAn,0912345678\n", encoding="utf-8")
    response = await _upload(client, not_excel)
    assert response.status == 400
    assert "không phải tệp Excel" in (await response.json())["error"]

    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK" + bytes(40_000))  # over the 0.02 MB (≈20 kB) limit
    response = await _upload(client, big)
    assert response.status == 413
    assert "0.02 MB" in (await response.json())["error"]

    empty = tmp_path / "empty.xlsx"
    write_workbook(empty, [], title_rows=False)
    from openpyxl import Workbook

    Workbook().save(empty)
    response = await _upload(client, empty)
    assert response.status == 400
    assert "trống" in (await response.json())["error"]  # "the sheet is empty"
    async with client.server.app[SESSIONMAKER]() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0


async def test_agent_creates_edits_and_finds_a_customer(client: TestClient) -> None:
    await login(client, "web.agent")
    token = await _form_token(client, "/customers/new")
    response = await client.post(
        "/customers/new",
        data={
            "csrf_token": token,
            "name": "Nguyễn Văn A",
            "phones": "0168 123 4567\n(028) 3823 4567",
            "province": "Hà Nội",
            "birthday": "02/09/1980",
            "tags": "vip, tài xế",
            "customer_type": "individual",
            "source": "hotline",
        },
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    location = response.headers["Location"]
    customer_id = int(location.rsplit("/", 1)[1])

    page = await (await client.get(location)).text()
    assert "0381 234 567" in page or "038 123 4567" in page or "0381234567" in page
    assert "028 3823 4567" in page and "VIP" in page and "02/09/1980" in page

    # accent-insensitive search finds the customer the agent created
    listing = await (await client.get("/customers", params={"q": "nguyen van a"})).text()
    assert f'/customers/{customer_id}"' in listing
    found = await (await client.get("/api/customers/by-phone/0381234567")).json()
    assert found["customer"]["id"] == customer_id

    # bad input: a clear error, nothing saved
    token = await _form_token(client, f"/customers/{customer_id}/edit")
    bad = await client.post(
        f"/customers/{customer_id}/edit",
        data={
            "csrf_token": token,
            "name": "Nguyễn Văn A",
            "phones": "0912 34",
            "birthday": "31/02/1980",
        },
    )
    assert bad.status == 400
    text = await bad.text()
    assert "0912 34" in text and "31/02/1980" in text

    edit = await client.post(
        f"/customers/{customer_id}/edit",
        data={"csrf_token": token, "name": "Nguyễn Văn A", "phones": "038 123 4567",
              "province": "Hải Phòng", "customer_type": "individual", "source": "hotline"},
        allow_redirects=False,
    )  # fmt: skip
    assert edit.status == 302
    vehicle = await client.post(
        f"/customers/{customer_id}/vehicles",
        data={"csrf_token": token, "vin": "rl4th1234ab000001", "model": "HD120",
              "plate": "15C-123.45", "purchase_date": "15/03/2024"},
        allow_redirects=False,
    )  # fmt: skip
    assert vehicle.status == 302
    second = await client.post(
        f"/customers/{customer_id}/vehicles",
        data={"csrf_token": token, "vin": "RL4TH1234AB000002", "model": "HD210"},
        allow_redirects=False,
    )
    assert second.status == 302
    page = await (await client.get(f"/customers/{customer_id}")).text()
    assert "RL4TH1234AB000001" in page and "Đội xe" in page  # two vehicles: a fleet
    assert "Hải Phòng" in page
    async with client.server.app[SESSIONMAKER]() as session:
        history = (
            (
                await session.execute(
                    select(CustomerChange)
                    .where(CustomerChange.customer_id == customer_id)
                    .order_by(CustomerChange.id)
                )
            )
            .scalars()
            .all()
        )
    assert [change.action for change in history] == ["created", "updated", "updated", "updated"]
    assert history[1].changes["province"] == ["Hà Nội", "Hải Phòng"]
    assert history[1].username == "web.agent"
    assert history[3].changes["customer_type"] == ["individual", "fleet"]

    bad_vin = await client.post(
        f"/customers/{customer_id}/vehicles", data={"csrf_token": token, "vin": "RL4TH1234OB00000"}
    )
    assert bad_vin.status == 400
    assert "17" in await bad_vin.text()

    # agents may not import or export
    assert (await client.get("/customers/import", allow_redirects=False)).status == 403
    assert (await client.get("/customers/export.xlsx", allow_redirects=False)).status == 403


async def test_agent_sees_only_customers_they_served(client: TestClient) -> None:
    await login(client, "web.supervisor")
    token = await _form_token(client, "/customers/new")
    response = await client.post(
        "/customers/new",
        data={"csrf_token": token, "name": "Trần Thị Bình", "phones": "0903 111 222"},
        allow_redirects=False,
    )
    customer_id = int(response.headers["Location"].rsplit("/", 1)[1])
    await client.post("/logout", data={"csrf_token": token})
    client.session.cookie_jar.clear()
    await login(client, "web.agent")
    assert (await client.get(f"/customers/{customer_id}")).status == 404
    listing = await (await client.get("/customers", params={"q": "binh"})).text()
    assert f"/customers/{customer_id}" not in listing


async def test_export_is_filtered_audited_and_round_trips(
    client: TestClient, tmp_path: Path
) -> None:
    await login(client, "web.admin")
    workbook = write_workbook(tmp_path / "messy.xlsx", messy_rows())
    import_id = (await (await _upload(client, workbook)).json())["import_id"]
    await _wait_for(client, import_id, {"previewed"})
    token = await _form_token(client, f"/customers/import/{import_id}")
    await client.post(f"/customers/import/{import_id}/confirm", data={"csrf_token": token})
    await _wait_for(client, import_id, {"done"})

    response = await client.get("/customers/export.xlsx", params={"type": "fleet"})
    assert response.status == 200
    body = await response.read()
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Họ tên", "Số điện thoại")
    assert [row[0] for row in rows[1:]] == ["Nguyễn Văn An"] * 3  # the fleet, one row per truck
    async with client.server.app[SESSIONMAKER]() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry is not None and entry.username == "web.admin"
    assert entry.details["count"] == 1 and entry.details["customer_type"] == "fleet"

    # export → import again: nothing changes
    exported = tmp_path / "export.xlsx"
    exported.write_bytes(body)
    again = (await (await _upload(client, exported, name="export.xlsx")).json())["import_id"]
    state = await _wait_for(client, again, {"previewed"})
    assert state["preview"] == {
        "rows": 3, "new": 0, "merged": 0, "updated": 0, "unchanged": 3, "skipped": 0,
        "rejected": 0, "partial": 0,
    }  # fmt: skip


async def test_upload_without_javascript_is_a_plain_form_post(
    client: TestClient, tmp_path: Path
) -> None:
    await login(client, "web.supervisor")
    token = await _form_token(client, "/customers/import")
    workbook = write_workbook(tmp_path / "messy.xlsx", messy_rows())
    data = aiohttp.FormData()
    data.add_field("csrf_token", token)
    content = workbook.read_bytes()
    data.add_field("file", content, filename="messy.xlsx", content_type="application/octet-stream")
    response = await client.post("/customers/import", data=data, allow_redirects=False)
    assert response.status == 302, await response.text()
    import_id = int(response.headers["Location"].rsplit("/", 1)[1])
    state = await _wait_for(client, import_id, {"previewed", "failed"})
    assert state["status"] == "previewed" and state["preview"]["new"] == 6


async def test_customer_page_shows_calls_and_tickets_within_the_users_scope(
    client: TestClient,
) -> None:
    from datetime import UTC, datetime

    from callcenter.core.customers import CustomerData
    from callcenter.db.models import Call, Ticket, User
    from callcenter.db.repos import customers as repo

    factory = client.server.app[SESSIONMAKER]
    at = datetime(2026, 11, 20, 3, 15, tzinfo=UTC)
    async with factory() as session:
        agent = await session.scalar(select(User).where(User.username == "web.agent"))
        assert agent is not None
        customer = await repo.create_customer(
            session, CustomerData(name="Lò Văn Páo", phones=["+84912999888"]), at=at
        )
        session.add_all(
            [
                Call(linkedid="1700.1", caller_number="0912999888", customer_id=customer.id,
                     agent_id=agent.id, started_at=at, disposition="answered"),
                Call(linkedid="1700.2", caller_number="0912999888", customer_id=customer.id,
                     started_at=at, disposition="abandoned"),
                Ticket(customer_id=customer.id, subject="Xe báo lỗi động cơ", status="unassigned",
                       created_at=at, updated_at=at),
            ]
        )  # fmt: skip
        await session.commit()
        customer_id = customer.id

    await login(client, "web.supervisor")
    page = await (await client.get(f"/customers/{customer_id}")).text()
    assert page.count("0912999888") == 2  # both calls
    assert "Xe báo lỗi động cơ" in page and "20/11/2026 10:15" in page  # local time
    client.session.cookie_jar.clear()

    await login(client, "web.agent")  # answered one call: sees the customer and that call
    page = await (await client.get(f"/customers/{customer_id}")).text()
    assert "Lò Văn Páo" in page
    assert page.count("0912999888") == 1
    assert "Xe báo lỗi động cơ" not in page  # a ticket they neither made nor got
