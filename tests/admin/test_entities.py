"""Every configuration table of the console: create, see, edit, delete, as the pages post them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from callcenter.core.events import ConfigChanged
from callcenter.db.models import AgentGroup, AuditEntry, Category, Department, Hotline, PauseReason
from callcenter.db.repos import routing, users
from callcenter.registry import SESSIONMAKER
from tests.admin.conftest import post_form

GROUP = {
    "code": "parts",
    "name": "Phụ tùng",
    "strategy": "round_robin",
    "ring_timeout_seconds": "20",
    "max_wait_seconds": "240",
    "overflow_action": "voicemail",
    "active": "on",
}

CASES = [
    # slug, model, form, (field, new value) to edit, what the list shows
    ("groups", AgentGroup, GROUP, ("name", "Phụ tùng miền Bắc"), "Phụ tùng"),
    (
        "hotlines",
        Hotline,
        {
            "number": "1800 1234",
            "name": "Miễn phí",
            "group_id": "GROUP",
            "menu_timeout_seconds": "5",
            "closed_action": "callback",
            "active": "on",
        },
        ("name", "Tổng đài miễn phí"),
        "18001234",
    ),
    (
        "departments",
        Department,
        {
            "code": "care",
            "name": "Chăm sóc khách hàng",
            "email": "cskh@example.vn",
            "phone": "6005",
            "active": "on",
        },
        ("phone", "6099"),
        "cskh@example.vn",
    ),
    (
        "categories",
        Category,
        {
            "code": "warranty",
            "name": "Bảo hành",
            "department_id": "",
            "sla_hours": "24",
            "active": "on",
        },
        ("sla_hours", "8"),
        "Bảo hành",
    ),
    (
        "pause-reasons",
        PauseReason,
        {
            "code": "lunch",
            "name": "Ăn trưa",
            "name_en": "Lunch",
            "max_minutes": "60",
            "active": "on",
        },
        ("max_minutes", "45"),
        "Ăn trưa",
    ),
]


@pytest.mark.parametrize(
    ("slug", "model", "form", "edit", "shown"), CASES, ids=[c[0] for c in CASES]
)
async def test_create_edit_delete(
    admin_on_both: TestClient,
    events: list[ConfigChanged],
    slug: str,
    model: Any,
    form: dict[str, str],
    edit: tuple[str, str],
    shown: str,
) -> None:
    admin = admin_on_both
    if "GROUP" in form.values():  # a hotline needs a group first
        assert (await post_form(admin, "/admin/groups", {**GROUP, "code": "sales"})).status == 302
        async with admin.server.app[SESSIONMAKER]() as session:
            group = await session.scalar(select(AgentGroup))
        assert group is not None
        form = {k: str(group.id) if v == "GROUP" else v for k, v in form.items()}
    response = await post_form(admin, f"/admin/{slug}", form, page=f"/admin/{slug}")
    assert response.status == 302, await response.text()
    listing = await (await admin.get(f"/admin/{slug}")).text()
    assert shown in listing
    ident = re.findall(rf'href="/admin/{slug}/(\d+)"', listing)[-1]
    page = await admin.get(f"/admin/{slug}/{ident}")
    assert page.status == 200
    html = await page.text()
    field, value = edit
    assert f'id="f-{field}"' in html
    response = await post_form(
        admin, f"/admin/{slug}/{ident}", {**form, field: value}, page=f"/admin/{slug}/{ident}"
    )
    assert response.status == 302 and response.headers["Location"].endswith("?done=saved")
    async with admin.server.app[SESSIONMAKER]() as session:
        row = await session.get(model, int(ident))
        assert row is not None and str(getattr(row, field)) == value
    saved = await (await admin.get(response.headers["Location"])).text()
    assert "Đã lưu. Thay đổi có hiệu lực ngay." in saved
    # A bad edit is refused and the row keeps its value.
    response = await post_form(admin, f"/admin/{slug}/{ident}", {**form, "name": " ", "number": ""})
    assert response.status == 400
    async with admin.server.app[SESSIONMAKER]() as session:
        row = await session.get(model, int(ident))
        assert row is not None and str(getattr(row, field)) == value
    response = await post_form(admin, f"/admin/{slug}/{ident}/delete", {})
    assert response.status == 302
    async with admin.server.app[SESSIONMAKER]() as session:
        assert await session.get(model, int(ident)) is None
        deletion = await session.scalar(select(AuditEntry).where(AuditEntry.action == "delete"))
    assert deletion is not None and deletion.details["area"] == events[-1].area
    assert (await admin.get(f"/admin/{slug}/{ident}")).status == 404


async def test_hotline_with_its_own_hours(admin: TestClient) -> None:
    assert (await post_form(admin, "/admin/groups", {**GROUP, "code": "sales"})).status == 302
    async with admin.server.app[SESSIONMAKER]() as session:
        group = await session.scalar(select(AgentGroup))
        assert group is not None
    hotline = {
        "number": "19009999",
        "group_id": str(group.id),
        "menu_timeout_seconds": "5",
        "closed_action": "callback",
        "active": "on",
    }
    assert (await post_form(admin, "/admin/hotlines", hotline)).status == 302
    async with admin.server.app[SESSIONMAKER]() as session:
        line = await session.scalar(select(Hotline))
        assert line is not None
    page = await (await admin.get(f"/admin/hours?hotline={line.id}")).text()
    assert "Đường dây này đang dùng giờ chung." in page
    sunday = {"hotline": str(line.id), "opens_6_0": "08:00", "closes_6_0": "12:00"}
    response = await post_form(admin, "/admin/hours", sunday, page="/admin/hours")
    assert response.status == 302
    assert response.headers["Location"] == f"/admin/hours?hotline={line.id}&done=saved"
    async with admin.server.app[SESSIONMAKER]() as session:
        config = await routing.load_routing_config(session)
    assert [(i.weekday, str(i.opens)) for i in config.hours_for(line.id)] == [(6, "08:00:00")]
    assert config.hours_for(None) == ()
    half = {"hotline": str(line.id), "opens_1_0": "08:00"}
    response = await post_form(admin, "/admin/hours", half, page="/admin/hours")
    assert response.status == 400
    assert "Hãy nhập cả giờ mở cửa và giờ đóng cửa." in await response.text()
    back = {"hotline": str(line.id), "use_common": "on"}
    assert (await post_form(admin, "/admin/hours", back, page="/admin/hours")).status == 302
    async with admin.server.app[SESSIONMAKER]() as session:
        config = await routing.load_routing_config(session)
    assert config.hours_for(line.id) == ()


async def test_user_edit_page_shows_the_phone_and_groups(admin: TestClient) -> None:
    response = await post_form(admin, "/admin/groups", {**GROUP, "code": "sales"})
    assert response.status == 302
    async with admin.server.app[SESSIONMAKER]() as session:
        group = await session.scalar(select(AgentGroup))
        assert group is not None
    form = [
        ("username", "lan.le"),
        ("password", "Lan-tong-dai-2026"),
        ("role", "agent"),
        ("interface", "Local/108@agents"),
        ("groups", str(group.id)),
    ]
    assert (await post_form(admin, "/admin/users", form)).status == 302
    async with admin.server.app[SESSIONMAKER]() as session:
        user = await users.get_user_by_username(session, "lan.le")
        assert user is not None
    html = await (await admin.get(f"/admin/users/{user.id}")).text()
    assert 'value="Local/108@agents"' in html
    assert f'name="groups" value="{group.id}" checked' in html
