"""Ticket attachments and recordings: no name, stored path or URL reaches outside their
folder (``../``, encoded forms, absolute paths, symlinks), and uploads obey the size limit."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from callcenter.auth.sessions import COOKIE_NAME
from callcenter.config import Settings
from callcenter.db.models import Call, TicketAttachment
from callcenter.registry import SESSIONMAKER
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.web.app import create_app
from tests.auth.migrated import copy_migrated
from tests.conftest import MigratedTemplates
from tests.test_access_table import _cookie_for, seed

CODE = "TK-2026-000001"
PDF = b"%PDF-1.4\n" + b"0" * 200


@pytest.fixture
async def files_client(
    aiohttp_client: Any, settings: Settings, migrated_templates: MigratedTemplates, tmp_path: Path
) -> TestClient:
    await copy_migrated(settings, migrated_templates)
    settings = settings.model_copy(
        update={
            "attachments_dir": tmp_path / "store" / "attachments",
            "http": settings.http.model_copy(update={"max_upload_mb": 1}),
        }
    )
    client: TestClient = await aiohttp_client(create_app(settings, extra_plugins=[TICKETS]))
    client.users = await seed(client.server.app[SESSIONMAKER])  # type: ignore[attr-defined]
    client.tmp = tmp_path  # type: ignore[attr-defined]
    client.settings = settings  # type: ignore[attr-defined]
    return client


async def _as(client: TestClient, role: str) -> str:
    cookie, token = await _cookie_for(client, client.users[role])  # type: ignore[attr-defined]
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE_NAME: cookie}, client.make_url("/"))
    return token


async def _upload(client: TestClient, token: str, name: str, data: bytes) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/pdf")
    return await client.post(
        f"/api/tickets/{CODE}/files", data=form, headers={"X-CSRF-Token": token}
    )


def _inside(stored: Path, store: Path) -> bool:
    return stored.resolve().is_relative_to(store.resolve()) and stored.read_bytes() == PDF


def _plant_secret(tmp: Path, store: Path, stored: str) -> str:
    """A secret file outside the store; returns the stored path a tampered row would hold."""
    secret = tmp / "secret.pdf"
    secret.write_bytes(b"%PDF- secret")
    store.mkdir(parents=True, exist_ok=True)
    if stored == "SECRET_ABSOLUTE":
        return str(secret)
    if stored == "SYMLINK":
        os.symlink(secret, store / "link.pdf")
        return "link.pdf"
    return stored


def _files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize(
    "name",
    ["../../../outside.pdf", "..%2F..%2Foutside.pdf", "..\\..\\outside.pdf", "/tmp/outside.pdf",
     "....//....//outside.pdf", "%2e%2e/%2e%2e/outside.pdf"],
)  # fmt: skip
async def test_an_uploaded_files_name_never_chooses_where_it_is_stored(
    files_client: TestClient, name: str
) -> None:
    tmp: Path = files_client.tmp  # type: ignore[attr-defined]
    store: Path = files_client.settings.attachments_dir  # type: ignore[attr-defined]
    before = _files_under(tmp)
    token = await _as(files_client, "supervisor")
    response = await _upload(files_client, token, name, PDF)
    assert response.status == 200, await response.text()
    added = _files_under(tmp) - before
    assert len(added) == 1
    (stored,) = added
    assert _inside(stored, store) and "outside" not in stored.name
    async with files_client.server.app[SESSIONMAKER]() as session:
        attachment = await session.get(TicketAttachment, 1)
        assert attachment is not None
    download = await files_client.get(f"/tickets/{CODE}/files/{attachment.id}")
    assert download.status == 200 and await download.read() == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''") and "/" not in disposition


@pytest.mark.parametrize("stored", ["../../secret.pdf", "SECRET_ABSOLUTE", "SYMLINK", "..", ""])
async def test_a_stored_attachment_path_outside_the_folder_is_not_served(
    files_client: TestClient, stored: str
) -> None:
    tmp: Path = files_client.tmp  # type: ignore[attr-defined]
    store: Path = files_client.settings.attachments_dir  # type: ignore[attr-defined]
    stored = _plant_secret(tmp, store, stored)
    async with files_client.server.app[SESSIONMAKER]() as session:
        row = TicketAttachment(
            ticket_id=1, name="a.pdf", content_type="application/pdf", size=12, stored_path=stored
        )
        session.add(row)
        await session.commit()
        file_id = row.id
    await _as(files_client, "admin")
    response = await files_client.get(f"/tickets/{CODE}/files/{file_id}")
    assert response.status == 404
    assert b"secret" not in await response.read()


@pytest.mark.parametrize(
    "path",
    [f"/tickets/{CODE}/files/..%2F..%2Fsecret.pdf", f"/tickets/{CODE}/files/%2e%2e",
     f"/tickets/{CODE}/files/1%2F..%2F..%2Fsecret.pdf", "/recordings/..%2F..%2Fsecret.wav",
     "/recordings/%2e%2e%2f%2e%2e%2fsecret.wav", "/recordings/1%00", "/static/..%2F..%2Fpyproject.toml",
     "/static/%2e%2e/%2e%2e/pyproject.toml"],
)  # fmt: skip
async def test_encoded_traversal_in_the_url_finds_nothing(
    files_client: TestClient, path: str
) -> None:
    await _as(files_client, "admin")
    response = await files_client.get(path, allow_redirects=False)
    body = await response.read()
    assert response.status in (400, 403, 404), (path, response.status)
    assert b"secret" not in body and b"[project]" not in body


async def test_a_recording_path_from_the_pbx_cannot_leave_the_folder_by_encoding(
    files_client: TestClient,
) -> None:
    """Encoded dots are not decoded by the file lookup: ``%2e%2e`` is a file name, not ``..``."""
    async with files_client.server.app[SESSIONMAKER]() as session:
        call = Call(
            linkedid="1.777",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            recording_path="/var/spool/asterisk/monitor/%2e%2e/%2e%2e/etc/passwd",
        )
        session.add(call)
        await session.commit()
        call_id = call.id
    await _as(files_client, "admin")
    response = await files_client.get(f"/recordings/{call_id}")
    assert response.status == 404 and b"root:" not in await response.read()


async def test_an_attachment_over_the_limit_is_refused_and_nothing_is_stored(
    files_client: TestClient,
) -> None:
    tmp: Path = files_client.tmp  # type: ignore[attr-defined]
    before = _files_under(tmp)
    token = await _as(files_client, "supervisor")
    response = await _upload(files_client, token, "big.pdf", b"%PDF-" + b"0" * (1024 * 1024 + 10))
    assert response.status == 413
    assert await response.json() == {"error": "Tệp quá lớn; giới hạn là 1 MB."}
    assert _files_under(tmp) == before
    async with files_client.server.app[SESSIONMAKER]() as session:
        assert await session.get(TicketAttachment, 1) is None
