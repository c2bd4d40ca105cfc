"""The screen-pop: one message that tells an agent who is calling, built from plain data.

The pop must reach the agent while the phone rings and already carry the
caller's history, so it is a single self-contained message: the offer (number,
caller ID name, hotline), the customer if known, earlier calls, open and recent
tickets, survey answers. Everything that came from the caller (caller ID name in
particular) is untrusted text; it travels as JSON data and the page renders it
with ``textContent`` only. This module is pure: the database adapter fills the
dataclasses, the websocket hub sends the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter import localtime
from callcenter.core.phones import format_national
from callcenter.core.roles import Role

#: Roles that may open a call recording from the pop. Recordings hold customers'
#: private data; agents see that a recording exists but not the link.
LISTEN_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})

#: A customer who bought this many vehicles or more is a fleet buyer.
FLEET_MIN_VEHICLES = 2

MAX_CALLER_NAME = 120


@dataclass(frozen=True, slots=True)
class CallOffer:
    """A call being offered to one agent's phone (ringing, not yet answered)."""

    linkedid: str
    agent_id: int
    caller_number: str | None  # E.164, or None when the caller withheld it
    caller_name: str = ""
    dialed_number: str = ""
    offered_at: datetime | None = None
    ring_timeout_seconds: int | None = None
    group: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.caller_number


@dataclass(frozen=True, slots=True)
class PhoneView:
    number: str
    is_primary: bool = False
    label: str = ""


@dataclass(frozen=True, slots=True)
class VehicleView:
    vin: str
    model: str = ""
    plate: str = ""
    purchase_date: date | None = None
    warranty_end: date | None = None
    dealer: str = ""


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    name: str
    phones: tuple[PhoneView, ...] = ()
    vehicles: tuple[VehicleView, ...] = ()
    email: str = ""
    province: str = ""
    district: str = ""
    address: str = ""
    customer_type: str = "individual"
    tags: tuple[str, ...] = ()
    notes: str = ""
    do_not_call: bool = False


@dataclass(frozen=True, slots=True)
class EarlierCall:
    id: int
    started_at: datetime
    direction: str = "inbound"
    agent_name: str = ""
    category_name: str = ""
    talk_seconds: float = 0.0
    disposition: str = ""
    has_recording: bool = False
    transcript: str | None = None


@dataclass(frozen=True, slots=True)
class TicketView:
    id: int
    subject: str
    status: str
    department_name: str = ""
    category_name: str = ""
    priority: str = "normal"
    created_at: datetime | None = None
    closed_at: datetime | None = None
    code: str = ""  # TK-2026-000123: what people see and what the ticket page's URL holds
    #: for routing only (never shown): the ticket's agent (assignee, else who opened it) and
    #: its last change — the newest open ticket's agent takes the caller's next call
    agent_id: int | None = None
    updated_at: datetime | None = None


def ticket_url(code: str) -> str:
    """The ticket page of a ticket (by its readable code, never the row id)."""
    return f"/tickets/{code}" if code else ""


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    at: datetime
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class CallerHistory:
    customer: CustomerView | None
    calls: tuple[EarlierCall, ...] = ()
    open_tickets: tuple[TicketView, ...] = ()
    recent_tickets: tuple[TicketView, ...] = ()
    surveys: tuple[SurveyAnswer, ...] = field(default_factory=tuple)


EMPTY_HISTORY = CallerHistory(customer=None)


def customer_kind(customer: CustomerView) -> str:
    """ "fleet" for a buyer of two or more vehicles (or marked so), else "individual"."""
    if customer.customer_type == "fleet" or len(customer.vehicles) >= FLEET_MIN_VEHICLES:
        return "fleet"
    return "individual"


def recording_url(call_id: int) -> str:
    return f"/recordings/{call_id}"


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def _day(value: date | datetime | None, zone: ZoneInfo) -> str:
    return "" if value is None else localtime.format_date(value, zone)


def _moment(value: datetime | None, zone: ZoneInfo) -> str:
    return "" if value is None else localtime.format_datetime(value, zone)


def clean_caller_name(raw: str) -> str:
    """Caller ID names are attacker-controlled: keep them as text, drop control characters.

    Nothing is HTML-escaped here on purpose: the page renders with textContent,
    and escaping twice would show ``&lt;`` to the agent.
    """
    text = "".join(ch for ch in raw if ch.isprintable())
    return text[:MAX_CALLER_NAME]


def _customer(customer: CustomerView, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "phones": [
            {
                "number": p.number,
                "display": format_national(p.number),
                "primary": p.is_primary,
                "label": p.label,
            }
            for p in customer.phones
        ],
        "email": customer.email,
        "province": customer.province,
        "district": customer.district,
        "address": customer.address,
        "kind": customer_kind(customer),
        "tags": list(customer.tags),
        "vip": any(str(tag).casefold() == "vip" for tag in customer.tags),
        "notes": customer.notes,
        "do_not_call": customer.do_not_call,
        "vehicles": [
            {
                "vin": v.vin,
                "model": v.model,
                "plate": v.plate,
                "purchase_date": _iso(v.purchase_date),
                "purchase_date_text": _day(v.purchase_date, zone),
                "warranty_end_text": _day(v.warranty_end, zone),
                "dealer": v.dealer,
            }
            for v in customer.vehicles
        ],
    }


def _ticket(ticket: TicketView, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "code": ticket.code,
        "url": ticket_url(ticket.code),
        "subject": ticket.subject,
        "status": ticket.status,
        "department": ticket.department_name,
        "category": ticket.category_name,
        "priority": ticket.priority,
        "created_at": _iso(ticket.created_at),
        "created_text": _moment(ticket.created_at, zone),
    }


def _call(call: EarlierCall, *, can_listen: bool, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": call.id,
        "at": _iso(call.started_at),
        "at_text": _moment(call.started_at, zone),
        "direction": call.direction,
        "agent": call.agent_name,
        "category": call.category_name,
        "duration_seconds": round(call.talk_seconds),
        "disposition": call.disposition,
        "has_recording": call.has_recording,
        "recording_url": recording_url(call.id) if (call.has_recording and can_listen) else None,
        "transcript": call.transcript,
    }


def _history(history: CallerHistory, *, can_listen: bool, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "calls": [_call(c, can_listen=can_listen, zone=zone) for c in history.calls],
        "open_tickets": [_ticket(t, zone) for t in history.open_tickets],
        "recent_tickets": [_ticket(t, zone) for t in history.recent_tickets],
        "surveys": [
            {"at": _iso(s.at), "question": s.question, "answer": s.answer} for s in history.surveys
        ],
    }


def build_pop_history(
    history: CallerHistory, *, viewer_role: Role, zone: ZoneInfo = localtime.DEFAULT_ZONE
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(customer, history) shaped as in the pop, for the task list's caller history."""
    customer = history.customer
    return (
        None if customer is None else _customer(customer, zone),
        _history(history, can_listen=viewer_role in LISTEN_ROLES, zone=zone),
    )


def build_pop(
    offer: CallOffer,
    history: CallerHistory,
    *,
    viewer_role: Role,
    zone: ZoneInfo = localtime.DEFAULT_ZONE,
) -> dict[str, Any]:
    """The whole screen-pop as one JSON-ready dict (type ``pop``)."""
    can_listen = viewer_role in LISTEN_ROLES
    if offer.anonymous:
        history = EMPTY_HISTORY  # a withheld number never matches a customer
    customer = history.customer
    return {
        "type": "pop",
        "call": {
            "linkedid": offer.linkedid,
            "caller_number": offer.caller_number or "",
            "caller_display": format_national(offer.caller_number) if offer.caller_number else "",
            "anonymous": offer.anonymous,
            "caller_name": clean_caller_name(offer.caller_name),
            "hotline": offer.dialed_number,
            "group": offer.group,
            "offered_at": _iso(offer.offered_at),
            "ring_timeout_seconds": offer.ring_timeout_seconds,
        },
        "customer": None if customer is None else _customer(customer, zone),
        "history": _history(history, can_listen=can_listen, zone=zone),
        "quick_create": (
            {"phone": offer.caller_number}
            if customer is None and not offer.anonymous and offer.caller_number
            else None
        ),
    }
