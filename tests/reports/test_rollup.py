"""The rollup gives exactly what the raw queries give: every report, computed both ways
(through the rollup, and with the rollup switched off so every row is read raw), over a
generated week with late changes to closed days, on SQLite and PostgreSQL. Without the
invalidation triggers the same late changes leave the rollup stale, and the comparison
says so (``test_without_the_triggers_the_rollup_goes_stale``)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.cli import main
from callcenter.clock import ManualClock
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    AgentStateLog,
    Call,
    CallAttempt,
    CallWrapUp,
    Category,
    Department,
    ReportRollupDay,
    ReportStale,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    Ticket,
    TicketEvent,
    User,
)
from callcenter.db.models.calls import CallTransfer
from callcenter.localtime import DEFAULT_ZONE, local_date
from callcenter.reports import rollup, services
from callcenter.reports.periods import Grouping
from callcenter.reports.queries import Filters
from callcenter.reports.schedule import RollupUpkeep
from tests.conftest import MigratedTemplates
from tests.reports.day import CARE, MENU, local

#: Thursday 26/11/2026 14:30 local: that day is open, 20/11 to 25/11 are closed
NOW = local(26, 14, 30)
STATUSES = ("unassigned", "assigned", "in_progress", "waiting", "done", "closed", "cancelled")


def at(day: int, seconds: int) -> datetime:
    return local(day, 0, 0) + timedelta(seconds=seconds)


async def seed(session: AsyncSession, rng: random.Random) -> dict[str, Any]:
    agents = [User(username=f"r{i}", full_name=f"R {i}", role="agent", interface=f"PJSIP/2{i}")
              for i in range(3)]  # fmt: skip
    session.add_all(agents)
    departments = [Department(code=f"rd{i}", name=f"D{i}") for i in range(2)]
    session.add_all(departments)
    await session.flush()
    categories = [Category(code=f"rc{i}", name=f"C{i}", department_id=departments[i].id)
                  for i in range(2)]  # fmt: skip
    session.add_all(categories)
    await session.flush()
    question = (await session.scalars(
        select(SurveyQuestion).where(SurveyQuestion.kind == "scale_5").order_by(SurveyQuestion.id)
    )).first()  # fmt: skip
    assert question is not None
    number = 0
    for day in range(20, 28):
        for _ in range(14):
            number += 1
            start = at(day, rng.randrange(86400))
            agent = rng.choice(agents)
            disposition = rng.choice(("answered",) * 5 + ("abandoned", "missed", "active"))
            wait = rng.randrange(0, 150)
            talk = rng.randrange(20, 900) if disposition == "answered" else 0
            answered_at = start + timedelta(seconds=wait) if disposition == "answered" else None
            ended = None if disposition == "active" else start + timedelta(seconds=wait + talk)
            call = Call(
                linkedid=f"R{number}", dialed_number=rng.choice((CARE, MENU)),
                route_group=rng.choice(("care", "sales")), started_at=start,
                agent_id=agent.id if answered_at else None, answered_at=answered_at,
                ended_at=ended, wait_seconds=float(wait), talk_seconds=float(talk),
                hold_seconds=float(rng.choice((0, 0, 13))), disposition=disposition,
            )  # fmt: skip
            call.attempts = []
            call.transfers = []
            if answered_at and ended:
                call.attempts.append(CallAttempt(
                    agent_id=agent.id, offered_at=answered_at - timedelta(seconds=3),
                    answered_at=answered_at, ended_at=ended, outcome="answered",
                    uniqueid=f"R{number}.a"))  # fmt: skip
                if rng.random() < 0.2:
                    call.transfers.append(CallTransfer(kind="blind", at=ended, target="201"))
            if rng.random() < 0.3:
                call.attempts.append(CallAttempt(
                    agent_id=rng.choice(agents).id, offered_at=start + timedelta(seconds=1),
                    ended_at=start + timedelta(seconds=16), outcome="noanswer",
                    uniqueid=f"R{number}.m"))  # fmt: skip
            session.add(call)
            await session.flush()
            if answered_at and ended and rng.random() < 0.6:
                session.add(CallWrapUp(
                    call_id=call.id, agent_id=agent.id, outcome="info_only",
                    category_id=rng.choice(categories).id,
                    saved_at=ended + timedelta(seconds=rng.randrange(1, 90))))  # fmt: skip
            if answered_at and ended and rng.random() < 0.3:
                response = SurveyResponse(
                    survey_id=question.survey_id, channel="ivr", linkedid=call.linkedid,
                    agent_id=agent.id, created_at=ended)  # fmt: skip
                session.add(response)
                await session.flush()
                session.add(SurveyAnswer(response_id=response.id, question_id=question.id,
                                         value_number=float(rng.randrange(1, 6))))  # fmt: skip
        for _ in range(6):
            created = at(day, rng.randrange(86400))
            category = rng.choice([*categories, None])
            ticket = Ticket(
                code=f"TK-R-{number}-{rng.randrange(10**6)}", created_at=created,
                updated_at=created, created_by_id=rng.choice(agents).id,
                category_id=category.id if category else None,
                department_id=category.department_id if category else departments[1].id,
                due_at=rng.choice((None, created + timedelta(hours=rng.randrange(1, 120)))),
            )  # fmt: skip
            moves, when = [("created", "unassigned")], created
            ticket.events = [TicketEvent(at=created, kind="created", to_status="unassigned",
                                         user_id=ticket.created_by_id)]  # fmt: skip
            for _ in range(rng.randrange(0, 5)):
                when += timedelta(seconds=rng.randrange(600, 40000))
                status = rng.choice(STATUSES[1:])
                kind = "reopened" if moves[-1][1] in ("done", "closed") else "status_changed"
                moves.append((kind, status))
                ticket.events.append(TicketEvent(at=when, kind=kind, to_status=status,
                                                 user_id=rng.choice(agents).id))  # fmt: skip
            ticket.status = moves[-1][1]
            session.add(ticket)
    for agent in agents:  # states back to back, some across midnight, the last one open
        when = at(20, rng.randrange(3600))
        while when < NOW - timedelta(hours=30):
            length = timedelta(seconds=rng.randrange(300, 30000))
            state = rng.choice(("available", "on_call", "wrapup", "paused", "logged_out"))
            session.add(AgentStateLog(user_id=agent.id, state=state, started_at=when,
                                      ended_at=when + length,
                                      reason=rng.choice(("lunch", "training")) if state == "paused"
                                      else ""))  # fmt: skip
            when += length
        session.add(AgentStateLog(user_id=agent.id, state="paused", reason="lunch",
                                  started_at=when, ended_at=None))  # fmt: skip
    await session.commit()
    return {"agents": [a.id for a in agents], "categories": [c.id for c in categories],
            "departments": [d.id for d in departments], "question": question.id}  # fmt: skip


def scenarios(ids: dict[str, Any]) -> list[tuple[Filters, Grouping]]:
    whole = Filters(start=local(20, 0, 0), end=local(28, 0, 0))
    return [
        (whole, Grouping.DAY),
        (whole, Grouping.WEEK),
        (whole, Grouping.MONTH),
        (Filters(start=local(21, 13, 17, 5), end=local(26, 0, 0)), Grouping.DAY),  # mid-day
        (Filters(start=local(22, 0, 0), end=local(23, 0, 0)), Grouping.DAY),  # one closed day
        (dataclasses.replace(whole, hotline=CARE), Grouping.DAY),
        (dataclasses.replace(whole, group="sales"), Grouping.DAY),
        (dataclasses.replace(whole, category_id=ids["categories"][0]), Grouping.DAY),
        (dataclasses.replace(whole, department_id=ids["departments"][1]), Grouping.DAY),
        (dataclasses.replace(whole, agent_id=ids["agents"][1]), Grouping.DAY),
    ]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def differences(left: Any, right: Any, where: str = "") -> list[str]:
    """Where two reports differ; sums of seconds may differ by float rounding only."""
    if isinstance(left, dict) and isinstance(right, dict):
        if left.keys() != right.keys():
            return [f"{where}: keys {sorted(left)} != {sorted(right)}"]
        return [d for k in left for d in differences(left[k], right[k], f"{where}.{k}")]
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{where}: {len(left)} rows != {len(right)} rows"]
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True))
                for d in differences(a, b, f"{where}[{i}]")]  # fmt: skip
    if isinstance(left, float) or isinstance(right, float):
        if left is None or right is None or not math.isclose(left, right, abs_tol=1e-3):
            return [f"{where}: {left!r} != {right!r}"]
        return []
    return [] if left == right else [f"{where}: {left!r} != {right!r}"]


def _raw_only(start: datetime, end: datetime, now: datetime, zone: Any) -> rollup.Split:
    return rollup.Split([], [(start, end)] if start < end else [])


async def all_reports(
    factory: async_sessionmaker[AsyncSession], ids: dict[str, Any], now: datetime, zone: ZoneInfo
) -> list[Any]:
    out: list[Any] = []
    for filters, grouping in scenarios(ids):
        async with factory() as session:
            out.append(await services.calls_report(session, filters, grouping, zone, now))
            out.append(await services.agents_report(session, filters, now, zone))
            out.append(await services.tickets_report(session, filters, grouping, zone, now))
    return _plain(out)


async def compare(
    factory: async_sessionmaker[AsyncSession],
    ids: dict[str, Any],
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> list[str]:
    through_rollup = await all_reports(factory, ids, now, zone)
    with mock.patch.object(rollup, "split", _raw_only):
        raw = await all_reports(factory, ids, now, zone)
    return differences(through_rollup, raw)


async def late_changes(factory: async_sessionmaker[AsyncSession], ids: dict[str, Any]) -> None:
    """What arrives after a day closed, one write of each kind the reports read."""
    async with factory() as session:
        # a wrap-up saved later for an answered call of 21/11 that had none
        call = (await session.scalars(
            select(Call).where(Call.disposition == "answered", Call.started_at >= local(21, 0, 0),
                               Call.started_at < local(22, 0, 0),
                               ~Call.id.in_(select(CallWrapUp.call_id))).order_by(Call.id)
        )).first()  # fmt: skip
        assert call is not None and call.ended_at is not None
        session.add(CallWrapUp(call_id=call.id, agent_id=call.agent_id, outcome="info_only",
                               saved_at=call.ended_at + timedelta(seconds=400)))  # fmt: skip
        # a call record closed by a resync: an 'active' call of a closed day ends
        active = (await session.scalars(
            select(Call).where(Call.disposition == "active", Call.started_at < local(26, 0, 0))
            .order_by(Call.id)
        )).first()  # fmt: skip
        assert active is not None
        active.disposition, active.agent_id = "answered", ids["agents"][0]
        active.answered_at = active.started_at + timedelta(seconds=7)
        active.ended_at = active.started_at + timedelta(seconds=307)
        active.wait_seconds, active.talk_seconds, active.end_estimated = 7.0, 300.0, True
        # a transfer recorded late on a 24/11 call
        answered = (await session.scalars(
            select(Call).where(Call.disposition == "answered", Call.started_at >= local(24, 0, 0),
                               Call.started_at < local(25, 0, 0)).order_by(Call.id.desc())
        )).first()  # fmt: skip
        assert answered is not None
        session.add(CallTransfer(call_id=answered.id, kind="blind", at=answered.started_at,
                                 target="202"))  # fmt: skip
        # a missed offer recorded late (agents' sheet)
        session.add(CallAttempt(call_id=answered.id, agent_id=ids["agents"][2],
                                offered_at=local(23, 10, 0), ended_at=local(23, 10, 0, 15),
                                outcome="noanswer", uniqueid="late.m"))  # fmt: skip
        # a ticket status change: a 22/11 ticket is finished now, another changes category
        ticket = (await session.scalars(
            select(Ticket).where(Ticket.created_at >= local(22, 0, 0),
                                 Ticket.created_at < local(23, 0, 0),
                                 Ticket.status.not_in(("done", "closed")),
                                 or_(Ticket.due_at.is_(None), Ticket.due_at < NOW))
            .order_by(Ticket.id)
        )).first()  # fmt: skip
        assert ticket is not None
        ticket.status = "done"
        session.add(TicketEvent(ticket_id=ticket.id, at=NOW - timedelta(minutes=5),
                                kind="status_changed", to_status="done",
                                user_id=ids["agents"][1]))  # fmt: skip
        await session.execute(
            update(Ticket)
            .where(Ticket.created_at >= local(23, 0, 0), Ticket.created_at < local(24, 0, 0))
            .values(category_id=ids["categories"][1])
        )
        # a survey answer added to a response of 25/11
        response = (await session.scalars(
            select(SurveyResponse).where(SurveyResponse.created_at >= local(25, 0, 0))
            .order_by(SurveyResponse.id)
        )).first()  # fmt: skip
        assert response is not None
        session.add(SurveyAnswer(response_id=response.id, question_id=ids["question"],
                                 value_number=1.0))  # fmt: skip
        # an agent's state row of 21/11 corrected
        row = (await session.scalars(
            select(AgentStateLog).where(AgentStateLog.started_at >= local(21, 0, 0),
                                        AgentStateLog.ended_at.is_not(None))
            .order_by(AgentStateLog.id)
        )).first()  # fmt: skip
        assert row is not None and row.ended_at is not None
        row.ended_at = row.ended_at + timedelta(seconds=1234)
        await session.commit()


async def stored_days(factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with factory() as session:
        rows = await session.execute(
            select(ReportRollupDay.kind, func.count()).group_by(ReportRollupDay.kind)
        )
        return {kind: count for kind, count in rows}


async def test_the_rollup_equals_the_raw_computation_through_late_changes(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        ids = await seed(session, random.Random(15))
    assert await compare(session_factory, ids, NOW) == []
    # the reports did read stored days: 20/11 to 25/11 are closed
    assert await stored_days(session_factory) == {"calls": 6, "agents": 6, "tickets": 6}
    async with session_factory() as session:  # a due time passes in the next two days
        untils = (await session.scalars(select(ReportRollupDay.valid_until))).all()
    assert any(u is not None and u < NOW + timedelta(days=2) for u in untils), untils
    await late_changes(session_factory, ids)
    assert await compare(session_factory, ids, NOW) == []
    # two days later: 26/11 and 27/11 closed too, due times passed, open work kept running
    assert await compare(session_factory, ids, NOW + timedelta(days=2)) == []
    # and earlier again (a report for a past "now" may not use a day computed later)
    assert await compare(session_factory, ids, NOW) == []
    async with session_factory() as session:  # the fills compacted the marks they saw
        assert await session.scalar(select(func.count()).select_from(ReportStale)) == 0
    # another zone, with a half-hour offset: other local days, hour buckets shifted 30 min
    assert await compare(session_factory, ids, NOW, ZoneInfo("Asia/Kolkata")) == []


async def drop_triggers(engine: AsyncEngine) -> int:
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            names = (await connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'report_stale_%'"))).scalars().all()  # fmt: skip
            for name in names:
                await connection.execute(text(f"DROP TRIGGER {name}"))
        else:
            rows = (await connection.execute(text(
                "SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
                "WHERE tgname LIKE 'report_stale_%'"))).all()  # fmt: skip
            names = [name for name, _ in rows]
            for name, table in rows:
                await connection.execute(text(f"DROP TRIGGER {name} ON {table}"))
    return len(names)


async def test_without_the_triggers_the_rollup_goes_stale(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        ids = await seed(session, random.Random(15))
    assert await compare(session_factory, ids, NOW) == []
    # 10 tables x insert, update, delete (and truncate on PostgreSQL)
    assert await drop_triggers(engine) == (30 if engine.dialect.name == "sqlite" else 40)
    await late_changes(session_factory, ids)
    stale = await compare(session_factory, ids, NOW)
    # every kind of report misses the late changes
    assert any(".wrapup" in d or ".transferred" in d for d in stale), stale
    assert any(".missed" in d or ".survey" in d for d in stale), stale
    assert any(".handled" in d or ".unhandled" in d for d in stale), stale


async def test_a_truncate_marks_the_stored_days_stale(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """PostgreSQL: emptying a table the reports read with TRUNCATE (no row triggers fire)
    still makes the stored days it fed be computed again (SQLite has no TRUNCATE)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    async with session_factory() as session:
        ids = await seed(session, random.Random(15))
    assert await compare(session_factory, ids, NOW) == []
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE call_transfers, call_attempts"))
    assert await compare(session_factory, ids, NOW) == []


def test_split_reads_closed_whole_days_and_raw_edges() -> None:
    split = rollup.split(local(21, 13, 0), local(27, 0, 0), NOW, DEFAULT_ZONE)
    assert split.days == [(local(d, 0, 0), local(d + 1, 0, 0)) for d in range(22, 26)]
    assert split.edges == [(local(21, 13, 0), local(22, 0, 0)), (local(26, 0, 0), local(27, 0, 0))]
    assert rollup.split(local(26, 0, 0), local(27, 0, 0), NOW, DEFAULT_ZONE).days == []
    assert NOW.tzinfo is UTC


async def test_a_fill_blocked_by_an_open_write_reads_raw_instead(
    backend: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A transaction that wrote a call (so holds its mark) and has not committed must not
    hang a report: the fill gives up after its lock timeout and the report reads raw."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: the in-process write gate queues the fill instead")
    async with session_factory() as session:
        await seed(session, random.Random(15))
    whole = Filters(start=local(20, 0, 0), end=local(26, 0, 0))
    async with session_factory() as writer:
        writer.add(Call(linkedid="open-tx", started_at=local(21, 9, 0), disposition="abandoned",
                        wait_seconds=9.0))  # fmt: skip
        await writer.flush()
        async with session_factory() as session:
            report = await services.calls_report(session, whole, Grouping.DAY, DEFAULT_ZONE, NOW)
        await writer.rollback()
    assert await stored_days(session_factory) == {}
    with mock.patch.object(rollup, "split", _raw_only):
        async with session_factory() as session:
            raw = await services.calls_report(session, whole, Grouping.DAY, DEFAULT_ZONE, NOW)
    assert differences(_plain(report), _plain(raw)) == []


def test_the_fill_command_computes_the_last_days(
    tmp_path: Path, migrated_templates: MigratedTemplates, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated_templates.sqlite_copy(tmp_path / "cli.db")
    config = tmp_path / "cc.toml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    config.write_text(f'session_secret = "{"s" * 40}"\n[database]\nurl = "{url}"\n')
    assert main(["--config", str(config), "reports", "fill", "--days", "3"]) == 0
    assert "the 3 days from" in capsys.readouterr().out

    async def count() -> dict[str, int]:
        engine = make_engine(url)
        try:
            return await stored_days(sessionmaker(engine))
        finally:
            await engine.dispose()

    assert asyncio.run(count()) == {"calls": 3, "agents": 3, "tickets": 3}


async def test_the_upkeep_folds_late_changes_in_without_anyone_reading_reports(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Marks pile up with every write; the reports room's upkeep folds them into the stored
    days every few minutes (and computes the day that just ended), and the reports stay
    equal to the raw computation across it."""
    async with session_factory() as session:
        ids = await seed(session, random.Random(16))
    assert await compare(session_factory, ids, NOW) == []  # the stored days exist

    async def marks() -> int:
        async with session_factory() as session:
            return int(await session.scalar(select(func.count()).select_from(ReportStale)) or 0)

    upkeep = RollupUpkeep(sessions=session_factory, clock=ManualClock(NOW), zone=DEFAULT_ZONE)
    await upkeep.once()  # the first pass computes the day that just ended
    assert upkeep.filled == local_date(NOW, DEFAULT_ZONE) - timedelta(days=1)
    await late_changes(session_factory, ids)  # writes to closed days: marks, nobody reads
    waiting = await marks()
    assert waiting > 0
    assert await upkeep.once() == waiting  # folded in, not piling up
    assert await marks() == 0
    assert await compare(session_factory, ids, NOW) == []  # the changed days were recomputed
