"""A user changes their own password: this session stays, every other one ends."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.auth.passwords import verify_password
from callcenter.db.models import User
from callcenter.registry import SESSIONMAKER
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html, login, make_user

NEW = "Mật-khẩu-mới-tinh-789"


async def change(client: TestClient, current: str, new: str, repeat: str | None = None) -> Any:
    page = await client.get("/account")
    assert page.status == 200
    return await client.post(
        "/account/password",
        data={
            "current": current,
            "new": new,
            "repeat": new if repeat is None else repeat,
            "csrf_token": csrf_from_html(await page.text()),
        },
        allow_redirects=False,
    )


async def password_hash(client: TestClient, user_id: int) -> str:
    async with client.server.app[SESSIONMAKER]() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user.password_hash


async def test_change_keeps_this_session_and_ends_the_others(
    client: TestClient, aiohttp_client: Any
) -> None:
    me = await make_user(client, "an", "agent", full_name="Nguyễn Văn An")
    await login(client, "an", DEFAULT_PASSWORD)
    elsewhere = await aiohttp_client(client.server)
    await login(elsewhere, "an", DEFAULT_PASSWORD)

    response = await change(client, DEFAULT_PASSWORD, NEW)
    assert (response.status, response.headers["Location"]) == (302, "/account?changed=1")
    page = await (await client.get("/account?changed=1")).text()
    assert "Đã đổi mật khẩu" in page and "Nguyễn Văn An" in page
    assert (await elsewhere.get("/account", allow_redirects=False)).status == 302
    assert verify_password(await password_hash(client, me.id), NEW)
    fresh = await aiohttp_client(client.server)
    await login(fresh, "an", NEW)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "message"),
    [
        ("Sai-mật-khẩu-000", NEW, None, "Mật khẩu hiện tại không đúng."),
        (DEFAULT_PASSWORD, NEW, NEW + "x", "Hai lần nhập mật khẩu mới không giống nhau."),
        (DEFAULT_PASSWORD, "ngan", None, "Mật khẩu phải có ít nhất 10 ký tự."),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, None, "Mật khẩu mới phải khác mật khẩu hiện tại."),
    ],
)
async def test_bad_input_changes_nothing(
    client: TestClient, current: str, new: str, repeat: str | None, message: str
) -> None:
    me = await make_user(client, "an", "agent")
    await login(client, "an", DEFAULT_PASSWORD)
    before = await password_hash(client, me.id)
    response = await change(client, current, new, repeat)
    assert response.status == 400
    assert message in await response.text()
    assert await password_hash(client, me.id) == before
    assert (await client.get("/account", allow_redirects=False)).status == 200  # still in
