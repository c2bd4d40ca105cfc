"""The supervisor's pages and JSON: the wallboard (``/supervisor``), its snapshot as JSON,
and listening in on an agent's call (listen, whisper, barge), each use audited.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from callcenter.core.acd import MISSED_CALLS_REASON
from callcenter.core.call_control import CallControlError, CallControlUnavailable, ListenMode
from callcenter.core.roles import Role
from callcenter.db.models import PauseReason, User
from callcenter.i18n import N_, translations
from callcenter.registry import CALL_CONTROL, SESSIONMAKER
from callcenter.supervisor import services
from callcenter.supervisor.board import BOARD, STATE_ORDER
from callcenter.supervisor.bus_consume import FEED
from callcenter.supervisor.schemas import BoardOut, ListenIn, ListenOut
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import request_language
from callcenter.web.openapi import describe

routes = web.RouteTableDef()

STAFF = (Role.SUPERVISOR, Role.ADMIN)
TAGS = ["supervisor"]

#: Labels the wallboard's JavaScript shows, translated on the server.
JS_LABELS = {
    "logged_out": N_("Not taking calls"),
    "available": N_("Available"),
    "ringing": N_("Ringing"),
    "on_call": N_("On call"),
    "wrapup": N_("Wrap-up"),
    "paused": N_("Paused"),
    "offline": N_("Offline: reconnecting…"),
    "no_waiting": N_("Nobody is waiting"),
    "no_tickets": N_("No open tickets"),
    "no_department": N_("No department"),
    "priority": N_("Priority"),
    "withheld": N_("Withheld number"),
    "listen": N_("Listen"),
    "whisper": N_("Whisper"),
    "barge": N_("Barge in"),
    "listen_started": N_("Your phone is ringing: pick up to join the call"),
    "listen_failed": N_("Could not listen in"),
    "no_acd": N_("Agent states are not available (the ACD is not running)"),
}
MISSED_CALLS_LABEL = N_("Paused after missed calls")

ERRORS = {
    400: "the body is not JSON, or agent_id / mode is missing or invalid",
    404: "no such agent",
    409: "the agent is not on a call, or you have no phone to listen on",
    502: "the telephone system (Asterisk) refused the action",
    503: "the telephone system is not connected",
}


def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware let only logged-in users through
    return user


def _labels(language: str) -> dict[str, str]:
    catalog = translations(language)
    return {key: catalog.gettext(text) for key, text in JS_LABELS.items()}


@routes.get("/supervisor", name="supervisor_wallboard")
@allow(*STAFF)
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    language = request_language(request)
    async with request.app[SESSIONMAKER]() as session:
        reasons = list(await session.scalars(select(PauseReason).order_by(PauseReason.id)))
    config = {
        "labels": _labels(language),
        "language": language,
        "states": list(STATE_ORDER),
        "pause_reasons": {
            **{r.code: r.name_en if language == "en" and r.name_en else r.name for r in reasons},
            MISSED_CALLS_REASON: translations(language).gettext(MISSED_CALLS_LABEL),
        },
        "listen_modes": [str(mode) for mode in ListenMode],
    }
    return aiohttp_jinja2.render_template(
        "supervisor/wallboard.html", request, {"page_config": config}
    )


@routes.get("/api/supervisor/wallboard")
@allow(*STAFF)
@describe("The wallboard now: waiting callers, agents, today's KPIs, tickets, callbacks",
          tags=TAGS, response=BoardOut)  # fmt: skip
async def wallboard_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[BOARD].snapshot(), dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def _body(request: web.Request) -> ListenIn:
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise services.problem(web.HTTPBadRequest, "the body is not JSON") from None
    try:
        return ListenIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise services.problem(web.HTTPBadRequest, f"{where}: {first['msg']}") from None


@routes.post("/api/supervisor/listen")
@allow(*STAFF)
@describe(
    "Listen in on an agent's live call (listen, whisper to the agent, or barge in)",
    description="Rings the supervisor's own phone (where they are logged in, else the phone"
    " on their user record); when picked up it joins the agent's call (Asterisk ChanSpy)."
    " Every use is written to the audit log.",
    tags=TAGS,
    request=ListenIn,
    response=ListenOut,
    errors=ERRORS,
)
async def listen(request: web.Request) -> web.Response:
    user = _user(request)
    body = await _body(request)
    board = request.app[BOARD]
    async with request.app[SESSIONMAKER]() as session:
        agent = await session.get(User, body.agent_id)
        if agent is None:
            raise services.problem(web.HTTPNotFound, "no such agent")
        talk = board.talk_of(agent.id)
        if talk is None:
            raise services.problem(web.HTTPConflict, "the agent is not on a call")
        phones = board.acd.phones_in_use if board.acd is not None else None
        phone = await services.supervisor_phone(session, user.id, phones)
        if not phone:
            raise services.problem(
                web.HTTPConflict, "you have no phone: set one on your user record"
            )
        control = request.app.get(CALL_CONTROL)
        if control is None or not control.connected:
            raise services.problem(
                web.HTTPServiceUnavailable, "the telephone system is not connected"
            )
        spied = talk.agent_channel or f"{agent.interface}-"
        label = agent.extension or agent.username
        try:
            action_id = await control.listen_in(
                phone, spied, mode=body.mode, caller_id=f'"{body.mode} {label}" <{label}>'
            )
        except CallControlUnavailable:
            raise services.problem(
                web.HTTPServiceUnavailable, "the telephone system is not connected"
            ) from None
        except CallControlError as exc:
            raise services.problem(
                web.HTTPBadGateway, f"the telephone system refused: {exc}"
            ) from None
        await services.audit_listen(
            session,
            user=user,
            mode=body.mode,
            agent=agent,
            talk=talk,
            phone=phone,
            address=request.remote or "",
            action_id=action_id,
        )
        await session.commit()
    request.app[FEED].wake()
    return web.json_response(
        {"action_id": action_id, "mode": str(body.mode), "phone": phone, "linkedid": talk.linkedid}
    )


__all__ = ["JS_LABELS", "routes"]
