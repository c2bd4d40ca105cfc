"""A scripted day for the reports: every row the call recorder, the ACD's state log, the
wrap-up save, the survey route and the tickets room would write for it, with instants
chosen so each KPI can be computed by hand from docs/kpi.md (see test_scripted_day.py).

Local zone Asia/Ho_Chi_Minh (UTC+7). Monday 23/11/2026 and Tuesday 24/11/2026.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import (
    AgentStateLog,
    Call,
    CallAttempt,
    CallWrapUp,
    Category,
    Department,
    PauseReason,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    Ticket,
    TicketEvent,
    User,
)
from callcenter.db.models.calls import CallTransfer

CARE, MENU = "19006868", "19001080"
#: "now" for open intervals: Wednesday 25/11/2026 00:00 local
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def local(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    """An instant given in local time (UTC+7) on day ``day`` of November 2026."""
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=UTC) - timedelta(hours=7)


@dataclass
class Day:
    agent_a: int
    agent_b: int
    supervisor: int
    warranty: int
    info: int
    tech: int
    care: int


async def build_day(session: AsyncSession) -> Day:
    a = User(username="lan", full_name="A Lan", role="agent", interface="PJSIP/101")
    b = User(username="minh", full_name="B Minh", role="agent", interface="PJSIP/102")
    s = User(username="sup", full_name="S Sup", role="supervisor", email="sup@example.vn")
    session.add_all([a, b, s])
    session.add_all([PauseReason(code="lunch_r", name="Ăn trưa"),
                     PauseReason(code="training_r", name="Đào tạo")])  # fmt: skip
    tech = Department(code="tech_r", name="Kỹ thuật")
    care = Department(code="care_r", name="CSKH")
    session.add_all([tech, care])
    await session.flush()
    warranty = Category(code="warranty_r", name="Bảo hành", department_id=tech.id)
    info = Category(code="info_r", name="Thông tin", department_id=care.id)
    session.add_all([warranty, info])
    await session.flush()

    def call(name: str, at: datetime, hotline: str, group: str, *, agent: User | None,
             wait: float, talk: float = 0, hold: float = 0, wrap: float | None = None,
             answered: bool = True) -> Call:  # fmt: skip
        answered_at = at + timedelta(seconds=wait) if answered else None
        ended = (
            (answered_at + timedelta(seconds=talk + hold))
            if answered_at
            else at + timedelta(seconds=wait)
        )
        row = Call(
            linkedid=name, direction="inbound", caller_number="0912000000", dialed_number=hotline,
            route_group=group, agent_id=agent.id if agent and answered else None,
            started_at=at, answered_at=answered_at, ended_at=ended, wait_seconds=wait,
            talk_seconds=talk, hold_seconds=hold,
            disposition="answered" if answered else "abandoned",
            hangup_by="caller",
        )  # fmt: skip
        row.attempts = []
        row.transfers = []
        session.add(row)
        if answered and agent is not None:
            row.attempts.append(CallAttempt(
                agent_id=agent.id, interface=agent.interface, offered_at=at + timedelta(seconds=wait - 3),
                answered_at=answered_at, ended_at=ended, outcome="answered", uniqueid=name + ".a",
            ))  # fmt: skip
        if wrap is not None:
            wraps[name] = wrap
        return row

    wraps: dict[str, float] = {"C6": 30}
    calls = {
        "C1": call("C1", local(24, 8, 0), CARE, "care", agent=a, wait=10, talk=100, wrap=20),
        "C2": call("C2", local(24, 8, 30), CARE, "care", agent=b, wait=30, talk=200, hold=20, wrap=10),
        "C3": call("C3", local(24, 9, 10), MENU, "sales", agent=a, wait=15, talk=60),
        "C4": call("C4", local(24, 9, 20), CARE, "care", agent=None, wait=40, answered=False),
        "C5": call("C5", local(24, 9, 25), CARE, "care", agent=None, wait=3, answered=False),
        "C7": call("C7", local(24, 14, 0), CARE, "care", agent=b, wait=25, talk=90, hold=10, wrap=15),
        "C8": call("C8", local(24, 14, 40), CARE, "care", agent=None, wait=130, answered=False),
        "C9": call("C9", local(24, 16, 0), CARE, "care", agent=a, wait=5, talk=45, wrap=5),
        "C10": call("C10", local(23, 23, 58), CARE, "care", agent=a, wait=12, talk=300, wrap=10),
    }  # fmt: skip
    # C6: answered by B, blind-transferred to A (two answered offers, one transfer).
    c6_at = local(24, 10, 5)
    c6 = Call(
        linkedid="C6", direction="inbound", dialed_number=MENU, route_group="sales",
        agent_id=b.id, started_at=c6_at, answered_at=c6_at + timedelta(seconds=20),
        ended_at=c6_at + timedelta(seconds=140), wait_seconds=20, talk_seconds=120,
        disposition="answered", hangup_by="caller",
    )  # fmt: skip
    c6.attempts = [
        CallAttempt(agent_id=b.id, offered_at=c6_at + timedelta(seconds=17),
                    answered_at=c6_at + timedelta(seconds=20), ended_at=c6_at + timedelta(seconds=80),
                    outcome="answered", uniqueid="C6.b"),
        CallAttempt(agent_id=a.id, offered_at=c6_at + timedelta(seconds=82),
                    answered_at=c6_at + timedelta(seconds=85), ended_at=c6_at + timedelta(seconds=140),
                    outcome="answered", uniqueid="C6.a"),
    ]  # fmt: skip
    c6.transfers = [CallTransfer(kind="blind", at=c6_at + timedelta(seconds=80), target="101")]
    session.add(c6)
    calls["C6"] = c6
    # Missed offers: A let C7 ring out before B took it; B let C8 ring out.
    calls["C7"].attempts.append(CallAttempt(
        agent_id=a.id, offered_at=local(24, 14, 0, 5), ended_at=local(24, 14, 0, 20),
        outcome="noanswer", uniqueid="C7.miss"))  # fmt: skip
    calls["C8"].attempts.append(CallAttempt(
        agent_id=b.id, offered_at=local(24, 14, 40, 5), ended_at=local(24, 14, 40, 20),
        outcome="noanswer", uniqueid="C8.miss"))  # fmt: skip
    await session.flush()
    for name, wrap in wraps.items():
        row = calls[name]
        session.add(CallWrapUp(
            call_id=row.id, agent_id=row.agent_id, outcome="new_ticket",
            saved_at=row.ended_at + timedelta(seconds=wrap)))  # fmt: skip

    def state(
        user: User, name: str, start: datetime, end: datetime | None, reason: str = ""
    ) -> None:
        session.add(
            AgentStateLog(
                user_id=user.id, state=name, reason=reason, started_at=start, ended_at=end
            )
        )

    state(a, "available", local(23, 23, 50), local(23, 23, 58, 12))
    state(a, "on_call", local(23, 23, 58, 12), local(24, 0, 3, 12))
    state(a, "wrapup", local(24, 0, 3, 12), local(24, 0, 3, 22))
    state(a, "logged_out", local(24, 0, 3, 22), local(24, 8, 0))
    state(a, "available", local(24, 8, 0), local(24, 10, 0))
    state(a, "on_call", local(24, 10, 0), local(24, 10, 30))
    state(a, "wrapup", local(24, 10, 30), local(24, 10, 40))
    state(a, "paused", local(24, 10, 40), local(24, 11, 40), "lunch_r")
    state(a, "available", local(24, 11, 40), local(24, 12, 0))
    state(a, "logged_out", local(24, 12, 0), None)
    state(b, "available", local(24, 8, 0), local(24, 9, 0))
    state(b, "on_call", local(24, 9, 0), local(24, 9, 45))
    state(b, "paused", local(24, 9, 45), local(24, 10, 15), "training_r")
    state(b, "available", local(24, 10, 15), local(24, 11, 0))
    state(b, "paused", local(24, 11, 0), local(24, 11, 30), "lunch_r")
    state(b, "logged_out", local(24, 11, 30), local(24, 23, 50))
    state(b, "paused", local(24, 23, 50), local(25, 0, 20), "lunch_r")  # clipped at midnight

    # The callers' keypad answers to the default after-call survey's 1-5 question (migration 0010).
    question = (await session.scalars(
        select(SurveyQuestion).where(SurveyQuestion.kind == "scale_5").order_by(SurveyQuestion.id)
    )).first()  # fmt: skip
    assert question is not None
    for linkedid, agent, score, at in (("C9", a, 4, local(24, 16, 1)), ("C10", a, 5, local(24, 0, 3, 30)),
                                       ("C2", b, 2, local(24, 8, 35))):  # fmt: skip
        response = SurveyResponse(survey_id=question.survey_id, channel="ivr", linkedid=linkedid,
                                  uniqueid=linkedid + ".s", agent_id=agent.id, created_at=at)  # fmt: skip
        session.add(response)
        await session.flush()
        session.add(SurveyAnswer(response_id=response.id, question_id=question.id,
                                 value_number=float(score)))  # fmt: skip

    def ticket(code: str, creator: User, at: datetime, category: Category, department: Department,
               due: datetime | None, moves: list[tuple[datetime, str, str, User]]) -> None:  # fmt: skip
        status = moves[-1][2]
        row = Ticket(code=code, created_by_id=creator.id, created_at=at, updated_at=at,
                     category_id=category.id, department_id=department.id, due_at=due,
                     status=status)  # fmt: skip
        row.events = [TicketEvent(at=when, kind=kind, to_status=to, user_id=who.id)
                      for when, kind, to, who in moves]  # fmt: skip
        session.add(row)

    ticket("TK-2026-901", a, local(24, 8, 2), warranty, tech, local(24, 12, 0), [
        (local(24, 8, 2), "created", "unassigned", a),
        (local(24, 8, 10), "assigned", "assigned", s),
        (local(24, 9, 0), "status_changed", "in_progress", b),
        (local(24, 10, 0), "status_changed", "waiting", b),
        (local(24, 11, 0), "status_changed", "in_progress", b),
        (local(24, 11, 30), "status_changed", "done", b),
        (local(24, 13, 0), "status_changed", "closed", s),
    ])  # fmt: skip
    ticket("TK-2026-902", b, local(24, 8, 35), warranty, tech, local(24, 10, 0), [
        (local(24, 8, 35), "created", "unassigned", b),
        (local(24, 8, 40), "assigned", "assigned", s),
        (local(24, 9, 0), "status_changed", "in_progress", b),
        (local(24, 10, 30), "status_changed", "done", b),
        (local(24, 11, 0), "status_changed", "closed", s),
        (local(24, 12, 0), "reopened", "in_progress", s),
    ])  # fmt: skip
    ticket("TK-2026-903", a, local(24, 9, 12), info, care, None, [
        (local(24, 9, 12), "created", "closed", a),
    ])  # fmt: skip
    ticket("TK-2026-904", b, local(24, 14, 5), warranty, tech, local(24, 16, 0), [
        (local(24, 14, 5), "created", "unassigned", b),
    ])  # fmt: skip
    ticket("TK-2026-905", a, local(24, 16, 2), info, care, local(25, 16, 2), [
        (local(24, 16, 2), "created", "unassigned", a),
        (local(24, 16, 30), "status_changed", "cancelled", s),
    ])  # fmt: skip
    await session.commit()
    return Day(a.id, b.id, s.id, warranty.id, info.id, tech.id, care.id)
