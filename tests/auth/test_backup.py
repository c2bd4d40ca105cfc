"""Backup and restore on both backends: back up, wipe, restore, compare row for row."""

from __future__ import annotations

import asyncio
import tarfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from callcenter.backup import BackupError, create_backup, restore_backup, tables
from callcenter.cli import main
from callcenter.config import Settings, load_settings
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    AuditEntry,
    BusinessHours,
    Call,
    CallAttempt,
    Category,
    Customer,
    CustomerPhone,
    Department,
    Holiday,
    SystemSetting,
    Ticket,
    TicketEvent,
    Vehicle,
)
from callcenter.db.repos.users import create_user
from tests.auth_helpers import DEFAULT_PASSWORD, make_user
from tests.conftest import MigratedTemplates, PgDatabase, require_postgres

T0 = datetime(2026, 11, 23, 1, 30, 15, 123456, tzinfo=UTC)


def settings_for(url: str, folder: Path) -> Settings:
    (folder / "recordings").mkdir(parents=True, exist_ok=True)
    return load_settings(
        None,
        database={"url": url},
        recordings_dir=str(folder / "recordings"),
        prompts_dir=str(folder / "prompts"),
        session_secret="x" * 40,
    )


async def fill(url: str) -> None:
    """A little of everything: Vietnamese text, JSON, times, dates, NULLs, composite keys."""
    agent = await make_user(url, "an.nguyen", "agent", full_name="Nguyễn Văn An")
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as s:
            service = Department(code="dv", name="Dịch vụ", email="dv@example.vn")
            s.add(service)
            await s.flush()
            s.add(Category(code="bao-hanh", name="Bảo hành", department_id=service.id, sla_hours=8))
            head = await create_user(
                s,
                username="lan.tran",
                password=DEFAULT_PASSWORD,
                role="department",
                department_id=service.id,
                is_department_head=True,
            )
            group = AgentGroup(code="cskh", name="Chăm sóc khách hàng")
            s.add(group)
            await s.flush()
            s.add(AgentGroupMember(group_id=group.id, user_id=agent.id, priority=2))
            s.add(BusinessHours(weekday=0, opens=time(7, 30), closes=time(17, 0)))
            s.add(Holiday(day=date(2026, 9, 2), name="Quốc khánh"))
            s.add(
                SystemSetting(
                    key="wrapup_seconds", value={"seconds": 15, "note": "ổn"}, updated_at=T0
                )
            )
            customer = Customer(
                name="Trần Thị Bình",
                name_search="tran thi binh",
                tags=["vip", "xe tải"],
                birthday=date(1980, 2, 29),
            )
            s.add(customer)
            await s.flush()
            s.add(CustomerPhone(customer_id=customer.id, number="+84912345678", is_primary=True))
            s.add(Vehicle(customer_id=customer.id, vin="RLA1234567890ABCD", plate="29C-123.45"))
            call = Call(
                linkedid="1732320000.1",
                started_at=T0,
                customer_id=customer.id,
                agent_id=agent.id,
                talk_seconds=61.5,
            )
            s.add(call)
            await s.flush()
            s.add(
                CallAttempt(call_id=call.id, agent_id=agent.id, offered_at=T0, outcome="answered")
            )
            ticket = Ticket(
                call_id=call.id,
                customer_id=customer.id,
                department_id=service.id,
                subject="Xe không nổ máy",
                description="Dòng 1\nDòng 2",
                assignee_id=head.id,
                created_at=T0,
                updated_at=T0,
            )
            s.add(ticket)
            await s.flush()
            s.add(TicketEvent(ticket_id=ticket.id, kind="created", at=T0, note="—"))
            s.add(
                AuditEntry(
                    action="login.success",
                    user_id=agent.id,
                    username="an.nguyen",
                    at=T0,
                    details={"a": [1, 2]},
                )
            )
            await s.commit()
    finally:
        await engine.dispose()


async def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in await connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in tables()
            }
    finally:
        await engine.dispose()


async def test_backup_wipe_restore_round_trip(migrated_url: str, tmp_path: Path) -> None:
    database_url = migrated_url
    await fill(database_url)
    settings = settings_for(database_url, tmp_path)
    recording = settings.recordings_dir / "2026" / "11" / "1732320000.1.wav"
    recording.parent.mkdir(parents=True)
    recording.write_bytes(b"RIFF....WAVEfmt " + bytes(range(256)))
    prompt = settings.prompts_dir / "welcome.wav"
    prompt.parent.mkdir(parents=True)
    prompt.write_bytes(b"RIFF-prompt")
    (settings.prompts_dir / ".upload-x").mkdir()  # an upload in progress is not backed up
    (settings.prompts_dir / ".upload-x" / "part.wav").write_bytes(b"half")
    config = tmp_path / "callcenter.toml"
    config.write_text('timezone = "Asia/Ho_Chi_Minh"\n', encoding="utf-8")
    before = await snapshot(database_url)
    assert sum(len(rows) for rows in before.values()) >= 15

    archive = tmp_path / "backup.tar.gz"
    manifest = await create_backup(settings, archive, with_recordings=True, config_file=config)
    assert manifest.tables["users"] == 2 and manifest.recordings == 1 and manifest.config
    assert manifest.prompts == 1

    await asyncio.to_thread(migrate.downgrade, database_url, "base")  # wipe: every table is gone
    if database_url.startswith("postgresql"):
        # a ticket-number sequence this database kept, behind the backup's codes (as if it
        # had been another install): the restore must not let it hand out TK-2026-000001 again
        engine = make_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SEQUENCE IF EXISTS ticket_codes_2026"))
            await connection.execute(text("CREATE SEQUENCE ticket_codes_2026"))
        await engine.dispose()
    recording.unlink()
    prompt.unlink()
    await restore_backup(settings, archive, config_out=tmp_path / "restored.toml")

    assert await snapshot(database_url) == before
    assert recording.read_bytes().startswith(b"RIFF") and len(recording.read_bytes()) == 272
    assert prompt.read_bytes() == b"RIFF-prompt"
    assert (tmp_path / "restored.toml").read_text(encoding="utf-8") == config.read_text(
        encoding="utf-8"
    )
    # The schema is usable afterwards: new rows get fresh ids (PostgreSQL sequences reset).
    await migrate.upgrade_async(database_url)
    newcomer = await make_user(database_url, "moi.vao", "agent")
    assert newcomer.id == max(row[0] for row in before["users"]) + 1
    engine = make_engine(database_url)
    try:
        async with sessionmaker(engine)() as session:  # ticket numbers go on from the codes
            ticket = Ticket(subject="Sau khôi phục", created_at=T0, updated_at=T0)
            session.add(ticket)
            await session.commit()
            assert ticket.code == "TK-2026-000002"
    finally:
        await engine.dispose()


async def test_sqlite_backup_moves_to_postgresql(
    tmp_path: Path, migrated_templates: MigratedTemplates
) -> None:
    require_postgres()
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'site.db'}"
    await asyncio.to_thread(migrated_templates.sqlite_copy, tmp_path / "site.db")
    await fill(sqlite_url)
    before = await snapshot(sqlite_url)
    archive = tmp_path / "site.tar.gz"
    await create_backup(settings_for(sqlite_url, tmp_path), archive)
    pg = PgDatabase()
    await asyncio.to_thread(pg.create)
    try:
        await restore_backup(settings_for(pg.url, tmp_path), archive)
        assert await snapshot(pg.url) == before
    finally:
        await asyncio.to_thread(pg.drop)


async def test_restore_refuses_a_database_that_is_not_empty(
    migrated_url: str, tmp_path: Path
) -> None:
    database_url = migrated_url
    await fill(database_url)
    settings = settings_for(database_url, tmp_path)
    archive = tmp_path / "backup.tar.gz"
    await create_backup(settings, archive)
    await make_user(database_url, "sau.backup", "agent")
    changed = await snapshot(database_url)
    with pytest.raises(BackupError, match=r"not empty \(\d+ rows\); add --force"):
        await restore_backup(settings, archive)
    assert await snapshot(database_url) == changed
    await restore_backup(settings, archive, force=True)
    users = [row[1] for row in (await snapshot(database_url))["users"]]
    assert "sau.backup" not in users and "an.nguyen" in users


@pytest.mark.parametrize("damage", ["not-a-tar", "no-manifest", "checksum", "traversal"])
async def test_damaged_archives_change_nothing(
    tmp_path: Path, damage: str, migrated_templates: MigratedTemplates
) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'site.db'}"
    await asyncio.to_thread(migrated_templates.sqlite_copy, tmp_path / "site.db")
    await fill(sqlite_url)
    settings = settings_for(sqlite_url, tmp_path)
    good = tmp_path / "good.tar.gz"
    await create_backup(settings, good)
    before = await snapshot(sqlite_url)
    bad = tmp_path / "bad.tar.gz"
    if damage == "not-a-tar":
        bad.write_bytes(b"PK\x03\x04 this is a zip, or nothing at all")
        expected = "not a readable backup archive"
    else:
        extracted = tmp_path / "x"
        with tarfile.open(good) as archive:
            archive.extractall(extracted, filter="data")
        with tarfile.open(bad, "w:gz") as archive:
            for member in sorted(extracted.iterdir()):
                if damage == "no-manifest" and member.name == "manifest.json":
                    continue
                if damage == "checksum" and member.name == "database.sqlite":
                    member.write_bytes(member.read_bytes()[:-10] + b"0123456789")
                archive.add(member, arcname=member.name)
            if damage == "traversal":
                evil = tmp_path / "evil.txt"
                evil.write_text("x")
                archive.add(evil, arcname="../evil.txt")
        expected = {
            "no-manifest": "is not a callcenter backup",
            "checksum": "database.sqlite is damaged (checksum mismatch)",
            "traversal": "unsafe path in archive: ../evil.txt",
        }[damage]
    with pytest.raises(BackupError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        await restore_backup(settings, bad, force=True)
    assert await snapshot(sqlite_url) == before


def test_cli_backup_and_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], migrated_templates: MigratedTemplates
) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    target = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    migrated_templates.sqlite_copy(tmp_path / "a.db")
    asyncio.run(fill(source))
    for name, url in (("a.toml", source), ("b.toml", target)):
        (tmp_path / name).write_text(
            f'session_secret = "{"s" * 40}"\nrecordings_dir = "{tmp_path / "rec"}"\n'
            f'[database]\nurl = "{url}"\n',
            encoding="utf-8",
        )
    archive = tmp_path / "cli.tar.gz"
    assert main(["--config", str(tmp_path / "a.toml"), "backup", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "backup written to" in out and "configuration file included" in out
    assert main(["--config", str(tmp_path / "b.toml"), "restore", str(archive)]) == 0
    assert "restored" in capsys.readouterr().out
    assert asyncio.run(snapshot(target)) == asyncio.run(snapshot(source))
    # Restoring again into the now full database is refused with one line, status 2.
    assert main(["--config", str(tmp_path / "b.toml"), "restore", str(archive)]) == 2
    assert "add --force" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "b.toml"), "restore", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
