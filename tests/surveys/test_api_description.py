"""Every ``/api/surveys`` route is described, and the document stays valid OpenAPI."""

from __future__ import annotations

from openapi_spec_validator import validate

from callcenter.config import Settings
from callcenter.surveys.plugin import PLUGIN
from callcenter.web.app import create_app
from callcenter.web.openapi import build_document, undescribed_routes


def test_every_survey_route_is_described(settings: Settings) -> None:
    app = create_app(settings, extra_plugins=[PLUGIN])
    assert undescribed_routes(app) == []
    document = build_document(app)
    validate(document)
    respond = document["paths"]["/api/surveys/{id}/responses"]["post"]
    assert set(respond["responses"]) >= {"201", "400", "404"}
    assert respond["x-roles"] == ["admin", "agent", "department", "supervisor"]
    assert {"ResponseBody", "SurveysOut"} <= set(document["components"]["schemas"])
