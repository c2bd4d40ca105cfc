"""The pure back-office rules: the transition table, assignment, time accounting, SLA,
closing the loop and attachment checks. Times are fixed instants (ManualClock style)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.tickets import (
    DEFAULT_ESCALATIONS,
    EVENT_LABELS,
    LEGACY_STATUS_MAP,
    STATUS_LABELS,
    TRANSITIONS,
    Availability,
    EventKind,
    FollowUpOutcome,
    LoggedEvent,
    MemberLoad,
    TicketStatus,
    TicketWorkflowError,
    allowed_moves,
    availability,
    check_attachment,
    check_claim,
    check_transition,
    choose_assignee,
    escalation_decision,
    follow_up_result,
    format_code,
    is_overdue,
    needs_follow_up,
    parse_code,
    plan_transfer,
    time_totals,
)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
S = TicketStatus


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# ---------------------------------------------------------------- transition table
def test_the_happy_path_is_allowed_step_by_step() -> None:
    path = [S.UNASSIGNED, S.ASSIGNED, S.IN_PROGRESS, S.WAITING, S.IN_PROGRESS, S.DONE, S.CLOSED]
    for current, new in itertools.pairwise(path):
        check_transition(current, new)


@pytest.mark.parametrize("status", [S.UNASSIGNED, S.ASSIGNED, S.IN_PROGRESS, S.WAITING])
def test_cancel_from_every_open_status(status: TicketStatus) -> None:
    check_transition(status, S.CANCELLED)


@pytest.mark.parametrize("status", [S.DONE, S.CLOSED])
def test_reopen_from_done_or_closed_goes_back_to_in_progress(status: TicketStatus) -> None:
    assert check_transition(status, S.IN_PROGRESS) is EventKind.REOPENED
    with pytest.raises(TicketWorkflowError):
        check_transition(status, S.ASSIGNED)


def test_illegal_moves_are_refused_with_a_translatable_message() -> None:
    with pytest.raises(TicketWorkflowError) as caught:
        check_transition(S.UNASSIGNED, S.DONE)
    assert caught.value.message == "A ticket cannot go from {current} to {new}."
    assert caught.value.params == {"current": S.UNASSIGNED, "new": S.DONE}
    assert str(caught.value) == "A ticket cannot go from unassigned to done."
    for status in (S.CANCELLED,):
        assert allowed_moves(status) == []
    with pytest.raises(TicketWorkflowError):
        check_transition(S.CLOSED, S.CANCELLED)


def test_every_status_and_table_entry_is_known_and_labelled() -> None:
    assert set(STATUS_LABELS) == set(TicketStatus)
    for frm, to in TRANSITIONS:
        assert frm in STATUS_LABELS and to in STATUS_LABELS
    for kind in EventKind:
        assert kind in EVENT_LABELS
    assert set(LEGACY_STATUS_MAP) == {
        "new",
        "forwarded",
        "uncategorized",
        "in_progress",
        "resolved",
        "closed",
    }


def test_codes_round_trip() -> None:
    assert format_code(2026, 123) == "TK-2026-000123"
    assert parse_code(" tk-2026-000123 ") == (2026, 123)
    assert parse_code("TK-2026") is None and parse_code("AB-2026-1") is None


# ---------------------------------------------------------------- assignment
def test_the_free_member_ranked_highest_by_the_head_gets_it() -> None:
    members = [
        MemberLoad(user_id=7, priority=2),
        MemberLoad(user_id=3, priority=1, in_progress=1),  # busy
        MemberLoad(user_id=9, priority=2),
        MemberLoad(user_id=4, priority=0, active=False),  # away
        MemberLoad(user_id=5, priority=1, waiting=2),  # only waiting: not free
    ]
    assert choose_assignee(members) == 7  # priority 2, lower id breaks the tie


def test_all_busy_leaves_it_unassigned() -> None:
    members = [MemberLoad(1, 0, assigned=1), MemberLoad(2, 1, in_progress=1)]
    assert choose_assignee(members) is None
    assert choose_assignee([]) is None


def test_claim_rules() -> None:
    check_claim(S.UNASSIGNED, MemberLoad(1, 0))
    check_claim(S.UNASSIGNED, MemberLoad(1, 0, waiting=1))
    assert availability(MemberLoad(1, 0, waiting=1)) is Availability.WAITING
    with pytest.raises(TicketWorkflowError, match="Finish"):
        check_claim(S.UNASSIGNED, MemberLoad(1, 0, in_progress=1))
    with pytest.raises(TicketWorkflowError, match="members"):
        check_claim(S.UNASSIGNED, None)
    with pytest.raises(TicketWorkflowError, match="already assigned"):
        check_claim(S.ASSIGNED, MemberLoad(1, 0))


def test_transfer_to_a_colleague_or_another_department() -> None:
    to_colleague = plan_transfer(
        status=S.IN_PROGRESS, department_id=2, to_department_id=2, to_user_id=8, reason="nghỉ phép"
    )
    assert (to_colleague.status, to_colleague.assignee_id) == (S.ASSIGNED, 8)
    elsewhere = plan_transfer(
        status=S.WAITING, department_id=2, to_department_id=3, to_user_id=None, reason="sai bộ phận"
    )
    assert (elsewhere.status, elsewhere.assignee_id, elsewhere.department_id) == (
        S.UNASSIGNED,
        None,
        3,
    )
    with pytest.raises(TicketWorkflowError, match="reason"):
        plan_transfer(
            status=S.ASSIGNED, department_id=2, to_department_id=3, to_user_id=None, reason=" "
        )
    with pytest.raises(TicketWorkflowError, match="open ticket"):
        plan_transfer(
            status=S.DONE, department_id=2, to_department_id=3, to_user_id=None, reason="x"
        )


# ---------------------------------------------------------------- time accounting
def test_work_and_waiting_time_per_ticket_and_per_person() -> None:
    events = [
        LoggedEvent(at(0), EventKind.CREATED, S.UNASSIGNED),
        LoggedEvent(at(10), EventKind.ASSIGNED, S.ASSIGNED, to_user_id=1),
        LoggedEvent(at(20), EventKind.STATUS_CHANGED, S.IN_PROGRESS),
        LoggedEvent(at(50), EventKind.COMMENTED),  # does not cut the interval's owner
        LoggedEvent(at(60), EventKind.STATUS_CHANGED, S.WAITING),  # 40 min work for 1
        LoggedEvent(at(180), EventKind.TRANSFERRED, S.ASSIGNED, to_user_id=2),  # 120 wait
        LoggedEvent(at(190), EventKind.STATUS_CHANGED, S.IN_PROGRESS),
        LoggedEvent(at(205), EventKind.STATUS_CHANGED, S.DONE),  # 15 work for 2
        LoggedEvent(at(300), EventKind.REOPENED, S.IN_PROGRESS),  # assignee still 2
    ]
    totals = time_totals(events, now=at(310))  # 10 more minutes of work, still open
    assert totals.work == timedelta(minutes=40 + 15 + 10)
    assert totals.wait == timedelta(minutes=120)
    assert totals.per_person[1].work == timedelta(minutes=40)
    assert totals.per_person[1].wait == timedelta(minutes=120)
    assert totals.per_person[2].work == timedelta(minutes=25)
    assert totals.per_person[2].wait == timedelta(0)
    assert None not in totals.per_person


def test_time_stops_when_the_ticket_leaves_work() -> None:
    events = [
        LoggedEvent(at(0), EventKind.CREATED, S.ASSIGNED, to_user_id=1),
        LoggedEvent(at(5), EventKind.STATUS_CHANGED, S.IN_PROGRESS),
        LoggedEvent(at(35), EventKind.STATUS_CHANGED, S.CANCELLED),
    ]
    assert time_totals(events, now=at(1000)).work == timedelta(minutes=30)


# ---------------------------------------------------------------- SLA
def test_each_threshold_is_sent_once() -> None:
    due = at(0)
    assert escalation_decision(S.IN_PROGRESS, due, at(-1), ()).notify is None
    first = escalation_decision(S.IN_PROGRESS, due, at(0), ())
    assert first.record == ("due",) and first.notify is not None and first.notify.key == "due"
    assert escalation_decision(S.IN_PROGRESS, due, at(60), ["due"]).notify is None
    later = escalation_decision(S.WAITING, due, at(4 * 60), ["due"])
    assert later.record == ("due+4h",)
    assert escalation_decision(S.WAITING, due, at(5 * 60), ["due", "due+4h"]).record == ()


def test_thresholds_missed_while_down_make_one_message() -> None:
    decision = escalation_decision(S.ASSIGNED, at(0), at(25 * 60), ())
    assert decision.record == tuple(t.key for t in DEFAULT_ESCALATIONS)
    assert decision.notify is not None and decision.notify.key == "due+24h"


def test_finished_or_done_tickets_do_not_escalate() -> None:
    for status in (S.DONE, S.CLOSED, S.CANCELLED):
        assert not is_overdue(status, at(0), at(10))
        assert escalation_decision(status, at(0), at(10), ()).notify is None
    assert not is_overdue(S.IN_PROGRESS, None, at(10))


# ---------------------------------------------------------------- closing the loop
def test_done_asks_the_care_team_and_the_outcome_closes_or_reopens() -> None:
    assert needs_follow_up(S.DONE) and not needs_follow_up(S.WAITING)
    assert follow_up_result(S.DONE, FollowUpOutcome.SATISFIED, "") is S.CLOSED
    assert follow_up_result(S.DONE, FollowUpOutcome.NOT_SATISFIED, "vẫn kêu") is S.IN_PROGRESS
    with pytest.raises(TicketWorkflowError, match="why"):
        follow_up_result(S.DONE, FollowUpOutcome.NOT_SATISFIED, "  ")
    with pytest.raises(TicketWorkflowError, match="marked done"):
        follow_up_result(S.IN_PROGRESS, FollowUpOutcome.SATISFIED, "")


# ---------------------------------------------------------------- attachments
def test_attachments_are_checked_by_name_and_content() -> None:
    ok = check_attachment("C:\\ảnh\\xe.PNG", 2000, b"\x89PNG\r\n\x1a\n....")
    assert (ok.name, ok.content_type) == ("xe.PNG", "image/png")
    assert check_attachment("bien-ban.pdf", 10, b"%PDF-1.7").content_type == "application/pdf"
    with pytest.raises(TicketWorkflowError, match="does not match"):
        check_attachment("xe.png", 2000, b"MZ\x90\x00")  # an .exe renamed
    with pytest.raises(TicketWorkflowError, match="not accepted"):
        check_attachment("virus.exe", 10, b"MZ")
    with pytest.raises(TicketWorkflowError, match="larger"):
        check_attachment("a.pdf", 11 * 1024 * 1024, b"%PDF-")
    with pytest.raises(TicketWorkflowError, match="empty"):
        check_attachment("a.txt", 0, b"")
    with pytest.raises(TicketWorkflowError, match="does not match"):
        check_attachment("a.txt", 4, b"\xff\xfe\x00\x00\x00\x00\x00\x00")
