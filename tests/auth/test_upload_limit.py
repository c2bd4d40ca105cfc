"""A body over ``http.max_upload_mb`` gets a clear, translated 413 (not aiohttp's bare English one).

The CSRF check reads form posts to find the token, so it is the first to meet an
oversized body: it answers with a page (forms) or JSON (``/api/``), in the user's
language (Vietnamese by default), and the handler never runs.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from callcenter.config import Settings
from callcenter.web.app import create_app
from tests.auth.migrated import copy_migrated
from tests.auth_helpers import csrf_from_html, login, make_user
from tests.conftest import MigratedTemplates

LIMIT_MB = 0.01  # about 10 KB: the test needs no big upload
BIG = b"\0" * 40_000


@pytest.fixture
async def small_limit(
    aiohttp_client: Any, settings: Settings, migrated_templates: MigratedTemplates
) -> TestClient:
    settings = settings.model_copy(
        update={"http": settings.http.model_copy(update={"max_upload_mb": LIMIT_MB})}
    )
    await copy_migrated(settings, migrated_templates)
    client: TestClient = await aiohttp_client(create_app(settings))
    await make_user(client, "quan.tri", "admin")
    await make_user(client, "lan", "agent")
    return client


def upload(token: str, payload: bytes = BIG) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("code", "welcome")
    form.add_field("audio", payload, filename="welcome.wav", content_type="audio/wav")
    return form


async def test_an_oversized_form_upload_gets_a_translated_page(small_limit: TestClient) -> None:
    client = small_limit
    await login(client, "quan.tri")
    token = csrf_from_html(await (await client.get("/admin/prompts")).text())
    response = await client.post("/admin/prompts", data=upload(token))
    assert response.status == 413
    assert response.content_type == "text/html"
    html = await response.text()
    assert "Tệp quá lớn; giới hạn là 0.01 MB." in html
    assert 'href="/admin/prompts"' in html  # a way back to the form
    assert "Maximum request body size" not in html

    # The same in English for a user who chose English.
    await client.get("/language/en?next=/admin/prompts")
    response = await client.post("/admin/prompts", data=upload(token))
    assert response.status == 413
    assert "The file is too large; the limit is 0.01 MB." in await response.text()

    # Under the limit the form is read and the handler answers as usual (not 413).
    small = await client.post("/admin/prompts", data=upload(token, b"RIFF" + b"\0" * 100))
    assert small.status != 413


async def test_an_oversized_api_form_gets_json(small_limit: TestClient) -> None:
    client = small_limit
    await login(client, "lan")
    form = aiohttp.FormData()
    form.add_field("file", BIG, filename="x.bin")
    response = await client.post("/api/agent/state", data=form)
    assert response.status == 413
    assert response.content_type == "application/json"
    assert await response.json() == {"error": "Tệp quá lớn; giới hạn là 0.01 MB."}
