"""JSON bodies and answers of the surveys API (they become the OpenAPI schemas)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError


class QuestionOut(BaseModel):
    id: int
    kind: str = Field(description="single_choice, multiple_choice, scale_5, scale_10, free_text")
    text: str
    options: list[str]
    depends_on_id: int | None = Field(description="shown only if this earlier question…")
    depends_values: list[str] = Field(description="…was answered with one of these")


class SurveyOut(BaseModel):
    id: int
    name: str
    description: str
    questions: list[QuestionOut]


class SurveysOut(BaseModel):
    surveys: list[SurveyOut]


class ResponseBody(BaseModel):
    answers: dict[str, Any] = Field(
        description="question id → answer: a number (scales), an option or a list of options, "
        "or text"
    )
    linkedid: str | None = Field(default=None, max_length=64, description="the call")
    customer_id: int | None = None
    ticket_id: int | None = None
    task_id: int | None = None
    campaign_id: int | None = None


class ResponseOut(BaseModel):
    id: int
    survey_id: int
    channel: str
    customer_id: int | None


async def body_of(request: web.Request, model: type[BaseModel]) -> Any:
    """The request's JSON body as ``model``, or 400 ``{"error": ...}`` naming the problem."""
    try:
        return model.model_validate(await request.json())
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        where = "the body is not JSON"
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
        raise web.HTTPBadRequest(
            text=json.dumps({"error": where}), content_type="application/json"
        ) from None
