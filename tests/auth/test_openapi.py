"""/api/openapi.json: a valid OpenAPI 3.1 document that matches the real routes exactly."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from pydantic import BaseModel

from callcenter.config import Settings
from callcenter.core.roles import Role
from callcenter.web.access import allow, public
from callcenter.web.app import create_app
from callcenter.web.openapi import api_routes, build_document, describe, undescribed_routes
from tests.auth_helpers import DEFAULT_PASSWORD, login, make_user

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


async def test_the_real_app_is_fully_described(client: TestClient) -> None:
    await make_user(client, "an", "agent")
    await login(client, "an", DEFAULT_PASSWORD)
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    validate(document)  # raises on anything that is not valid OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    app = client.server.app
    assert undescribed_routes(app) == [], "describe these /api/ routes with @describe(...)"
    real = {(route.method, route.path) for route in api_routes(app)}
    assert documented_operations(document) == real
    assert ("GET", "/api/openapi.json") in real


async def test_anonymous_callers_need_a_login(client: TestClient) -> None:
    assert (await client.get("/api/openapi.json")).status == 401


class NoteIn(BaseModel):
    text: str
    private: bool = False


class NoteOut(BaseModel):
    id: int
    text: str


def sample_api(app: web.Application) -> None:
    @allow(Role.AGENT, Role.SUPERVISOR)
    @describe(
        "Add a note",
        tags=["tickets"],
        request=NoteIn,
        response=NoteOut,
        status=201,
        errors={404: "No such ticket."},
    )
    async def add_note(request: web.Request) -> web.Response:
        return web.json_response({}, status=201)

    @public
    @describe("Ping", query={"echo": "Text to send back"})
    async def ping(request: web.Request) -> web.Response:
        return web.json_response({})

    @allow(Role.ADMIN)
    async def forgotten(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_post(r"/api/tickets/{id:\d+}/notes", add_note)
    app.router.add_get("/api/ping/{word}", ping)
    app.router.add_delete("/api/forgotten", forgotten)


async def test_describe_generates_paths_schemas_and_access(migrated_settings: Settings) -> None:
    app = create_app(migrated_settings, extra_plugins=[sample_api])
    document = build_document(app)
    validate(document)
    undescribed = undescribed_routes(app)
    assert "DELETE /api/forgotten" in undescribed
    assert not {"POST /api/tickets/{id}/notes", "GET /api/ping/{word}"} & set(undescribed)
    assert "/api/forgotten" not in document["paths"]

    note = document["paths"]["/api/tickets/{id}/notes"]["post"]
    assert note["x-roles"] == ["agent", "supervisor"] and note["tags"] == ["tickets"]
    params = {p["name"]: p for p in note["parameters"]}
    assert params["id"]["in"] == "path" and params["id"]["schema"] == {"type": "integer"}
    assert params["X-CSRF-Token"]["in"] == "header" and params["X-CSRF-Token"]["required"]
    body = note["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NoteIn"}
    assert set(note["responses"]) == {"201", "401", "403", "404"}
    schemas = document["components"]["schemas"]
    assert schemas["NoteIn"]["required"] == ["text"]
    assert schemas["NoteOut"]["properties"]["id"]["type"] == "integer"
    assert note["security"] == [{"sessionCookie": []}]

    ping = document["paths"]["/api/ping/{word}"]["get"]
    assert ping["x-roles"] == "public" and "security" not in ping
    assert {p["name"]: p["in"] for p in ping["parameters"]} == {"word": "path", "echo": "query"}
    assert set(ping["responses"]) == {"200"}
