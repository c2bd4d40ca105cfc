"""The browser phone's SIP password (issue 17): only its owner ever receives it.

Agent An's phone is the browser. An gets the password from ``/api/softphone/credentials``
(never cached); every other user — another agent with a browser phone of his own, a
supervisor, department staff, the administrator who rotates it — walks every page and
API of the application they can reach (each GET route, with real ids, and the agent
websocket) and never receives An's password. The same walk as An finds it, so the
search itself works.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings, load_settings
from callcenter.db import migrate
from callcenter.db.models import User
from callcenter.registry import SESSIONMAKER
from callcenter.softphone.plugin import PLUGIN as SOFTPHONE
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.web.app import create_app
from tests.auth_helpers import csrf_from_html, login, make_user
from tests.test_access_table import TABLE

OTHERS = ("binh", "sup", "dept", "admin")


@pytest.fixture
def app_settings(database_url: str, tmp_path: Any) -> Settings:
    (tmp_path / "recordings").mkdir(exist_ok=True)
    return load_settings(
        None,
        database={"url": database_url},
        recordings_dir=str(tmp_path / "recordings"),
        session_secret="x" * 40,
        softphone={"ws_url": "wss://pbx.example.vn/ws", "sip_domain": "pbx.example.vn"},
    )


@pytest.fixture
async def client(aiohttp_client: Any, app_settings: Settings) -> AsyncIterator[TestClient]:
    await migrate.upgrade_async(app_settings.database.url)
    app = create_app(app_settings, extra_plugins=[TICKETS, SOFTPHONE])
    yield await aiohttp_client(app)


async def people(client: TestClient) -> dict[str, User]:
    app = client.server.app
    users = {
        "an": await make_user(app, "an", "agent", full_name="Agent An"),
        "binh": await make_user(app, "binh", "agent"),
        "sup": await make_user(app, "sup", "supervisor"),
        "dept": await make_user(app, "dept", "department"),
        "admin": await make_user(app, "admin", "admin"),
    }
    from callcenter.db.repos import users as users_repo

    async with app[SESSIONMAKER]() as session, session.begin():
        for name in ("an", "binh"):
            user = await session.get(User, users[name].id)
            assert user is not None
            await users_repo.set_phone_kind(session, user, "browser", "")
    return users


async def secret_of(client: TestClient, user_id: int) -> str:
    async with client.server.app[SESSIONMAKER]() as session:
        user = await session.get(User, user_id)
        assert user is not None and user.sip_secret
        return user.sip_secret


async def as_user(client: TestClient, username: str) -> None:
    client.session.cookie_jar.clear()
    await login(client, username)


def urls(client: TestClient, users: dict[str, User]) -> list[str]:
    """Every GET route of the app: a concrete path for each (the access table's samples,
    and every user's own admin page)."""
    samples = {row.path: row.url for row in TABLE if row.method == "GET"}
    found = []
    for route in client.server.app.router.routes():
        resource = route.resource
        if route.method != "GET" or resource is None:
            continue
        path = resource.canonical
        if path.startswith("/static") or path in ("/agent/ws", "/logout"):
            continue
        if "{" not in path:
            found.append(path)
        elif path == r"/admin/users/{id}":
            found += [f"/admin/users/{u.id}" for u in users.values()]
        else:
            found.append(samples.get(path, path))
    return sorted(set(found))


async def walk(client: TestClient, users: dict[str, User], secret: str) -> list[str]:
    """Where ``secret`` shows up in what the logged-in user can fetch."""
    leaks = []
    for url in urls(client, users):
        response = await client.get(url, allow_redirects=False)
        body = await response.read()
        if secret.encode() in body or secret in json.dumps(dict(response.headers)):
            leaks.append(f"GET {url} ({response.status})")
    try:
        ws = await client.ws_connect("/agent/ws")
    except aiohttp.WSServerHandshakeError:
        return leaks
    try:
        for _ in range(5):
            message = await ws.receive(timeout=0.5)
            if message.type == aiohttp.WSMsgType.TEXT and secret in message.data:
                leaks.append("websocket /agent/ws")
    except TimeoutError:
        pass
    finally:
        await ws.close()
    return leaks


async def test_only_the_owner_gets_the_sip_password_anywhere(client: TestClient) -> None:
    users = await people(client)
    # The admin gives An a new password first: the console's answer, its pages and the
    # audit log of that change are among what the others can see.
    await as_user(client, "admin")
    page = await client.get(f"/admin/users/{users['an'].id}")
    token = csrf_from_html(await page.text())
    rotated = await client.post(
        f"/admin/users/{users['an'].id}/sip-secret",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert rotated.status == 302, await rotated.text()
    secret = await secret_of(client, users["an"].id)

    for name in OTHERS:
        await as_user(client, name)
        assert await walk(client, users, secret) == [], f"{name} received An's SIP password"

    await as_user(client, "an")
    assert any("/api/softphone/credentials" in leak for leak in await walk(client, users, secret))


async def test_credentials_answer_is_for_the_logged_in_agent_only(client: TestClient) -> None:
    users = await people(client)
    await as_user(client, "an")
    response = await client.get("/api/softphone/credentials")
    assert response.status == 200
    assert "no-store" in response.headers["Cache-Control"]
    body = await response.json()
    an_id = users["an"].id
    assert body == {
        "enabled": True,
        "interface": f"PJSIP/webrtc-{an_id}",
        "username": f"webrtc-{an_id}",
        "password": await secret_of(client, an_id),
        "display_name": "Agent An",
        "ws_url": "wss://pbx.example.vn/ws",
        "sip_domain": "pbx.example.vn",
        "ice_servers": [],  # no STUN/TURN configured: the LAN only
    }
    # No way to ask for someone else's: the answer ignores any id it is given.
    other = await client.get(f"/api/softphone/credentials?user_id={users['binh'].id}")
    assert (await other.json())["username"] == f"webrtc-{an_id}"

    # A supervisor with a desk phone gets "no browser phone", and nothing secret.
    await as_user(client, "sup")
    desk = await (await client.get("/api/softphone/credentials")).json()
    assert desk["enabled"] is False and desk["password"] == ""

    # The agent page loads JsSIP from the npm package the setup installs.
    await as_user(client, "an")
    script = await client.get("/softphone/jssip.min.js")
    assert script.status == 200 and b"JsSIP" in await script.read()
    agent_page = await (await client.get("/agent")).text()
    assert 'src="/softphone/jssip.min.js"' in agent_page and 'id="softphone"' in agent_page


async def test_the_admin_console_sets_the_phone_type_and_rotates_the_password(
    client: TestClient,
) -> None:
    app = client.server.app
    await make_user(app, "admin", "admin")
    an = await make_user(app, "an", "agent", full_name="Agent An", interface="PJSIP/105")
    await as_user(client, "admin")

    async def save(**fields: str) -> aiohttp.ClientResponse:
        page = await client.get(f"/admin/users/{an.id}")
        token = csrf_from_html(await page.text())
        form = {"csrf_token": token, "full_name": "Agent An", "role": "agent",
                "language": "vi", "active": "on", **fields}  # fmt: skip
        return await client.post(f"/admin/users/{an.id}", data=form, allow_redirects=False)

    async def row() -> User:
        async with app[SESSIONMAKER]() as session:
            user = await session.get(User, an.id)
            assert user is not None
            return user

    bad = await save(interface="PJSIP/105", phone_kind="fax")
    assert bad.status == 400 and "Loại điện thoại không hợp lệ" in await bad.text()
    assert (await row()).phone_kind == "desk"

    assert (await save(interface="PJSIP/105", phone_kind="browser")).status == 302
    user = await row()
    assert (user.phone_kind, user.interface) == ("browser", f"PJSIP/webrtc-{an.id}")
    first = user.sip_secret
    assert len(first) >= 32
    page = await (await client.get(f"/admin/users/{an.id}")).text()
    assert 'id="sip-secret-form"' in page and first not in page

    page = await client.get(f"/admin/users/{an.id}")
    token = csrf_from_html(await page.text())
    rotated = await client.post(
        f"/admin/users/{an.id}/sip-secret", data={"csrf_token": token}, allow_redirects=False
    )
    assert rotated.status == 302
    assert (await row()).sip_secret not in ("", first)

    # Back to a desk phone: dialled there again, and no browser credentials any more.
    assert (await save(interface="PJSIP/105", phone_kind="desk")).status == 302
    user = await row()
    assert (user.phone_kind, user.interface) == ("desk", "PJSIP/105")
    page = await client.get(f"/admin/users/{an.id}")
    token = csrf_from_html(await page.text())
    refused = await client.post(
        f"/admin/users/{an.id}/sip-secret", data={"csrf_token": token}, allow_redirects=False
    )
    assert refused.status == 400
    await as_user(client, "an")
    body = await (await client.get("/api/softphone/credentials")).json()
    assert body["enabled"] is False and body["password"] == ""
