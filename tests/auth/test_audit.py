"""The audit log: entries recorded by the application and the admin page that filters them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from callcenter.clock import ManualClock
from callcenter.db.repos import audit
from callcenter.registry import SESSIONMAKER
from tests.auth_helpers import DEFAULT_PASSWORD, login, make_user


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)">', html)


async def seed_entries(client: TestClient) -> None:
    admin = await make_user(client, "quan.tri", "admin")
    agent = await make_user(client, "an", "agent")
    async with client.server.app[SESSIONMAKER]() as session:
        # 22/11 23:50 and 23/11 00:30 local time (UTC+7) are on different local days.
        await audit.record(
            session,
            action="export",
            user=agent,
            target="calls.xlsx",
            at=datetime(2026, 11, 22, 16, 50, tzinfo=UTC),
            address="10.1.1.5",
        )
        await audit.record(
            session,
            action="user.role",
            user=admin,
            target="user:an",
            details={"from": "agent", "to": "supervisor"},
            at=datetime(2026, 11, 22, 17, 30, tzinfo=UTC),
        )
        await audit.record(
            session,
            action="config.change",
            user=admin,
            target="wrapup_seconds",
            at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        )
        await session.commit()


async def test_admin_filters_by_user_action_and_local_dates(
    client: TestClient, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    await seed_entries(client)
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    html = await (await client.get("/admin/audit")).text()
    assert "Nhật ký hệ thống" in html
    assert rows(html) == ["login.success", "config.change", "user.role", "export"]
    assert "Đổi vai trò" in html and "from: agent; to: supervisor" in html
    assert "23/11/2026 00:30" in html  # local time, dd/mm/yyyy

    async def filtered(**query: str) -> list[str]:
        response = await client.get("/admin/audit", params=query)
        assert response.status == 200
        return rows(await response.text())

    assert await filtered(user="AN") == ["export"]
    assert await filtered(action="user.role") == ["user.role"]
    assert await filtered(**{"from": "23/11/2026", "to": "23/11/2026"}) == ["user.role"]
    assert await filtered(**{"from": "22/11/2026", "to": "23/11/2026"}) == ["user.role", "export"]
    assert await filtered(**{"from": "24/11/2026"}) == ["login.success", "config.change"]
    assert await filtered(**{"from": "24/11/2026", "to": "24/11/2026"}) == ["config.change"]
    assert await filtered(user="quan.tri", **{"to": "23/11/2026"}) == ["user.role"]


async def test_bad_dates_get_a_clear_message(client: TestClient) -> None:
    await seed_entries(client)
    await login(client, "quan.tri", DEFAULT_PASSWORD)
    response = await client.get("/admin/audit", params={"from": "2026-11-23x"})
    assert response.status == 400
    html = await response.text()
    assert "không phải là ngày" in html and "dd/mm/yyyy" in html
    assert rows(html) == []
    response = await client.get("/admin/audit", params={"from": "24/11/2026", "to": "23/11/2026"})
    assert response.status == 400
    assert "Ngày bắt đầu sau ngày kết thúc" in await response.text()


async def test_the_application_cannot_edit_the_log() -> None:
    # Append-only from the application's side: the repository offers no way to change entries.
    public = {name for name in dir(audit) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "edit"))}
