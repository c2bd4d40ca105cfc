"""Every ``/api/tickets/`` route is described, and the document stays valid OpenAPI."""

from __future__ import annotations

from openapi_spec_validator import validate

from callcenter.config import Settings
from callcenter.tickets.plugin import PLUGIN
from callcenter.web.app import create_app
from callcenter.web.openapi import build_document, undescribed_routes


def test_every_ticket_route_is_described(settings: Settings) -> None:
    app = create_app(settings, extra_plugins=[PLUGIN])
    assert undescribed_routes(app) == []
    document = build_document(app)
    validate(document)
    paths = document["paths"]
    assert paths["/api/tickets/{code}/transfer"]["post"]["x-roles"] == [
        "admin",
        "department",
        "supervisor",
    ]
    assert "TransferBody" in document["components"]["schemas"]
    assert set(paths["/api/tickets/{code}/follow-up"]["post"]["responses"]) >= {
        "200",
        "400",
        "403",
        "404",
    }
