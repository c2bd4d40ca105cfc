"""Every ``/api/supervisor/`` route is described, and the document stays valid OpenAPI."""

from __future__ import annotations

from openapi_spec_validator import validate

from callcenter.config import Settings
from callcenter.supervisor.plugin import PLUGIN
from callcenter.web.app import create_app
from callcenter.web.openapi import build_document, undescribed_routes


def test_every_supervisor_route_is_described(settings: Settings) -> None:
    app = create_app(settings, extra_plugins=[PLUGIN])
    assert undescribed_routes(app) == []
    document = build_document(app)
    validate(document)
    listen = document["paths"]["/api/supervisor/listen"]["post"]
    assert listen["x-roles"] == ["admin", "supervisor"]
    assert set(listen["responses"]) >= {"200", "400", "403", "404", "409", "502", "503"}
    schemas = document["components"]["schemas"]
    assert "ListenIn" in schemas and "BoardOut" in schemas
