"""The pure ticket workflow: every call ends as exactly one ticket decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.tickets import (
    CategoryInfo,
    OpenTicketInfo,
    Priority,
    TicketStatus,
    TicketWorkflowError,
    WrapUpForm,
    WrapUpOutcome,
    check_transition,
    default_department,
    plan_timed_out,
    plan_wrap_up,
)

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
WARRANTY = CategoryInfo(id=6, name="Bảo hành", department_id=2, sla_hours=24)
NO_DEPT = CategoryInfo(id=9, name="Khác", department_id=None)


def test_new_ticket_is_forwarded_to_the_category_department_with_sla() -> None:
    form = WrapUpForm(WrapUpOutcome.NEW_TICKET, category_id=6, notes="Xe kêu to\nchi tiết")
    plan = plan_wrap_up(form, category=WARRANTY, open_ticket=None, customer_id=5, now=NOW)
    assert plan.create and plan.status is TicketStatus.UNASSIGNED
    assert plan.department_id == 2 == default_department(WARRANTY)
    assert plan.due_at == NOW + timedelta(hours=24)
    assert plan.subject == "Bảo hành: Xe kêu to"
    assert [e.kind for e in plan.events] == ["created"]


def test_agent_can_override_the_department() -> None:
    form = WrapUpForm(WrapUpOutcome.NEW_TICKET, category_id=6, department_id=4)
    plan = plan_wrap_up(form, category=WARRANTY, open_ticket=None, customer_id=None, now=NOW)
    assert plan.department_id == 4


def test_new_ticket_needs_a_department() -> None:
    form = WrapUpForm(WrapUpOutcome.NEW_TICKET, category_id=9)
    with pytest.raises(TicketWorkflowError, match="no department"):
        plan_wrap_up(form, category=NO_DEPT, open_ticket=None, customer_id=None, now=NOW)


def test_information_only_is_closed_at_once() -> None:
    form = WrapUpForm(WrapUpOutcome.INFO_ONLY, category_id=6, priority=Priority.LOW)
    plan = plan_wrap_up(form, category=WARRANTY, open_ticket=None, customer_id=None, now=NOW)
    assert plan.create and plan.status is TicketStatus.CLOSED and plan.closed_at == NOW
    assert plan.priority is Priority.LOW


def test_addition_goes_to_the_customers_open_ticket_only() -> None:
    mine = OpenTicketInfo(id=77, customer_id=5, status=TicketStatus.UNASSIGNED)
    form = WrapUpForm(WrapUpOutcome.ADD_TO_OPEN, category_id=6, open_ticket_id=77, notes="gọi lại")
    plan = plan_wrap_up(form, category=WARRANTY, open_ticket=mine, customer_id=5, now=NOW)
    assert not plan.create and plan.target_ticket_id == 77
    assert plan.events[0].kind == "call_added" and plan.events[0].note == "gọi lại"
    with pytest.raises(TicketWorkflowError, match="does not belong"):
        plan_wrap_up(form, category=WARRANTY, open_ticket=mine, customer_id=6, now=NOW)
    closed = OpenTicketInfo(id=77, customer_id=5, status=TicketStatus.CLOSED)
    with pytest.raises(TicketWorkflowError, match="no longer open"):
        plan_wrap_up(form, category=WARRANTY, open_ticket=closed, customer_id=5, now=NOW)
    with pytest.raises(TicketWorkflowError, match="open ticket"):
        plan_wrap_up(form, category=WARRANTY, open_ticket=None, customer_id=5, now=NOW)


def test_a_category_is_required_and_must_match() -> None:
    with pytest.raises(TicketWorkflowError, match="choose a category"):
        plan_wrap_up(
            WrapUpForm(WrapUpOutcome.INFO_ONLY),
            category=None,
            open_ticket=None,
            customer_id=None,
            now=NOW,
        )
    with pytest.raises(TicketWorkflowError, match="unknown category"):
        plan_wrap_up(
            WrapUpForm(WrapUpOutcome.INFO_ONLY, category_id=3),
            category=WARRANTY,
            open_ticket=None,
            customer_id=None,
            now=NOW,
        )
    with pytest.raises(TicketWorkflowError, match="timed-out"):
        plan_wrap_up(
            WrapUpForm(WrapUpOutcome.UNCATEGORIZED, category_id=6),
            category=WARRANTY,
            open_ticket=None,
            customer_id=None,
            now=NOW,
        )


def test_overlong_notes_are_refused() -> None:
    form = WrapUpForm(WrapUpOutcome.INFO_ONLY, category_id=6, notes="x" * 10_001)
    with pytest.raises(TicketWorkflowError, match="longer"):
        plan_wrap_up(form, category=WARRANTY, open_ticket=None, customer_id=None, now=NOW)


def test_timeout_keeps_the_notes_and_flags_for_review() -> None:
    plan = plan_timed_out(notes="  khách hỏi giá  ", now=NOW)
    assert plan.create and plan.status is TicketStatus.UNASSIGNED and plan.needs_review
    assert plan.outcome is WrapUpOutcome.UNCATEGORIZED
    assert plan.description == "khách hỏi giá" and plan.category_id is None


def test_transitions() -> None:
    check_transition(TicketStatus.UNASSIGNED, TicketStatus.ASSIGNED)
    check_transition(TicketStatus.CLOSED, TicketStatus.IN_PROGRESS)  # reopened
    with pytest.raises(TicketWorkflowError):
        check_transition(TicketStatus.CANCELLED, TicketStatus.IN_PROGRESS)
    with pytest.raises(TicketWorkflowError):
        check_transition(TicketStatus.UNASSIGNED, TicketStatus.DONE)
