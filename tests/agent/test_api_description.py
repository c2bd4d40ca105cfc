"""The agent page's JSON actions are in the OpenAPI document with their bodies and errors."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from callcenter.config import Settings
from callcenter.web.app import create_app
from callcenter.web.openapi import build_document, undescribed_routes

# path -> (request schema or None, the statuses the handler can answer)
AGENT_ACTIONS: dict[str, tuple[str | None, set[str]]] = {
    "/api/agent/calls/{linkedid}/wrapup": ("WrapUpBody", {"200", "400", "404", "409"}),
    "/api/agent/customers": ("QuickCustomerBody", {"200", "400", "409"}),
    "/api/agent/state": ("StateBody", {"200", "400", "409", "503"}),
    "/api/agent/calls/{linkedid}/hangup": (None, {"200", "404", "409", "502", "503"}),
    "/api/agent/calls/{linkedid}/transfer": (
        "TransferBody",
        {"200", "400", "404", "409", "502", "503"},
    ),
    "/api/agent/calls/{linkedid}/park": (None, {"200", "404", "409", "502", "503"}),
    "/api/agent/calls/{linkedid}/retrieve": (None, {"200", "404", "409", "502", "503"}),
    "/api/agent/calls/{linkedid}/mute": ("MuteBody", {"200", "400", "404", "409", "502", "503"}),
    "/api/agent/originate": ("OriginateBody", {"200", "400", "409", "502", "503"}),
}


def test_every_agent_action_is_described(settings: Settings) -> None:
    app = create_app(settings)
    assert not [r for r in undescribed_routes(app) if r.startswith("POST /api/agent/")]
    document = build_document(app)
    validate(document)
    schemas: dict[str, Any] = document["components"]["schemas"]
    for path, (request_schema, statuses) in AGENT_ACTIONS.items():
        operation = document["paths"][path]["post"]
        assert operation["x-roles"] == ["agent", "supervisor"], path
        assert operation["tags"] == ["agent"], path
        # 401/403 come from the access declaration; the rest from what the handler answers.
        assert set(operation["responses"]) == statuses | {"401", "403"}, path
        if request_schema is None:
            assert "requestBody" not in operation, path
        else:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body == {"$ref": f"#/components/schemas/{request_schema}"}, path
        success = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert success["$ref"].removeprefix("#/components/schemas/") in schemas, path
        if "{linkedid}" in path:
            params = {p["name"]: p["in"] for p in operation["parameters"]}
            assert params == {"linkedid": "path", "X-CSRF-Token": "header"}, path

    wrapup = schemas["WrapUpBody"]
    assert wrapup["required"] == ["outcome"]
    assert set(schemas["StateBody"]["properties"]["action"]["enum"]) == {
        "login",
        "logout",
        "available",
        "pause",
    }
    assert schemas["TransferBody"]["required"] == ["kind", "target"]
    assert schemas["AgentStateOut"]["properties"]["state"]["type"] == "string"
