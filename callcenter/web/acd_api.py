"""Supervisor control of the ACD over JSON: agents' states, pause/unpause/log out, strategy, waiting callers.

Agents set their own state on their page (``agent_desk/http.py`` calls the
:class:`~callcenter.services.acd.AcdService` functions); these routes are the
supervisor's. Every change goes through the service, so it is logged in the
state log, mirrored into the fallback queue and announced on the bus.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import update

from callcenter.core.acd import AcdError, Strategy
from callcenter.core.roles import Role
from callcenter.db.models import AgentGroup
from callcenter.registry import SESSIONMAKER
from callcenter.services.acd import AcdService
from callcenter.services.plugin import ACD_SERVICE
from callcenter.web.access import allow
from callcenter.web.openapi import describe

routes = web.RouteTableDef()

STAFF = (Role.SUPERVISOR, Role.ADMIN)
TAGS = ["acd"]
NOT_RUNNING = {503: "the ACD service is not running in this process"}


class AgentOut(BaseModel):
    agent_id: int
    name: str
    state: str  # logged_out, available, ringing, on_call, wrapup, paused
    reason: str
    since: str | None
    interface: str
    calls_today: int
    missed_in_a_row: int
    phone_ok: bool


class AgentList(BaseModel):
    agents: list[AgentOut]


class PauseIn(BaseModel):
    reason: str  # a pause reason code (admin console)


class StrategyIn(BaseModel):
    strategy: str  # least_recent, fewest_calls, round_robin, ring_all


class StrategyOut(BaseModel):
    group: str
    strategy: str


class WaitingCallerOut(BaseModel):
    call_id: str
    group: str
    caller: str
    priority: int
    since: str
    waited_seconds: float
    position: int


class WaitingOut(BaseModel):
    waiting: list[WaitingCallerOut]
    groups: dict[str, dict[str, float]]


def _service(request: web.Request) -> AcdService:
    service = request.app.get(ACD_SERVICE)
    if service is None:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "the ACD is not running"}), content_type="application/json"
        )
    return service


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object")
    return body


def _agent_id(request: web.Request, service: AcdService) -> int:
    try:
        agent_id = int(request.match_info["agent_id"])
    except ValueError:
        raise _error(web.HTTPNotFound, "no such agent") from None
    if agent_id not in service.acd.agents:
        raise _error(web.HTTPNotFound, "no such agent")
    return agent_id


async def _agent_change(
    service: AcdService, agent_id: int, change: Awaitable[None]
) -> web.Response:
    """Run one state change; the ACD refusing it is a 409, success answers the new state."""
    try:
        await change
    except AcdError as exc:
        raise _error(web.HTTPConflict, str(exc)) from None
    return web.json_response(service.agent_snapshot(agent_id))


@routes.get("/api/acd/agents")
@allow(*STAFF)
@describe("Every agent's ACD state", tags=TAGS, response=AgentList, errors=NOT_RUNNING)
async def list_agents(request: web.Request) -> web.Response:
    service = _service(request)
    agents = [service.agent_snapshot(agent_id) for agent_id in sorted(service.acd.agents)]
    return web.json_response({"agents": agents})


@routes.post("/api/acd/agents/{agent_id}/pause")
@allow(*STAFF)
@describe(
    "Pause an agent (after their current call if they are on one)",
    tags=TAGS,
    request=PauseIn,
    response=AgentOut,
    errors={400: "no reason, or not JSON", 404: "no such agent", 409: "refused", **NOT_RUNNING},
)
async def pause_agent(request: web.Request) -> web.Response:
    service = _service(request)
    agent_id = _agent_id(request, service)
    body = await _json_body(request)
    reason = str(body.get("reason", "")).strip()
    if not reason:
        raise _error(web.HTTPBadRequest, "a pause needs a reason")
    return await _agent_change(service, agent_id, service.pause(agent_id, reason))


@routes.post("/api/acd/agents/{agent_id}/unpause")
@allow(*STAFF)
@describe(
    "Make an agent available again (ends a pause or wrap-up)",
    tags=TAGS,
    response=AgentOut,
    errors={404: "no such agent", 409: "the agent is logged out", **NOT_RUNNING},
)
async def unpause_agent(request: web.Request) -> web.Response:
    service = _service(request)
    agent_id = _agent_id(request, service)
    return await _agent_change(service, agent_id, service.set_available(agent_id))


@routes.post("/api/acd/agents/{agent_id}/logout")
@allow(*STAFF)
@describe(
    "Log an agent out of the ACD",
    tags=TAGS,
    response=AgentOut,
    errors={404: "no such agent", 409: "the agent is on a call", **NOT_RUNNING},
)
async def logout_agent(request: web.Request) -> web.Response:
    service = _service(request)
    agent_id = _agent_id(request, service)
    return await _agent_change(service, agent_id, service.logout(agent_id))


@routes.put("/api/acd/groups/{code}/strategy")
@allow(*STAFF)
@describe(
    "Change a group's routing strategy (stored, and used for the next call)",
    tags=TAGS,
    request=StrategyIn,
    response=StrategyOut,
    errors={400: "unknown strategy", 404: "no such group", **NOT_RUNNING},
)
async def set_strategy(request: web.Request) -> web.Response:
    service = _service(request)
    code = request.match_info["code"]
    if code not in service.acd.groups:
        raise _error(web.HTTPNotFound, "no such group")
    body = await _json_body(request)
    try:
        strategy = Strategy(str(body.get("strategy", "")))
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise _error(web.HTTPBadRequest, f"strategy must be one of: {choices}") from None
    async with request.app[SESSIONMAKER]() as session, session.begin():
        await session.execute(
            update(AgentGroup).where(AgentGroup.code == code).values(strategy=strategy.value)
        )
    await service.set_strategy(code, strategy)
    return web.json_response({"group": code, "strategy": strategy.value})


@routes.get("/api/acd/waiting")
@allow(*STAFF)
@describe(
    "Callers waiting now, best rank first, and per-group counters",
    tags=TAGS,
    response=WaitingOut,
    query={"group": "Only this group's callers (code)"},
    errors=NOT_RUNNING,
)
async def waiting(request: web.Request) -> web.Response:
    service = _service(request)
    group = request.query.get("group") or None
    return web.json_response(
        {
            "waiting": list(service.waiting_snapshot(group)),
            "groups": service.acd.queue_counters(),
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
