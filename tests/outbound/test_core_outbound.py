"""The pure outbound rules: outcomes, ordering, care dates, templates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callcenter.core.outbound import (
    ItemStatus,
    Lead,
    OutboundRuleError,
    assign,
    fire_dates,
    ordered,
    plan_outcome,
    priority_of,
    render,
    unknown_placeholders,
)

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_outcomes() -> None:
    later = NOW + timedelta(hours=2)
    plan = plan_outcome("not_reached", attempts=0, max_attempts=3, now=NOW, retry_at=later)
    assert (plan.item_status, plan.attempts, plan.task_done, plan.retry_at) == (
        ItemStatus.OPEN, 1, False, later
    )  # fmt: skip
    last = plan_outcome("not_reached", attempts=2, max_attempts=3, now=NOW)  # no time needed
    assert (last.item_status, last.attempts, last.task_done) == (ItemStatus.UNREACHABLE, 3, True)
    buying = plan_outcome("reached", attempts=0, max_attempts=3, now=NOW, conversion="buying")
    assert buying.opportunity and buying.callback_at is None
    waiting = plan_outcome("reached", attempts=1, max_attempts=3, now=NOW, conversion="not_buying")
    assert waiting.callback_at == NOW + timedelta(hours=24) and not waiting.opportunity
    for outcome, kwargs, message in (
        ("maybe", {}, "Choose an outcome"),
        ("not_reached", {}, "choose when to try again"),
        ("not_reached", {"retry_at": NOW}, "must be in the future"),
        ("not_interested", {"reason": "  "}, "give the reason"),
        ("reached", {"conversion": "later"}, "Unknown conversion"),
    ):
        with pytest.raises(OutboundRuleError, match=message):
            plan_outcome(outcome, attempts=0, max_attempts=3, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_order_and_assignment() -> None:
    leads = [
        Lead(1, "Hải Phòng", priority_of(["lead"])),
        Lead(2, "Đà Nẵng", priority_of(["VIP"])),
        Lead(3, "An Giang", priority_of(["nóng"])),
        Lead(4, "Đà Nẵng", priority_of([])),
    ]
    assert [lead.customer_id for lead in ordered(leads, "priority")] == [2, 3, 1, 4]
    assert [lead.customer_id for lead in ordered(leads, "province")] == [3, 2, 4, 1]
    assert assign(5, [10, 20]) == [10, 20, 10, 20, 10]
    assert assign(2, []) == [None, None]


def test_care_dates() -> None:
    vehicles = [("VIN1", date(2026, 6, 1), date(2027, 1, 20)), ("VIN2", None, None)]
    window = {"since": date(2026, 12, 1), "until": date(2026, 12, 31)}
    assert fire_dates("purchase", 183, birthday=None, vehicles=vehicles, **window) == [
        ("VIN1", date(2026, 12, 1))
    ]
    assert fire_dates("warranty_end", -30, birthday=None, vehicles=vehicles, **window) == [
        ("VIN1", date(2026, 12, 21))
    ]
    # a leap-day birthday is kept on 28/02 in a common year; a window over New Year
    assert fire_dates(
        "birthday", 0, birthday=date(1988, 2, 29), vehicles=[],
        since=date(2027, 2, 1), until=date(2027, 3, 1),
    ) == [("", date(2027, 2, 28))]  # fmt: skip
    assert fire_dates(
        "birthday", 0, birthday=date(1990, 1, 2), vehicles=[],
        since=date(2026, 12, 30), until=date(2027, 1, 5),
    ) == [("", date(2027, 1, 2))]  # fmt: skip


def test_templates() -> None:
    fields = {"name": "Lan", "model": "HD72"}
    assert render("Chào {name}, xe {model} {name}", fields) == "Chào Lan, xe HD72 Lan"
    assert render("{name.__class__} {other}", fields) == "{name.__class__} {other}"
    assert unknown_placeholders("{name} {ten} {vin}") == ["ten"]
