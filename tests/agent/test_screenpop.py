"""The screen-pop message built from plain data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from callcenter.core.roles import Role
from callcenter.core.screenpop import (
    CallerHistory,
    CallOffer,
    CustomerView,
    EarlierCall,
    PhoneView,
    TicketView,
    VehicleView,
    build_pop,
    clean_caller_name,
)

AT = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)  # 00:30 on the 23rd in Hà Nội

CUSTOMER = CustomerView(
    id=7,
    name="Nguyễn Văn An",
    phones=(PhoneView("+84912345678", True),),
    vehicles=(
        VehicleView("RLUS1234567890123", "Ollin 350", purchase_date=date(2024, 5, 2)),
        VehicleView("RLUS1234567890124", "Auman C160", dealer="Đại lý Long Biên"),
    ),
    province="Hà Nội",
    tags=("VIP",),
)
HISTORY = CallerHistory(
    customer=CUSTOMER,
    calls=(
        EarlierCall(
            11,
            AT,
            agent_name="Lan",
            category_name="Bảo hành",
            talk_seconds=62.4,
            has_recording=True,
            transcript="xin chào",
        ),
    ),
    open_tickets=(TicketView(3, "Bảo hành: kêu to", "unassigned", "Dịch vụ", "Bảo hành"),),
)


def offer(number: str | None = "+84912345678", name: str = "") -> CallOffer:
    return CallOffer(
        "1700.1",
        agent_id=4,
        caller_number=number,
        caller_name=name,
        dialed_number="19001234",
        offered_at=AT,
    )


def test_pop_carries_customer_vehicles_and_history_in_one_message() -> None:
    pop = build_pop(offer(), HISTORY, viewer_role=Role.AGENT)
    assert pop["type"] == "pop"
    assert pop["customer"]["name"] == "Nguyễn Văn An"
    assert pop["customer"]["kind"] == "fleet" and pop["customer"]["vip"] is True
    assert [v["model"] for v in pop["customer"]["vehicles"]] == ["Ollin 350", "Auman C160"]
    assert pop["customer"]["vehicles"][0]["purchase_date_text"] == "02/05/2024"
    assert pop["history"]["calls"][0]["at_text"].startswith("23/11/2026")
    assert pop["history"]["calls"][0]["duration_seconds"] == 62
    assert pop["history"]["calls"][0]["transcript"] == "xin chào"
    assert pop["history"]["open_tickets"][0]["department"] == "Dịch vụ"
    assert pop["history"]["surveys"] == []
    assert pop["quick_create"] is None
    assert pop["call"]["caller_display"] == "0912 345 678"
    assert pop["customer"]["phones"][0]["display"] == "0912 345 678"
    json.dumps(pop)  # serialisable as is


def test_recording_link_only_for_roles_allowed_to_listen() -> None:
    agent = build_pop(offer(), HISTORY, viewer_role=Role.AGENT)
    supervisor = build_pop(offer(), HISTORY, viewer_role=Role.SUPERVISOR)
    assert agent["history"]["calls"][0]["recording_url"] is None
    assert agent["history"]["calls"][0]["has_recording"] is True
    assert supervisor["history"]["calls"][0]["recording_url"] == "/recordings/11"


def test_unknown_caller_gets_a_quick_create_form() -> None:
    pop = build_pop(offer("+84987654321"), CallerHistory(customer=None), viewer_role=Role.AGENT)
    assert pop["customer"] is None and pop["quick_create"] == {"phone": "+84987654321"}


def test_anonymous_caller_never_shows_a_customer() -> None:
    pop = build_pop(offer(None), HISTORY, viewer_role=Role.AGENT)
    assert pop["call"]["anonymous"] is True and pop["customer"] is None
    assert pop["quick_create"] is None and pop["history"]["calls"] == []


def test_caller_name_stays_raw_text_but_loses_control_characters() -> None:
    name = "<img src=x onerror=alert(1)>"
    pop = build_pop(offer(name=name), HISTORY, viewer_role=Role.AGENT)
    assert pop["call"]["caller_name"] == name  # data, not markup: the page uses textContent
    assert clean_caller_name("a\x00b\nc\u202e") == "abc"
    assert len(clean_caller_name("x" * 500)) == 120
