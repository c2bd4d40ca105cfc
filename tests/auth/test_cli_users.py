"""`callcenter user ...` as a script would call it: add, list, set-password, set-role, bad input."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.auth.passwords import verify_password
from callcenter.cli import main
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import AuditEntry, Department, User
from tests.conftest import MigratedTemplates

GOOD = "Mật-khẩu-đủ-mạnh-123"


@pytest.fixture
def config(tmp_path: Path, migrated_templates: MigratedTemplates) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrated_templates.sqlite_copy(tmp_path / "cli.db")

    async def add_department() -> None:
        engine = make_engine(url)
        async with sessionmaker(engine)() as session:
            session.add(Department(code="dv", name="Dịch vụ"))
            await session.commit()
        await engine.dispose()

    asyncio.run(add_department())
    path = tmp_path / "cc.toml"
    path.write_text(f'session_secret = "{"s" * 40}"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    return str(path)


def run(config: str, monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", config, *argv])


def users(config: str) -> dict[str, User]:
    url = Path(config).read_text().split('url = "')[1].split('"')[0]

    async def read() -> dict[str, User]:
        engine = make_engine(url)
        async with sessionmaker(engine)() as session:
            found = {u.username: u for u in (await session.execute(select(User))).scalars()}
            found["__audit__"] = [  # type: ignore[assignment]
                (a.action, a.target) for a in (await session.execute(select(AuditEntry))).scalars()
            ]
        await engine.dispose()
        return found

    return asyncio.run(read())


def test_add_and_list(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            config,
            monkeypatch,
            "user",
            "add",
            "an.nguyen",
            "--role",
            "agent",
            "--interface",
            "PJSIP/101",
            "--full-name",
            "Nguyễn Văn An",
            "--password-stdin",
            stdin=GOOD + "\n",
        )
        == 0
    )
    assert "user an.nguyen added" in capsys.readouterr().out
    assert (
        run(
            config,
            monkeypatch,
            "user",
            "add",
            "lan",
            "--role",
            "department",
            "--department",
            "DV",
            "--head",
            "--password-stdin",
            stdin=GOOD + "\n",
        )
        == 0
    )
    found = users(config)
    assert found["an.nguyen"].interface == "PJSIP/101"
    assert verify_password(found["an.nguyen"].password_hash, GOOD)
    assert found["lan"].is_department_head and found["lan"].department_id is not None
    assert found["__audit__"] == [("user.create", "user:an.nguyen"), ("user.create", "user:lan")]  # type: ignore[comparison-overlap]
    capsys.readouterr()
    assert run(config, monkeypatch, "user", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["username", "role", "name", "interface", "department", "active"]
    assert "PJSIP/101" in out[1] and "Nguyễn Văn An" in out[1]
    assert "department (head)" in out[2] and "dv" in out[2]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["an.nguyen", "--role", "admin"], GOOD, "'an.nguyen' is already taken"),
        (["binh", "--role", "agent"], "", "Password must not be empty"),
        (["binh", "--role", "agent"], "123", "at least 10 characters"),
        (
            ["binh", "--role", "department", "--department", "xx"],
            GOOD,
            "department 'xx' does not exist (known: dv)",
        ),
        (["bad name", "--role", "agent"], GOOD, "is not valid"),
    ],
)
def test_bad_input_changes_nothing(
    config: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    run(
        config,
        monkeypatch,
        "user",
        "add",
        "an.nguyen",
        "--role",
        "agent",
        "--password-stdin",
        stdin=GOOD,
    )
    before = users(config)
    capsys.readouterr()
    assert (
        run(config, monkeypatch, "user", "add", *argv, "--password-stdin", stdin=stdin + "\n") == 2
    )
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    after = users(config)
    assert set(after) == set(before) and after["an.nguyen"].role == "agent"


def test_password_without_stdin_or_terminal_is_refused(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, monkeypatch, "user", "add", "binh", "--role", "agent") == 2
    assert "use --password-stdin" in capsys.readouterr().err
    assert "binh" not in users(config)


def test_set_password_and_role_end_sessions(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(config, monkeypatch, "user", "add", "an", "--role", "agent", "--password-stdin", stdin=GOOD)
    new = "Mật-khẩu-mới-tinh-789"
    assert (
        run(config, monkeypatch, "user", "set-password", "an", "--password-stdin", stdin=new) == 0
    )
    assert run(config, monkeypatch, "user", "set-role", "an", "supervisor") == 0
    assert "from agent to supervisor" in capsys.readouterr().out
    found = users(config)
    assert verify_password(found["an"].password_hash, new)
    assert found["an"].role == "supervisor" and found["an"].session_version == 3
    assert [a for a, _ in found["__audit__"]] == ["user.create", "user.password", "user.role"]  # type: ignore[attr-defined]
    assert run(config, monkeypatch, "user", "set-role", "khong.co", "admin") == 2
    assert "user 'khong.co' does not exist" in capsys.readouterr().err
    assert (
        run(config, monkeypatch, "user", "set-password", "an", "--password-stdin", stdin="ngắn")
        == 2
    )
    assert verify_password(users(config)["an"].password_hash, new)
