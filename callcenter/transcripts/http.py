"""The calls list (filters, transcript search), the call page (player, transcript beside
it, speakers, the suggested category, the transcription's state) and a person's choice
of category.

Which calls a user sees is ``auth.scope.call_filter`` (supervisors and admins: all;
agents: their own; department staff: their tickets' calls). The audio itself is served
by ``/recordings/{call_id}``, which checks again and audits every listen.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth.scope import call_filter
from callcenter.core.roles import Role
from callcenter.core.text import fold
from callcenter.db.models import (
    Call,
    CallWrapUp,
    Category,
    Customer,
    Transcript,
    User,
)
from callcenter.db.repos import transcripts as repo
from callcenter.i18n import N_
from callcenter.localtime import day_bounds, parse_date
from callcenter.registry import SESSIONMAKER, SETTINGS
from callcenter.transcripts import audio
from callcenter.web.access import CurrentUser, allow, current_user

routes = web.RouteTableDef()

VIEW_ROLES = (Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
CHOOSE_ROLES = (Role.SUPERVISOR, Role.ADMIN)
PAGE_SIZE = 50

OUTCOME_LABELS = {
    "answered": N_("Answered"), "missed": N_("Missed"), "abandoned": N_("Abandoned"),
    "failed": N_("Failed"), "active": N_("In progress"),
}  # fmt: skip
JOB_LABELS = {
    "queued": N_("Waiting to be transcribed"),
    "running": N_("Being transcribed"),
    "done": N_("Transcribed"),
    "failed": N_("Transcription failed"),
}
SPEAKER_LABELS = {"agent": N_("Agent"), "customer": N_("Customer"), "": N_("Speaker")}
DIRECTION_LABELS = {"inbound": N_("Inbound"), "outbound": N_("Outbound")}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def call_conditions(session: AsyncSession, query: Any, zone: Any) -> tuple[list[Any], list[str]]:
    """The WHERE clauses for the list's filters, and the problems with what was typed."""
    conditions: list[Any] = []
    problems: list[str] = []
    for key, bound in (("from", 0), ("to", 1)):
        text = query.get(key, "").strip()
        if not text:
            continue
        try:
            edge = day_bounds(parse_date(text), zone)[bound]
        except ValueError:
            problems.append(N_("Dates are written dd/mm/yyyy."))
            continue
        conditions.append(Call.started_at >= edge if bound == 0 else Call.started_at < edge)
    if (agent := _int(query.get("agent"))) is not None:
        conditions.append(Call.agent_id == agent)
    if (category := _int(query.get("category"))) is not None:
        conditions.append(
            Call.id.in_(select(CallWrapUp.call_id).where(CallWrapUp.category_id == category))
        )
    if outcome := query.get("outcome", "").strip():
        conditions.append(Call.disposition == outcome)
    if customer := query.get("customer", "").strip():
        digits = "".join(ch for ch in customer if ch.isdigit())
        by_name = Call.customer_id.in_(
            select(Customer.id).where(Customer.name_search.contains(fold(customer)))
        )
        conditions.append(or_(by_name, Call.caller_number.contains(digits[-9:])) if digits
                          else by_name)  # fmt: skip
    for key, compare in (("min_seconds", ">="), ("max_seconds", "<=")):
        value = _int(query.get(key))
        if value is not None:
            conditions.append(
                Call.talk_seconds >= value if compare == ">=" else Call.talk_seconds <= value
            )
    if text := query.get("q", "").strip():
        found = repo.search_condition(session, text)
        if found is not None:
            conditions.append(Call.linkedid.in_(select(Transcript.linkedid).where(found)))
    return conditions, problems


@routes.get("/calls", name="calls")
@allow(*VIEW_ROLES)
async def calls_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    query = request.query
    page = max(1, _int(query.get("page")) or 1)
    zone = request.app[SETTINGS].tz
    async with request.app[SESSIONMAKER]() as session:
        conditions, problems = call_conditions(session, query, zone)
        where = and_(call_filter(user), *conditions)
        total = await session.scalar(select(func.count()).select_from(Call).where(where)) or 0
        rows = (
            await session.execute(
                select(Call, User.full_name, User.username, Customer.name, CallWrapUp.category_id)
                .outerjoin(User, User.id == Call.agent_id)
                .outerjoin(Customer, Customer.id == Call.customer_id)
                .outerjoin(CallWrapUp, CallWrapUp.call_id == Call.id)
                .where(where)
                .order_by(Call.started_at.desc(), Call.id.desc())
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            )
        ).all()
        linkedids = [row[0].linkedid for row in rows]
        transcripts = await repo.by_linkedids(session, linkedids)
        jobs = await repo.jobs_by_linkedids(session, linkedids)
        categories = dict((await session.execute(select(Category.id, Category.name))).all())
        agents = (
            await session.execute(
                select(User.id, User.full_name, User.username)
                .where(User.role.in_(["agent", "supervisor"]))
                .order_by(User.full_name)
            )
        ).all()
    calls = [
        {
            "call": call,
            "agent": full or username or "",
            "customer": customer or "",
            "category": categories.get(category_id) if category_id else "",
            "transcript": transcripts.get(call.linkedid),
            "job": jobs.get(call.linkedid),
        }
        for call, full, username, customer, category_id in rows
    ]
    filters = {k: v for k, v in query.items() if k != "page" and v}
    context = {
        "calls": calls,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "query": query,
        "query_string": urlencode(filters),
        "problems": problems,
        "categories": sorted(categories.items(), key=lambda item: item[1]),
        "agents": [] if user.role == Role.AGENT else agents,
        "outcomes": OUTCOME_LABELS,
        "job_labels": JOB_LABELS,
    }
    return aiohttp_jinja2.render_template("transcripts/calls.html", request, context)


async def _visible_call(request: web.Request, user: CurrentUser) -> Call:
    call_id = int(request.match_info["call_id"])
    async with request.app[SESSIONMAKER]() as session:
        call = await session.scalar(select(Call).where(Call.id == call_id, call_filter(user)))
    if call is None:
        raise web.HTTPNotFound(text="no such call, or not yours to see")
    return call


def may_listen(user: CurrentUser, call: Call) -> bool:
    """Supervisors and admins; the agent who took the call; department staff for their
    tickets' calls (the page only shows those to them)."""
    if user.role in (Role.SUPERVISOR, Role.ADMIN, Role.DEPARTMENT):
        return True
    return user.role == Role.AGENT and call.agent_id == user.id


@routes.get(r"/calls/{call_id:\d+}", name="call")
@allow(*VIEW_ROLES)
async def call_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    call = await _visible_call(request, user)
    async with request.app[SESSIONMAKER]() as session:
        transcript = (await repo.by_linkedids(session, [call.linkedid])).get(call.linkedid)
        job = (await repo.jobs_by_linkedids(session, [call.linkedid])).get(call.linkedid)
        wrapup = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
        agent = await session.get(User, call.agent_id) if call.agent_id else None
        customer = await session.get(Customer, call.customer_id) if call.customer_id else None
        categories = (
            await session.execute(
                select(Category.id, Category.name).where(Category.active).order_by(Category.name)
            )
        ).all()
    names = dict(categories)
    audio_state = await asyncio.to_thread(_audio_state, request, call, transcript)
    context = {
        "call": call,
        "transcript": transcript,
        "turns": _turns(transcript.words if transcript else []),
        "job": job,
        "agent": agent,
        "customer": customer,
        "category": names.get(wrapup.category_id) if wrapup and wrapup.category_id else "",
        "wrapup": wrapup,
        "suggested": names.get(transcript.suggested_category_id or 0, "") if transcript else "",
        "categories": categories,
        "can_listen": may_listen(user, call),
        "can_choose": user.role in CHOOSE_ROLES,
        "audio_state": audio_state,
        "outcomes": OUTCOME_LABELS,
        "job_labels": JOB_LABELS,
        "speakers": SPEAKER_LABELS,
        "directions": DIRECTION_LABELS,
        "duration": timedelta(seconds=round(call.talk_seconds)),
    }
    return aiohttp_jinja2.render_template("transcripts/call.html", request, context)


def _audio_state(request: web.Request, call: Call, transcript: Transcript | None) -> str:
    """ "ok", "none" (the call was not recorded), "missing" or "empty" (reported, not hidden)."""
    name = transcript.audio_file if transcript and transcript.audio_file else call.recording_path
    if not name:
        return "none"
    try:
        path = audio.inside(request.app[SETTINGS].recordings_dir, name)
    except Exception:
        return "missing"
    if not path.is_file():
        return "missing"
    return "empty" if path.stat().st_size == 0 else "ok"


def _turns(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive words of one speaker, as the page shows them (one paragraph a turn)."""
    turns: list[dict[str, Any]] = []
    for index, word in enumerate(words):
        if not turns or turns[-1]["speaker"] != word.get("sp", ""):
            turns.append({"speaker": word.get("sp", ""), "start": word["s"], "words": []})
        turns[-1]["words"].append({**word, "i": index})
    return turns


@routes.post(r"/calls/{call_id:\d+}/category", name="call_category")
@allow(*CHOOSE_ROLES)
async def choose_category(request: web.Request) -> web.StreamResponse:
    """A person's choice of category; it wins over the suggestion, which is marked
    accepted or not so the suggestions' accuracy can be reported."""
    user = current_user(request)
    assert user is not None
    call = await _visible_call(request, user)
    form = await request.post()
    category_id = _int(str(form.get("category_id", "")))
    async with request.app[SESSIONMAKER]() as session, session.begin():
        category = await session.get(Category, category_id) if category_id else None
        if category is None:
            raise web.HTTPBadRequest(text="choose a category")
        wrapup = await session.scalar(select(CallWrapUp).where(CallWrapUp.call_id == call.id))
        if wrapup is None:
            wrapup = CallWrapUp(
                call_id=call.id, agent_id=call.agent_id, outcome="info_only",
                saved_at=call.ended_at or call.started_at,
            )  # fmt: skip
            session.add(wrapup)
        wrapup.category_id = category.id
        await repo.record_choice(session, call.linkedid, category.id)
    raise web.HTTPSeeOther(f"/calls/{call.id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
