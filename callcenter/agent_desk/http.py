"""The agent page (``/agent``) and the JSON actions it uses (under ``/api/agent/``).

One page per agent, open all day: a state bar, live counters, the screen-pop
pushed over the websocket (``ws.py``) while the phone rings, call controls carried
out through the call-control port (``services.py``), and the after-call form that
turns every call into a ticket. Bodies and answers are in ``schemas.py``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import exists, or_, select

from callcenter.agent_desk.desk import AGENT_DESK, LiveCall
from callcenter.agent_desk.schemas import (
    AgentStateOut,
    MuteBody,
    MuteOut,
    OkOut,
    OriginateBody,
    OriginateOut,
    ParkOut,
    QuickCustomerBody,
    QuickCustomerOut,
    StateBody,
    TransferBody,
    TransferOut,
    WrapUpBody,
    WrapUpOut,
    json_body,
)
from callcenter.agent_desk.services import (
    OUTBOUND_CONTEXT,
    TRANSFER_CONTEXT,
    acd_service,
    agent_interface,
    ami_action,
    call_control,
    dial_string,
    hotline_number,
    is_extension,
)
from callcenter.core.acd import MISSED_CALLS_REASON, AcdError, AgentState
from callcenter.core.customers import CustomerData, RuleError
from callcenter.core.phones import Phone, normalize_phone
from callcenter.core.roles import Role
from callcenter.core.tickets import (
    STATUS_LABELS,
    Priority,
    TicketWorkflowError,
    WrapUpForm,
    plan_wrap_up,
)
from callcenter.db.models import Call, CallAttempt, PauseReason, User
from callcenter.db.repos import customers as customer_repo
from callcenter.db.repos import tickets as ticket_repo
from callcenter.i18n import N_, translations
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS, TICKET_SAVED
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import request_language
from callcenter.web.openapi import describe

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

PAGE_ROLES = (Role.AGENT, Role.SUPERVISOR)

MISSED_CALLS_LABEL = N_("Paused after missed calls")

PRIORITY_LABELS = {
    Priority.LOW: N_("Low"),
    Priority.NORMAL: N_("Normal"),
    Priority.HIGH: N_("High"),
    Priority.URGENT: N_("Urgent"),
}

#: Labels the page's JavaScript shows, translated on the server (no dictionary in JS).
JS_LABELS = {
    "anonymous": N_("Withheld number"),
    "unknown_caller": N_("Unknown caller"),
    "looking_up_caller": N_("Looking up the caller's records…"),
    "offline": N_("Offline: reconnecting…"),
    "online": N_("Connected"),
    "ringing": N_("Ringing"),
    "talking": N_("On call"),
    "wrapup": N_("Wrap-up"),
    "available": N_("Available"),
    "paused": N_("Paused"),
    # Not "Logged out": that is the session's "Log out" (Đăng xuất) in Vietnamese too.
    "logged_out": N_("Not taking calls"),
    "on_call": N_("On call"),
    "fleet": N_("Fleet (2+ vehicles)"),
    "individual": N_("Individual"),
    "no_calls": N_("No earlier calls"),
    "no_tickets": N_("No tickets"),
    "recording": N_("Recording"),
    "listen": N_("Listen"),
    "saved": N_("Saved"),
    "wrapup_saved": N_("Wrap-up saved: ticket"),
    "wrapup_saved_info": N_("Wrap-up saved (information only, closed)"),
    "save_failed": N_("Could not save"),
    "timed_out": N_("Wrap-up time ran out: saved as uncategorized"),
    "timed_out_notice": N_(
        "Wrap-up time ran out: the call was saved as an uncategorized ticket with the notes"
        " typed so far; a supervisor will categorize it."
    ),
    "dismiss": N_("Dismiss"),
    "calling": N_("Calling: your phone rings first"),
    "tasks_none": N_("No callbacks waiting"),
    "task_call_back": N_("Call back"),
    "task_open": N_("Details"),
    "task_taken": N_("A colleague has already taken this callback"),
    "task_saved": N_("Outcome saved"),
    "task_mine": N_("Taken by me"),
    "task_release": N_("Give back"),
    "task_notes": N_("Notes"),
    "choose_outcome": N_("Choose an outcome: reached, not reached or wrong number"),
    "offer_ended": N_("The call stopped ringing"),
    "call": N_("Call"),
    "seconds": N_("s"),
    "vehicles": N_("Vehicles"),
    "open_tickets": N_("Open tickets"),
    "recent_tickets": N_("Recent tickets"),
    "earlier_calls": N_("Earlier calls"),
    "surveys": N_("Survey answers"),
    "no_surveys": N_("No survey answers"),
    "transcript": N_("Transcript"),
    "customer_created": N_("Customer created"),
    "action_failed": N_("Action failed"),
    "done": N_("Done"),
    "muted": N_("Recording muted"),
    "unmuted": N_("Recording on"),
    "parked_now": N_("The caller is parked (on hold)"),
    "session_ended": N_("Your session ended: log in again"),
    **{f"status_{status}": label for status, label in STATUS_LABELS.items()},
}


TAGS = ["agent"]
BAD_BODY = {400: "the body is not JSON, or a field is missing or invalid"}
NOT_YOUR_CALL = {404: "that call is not yours or has ended"}
TELEPHONY = {
    502: "the telephone system (Asterisk) refused the action",
    503: "the telephone system is not connected",
}


# ---------------------------------------------------------------------- helpers
def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware let only logged-in users through
    return user


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def labels_for(language: str) -> dict[str, str]:
    catalog = translations(language)
    return {key: catalog.gettext(text) for key, text in JS_LABELS.items()}


# ---------------------------------------------------------------------- page
@routes.get("/agent", name="agent_page")
@allow(*PAGE_ROLES)
async def agent_page(request: web.Request) -> web.StreamResponse:
    user = _user(request)
    async with request.app[SESSIONMAKER]() as session:
        categories = await ticket_repo.category_choices(session)
        departments = await ticket_repo.department_choices(session)
        reasons = list(
            await session.scalars(
                select(PauseReason).where(PauseReason.active.is_(True)).order_by(PauseReason.id)
            )
        )
        interface = await agent_interface(session, user.id, request.app)
        hotline = await hotline_number(session)
    language = request_language(request)
    config = {
        "labels": labels_for(language),
        "user_id": user.id,
        "language": language,
        "zone": request.app[SETTINGS].tz.key,  # the centre's time zone (retry times)
        "categories": [
            {
                "id": c.id,
                "name": c.name_en if language == "en" and c.name_en else c.name,
                "department_id": c.department_id,
            }
            for c in categories
        ],
        "departments": [
            {
                "id": d.id,
                "name": d.name_en if language == "en" and d.name_en else d.name,
                "phone": d.phone,
            }
            for d in departments
        ],
        "priorities": [str(p) for p in Priority],
        "pause_reasons": {
            **{r.code: r.name_en if language == "en" and r.name_en else r.name for r in reasons},
            MISSED_CALLS_REASON: translations(language).gettext(MISSED_CALLS_LABEL),
        },
    }
    context = {
        "user": user,
        "categories": config["categories"],
        "departments": config["departments"],
        "priorities": [
            {"value": str(p), "label": translations(language).gettext(PRIORITY_LABELS[p])}
            for p in Priority
        ],
        "page_config": config,
        "pause_reasons": [
            {"code": r.code, "name": r.name_en if language == "en" and r.name_en else r.name}
            for r in reasons
        ],
        "user_interface": interface,
        "hotline_number": hotline,
    }
    return aiohttp_jinja2.render_template("agent.html", request, context)


# ---------------------------------------------------------------------- after-call work


async def _call_of_agent(session: Any, linkedid: str, user: CurrentUser) -> Call | None:
    """The call record if this agent took part in it (answered or was offered it)."""
    offered = exists().where(CallAttempt.call_id == Call.id, CallAttempt.agent_id == user.id)
    found: Call | None = await session.scalar(
        select(Call).where(Call.linkedid == linkedid, or_(Call.agent_id == user.id, offered))
    )
    return found


@routes.post("/api/agent/calls/{linkedid}/wrapup", name="agent_wrapup")
@allow(*PAGE_ROLES)
@describe(
    "Save the after-call form of a call: open, update or close a ticket for it",
    tags=TAGS,
    request=WrapUpBody,
    response=WrapUpOut,
    errors={
        400: "the body is invalid, or the form breaks a ticket rule (e.g. no category)",
        404: "no such call of yours",
        409: "this call is already wrapped up",
    },
)
async def save_wrapup(request: web.Request) -> web.Response:
    user = _user(request)
    linkedid = request.match_info["linkedid"]
    body: WrapUpBody = await json_body(request, WrapUpBody)
    desk = request.app[AGENT_DESK]
    now = request.app[CLOCK].now()
    async with request.app[SESSIONMAKER]() as session:
        call = await _call_of_agent(session, linkedid, user)
        if call is None:
            return _error(404, "no such call of yours")
        customer_id = call.customer_id
        live = desk.agents.get(user.id)
        if (
            customer_id is None
            and live is not None
            and live.call is not None
            and live.call.linkedid == linkedid
        ):
            customer_id = live.call.customer_id
        try:
            plan = plan_wrap_up(
                WrapUpForm(
                    outcome=body.outcome,
                    category_id=body.category_id,
                    department_id=body.department_id,
                    priority=body.priority,
                    notes=body.notes,
                    open_ticket_id=body.open_ticket_id,
                ),
                category=await ticket_repo.category_info(session, body.category_id),
                open_ticket=await ticket_repo.open_ticket_info(session, body.open_ticket_id),
                customer_id=customer_id,
                now=now,
            )
            ticket = await ticket_repo.apply_plan(
                session, plan, call_id=call.id, customer_id=customer_id, user_id=user.id, now=now
            )
            if call.customer_id is None and customer_id is not None:
                call.customer_id = customer_id  # the caller the pop identified
        except TicketWorkflowError as exc:
            return _error(400, str(exc))
        except ticket_repo.AlreadyWrappedUp:
            return _error(409, "this call is already wrapped up")
        await session.commit()
        ticket_id, code = ticket.id, ticket.code
    desk.wrapup_saved(user.id, linkedid)
    ticket_saved = request.app.get(TICKET_SAVED)  # the tickets room: announce, live inbox
    if ticket_saved is not None and plan.create:
        await ticket_saved(ticket_id)
    return web.json_response({"ticket_id": ticket_id, "code": code, "outcome": str(plan.outcome)})


# ---------------------------------------------------------------------- quick create


@routes.post("/api/agent/customers", name="agent_quick_customer")
@allow(*PAGE_ROLES)
@describe(
    "Create a customer from the screen-pop (and attach them to the call given by linkedid)",
    tags=TAGS,
    request=QuickCustomerBody,
    response=QuickCustomerOut,
    errors={
        400: "the body is invalid, the phone is not a valid number, or a customer rule is broken",
        409: "a customer already has this number",
    },
)
async def quick_create_customer(request: web.Request) -> web.Response:
    user = _user(request)
    body: QuickCustomerBody = await json_body(request, QuickCustomerBody)
    phone = normalize_phone(body.phone)
    if not isinstance(phone, Phone):
        return _error(400, "phone: not a valid number")
    async with request.app[SESSIONMAKER]() as session:
        if await customer_repo.find_by_phone(session, phone.e164) is not None:
            return _error(409, "a customer already has this number")
        try:
            customer = await customer_repo.create_customer(
                session,
                CustomerData(
                    name=body.name.strip(), phones=[phone.e164], province=body.province.strip()
                ),
                at=request.app[CLOCK].now(),
                actor=user,
                via="agent_page",
            )
        except RuleError as exc:
            return _error(400, str(exc))
        if body.linkedid:
            call = await _call_of_agent(session, body.linkedid, user)
            if call is not None and call.customer_id is None:
                call.customer_id = customer.id
        await session.commit()
        customer_id = customer.id
    live = request.app[AGENT_DESK].agents.get(user.id)
    if live is not None and live.call is not None and live.call.linkedid == body.linkedid:
        live.call.customer_id = customer_id
    return web.json_response({"customer_id": customer_id, "name": body.name.strip()})


# ---------------------------------------------------------------------- agent state (ACD)


@routes.post("/api/agent/state", name="agent_state")
@allow(*PAGE_ROLES)
@describe(
    "Change my own ACD state: log in (at a phone), log out, become available, pause",
    tags=TAGS,
    request=StateBody,
    response=AgentStateOut,
    errors={
        **BAD_BODY,
        409: "not an agent of any group, or the ACD refused the change (e.g. unknown pause reason)",
        503: "agent states are not available (no ACD service)",
    },
)
async def change_state(request: web.Request) -> web.Response:
    user = _user(request)
    body: StateBody = await json_body(request, StateBody)
    service = acd_service(request.app)
    status = service.agent_status(user.id)
    if status is None:
        return _error(409, "you are not an agent of any group yet: ask an administrator")
    try:
        if body.action == "login":
            await service.login(user.id, body.interface.strip() or None)
        elif body.action == "logout":
            await service.logout(user.id)
        elif body.action == "available":
            if status.state == AgentState.LOGGED_OUT:
                await service.login(user.id, body.interface.strip() or None)
            await service.set_available(user.id)
        else:
            await service.pause(user.id, body.reason)
    except AcdError as exc:
        return _error(409, str(exc))
    return web.json_response(service.agent_snapshot(user.id))


# ---------------------------------------------------------------------- call controls
def _live_call_of(request: web.Request) -> LiveCall:
    user = _user(request)
    live = request.app[AGENT_DESK].agents.get(user.id)
    linkedid = request.match_info["linkedid"]
    if live is None or live.call is None or live.call.linkedid != linkedid:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "that call is not yours or has ended"}),
            content_type="application/json",
        )
    return live.call


@routes.post("/api/agent/calls/{linkedid}/hangup", name="agent_hangup")
@allow(*PAGE_ROLES)
@describe(
    "Hang up my current call",
    tags=TAGS,
    response=OkOut,
    errors={**NOT_YOUR_CALL, 409: "the call has no channel yet", **TELEPHONY},
)
async def hangup(request: web.Request) -> web.Response:
    call = _live_call_of(request)
    channel = call.agent_channel or call.caller_channel
    if not channel:
        return _error(409, "the call has no channel yet")
    await ami_action(call_control(request.app).hangup(channel))
    return web.json_response({"ok": True})


@routes.post("/api/agent/calls/{linkedid}/transfer", name="agent_transfer")
@allow(*PAGE_ROLES)
@describe(
    "Transfer my answered call to an agent, a department or an outside number",
    tags=TAGS,
    request=TransferBody,
    response=TransferOut,
    errors={
        400: "the body is invalid, or the target is not a valid number or extension",
        **NOT_YOUR_CALL,
        409: "the call is not answered, or has no agent channel yet",
        **TELEPHONY,
    },
)
async def transfer(request: web.Request) -> web.Response:
    call = _live_call_of(request)
    body: TransferBody = await json_body(request, TransferBody)
    if call.phase != "talking":
        return _error(409, "transfer needs an answered call")
    exten = dial_string(body.target)
    control = call_control(request.app)
    if not call.agent_channel:
        return _error(409, "the call has no agent channel yet")
    if body.mode == "blind":
        # BlindTransfer on the transferer (the agent): the caller goes to the target at once.
        await ami_action(control.blind_transfer(call.agent_channel, TRANSFER_CONTEXT, exten))
    else:
        # Atxfer on the agent's leg (Dial's t option): the agent talks to the target first.
        await ami_action(control.attended_transfer(call.agent_channel, TRANSFER_CONTEXT, exten))
    return web.json_response({"ok": True, "exten": exten, "mode": body.mode})


@routes.post("/api/agent/calls/{linkedid}/park", name="agent_park")
@allow(*PAGE_ROLES)
@describe(
    "Park (hold) the caller of my answered call; the lot rings me again on timeout",
    tags=TAGS,
    response=ParkOut,
    errors={**NOT_YOUR_CALL, 409: "the call is not answered", **TELEPHONY},
)
async def park(request: web.Request) -> web.Response:
    call = _live_call_of(request)
    if call.phase != "talking":
        return _error(409, "park needs an answered call")
    # Park the caller; if nobody retrieves them the lot rings the agent's phone again.
    await ami_action(
        call_control(request.app).park(call.caller_channel, timeout_channel=call.agent_channel)
    )
    call.parked_at = "parked"
    return web.json_response({"ok": True, "parked_at": call.parked_at})


@routes.post("/api/agent/calls/{linkedid}/retrieve", name="agent_retrieve")
@allow(*PAGE_ROLES)
@describe(
    "Bring my parked caller back to my extension",
    tags=TAGS,
    response=OkOut,
    errors={
        **NOT_YOUR_CALL,
        409: "the call is not parked, or I have no extension",
        **TELEPHONY,
    },
)
async def retrieve(request: web.Request) -> web.Response:
    """Bring the parked caller back: Redirect their channel to the agent's extension."""
    user = _user(request)
    call = _live_call_of(request)
    if not call.parked_at:
        return _error(409, "the call is not parked")
    async with request.app[SESSIONMAKER]() as session:
        agent = await session.get(User, user.id)
        extension = "" if agent is None else agent.extension
    if not extension:
        return _error(409, "you have no extension to bring the call back to")
    await ami_action(
        call_control(request.app).redirect(call.caller_channel, TRANSFER_CONTEXT, extension)
    )
    call.parked_at = ""
    return web.json_response({"ok": True})


@routes.post("/api/agent/calls/{linkedid}/mute", name="agent_mute")
@allow(*PAGE_ROLES)
@describe(
    "Mute or unmute the recording of my answered call (e.g. while a card number is read)",
    tags=TAGS,
    request=MuteBody,
    response=MuteOut,
    errors={**BAD_BODY, **NOT_YOUR_CALL, 409: "nothing is being recorded", **TELEPHONY},
)
async def mute(request: web.Request) -> web.Response:
    call = _live_call_of(request)
    body: MuteBody = await json_body(request, MuteBody)
    if call.phase != "talking":
        return _error(409, "nothing is being recorded")
    await ami_action(call_control(request.app).mute_recording(call.caller_channel, body.mute))
    call.muted = body.mute
    return web.json_response({"ok": True, "muted": call.muted})


@routes.post("/api/agent/originate", name="agent_originate")
@allow(*PAGE_ROLES)
@describe(
    "Click-to-call: ring my phone, then the number, showing the hotline number",
    tags=TAGS,
    request=OriginateBody,
    response=OriginateOut,
    errors={
        400: "the body is invalid, or the number is not a valid number or extension",
        409: "I have no phone: log in to a phone first",
        **TELEPHONY,
    },
)
async def originate(request: web.Request) -> web.Response:
    """Click-to-call: ring the agent's phone first, then the customer, showing the hotline."""
    user = _user(request)
    body: OriginateBody = await json_body(request, OriginateBody)
    exten = dial_string(body.number)
    async with request.app[SESSIONMAKER]() as session:
        interface = await agent_interface(session, user.id, request.app)
        hotline = await hotline_number(session)
    if not interface:
        return _error(409, "you have no phone: log in to a phone first")
    # An extension is dialled where agents' phones dial it ([agents]: other agents,
    # departments); [cc-outbound] only knows outside numbers (it records and uses the trunk).
    context = TRANSFER_CONTEXT if is_extension(exten) else OUTBOUND_CONTEXT
    action_id = await ami_action(
        call_control(request.app).originate(
            interface, context=context, exten=exten, caller_id=hotline
        )
    )
    return web.json_response(
        {"ok": True, "exten": exten, "context": context, "caller_id": hotline, "id": action_id}
    )


__all__ = ["JS_LABELS", "PAGE_ROLES", "labels_for", "routes"]
