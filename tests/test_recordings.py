"""Listening to a call's recording: who may, what is logged, and what is never served."""

from __future__ import annotations

import os
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.models import AuditEntry, Call
from callcenter.registry import SESSIONMAKER
from callcenter.web.app import create_app
from tests.auth_helpers import login, make_user

ASTERISK_DIR = "/var/spool/asterisk/monitor/callcenter"


def _wav(path: Path, seconds: float = 0.5) -> bytes:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x01\x02" * int(8000 * seconds))
    return path.read_bytes()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    await migrate.upgrade_async(settings.database.url)
    client: TestClient = await aiohttp_client(create_app(settings))
    for role in ("agent", "supervisor", "admin"):
        await make_user(client, f"rec.{role}", role)
    return client


async def _call(client: TestClient, recording_path: str) -> int:
    async with client.server.app[SESSIONMAKER]() as session, session.begin():
        call = Call(
            linkedid=f"17000{abs(hash(recording_path)) % 10**6}.1",
            caller_number="+84912345678",
            started_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
            recording_path=recording_path,
        )
        session.add(call)
        await session.flush()
        return call.id


async def _listens(client: TestClient) -> list[AuditEntry]:
    async with client.server.app[SESSIONMAKER]() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recording.listen")
        )
        return list(rows)


async def test_a_supervisor_listens_and_the_listen_is_logged(
    client: TestClient, settings: Settings
) -> None:
    audio = _wav(settings.recordings_dir / "1763863200.42.wav")
    call_id = await _call(client, f"{ASTERISK_DIR}/1763863200.42.wav")
    await login(client, "rec.supervisor")
    response = await client.get(f"/recordings/{call_id}")
    assert response.status == 200
    assert response.headers["Content-Type"] == "audio/wav"
    assert await response.read() == audio
    # The player seeks: a later byte range is the same listen, not a new one.
    part = await client.get(f"/recordings/{call_id}", headers={"Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == audio[100:200]
    (entry,) = await _listens(client)
    assert entry.username == "rec.supervisor" and entry.target == f"call:{call_id}"
    assert entry.address == "127.0.0.1"


async def test_an_agent_listens_only_to_the_calls_they_took(
    client: TestClient, settings: Settings
) -> None:
    from callcenter.db.models import User

    _wav(settings.recordings_dir / "1763863200.43.wav")
    others = await _call(client, f"{ASTERISK_DIR}/1763863200.43.wav")
    _wav(settings.recordings_dir / "1763863200.46.wav")
    own = await _call(client, f"{ASTERISK_DIR}/1763863200.46.wav")
    async with client.server.app[SESSIONMAKER]() as session, session.begin():
        agent = await session.scalar(select(User).where(User.username == "rec.agent"))
        call = await session.get(Call, own)
        assert agent is not None and call is not None
        call.agent_id = agent.id
    await login(client, "rec.agent")
    assert (await client.get(f"/recordings/{others}")).status == 404
    assert await _listens(client) == []
    assert (await client.get(f"/recordings/{own}")).status == 200
    (entry,) = await _listens(client)
    assert entry.username == "rec.agent" and entry.target == f"call:{own}"


async def test_a_transcribed_call_plays_its_compressed_file_and_an_empty_one_is_reported(
    client: TestClient, settings: Settings
) -> None:
    from callcenter.db.models import Transcript

    call_id = await _call(client, f"{ASTERISK_DIR}/1763863200.47.wav")  # the WAV is gone
    (settings.recordings_dir / "1763863200.47.ogg").write_bytes(b"OggS" + b"\0" * 200)
    empty_id = await _call(client, f"{ASTERISK_DIR}/1763863200.48.wav")
    (settings.recordings_dir / "1763863200.48.wav").write_bytes(b"")
    async with client.server.app[SESSIONMAKER]() as session, session.begin():
        call = await session.get(Call, call_id)
        assert call is not None
        session.add(
            Transcript(linkedid=call.linkedid, audio_file="1763863200.47.ogg",
                       created_at=datetime(2026, 11, 23, 2, 5, tzinfo=UTC))
        )  # fmt: skip
    await login(client, "rec.supervisor")
    response = await client.get(f"/recordings/{call_id}", headers={"Range": "bytes=0-"})
    assert response.status == 206 and response.headers["Content-Type"] == "audio/ogg"
    assert (await response.read()).startswith(b"OggS")
    empty = await client.get(f"/recordings/{empty_id}")
    assert empty.status == 404 and "empty" in await empty.text()


@pytest.mark.parametrize(
    "stored",
    [
        "../../../../etc/passwd",
        "/etc/passwd",
        f"{ASTERISK_DIR}/../../../../etc/hostname",
        "..",
        "",
    ],
)
async def test_a_stored_name_never_reaches_outside_the_recordings_folder(
    client: TestClient, stored: str
) -> None:
    call_id = await _call(client, stored)
    await login(client, "rec.admin")
    response = await client.get(f"/recordings/{call_id}")
    assert response.status == 404
    assert "root:" not in await response.text()
    assert await _listens(client) == []


async def test_a_symlink_out_of_the_folder_is_refused(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "outside.wav"
    _wav(secret)
    os.symlink(secret, settings.recordings_dir / "1763863200.44.wav")
    call_id = await _call(client, f"{ASTERISK_DIR}/1763863200.44.wav")
    await login(client, "rec.admin")
    assert (await client.get(f"/recordings/{call_id}")).status == 404


async def test_missing_file_and_unknown_call_say_so(client: TestClient) -> None:
    call_id = await _call(client, f"{ASTERISK_DIR}/never-written.wav")
    await login(client, "rec.supervisor")
    missing = await client.get(f"/recordings/{call_id}")
    assert missing.status == 404 and "missing" in await missing.text()
    assert (await client.get("/recordings/99999")).status == 404
    assert (await client.get("/recordings/..%2F..%2Fetc%2Fpasswd")).status == 404


async def test_the_customer_page_offers_a_player_to_supervisors_only(
    client: TestClient, settings: Settings
) -> None:
    from callcenter.db.models import Customer, CustomerPhone, User

    _wav(settings.recordings_dir / "1763863200.45.wav")
    async with client.server.app[SESSIONMAKER]() as session, session.begin():
        agent = await session.scalar(select(User).where(User.username == "rec.agent"))
        assert agent is not None
        customer = Customer(
            name="Trần Thị Bích",
            name_search="tran thi bich",
            phones=[CustomerPhone(number="+84912345679", is_primary=True)],
        )
        session.add(customer)
        await session.flush()
        call = Call(
            linkedid="1763863200.45",
            caller_number="+84912345679",
            customer_id=customer.id,
            agent_id=agent.id,  # the agent served this customer: they see the page
            started_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
            recording_path=f"{ASTERISK_DIR}/1763863200.45.wav",
        )
        session.add(call)
        await session.flush()
        customer_id, call_id = customer.id, call.id
    await login(client, "rec.supervisor")
    page = await (await client.get(f"/customers/{customer_id}")).text()
    assert f'<audio controls preload="none" src="/recordings/{call_id}">' in page
    await client.get("/logout")
    client.session.cookie_jar.clear()
    await login(client, "rec.agent")
    response = await client.get(f"/customers/{customer_id}")
    assert response.status == 200
    page = await response.text()
    assert "/recordings/" not in page and "Có ghi âm" in page
