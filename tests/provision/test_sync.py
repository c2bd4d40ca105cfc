"""`callcenter asterisk sync`: hotlines, departments and queue members from the database."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.cli import main
from callcenter.db.models import Department, Hotline, User
from callcenter.provision import sync
from callcenter.sim import dialplan as dp
from callcenter.sim.pbx import parse_queues

ASTERISK = Path(__file__).resolve().parents[2] / "asterisk"


class Reply(dict[str, str]):
    def __init__(self, ok: bool, message: str = "") -> None:
        super().__init__(Message=message)
        self.success = ok


class FakeAmi:
    def __init__(self, refuse: str = "") -> None:
        self.actions: list[dict[str, str]] = []
        self.refuse = refuse

    async def __call__(self, action: Any) -> Reply:
        self.actions.append(dict(action))
        return Reply(action["Action"] != self.refuse, "Permission denied")


async def seed(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session, session.begin():
        service = Department(code="service", name="Dịch vụ", phone="6002")
        parts = Department(code="parts", name="Phụ tùng", phone="6003")
        outside = Department(code="dealers", name="Đại lý", phone="0243000000")
        closed = Department(code="old", name="Cũ", phone="6009", active=False)
        session.add_all([service, parts, outside, closed])
        await session.flush()
        session.add_all(
            [
                User(username="hoa", role="agent", interface="PJSIP/101"),
                User(username="minh", role="supervisor", interface="PJSIP/102"),
                User(username="gone", role="agent", interface="PJSIP/109", active=False),
                User(username="nophone", role="agent", interface=""),
                User(username="admin", role="admin", interface="PJSIP/199"),
                User(
                    username="lan",
                    role="department",
                    interface="PJSIP/201",
                    department_id=service.id,
                    department_priority=1,
                ),
                User(
                    username="an",
                    role="department",
                    interface="PJSIP/202",
                    department_id=service.id,
                    department_priority=0,
                ),
                Hotline(number="19006868", name="CSKH"),
                Hotline(number="19001080", name="Cứu hộ"),
                Hotline(number="19000000", name="cũ", active=False),
            ]
        )


async def test_sync_writes_the_database_as_asterisk_config_and_reloads_what_changed(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed(session_factory)
    ami = FakeAmi()
    async with session_factory() as session:
        result = await sync.sync(session, tmp_path, ami)
    extensions = (tmp_path / sync.EXTENSIONS_FILE).read_text()
    queues = (tmp_path / sync.QUEUES_FILE).read_text()
    assert (
        result.changed
        == result.reloaded
        == [
            sync.EXTENSIONS_FILE,
            sync.QUEUES_FILE,
            sync.PJSIP_FILE,
        ]
    )
    assert [a["Action"] for a in ami.actions] == ["Reload", "QueueReload", "Reload"]
    assert ami.actions[0]["Module"] == "pbx_config.so" and ami.actions[1]["Members"] == "yes"
    assert ami.actions[2]["Module"] == "res_pjsip.so"
    assert "exten => 19001080,1,Goto(hotline-19001080,s,1)" in extensions
    assert "exten => s,1,Set(__CC_HOTLINE=19006868)" in extensions
    assert "19000000" not in extensions  # inactive hotline
    # The department rings its staff together, in their order; one without staff is refused.
    assert " same => n,Dial(PJSIP/202&PJSIP/201,30,tT)" in extensions
    plan = dp.parse(extensions)
    parts = plan.locate("agents", "6003")
    assert parts is not None and parts.steps[2].app == "Playback"
    assert plan.locate("agents", "6009") is None  # inactive department
    assert "0243000000" not in extensions and any("dealers" in s for s in result.config.skipped)
    members = parse_queues(queues)["cc-fallback"].members
    assert [(m.interface, m.name) for m in members] == [
        ("PJSIP/101", "hoa"),
        ("PJSIP/102", "minh"),
    ]  # active agents and supervisors with a phone; not the inactive, phoneless or admin

    # Nothing changed: nothing is written or reloaded.
    ami.actions.clear()
    async with session_factory() as session:
        again = await sync.sync(session, tmp_path, ami)
    assert again.changed == [] and ami.actions == []

    # A new agent in the console: only the queue file changes and is reloaded.
    async with session_factory() as session, session.begin():
        session.add(User(username="thu", role="agent", interface="PJSIP/103"))
    async with session_factory() as session:
        third = await sync.sync(session, tmp_path, ami)
    assert third.changed == [sync.QUEUES_FILE]
    assert ami.actions == [sync.RELOAD_ACTIONS[sync.QUEUES_FILE]]
    assert "member => PJSIP/103,0,thu,PJSIP/103" in (tmp_path / sync.QUEUES_FILE).read_text()


async def test_a_refused_reload_is_an_error_and_the_files_stay_written(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed(session_factory)
    etc = tmp_path / "etc"
    async with session_factory() as session:
        try:
            await sync.sync(session, etc, FakeAmi(refuse="Reload"))
        except sync.ReloadFailed as exc:
            assert "Permission denied" in str(exc)
        else:
            raise AssertionError("a refused reload must be reported")
    assert sorted(os.listdir(etc)) == sorted(sync.RELOAD_ACTIONS)  # written, nothing staged


async def test_the_simulator_runs_the_generated_includes(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """The committed config plus freshly generated includes: what the simulator (and
    Asterisk) loads has the database's hotlines, departments and queue members."""
    await seed(session_factory)
    for conf in ASTERISK.glob("*.conf"):
        shutil.copy(conf, tmp_path / conf.name)
    async with session_factory() as session:
        await sync.sync(session, tmp_path)
    plan = dp.load(tmp_path / "extensions.conf")
    assert {"hotline-19006868", "hotline-19001080", "cc-inbound"} <= set(plan.contexts)
    entry = plan.locate("from-trunk", "19001080")
    assert entry is not None and entry.steps[1].data == "hotline-19001080,s,1"
    assert plan.locate("from-trunk", "19009999").pattern == "_X."  # type: ignore[union-attr]
    assert plan.locate("agents", "6002") is not None and plan.locate("agents", "101") is not None
    queues = parse_queues(dp.read_config(tmp_path / "queues.conf"))
    assert [m.name for m in queues["cc-fallback"].members] == ["hoa", "minh"]
    assert "paused" in queues["cc-fallback"].joinempty


def test_the_committed_includes_are_what_sync_writes_for_the_sample() -> None:
    """The sample include files are sync's own output format (so the simulator and a fresh
    Asterisk load the same shape production gets), headers aside."""

    def body(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith(";")]

    sample = sync.PbxConfig(
        ("19001080", "19006868"),
        tuple(
            sync.DepartmentLine(f"600{n}", code, ("PJSIP/103",))
            for n, code in enumerate(["sales", "service", "parts", "dealers", "care"], start=1)
        ),
        tuple(sync.QueueMemberLine(f"PJSIP/10{n}", f"agent{n}") for n in (1, 2, 3)),
    )
    for name, text in sync.render(sample).items():
        if name in sync.PRIVATE_FILES:
            continue  # holds SIP passwords: never committed (pjsip.conf #tryinclude's it)
        assert body((ASTERISK / name).read_text()) == body(text), name


def test_the_cli_writes_without_reloading(
    tmp_path: Path, migrated_url: str, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", migrated_url)
    code = main(["asterisk", "sync", "--config-dir", str(tmp_path), "--no-reload"])
    assert code == 0, capsys.readouterr()
    assert "0 hotlines" in capsys.readouterr().out
    assert "[from-trunk]" in (tmp_path / sync.EXTENSIONS_FILE).read_text()


async def test_the_daemon_resyncs_after_a_console_change(
    session_factory: async_sessionmaker[AsyncSession],
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    """asterisk.sync_on_change: an admin change to users rewrites the queue members
    (no AMI link here, so the files are written and nothing is reloaded)."""
    from aiohttp import web

    from callcenter.config import load_settings
    from callcenter.core.bus import EventBus
    from callcenter.core.events import ConfigChanged
    from callcenter.provision import plugin
    from callcenter.registry import BUS, SESSIONMAKER, SETTINGS

    monkeypatch.setattr(plugin, "SETTLE_SECONDS", 0.01)
    etc = tmp_path / "etc"
    app = web.Application()
    app[SETTINGS] = load_settings(
        None,
        database={"url": migrated_url},
        asterisk={"config_dir": str(etc), "sync_on_change": True},
    )
    app[BUS] = EventBus()
    app[SESSIONMAKER] = session_factory
    plugin.setup(app)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        async with session_factory() as session, session.begin():
            session.add(User(username="thu", role="agent", interface="PJSIP/103"))
        app[BUS].publish(ConfigChanged(area="pause_reasons"))  # not in the files
        await asyncio.sleep(0.2)
        assert not await asyncio.to_thread(etc.exists)
        app[BUS].publish(ConfigChanged(area="users"))
        for _ in range(100):
            if await asyncio.to_thread((etc / sync.QUEUES_FILE).exists):
                break
            await asyncio.sleep(0.05)
        queues = await asyncio.to_thread((etc / sync.QUEUES_FILE).read_text)
        assert "member => PJSIP/103,0,thu,PJSIP/103" in queues
    finally:
        await runner.cleanup()


async def test_an_agents_extension_rings_the_phone_the_console_gives_them(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A transfer to agent 104 must ring their phone (a softphone, a Local channel…), not the
    `_1XX` pattern's PJSIP/104; an extension that is a department's number is refused."""
    await seed(session_factory)
    async with session_factory() as session, session.begin():
        session.add_all(
            [
                User(username="thu", role="agent", interface="PJSIP/web-thu", extension="104"),
                User(username="lam", role="agent", interface="PJSIP/105", extension="6002"),
            ]
        )
    async with session_factory() as session:
        result = await sync.sync(session, tmp_path)
    plan = dp.parse((tmp_path / sync.EXTENSIONS_FILE).read_text())
    parts = plan.locate("agents", "104")
    assert parts is not None and parts.steps[1].app == "NoOp"
    assert (parts.steps[2].app, parts.steps[2].data) == ("Dial", "PJSIP/web-thu,30,tT")
    department = plan.locate("agents", "6002")
    assert department is not None and department.steps[1].data == "department service"
    assert any("lam" in problem for problem in result.config.skipped)


async def test_browser_phones_are_generated_with_their_passwords_and_removed_when_off(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Issue 17: one WebRTC endpoint per active user whose phone is the browser, built on
    pjsip.conf's templates, in a file only Asterisk's owner and group can read; a new
    password or a deactivated user changes the file and reloads res_pjsip."""
    secret = "s3cret-Generated_by-the-daemon0"
    async with session_factory() as session, session.begin():
        hoa = User(
            username="hoa",
            role="agent",
            interface="PJSIP/webrtc-1",
            extension="101",
            phone_kind="browser",
            sip_secret=secret,
        )
        desk = User(username="minh", role="agent", interface="PJSIP/102", sip_secret="x" * 20)
        broken = User(username="tam", role="agent", phone_kind="browser", sip_secret="a b;c")
        session.add_all([hoa, desk, broken])
    ami = FakeAmi()
    async with session_factory() as session:
        await sync.sync(session, tmp_path, ami)
    path = tmp_path / sync.PJSIP_FILE
    text = path.read_text()
    assert (path.stat().st_mode & 0o777) == 0o640
    assert f"[webrtc-{hoa.id}](agent-webrtc)" in text
    assert f"[webrtc-{hoa.id}](agent-aor)" in text
    assert f"username = webrtc-{hoa.id}\npassword = {secret}\n" in text
    assert 'callerid = "hoa" <101>' in text
    assert "minh" not in text and "x" * 20 not in text  # a desk phone is not a browser one
    assert "a b;c" not in text  # an unusable password is skipped, and said so
    assert any("tam" in problem for problem in (await _config(session_factory)).skipped)
    template = (ASTERISK / "pjsip.conf").read_text()
    assert "[agent-webrtc](!,agent-endpoint)" in template
    assert template.rstrip().endswith("#tryinclude pjsip_callcenter.conf")

    # A new password: the file changes, res_pjsip reloads.
    ami.actions.clear()
    async with session_factory() as session, session.begin():
        user = await session.get(User, hoa.id)
        assert user is not None
        user.sip_secret = "another-Secret_0123456789"
    async with session_factory() as session:
        result = await sync.sync(session, tmp_path, ami)
    assert result.changed == [sync.PJSIP_FILE]
    assert ami.actions == [sync.RELOAD_ACTIONS[sync.PJSIP_FILE]]
    assert secret not in path.read_text()

    # Deactivated: the endpoint is gone from Asterisk's config.
    async with session_factory() as session, session.begin():
        user = await session.get(User, hoa.id)
        assert user is not None
        user.active = False
    async with session_factory() as session:
        await sync.sync(session, tmp_path, ami)
    assert "webrtc-" not in path.read_text()


async def _config(factory: async_sessionmaker[AsyncSession]) -> sync.PbxConfig:
    async with factory() as session:
        return await sync.load_pbx_config(session)
