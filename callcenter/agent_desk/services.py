"""The agent desk's one path to the telephone system and the ACD: the call-control port
(``registry.CALL_CONTROL``) with its refusals turned into clear 502/503 answers, what to
dial for a typed number, the agent's phone and the hotline shown on click-to-call.

The page's call controls and the tickets room's click-to-call both go through here, so
there is one way to act on a call — including the do-not-call check: a number of a
customer marked do-not-call is dialled only with a reason, which is audited.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter.core.call_control import CallControl, CallControlError, CallControlUnavailable
from callcenter.core.phones import Phone, normalize_phone
from callcenter.db.models import Customer, CustomerPhone, Hotline, User
from callcenter.db.repos import audit as audit_repo
from callcenter.i18n import N_, translations
from callcenter.registry import CALL_CONTROL
from callcenter.services.acd import AcdService
from callcenter.services.plugin import ACD_SERVICE

TRANSFER_CONTEXT = "agents"
OUTBOUND_CONTEXT = "cc-outbound"


async def ami_action(action: Awaitable[Any]) -> Any:
    """Carry out one call control; Asterisk's refusal becomes a clear 502 for the page."""
    try:
        return await action
    except CallControlUnavailable:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "the telephone system is not connected"}),
            content_type="application/json",
        ) from None
    except CallControlError as exc:
        raise web.HTTPBadGateway(
            text=json.dumps({"error": f"the telephone system refused: {exc}"}),
            content_type="application/json",
        ) from None


def call_control(app: web.Application) -> CallControl:
    """The call-control port (the services' ``CALL_CONTROL``), or 503 when it is down or
    absent: the page reaches the telephone system only through it."""
    control = app.get(CALL_CONTROL)
    if control is None or not control.connected:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "the telephone system is not connected"}),
            content_type="application/json",
        )
    return control


def acd_service(app: web.Application) -> AcdService:
    service = app.get(ACD_SERVICE)
    if service is None:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "agent states are not available (no ACD service)"}),
            content_type="application/json",
        )
    return service


def is_extension(exten: str) -> bool:
    """An agent's or a department's number (``102``, ``6001``), not an outside number."""
    return exten.isdigit() and len(exten) <= 6


def dial_string(raw: str) -> str:
    """What to dial for a typed number: an extension as is, a phone in national form."""
    text = raw.strip()
    if is_extension(text):
        return text  # an agent's or a department's extension
    result = normalize_phone(text)
    if not isinstance(result, Phone):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "target: not a valid number or extension"}),
            content_type="application/json",
        )
    if result.e164.startswith("+84"):
        return "0" + result.e164[3:]
    return "00" + result.e164[1:]


async def agent_interface(session: Any, user_id: int, app: web.Application) -> str:
    """The phone the agent logged in at (hot-desking), else their configured one."""
    service = app.get(ACD_SERVICE)
    status = service.agent_status(user_id) if service is not None else None
    if status is not None and status.phone:
        return status.phone
    user = await session.get(User, user_id)
    return "" if user is None else user.interface


async def hotline_number(session: Any) -> str:
    """The number customers see on click-to-call: the first active hotline."""
    number: str | None = await session.scalar(
        select(Hotline.number).where(Hotline.active.is_(True)).order_by(Hotline.id).limit(1)
    )
    return number or ""


DO_NOT_CALL_WARNING = N_(
    "%(name)s asked not to be called (%(reason)s). Give a reason to call anyway."
)


async def do_not_call_gate(
    session: Any,
    number: str,
    *,
    override_reason: str,
    user: Any,
    language: str,
    at: Any,
) -> web.Response | None:
    """None when ``number`` may be dialled; else a 409 naming the do-not-call customer.

    With ``override_reason`` the call goes ahead and the override is audited (flushed; the
    caller commits)."""
    parsed = normalize_phone(number)
    if not isinstance(parsed, Phone):
        return None
    row = (
        await session.execute(
            select(Customer.id, Customer.name, Customer.do_not_call_reason)
            .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
            .where(CustomerPhone.number == parsed.e164, Customer.do_not_call.is_(True))
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    customer_id, name, reason = row
    if override_reason.strip():
        await audit_repo.record(
            session,
            action="call.do_not_call_override",
            user=user,
            target=f"customer:{customer_id}",
            details={"number": parsed.e164, "reason": override_reason.strip()[:300]},
            at=at,
        )
        return None
    message = translations(language).gettext(DO_NOT_CALL_WARNING) % {
        "name": name,
        "reason": reason or "—",
    }
    return web.json_response(
        {
            "error": message,
            "do_not_call": {"customer_id": customer_id, "name": name, "reason": reason},
        },
        status=409,
    )


__all__ = [
    "DO_NOT_CALL_WARNING",
    "OUTBOUND_CONTEXT",
    "TRANSFER_CONTEXT",
    "acd_service",
    "agent_interface",
    "ami_action",
    "call_control",
    "dial_string",
    "do_not_call_gate",
    "hotline_number",
    "is_extension",
]
