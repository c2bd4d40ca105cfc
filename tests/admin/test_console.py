"""The admin console over HTTP, as an admin's browser uses it: forms, messages, effects."""

from __future__ import annotations

import asyncio
import re
import subprocess
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from callcenter.core.events import ConfigChanged
from callcenter.db.models import AgentGroup, AuditEntry, Category, Department, Prompt, User
from callcenter.db.repos import routing, users
from callcenter.localtime import DEFAULT_ZONE
from callcenter.registry import BUS, SESSIONMAKER, SETTINGS
from tests.admin.conftest import TEST_PROMPT_LIMIT, log_in, post_form

PAGES = {
    "/admin": "Quản trị",
    "/admin/users": "Người dùng và điện thoại",
    "/admin/groups": "Nhóm điện thoại viên",
    "/admin/hotlines": "Đường dây nóng",
    "/admin/departments": "Phòng ban",
    "/admin/categories": "Danh mục",
    "/admin/hours": "Tết Nguyên Đán",
    "/admin/pause-reasons": "Lý do tạm nghỉ",
    "/admin/settings": "Thời gian hoàn tất sau cuộc gọi",
    "/admin/prompts": "Tải lên bản ghi âm",
}


def db(client: TestClient) -> Any:
    return client.server.app[SESSIONMAKER]()


async def count(client: TestClient, model: Any) -> int:
    async with db(client) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def add_group(client: TestClient, code: str = "sales", name: str = "Kinh doanh") -> int:
    response = await post_form(
        client,
        "/admin/groups",
        {
            "code": code,
            "name": name,
            "strategy": "least_recent",
            "ring_timeout_seconds": "15",
            "max_wait_seconds": "300",
            "overflow_action": "callback",
            "active": "on",
        },
    )
    assert response.status == 302, await response.text()
    async with db(client) as session:
        group = await session.scalar(select(AgentGroup).where(AgentGroup.code == code))
    assert group is not None
    return group.id


async def post_members_page(client: TestClient, page: str, *, add: int) -> Any:
    """Submit a members form as the browser would: the rows shown, plus one person added."""
    html = await (await client.get(page)).text()
    rows: list[tuple[str, str]] = []
    for member in re.findall(r'name="member" value="(\d+)"', html):
        priority = re.search(rf'name="priority_{member}" value="(\d+)"', html)
        assert priority is not None
        rows += [("member", member), (f"priority_{member}", priority.group(1))]
    return await post_form(client, page + "/members", [*rows, ("add", str(add))], page=page)


@pytest.mark.parametrize(("path", "text"), PAGES.items())
async def test_pages_are_vietnamese_and_for_admins_only(
    admin: TestClient, aiohttp_client: Any, path: str, text: str
) -> None:
    response = await admin.get(path)
    assert response.status == 200
    assert text in await response.text()
    app = admin.server.app
    async with app[SESSIONMAKER]() as session:
        await users.create_user(
            session, username="dtv.an", password="Dien-thoai-vien-4821", role="agent"
        )
        await session.commit()
    agent = await aiohttp_client(admin.server)  # a second browser, same server
    assert (await agent.get(path, allow_redirects=False)).status == 302  # anonymous → login
    assert (await log_in(agent, "dtv.an", "Dien-thoai-vien-4821")).status == 302
    assert (await agent.get(path, allow_redirects=False)).status == 403


async def test_create_agent_with_phone_and_group(
    admin: TestClient, events: list[ConfigChanged]
) -> None:
    group_id = await add_group(admin)
    events.clear()
    response = await post_form(
        admin,
        "/admin/users",
        [
            ("username", "Hoa.Nguyen"),
            ("full_name", "Nguyễn Thị Hoa"),
            ("password", "Hoa-tong-dai-2026"),
            ("role", "agent"),
            ("interface", "pjsip/105"),
            ("department_id", ""),
            ("language", "vi"),
            ("groups", str(group_id)),
        ],
    )
    assert response.status == 302
    assert response.headers["Location"] == "/admin/users?done=created"
    async with db(admin) as session:
        user = await users.get_user_by_username(session, "hoa.nguyen")
        assert user is not None and user.interface == "PJSIP/105" and user.role == "agent"
        config = await routing.load_routing_config(session)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert [m.username for m in config.groups["sales"].members] == ["hoa.nguyen"]
    assert entry is not None and entry.username == "quan.tri" and entry.target == "user:hoa.nguyen"
    assert entry.details["interface"] == "PJSIP/105" and entry.address
    assert [e.area for e in events] == ["users"]
    page = await (await admin.get("/admin/users?done=created")).text()
    assert "Đã tạo." in page and "PJSIP/105" in page
    # The new agent can log in with the password the admin gave.
    assert (await log_in(admin, "hoa.nguyen", "Hoa-tong-dai-2026")).status == 302


BAD_USERS = [
    ({"username": "quan.tri"}, "đã", "username"),  # duplicate of the admin
    ({"password": "123"}, "password", "password"),
    ({"password": ""}, "password", "password"),
    ({"interface": "101"}, "không phải chuỗi gọi Asterisk hợp lệ", "interface"),
    ({"interface": "PJSIP/101,30"}, "không phải chuỗi gọi Asterisk hợp lệ", "interface"),
    ({"interface": "SIP/101"}, "Asterisk 22 không gọi được SIP/101", "interface"),
    ({"role": "boss"}, "boss", "role"),
]


@pytest.mark.parametrize(("override", "fragment", "field"), BAD_USERS)
async def test_bad_user_input_gets_one_clear_message_and_changes_nothing(
    admin: TestClient,
    events: list[ConfigChanged],
    override: dict[str, str],
    fragment: str,
    field: str,
) -> None:
    before_users = await count(admin, User)
    before_audit = await count(admin, AuditEntry)
    data = {
        "username": "binh.tran",
        "full_name": "Trần Văn Bình",
        "password": "Binh-tong-dai-2026",
        "role": "agent",
        "interface": "PJSIP/106",
        "language": "vi",
        **override,
    }
    response = await post_form(admin, "/admin/users", data)
    assert response.status == 400
    html = await response.text()
    assert html.count('role="alert"') == 1
    assert f'id="f-{field}"' in html and 'aria-invalid="true"' in html
    assert fragment.lower() in html.lower()
    assert 'value="Trần Văn Bình"' in html  # what was typed is kept…
    assert data["password"] not in html or not data["password"]  # …except the password
    assert await count(admin, User) == before_users
    assert await count(admin, AuditEntry) == before_audit
    assert events == []


async def test_messages_follow_the_admins_language(admin: TestClient) -> None:
    await admin.get("/language/en")
    response = await post_form(
        admin,
        "/admin/users",
        {"username": "x1", "password": "Abc-def-ghi-123", "interface": "101", "role": "agent"},
    )
    assert response.status == 400
    assert "is not an Asterisk dial string such as PJSIP/101" in await response.text()


async def test_config_change_takes_effect_without_restart(
    admin: TestClient, events: list[ConfigChanged]
) -> None:
    """The ACD reloads on ``config_changed``; what it reloads is the new value."""
    app = admin.server.app
    reloaded: list[routing.RoutingConfig] = []
    tasks: list[asyncio.Task[None]] = []

    def reload_on_change(event: ConfigChanged) -> None:  # what the ACD service does
        async def reload() -> None:
            async with app[SESSIONMAKER]() as session:
                reloaded.append(await routing.load_routing_config(session))

        tasks.append(asyncio.get_running_loop().create_task(reload()))

    unsubscribe = app[BUS].subscribe(ConfigChanged, reload_on_change)
    try:
        async with db(admin) as session:
            assert (await routing.load_routing_config(session)).settings.wrapup_seconds == 15
        values = {spec.key: str(spec.default) for spec in routing.SETTING_SPECS}
        response = await post_form(
            admin,
            "/admin/settings",
            {**values, "wrapup_seconds": "40", "missed_calls_before_pause": "3"},
        )
        assert response.status == 302
        await asyncio.gather(*tasks)
    finally:
        unsubscribe()
    assert events[-1] == ConfigChanged(area="settings")
    assert reloaded[-1].settings.wrapup_seconds == 40
    assert reloaded[-1].acd_settings().missed_calls_pause_after == 3
    async with db(admin) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "config.change"))
    assert entry is not None and entry.details["wrapup_seconds"] == [15, 40]


async def test_setting_out_of_range_is_refused(
    admin: TestClient, events: list[ConfigChanged]
) -> None:
    values = {spec.key: str(spec.default) for spec in routing.SETTING_SPECS}
    for bad, fragment in (
        ("5000", "Giá trị phải từ 0 đến 900"),
        ("mười", "Hãy nhập một số nguyên"),
    ):
        response = await post_form(admin, "/admin/settings", {**values, "wrapup_seconds": bad})
        assert response.status == 400
        html = await response.text()
        assert fragment in html and f'value="{bad}"' in html
    async with db(admin) as session:
        assert (await routing.load_system_settings(session)).wrapup_seconds == 15
    assert events == []


async def test_group_members_order_and_hotline_menu(
    admin: TestClient, events: list[ConfigChanged]
) -> None:
    sales = await add_group(admin)
    service = await add_group(admin, "service", "Dịch vụ")
    async with db(admin) as session:
        ids = []
        for name in ("a", "b", "c"):
            user = await users.create_user(
                session, username=name + "gent", password="Dien-thoai-vien-4821", role="agent"
            )
            ids.append(user.id)
        await session.commit()
    page = await (await admin.get(f"/admin/groups/{sales}")).text()
    assert "agent" in page and "Thành viên và thứ tự ưu tiên" in page
    for user_id in ids:  # add the three one by one, as the page does
        response = await post_members_page(admin, f"/admin/groups/{sales}", add=user_id)
        assert response.status == 302
    async with db(admin) as session:
        config = await routing.load_routing_config(session)
    assert [m.user_id for m in config.groups["sales"].members] == ids
    # Reorder: c first, a removed.
    a, b, c = ids
    response = await post_form(
        admin,
        f"/admin/groups/{sales}/members",
        [
            ("member", str(a)),
            ("priority_" + str(a), "1"),
            ("remove_" + str(a), "on"),
            ("member", str(b)),
            ("priority_" + str(b), "2"),
            ("member", str(c)),
            ("priority_" + str(c), "0"),
        ],
    )
    assert response.status == 302
    async with db(admin) as session:
        config = await routing.load_routing_config(session)
    assert [m.user_id for m in config.groups["sales"].members] == [c, b]
    assert events[-1] == ConfigChanged(area="groups")

    hotline = {
        "number": "1900 6868",
        "name": "CSKH",
        "group_id": str(sales),
        "menu_enabled": "on",
        "menu_1": "sales",
        "menu_2": "service",
        "menu_timeout_seconds": "6",
        "closed_action": "voicemail",
        "active": "on",
    }
    assert (await post_form(admin, "/admin/hotlines", hotline)).status == 302
    async with db(admin) as session:
        config = await routing.load_routing_config(session)
    line = config.hotlines["19006868"]
    assert dict(line.menu) == {"1": "sales", "2": "service"} and line.menu_timeout_seconds == 6
    # A duplicate number and a group still used by a hotline are refused clearly.
    response = await post_form(admin, "/admin/hotlines", hotline)
    assert response.status == 400 and "Đường dây nóng 19006868 đã tồn tại." in await response.text()
    response = await post_form(admin, f"/admin/groups/{sales}/delete", {})
    assert response.status == 400
    assert "Đường dây nóng 19006868 vẫn chuyển cuộc gọi đến nhóm này" in await response.text()
    assert await count(admin, AgentGroup) == 2
    assert service


async def test_hours_holidays_and_tet_from_the_page(
    admin: TestClient, events: list[ConfigChanged]
) -> None:
    sales = await add_group(admin)
    hotline = {
        "number": "19001234",
        "group_id": str(sales),
        "menu_timeout_seconds": "5",
        "closed_action": "callback",
        "active": "on",
    }
    assert (await post_form(admin, "/admin/hotlines", hotline)).status == 302
    week = {}
    for day in range(5):
        week |= {f"opens_{day}_0": "07:30", f"closes_{day}_0": "11:30"}
        week |= {f"opens_{day}_1": "13:00", f"closes_{day}_1": "17:00"}
    overlapping = {**week, "opens_2_1": "11:00"}
    response = await post_form(
        admin, "/admin/hours", {"hotline": "", **overlapping}, page="/admin/hours"
    )
    assert response.status == 400
    html = await response.text()
    assert "Thứ Tư: Hai khoảng giờ làm việc trong cùng một ngày bị chồng lên nhau." in html
    response = await post_form(admin, "/admin/hours", {"hotline": "", **week}, page="/admin/hours")
    assert response.status == 302
    async with db(admin) as session:
        config = await routing.load_routing_config(session)
    tet = datetime(2027, 2, 8, 9, 0, tzinfo=DEFAULT_ZONE)  # Mùng ba Tết 2027, a Monday
    assert not config.is_open("19001234", tet)
    page = await (await admin.get("/admin/hours")).text()
    assert "08/02/2027" in page and "Mùng ba Tết Nguyên Đán" in page
    # The "open this day" button of the public calendar.
    response = await post_form(
        admin,
        "/admin/holidays",
        {"day": "2027-02-08", "name": "Mùng ba Tết Nguyên Đán", "closed": "0"},
    )
    assert response.status == 302
    async with db(admin) as session:
        config = await routing.load_routing_config(session)
    assert config.is_open("19001234", tet)
    assert events[-1] == ConfigChanged(area="holidays")
    response = await post_form(admin, "/admin/holidays", {"day": "31/02/2027", "name": "x"})
    assert response.status == 400 and "Hãy nhập ngày dạng dd/mm/yyyy." in await response.text()


async def test_departments_members_and_categories(admin: TestClient) -> None:
    response = await post_form(
        admin,
        "/admin/departments",
        {"code": "parts", "name": "Phụ tùng", "email": "pt@example.vn", "active": "on"},
    )
    assert response.status == 302
    async with db(admin) as session:
        dept = await session.scalar(select(Department).where(Department.code == "parts"))
        assert dept is not None
        head = await users.create_user(
            session, username="truong.phong", password="Phu-tung-truong-91", role="department"
        )
        await session.commit()
    await post_members_page(admin, f"/admin/departments/{dept.id}", add=head.id)
    response = await post_form(
        admin,
        f"/admin/departments/{dept.id}/members",
        {"member": str(head.id), f"priority_{head.id}": "1", f"head_{head.id}": "on"},
    )
    assert response.status == 302
    async with db(admin) as session:
        person = await session.get(User, head.id)
        assert person is not None and person.department_id == dept.id and person.is_department_head
    response = await post_form(
        admin,
        "/admin/categories",
        {
            "code": "parts-late",
            "name": "Giao phụ tùng chậm",
            "department_id": str(dept.id),
            "sla_hours": "0",
        },
    )
    assert response.status == 400 and "Giá trị phải từ 1 đến 720." in await response.text()
    response = await post_form(
        admin,
        "/admin/categories",
        {
            "code": "parts-late",
            "name": "Giao phụ tùng chậm",
            "department_id": str(dept.id),
            "sla_hours": "4",
            "active": "on",
        },
    )
    assert response.status == 302
    async with db(admin) as session:
        category = await session.scalar(select(Category).where(Category.code == "parts-late"))
    assert category is not None and category.department_id == dept.id and category.sla_hours == 4


# --------------------------------------------------------------------------- prompts


def make_wav(path: Path, seconds: float = 1.0, rate: int = 16000, channels: int = 2) -> bytes:
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            str(rate),
            "-c",
            str(channels),
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            "440",
        ],
        check=True,
    )
    return path.read_bytes()


async def upload(client: TestClient, code: str, data: bytes, filename: str) -> Any:
    from aiohttp import FormData

    from tests.admin.conftest import csrf_of

    form = FormData()
    form.add_field("csrf_token", await csrf_of(client, "/admin/prompts"))
    form.add_field("code", code)
    form.add_field("name", "Lời chào")
    form.add_field("audio", data, filename=filename, content_type="application/octet-stream")
    return await client.post("/admin/prompts", data=form, allow_redirects=False)


async def test_prompt_upload_is_converted_for_asterisk(
    admin: TestClient, tmp_path: Path, events: list[ConfigChanged]
) -> None:
    page = await (await admin.get("/admin/prompts")).text()
    assert "closed" in page and "Giọng đọc mặc định" in page and "Đã có bản ghi âm" not in page
    data = make_wav(tmp_path / "closed.wav", seconds=1.5)
    response = await upload(admin, "closed", data, "ngoai-gio.wav")
    assert response.status == 302, await response.text()
    stored = admin.server.app[SETTINGS].prompts_dir / "closed.wav"
    with wave.open(str(stored)) as converted:
        assert converted.getframerate() == 8000
        assert converted.getnchannels() == 1
        assert converted.getsampwidth() == 2
        assert abs(converted.getnframes() / 8000 - 1.5) < 0.05
    async with db(admin) as session:
        prompt = await session.scalar(select(Prompt).where(Prompt.code == "closed"))
        config = await routing.load_routing_config(session)
    assert prompt is not None and abs(prompt.duration_seconds - 1.5) < 0.05
    assert config.prompts["closed"].filename == "closed.wav"  # what the ACD plays
    assert "Đã có bản ghi âm" in await (await admin.get("/admin/prompts")).text()
    audio = await admin.get(f"/admin/prompts/{prompt.id}/audio")
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
    assert await audio.read() == stored.read_bytes()
    assert events[-1] == ConfigChanged(area="prompts")
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".upload")]
    # Deleting removes the row and the file.
    assert (await post_form(admin, f"/admin/prompts/{prompt.id}/delete", {})).status == 302
    assert not stored.exists() and await count(admin, Prompt) == 0


def bad_uploads(tmp_path: Path) -> list[tuple[str, bytes, str]]:
    wav = make_wav(tmp_path / "big.wav", seconds=5.0)  # ≈ 320 KB, over the test limit
    assert len(wav) > TEST_PROMPT_LIMIT
    return [
        ("invoice.wav", b"%PDF-1.7 not audio at all\n" * 50, "không phải bản ghi âm"),
        ("loi-chao.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 2000, "MP3"),
        ("broken.wav", b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk" + b"\x01" * 500, "bị hỏng"),
        ("big.wav", wav, "Tệp quá lớn"),
        ("empty.wav", b"", "Tệp trống"),
    ]


async def test_bad_prompts_get_one_clear_message_and_change_nothing(
    admin: TestClient, tmp_path: Path, events: list[ConfigChanged]
) -> None:
    folder = admin.server.app[SETTINGS].prompts_dir
    for filename, data, fragment in bad_uploads(tmp_path):
        response = await upload(admin, "greeting", data, filename)
        assert response.status == 400, filename
        html = await response.text()
        assert html.count('role="alert"') == 1 and fragment in html, (filename, html[-3000:])
        assert 'value="greeting"' in html
    response = await upload(admin, "Lời chào", make_wav(tmp_path / "ok.wav"), "ok.wav")
    assert response.status == 400 and "Mã phải gồm" in await response.text()
    assert await count(admin, Prompt) == 0
    assert not folder.exists() or not any(folder.iterdir())
    assert events == []


async def test_replacing_a_prompt_keeps_one_row(admin: TestClient, tmp_path: Path) -> None:
    assert (await upload(admin, "menu", make_wav(tmp_path / "a.wav", 1.0), "a.wav")).status == 302
    assert (await upload(admin, "menu", make_wav(tmp_path / "b.wav", 2.0), "b.wav")).status == 302
    async with db(admin) as session:
        rows = (await session.scalars(select(Prompt))).all()
    assert len(rows) == 1 and abs(rows[0].duration_seconds - 2.0) < 0.05
    assert rows[0].uploaded_at == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # the test clock


async def test_upload_is_read_off_the_event_loop(
    admin: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp spools a large upload to disk; reading it must not block every other call."""
    import threading

    from aiohttp import web_request

    readers: list[int] = []

    class Watched(web_request.SpooledTemporaryFile):  # type: ignore[misc]
        def read(self, *args: Any) -> bytes:
            readers.append(threading.get_ident())
            return bytes(super().read(*args))

    monkeypatch.setattr(web_request, "SpooledTemporaryFile", Watched)
    data = make_wav(tmp_path / "a.wav", 1.0)
    assert (await upload(admin, "menu", data, "a.wav")).status == 302
    assert readers and threading.get_ident() not in readers


async def test_role_change_is_audited_and_the_last_admin_stays(
    admin: TestClient, aiohttp_client: Any
) -> None:
    async with db(admin) as session:
        me = await users.get_user_by_username(session, "quan.tri")
        agent = await users.create_user(
            session, username="dtv.binh", password="Dien-thoai-vien-4821", role="agent"
        )
        await session.commit()
    assert me is not None
    edit = {"full_name": "", "role": "agent", "language": "vi", "active": "on"}
    # Demoting (or deactivating) the only admin would lock everyone out of this console.
    for change in ({"role": "agent"}, {"role": "admin", "active": ""}):
        response = await post_form(admin, f"/admin/users/{me.id}", {**edit, **change})
        assert response.status == 400
        assert "Phải còn ít nhất một quản trị viên" in await response.text()
    async with db(admin) as session:
        still = await session.get(User, me.id)
        assert still is not None and still.role == "admin" and still.active
    # Promoting the agent is allowed, audited as a role change, and ends their sessions.
    other = await aiohttp_client(admin.server)
    assert (await log_in(other, "dtv.binh", "Dien-thoai-vien-4821")).status == 302
    response = await post_form(
        admin, f"/admin/users/{agent.id}", {**edit, "role": "supervisor", "interface": "PJSIP/107"}
    )
    assert response.status == 302
    async with db(admin) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "user.role"))
    assert entry is not None and entry.target == "user:dtv.binh"
    assert entry.details["old_role"] == "agent" and entry.details["role"] == "supervisor"
    assert (await other.get("/agent", allow_redirects=False)).status == 302  # logged out


async def test_a_failed_database_change_keeps_the_old_recording(
    admin: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await upload(admin, "menu", make_wav(tmp_path / "a.wav", 1.0), "a.wav")).status == 302
    stored = admin.server.app[SETTINGS].prompts_dir / "menu.wav"
    before = stored.read_bytes()

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise routing.InvalidConfig("This entry no longer exists; it may have been deleted.")

    monkeypatch.setattr(routing, "save_prompt", refuse)
    response = await upload(admin, "menu", make_wav(tmp_path / "b.wav", 2.0), "b.wav")
    assert response.status == 400 and "Mục này không còn tồn tại" in await response.text()
    assert stored.read_bytes() == before
    assert sorted(p.name for p in stored.parent.iterdir()) == ["menu.wav"]


BEYOND_ANY_ROW = "99999999999999999999"  # more than a 32-bit id column holds


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/groups/{BEYOND_ANY_ROW}",
        f"/admin/users/{BEYOND_ANY_ROW}",
        f"/admin/hours?hotline={BEYOND_ANY_ROW}",
        f"/admin/prompts/{BEYOND_ANY_ROW}/audio",
    ],
)
async def test_an_id_no_row_can_have_is_not_found(admin: TestClient, path: str) -> None:
    assert (await admin.get(path)).status == 404  # was a server error (integer overflow)


async def test_a_form_choosing_an_impossible_entry_gets_one_message(admin: TestClient) -> None:
    gone = "Mục này không còn tồn tại; có thể đã bị xóa."
    user = {"username": "dtv.moi", "password": "Dien-thoai-vien-4821", "role": "agent",
            "department_id": BEYOND_ANY_ROW}  # fmt: skip
    response = await post_form(admin, "/admin/users", user)
    assert response.status == 400 and gone in await response.text()
    category = {"code": "hoi-gia", "name": "Hỏi giá", "sla_hours": "24",
                "department_id": BEYOND_ANY_ROW}  # fmt: skip
    response = await post_form(admin, "/admin/categories", category)
    assert response.status == 400 and gone in await response.text()
    assert await count(admin, Category) == 0
