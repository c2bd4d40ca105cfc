"""Request bodies and JSON shapes of the agent page's actions (with their OpenAPI schemas)."""

from __future__ import annotations

import json
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from callcenter.core.tickets import Priority, WrapUpOutcome


class OkOut(BaseModel):
    ok: bool


class WrapUpBody(BaseModel):
    outcome: WrapUpOutcome
    category_id: int | None = None
    department_id: int | None = None
    priority: Priority = Priority.NORMAL
    notes: str = Field(default="", max_length=10_000)
    open_ticket_id: int | None = None


class WrapUpOut(BaseModel):
    ticket_id: int
    code: str = Field(description="the ticket's readable code (TK-2026-000123), for its page")
    outcome: WrapUpOutcome


class QuickCustomerBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=40)
    province: str = Field(default="", max_length=80)
    linkedid: str = ""


class QuickCustomerOut(BaseModel):
    customer_id: int
    name: str


class StateBody(BaseModel):
    action: Literal["login", "logout", "available", "pause"]
    reason: str = Field(default="", max_length=32)
    interface: str = Field(default="", max_length=120)


class AgentStateOut(BaseModel):
    agent_id: int
    name: str
    state: str = Field(description="logged_out, available, ringing, on_call, wrapup or paused")
    reason: str
    since: str | None
    interface: str
    calls_today: int
    missed_in_a_row: int
    phone_ok: bool


class TransferBody(BaseModel):
    kind: Literal["agent", "department", "external"]
    target: str = Field(min_length=1, max_length=40)
    mode: Literal["blind", "attended"] = "blind"


class TransferOut(BaseModel):
    ok: bool
    exten: str = Field(description="what was dialled: an extension or a national number")
    mode: Literal["blind", "attended"]


class ParkOut(BaseModel):
    ok: bool
    parked_at: str


class MuteBody(BaseModel):
    mute: bool


class MuteOut(BaseModel):
    ok: bool
    muted: bool


class OriginateBody(BaseModel):
    number: str = Field(min_length=1, max_length=40)
    do_not_call_reason: str = Field(
        default="",
        max_length=300,
        description="why a do-not-call customer is called anyway (audited); without it 409",
    )


class OriginateOut(BaseModel):
    ok: bool
    exten: str = Field(description="what is dialled: an extension or a national number")
    context: str = Field(description="where: agents (an extension) or cc-outbound (the trunk)")
    caller_id: str = Field(description="the hotline number the customer sees")
    id: str = Field(description="the AMI ActionID of the Originate")


__all__ = [
    "AgentStateOut",
    "MuteBody",
    "MuteOut",
    "OkOut",
    "OriginateBody",
    "OriginateOut",
    "ParkOut",
    "QuickCustomerBody",
    "QuickCustomerOut",
    "StateBody",
    "TransferBody",
    "TransferOut",
    "WrapUpBody",
    "WrapUpOut",
]


async def json_body(request: web.Request, model: type[BaseModel]) -> Any:
    """The request's JSON body as ``model``, or 400 ``{"error": ...}`` naming the first problem."""
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the body is not JSON"}), content_type="application/json"
        ) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{where}: {first['msg']}"}),
            content_type="application/json",
        ) from None
