"""The wallboard's counters, summaries and the listen-in route, on SQLite and PostgreSQL.

The day's earlier calls and wrap-ups are rows written here with known numbers; the
expected KPIs are literal values computed by hand from the definitions in
``core/wallboard.py`` (and ``docs/kpi.md``). Live calls arrive as bus events; the ACD is
a small stand-in (the simulator test drives the real one); the telephone system is the
recording call-control fake.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.core.call_events import CallRecord
from callcenter.core.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallStarted,
    ConfigChanged,
    TicketChanged,
)
from callcenter.db.models import (
    AuditEntry,
    Call,
    CallWrapUp,
    Department,
    SystemSetting,
    Task,
    Ticket,
    User,
)
from callcenter.registry import BUS, CALL_CONTROL, SESSIONMAKER
from callcenter.supervisor.board import BOARD
from callcenter.supervisor.hub import BOARD_HUB, CloseCode
from callcenter.supervisor.plugin import FEED, PLUGIN
from callcenter.web.app import create_app
from tests.auth_helpers import csrf_headers, login, make_user
from tests.fakes import RecordingCallControl

# 10:00 in Ho Chi Minh City (UTC+7) on 10/03/2026: "today" runs from 09/03 17:00 UTC.
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)


class FakeAcd:
    """The ACD as the board reads it: two agents, Lan talking on PJSIP/101."""

    def __init__(self, lan: int, minh: int) -> None:
        self.agents = [
            {"id": lan, "name": "Trần Thị Lan", "state": "available", "reason": "",
             "since": NOW.isoformat(), "calls_today": 0},
            {"id": minh, "name": "Lê Minh", "state": "paused", "reason": "lunch",
             "since": NOW.isoformat(), "calls_today": 0},
        ]  # fmt: skip
        self.phones = {"PJSIP/101": lan, "PJSIP/102": minh}

    def agent_at_phone(self, interface: str) -> int | None:
        return self.phones.get(interface.split("-")[0])

    def waiting_snapshot(self, group: str | None = None) -> Any:
        return [{"caller": "+84987000111", "group": "care", "priority": 1,
                 "since": (NOW - timedelta(seconds=42)).isoformat(), "position": 1}]  # fmt: skip

    def wallboard_agents(self) -> list[dict[str, Any]]:
        return [dict(agent) for agent in self.agents]

    def calls_in_progress(self) -> int:
        return 2  # Lan's call and the waiting caller

    def phones_in_use(self) -> dict[str, int]:
        return {}


def _call(linkedid: str, started: datetime, disposition: str, wait: float, talk: float = 0,
          hold: float = 0, direction: str = "inbound") -> Call:  # fmt: skip
    return Call(
        linkedid=linkedid,
        direction=direction,
        started_at=started,
        answered_at=started + timedelta(seconds=wait) if disposition == "answered" else None,
        ended_at=started + timedelta(seconds=wait + talk + hold + 1),
        wait_seconds=wait,
        talk_seconds=talk,
        hold_seconds=hold,
        disposition=disposition,
    )


@pytest.fixture
async def board_client(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> tuple[TestClient, dict[str, int], RecordingCallControl, ManualClock]:
    clock = ManualClock(NOW)
    app = create_app(settings, clock=clock, engine=engine, extra_plugins=[PLUGIN])
    control = RecordingCallControl()
    app[CALL_CONTROL] = control
    people = {}
    for name, role, phone in (("lan", "agent", "PJSIP/101"), ("minh", "agent", "PJSIP/102"),
                              ("tuan", "supervisor", "PJSIP/109"), ("hoa", "supervisor", "")):  # fmt: skip
        user = await make_user(app, name, role, interface=phone, full_name=name.title())
        people[name] = user.id
    async with app[SESSIONMAKER]() as session:
        nine = MIDNIGHT + timedelta(hours=2)
        session.add_all(
            [
                # today: A answered in time, B answered late, C a short abandon (3 s),
                # D abandoned after 40 s, E missed (the system ended it) — offered only
                _call("A", nine, "answered", 10, 100, 20),
                _call("B", nine + timedelta(minutes=5), "answered", 30, 200),
                _call("C", nine + timedelta(minutes=6), "abandoned", 3),
                _call("D", nine + timedelta(minutes=7), "abandoned", 40),
                _call("E", nine + timedelta(minutes=8), "missed", 5),
                # not today's inbound: a click-to-call, and a call that began before midnight
                _call("F", nine, "answered", 2, 60, direction="outbound"),
                _call("G", MIDNIGHT - timedelta(minutes=1), "answered", 5, 300),
            ]
        )  # fmt: skip
        await session.flush()
        calls = {c.linkedid: c for c in await session.scalars(select(Call))}
        # after-call work: A 30 s, B 50 s after the call ended; G's belongs to yesterday
        for linkedid, seconds in (("A", 30), ("B", 50), ("G", 100)):
            call = calls[linkedid]
            assert call.ended_at is not None
            session.add(CallWrapUp(call_id=call.id, outcome="info_only",
                                   saved_at=call.ended_at + timedelta(seconds=seconds)))  # fmt: skip
        sales = Department(code="kd", name="Kinh doanh", name_en="Sales")
        service = Department(code="dv", name="Dịch vụ", name_en="Service")
        session.add_all([sales, service])
        await session.flush()
        session.add_all(
            [
                Ticket(code="TK-2026-000001", department_id=sales.id, status="assigned",
                       due_at=NOW - timedelta(hours=1)),
                Ticket(code="TK-2026-000002", department_id=sales.id, status="in_progress",
                       due_at=NOW + timedelta(hours=1)),
                Ticket(code="TK-2026-000003", department_id=service.id, status="waiting"),
                Ticket(code="TK-2026-000004", department_id=service.id, status="closed",
                       due_at=NOW - timedelta(days=1)),
                Task(kind="callback", phone="+84911000001", status="open",
                     created_at=NOW - timedelta(minutes=30)),
                Task(kind="callback", phone="+84911000002", status="in_progress",
                     created_at=NOW - timedelta(minutes=90)),
                Task(kind="callback", phone="+84911000003", status="done",
                     created_at=NOW - timedelta(days=2)),
                Task(kind="follow_up", phone="+84911000004", status="open",
                     created_at=NOW - timedelta(days=3)),
            ]
        )  # fmt: skip
        await session.commit()
    app[BOARD_HUB].session_check_seconds = 0.2
    client = await aiohttp_client(app)
    app[BOARD].acd = FakeAcd(people["lan"], people["minh"])
    return client, people, control, clock


async def _board(client: TestClient) -> dict[str, Any]:
    response = await client.get("/api/supervisor/wallboard")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_todays_kpis_from_the_database_then_live(board_client: Any) -> None:
    client, people, _control, clock = board_client
    await login(client, "tuan")
    board = await _board(client)
    today = board["today"]
    # offered = 5 finished today + 2 in progress; abandoned = D and E (missed, 5 s is not
    # short); short = C; SL = A ÷ (A + B + D + E) = 1/4;
    # ASA = (10 + 30) / 2; AHT = (100 + 20 + 200 + 30 + 50) / 2
    assert today == {
        "offered": 7,
        "answered": 2,
        "abandoned": 2,
        "short_abandoned": 1,
        "service_level": 25.0,
        "asa_seconds": 20.0,
        "aht_seconds": 200.0,
        "service_level_seconds": 20.0,
        "short_abandon_seconds": 5.0,
    }
    assert board["day"] == "10/03/2026"
    assert board["tickets"]["open"] == 3 and board["tickets"]["overdue"] == 1
    assert [(d["name"], d["open"], d["overdue"]) for d in board["tickets"]["departments"]] == [
        ("Kinh doanh", 2, 1),
        ("Dịch vụ", 1, 0),
    ]
    assert board["callbacks"] == {
        "open": 2,
        "oldest_since": (NOW - timedelta(minutes=90)).isoformat(),
    }
    assert board["waiting"][0]["priority"] == 1
    assert board["longest_wait_since"] == (NOW - timedelta(seconds=42)).isoformat()
    assert board["agent_counts"]["available"] == 1 and board["agent_counts"]["paused"] == 1

    # A live call: answered by Lan (wait 8 s), ended after 60 s; then 12 s of wrap-up.
    app = client.server.app
    bus = app[BUS]
    started = NOW
    bus.publish(
        CallStarted("L1", started, "+84912345678", "<b>An</b>", "19006868", "PJSIP/trunk-1")
    )
    bus.publish(CallAnswered("L1", started + timedelta(seconds=8), "PJSIP/101", "u2",
                             8.0, "+84912345678", agent_channel="PJSIP/101-0000002a"))  # fmt: skip
    fake = app[BOARD].acd
    fake.agents[0].update(state="on_call")
    board = await _board(client)
    lan = next(a for a in board["agents"] if a["id"] == people["lan"])
    assert lan["caller"]["number"] == "+84912345678" and lan["caller"]["name"] == "<b>An</b>"
    assert board["agents"][0]["id"] == people["lan"]  # talking agents first

    record = CallRecord(
        "L1", started, caller_number="+84912345678", agent_interface="PJSIP/101",
        answered_at=started + timedelta(seconds=8),
        ended_at=started + timedelta(seconds=68), disposition="answered",
    )  # fmt: skip
    bus.publish(CallEnded("L1", started + timedelta(seconds=68), record))
    at = started + timedelta(seconds=68)
    bus.publish(AgentStateChanged(people["lan"], "wrapup", "on_call", "", "PJSIP/101", at))
    bus.publish(AgentStateChanged(people["lan"], "available", "wrapup", "", "PJSIP/101",
                                  at + timedelta(seconds=12)))  # fmt: skip
    fake.agents[0].update(state="available")
    today = (await _board(client))["today"]
    # 3 answered: SL = (A + L1) ÷ 5 = 40 %; ASA = 48 / 3 = 16;
    # AHT = (400 before + 60 talk + 12 wrap-up) / 3 = 157.33…
    assert (today["answered"], today["service_level"]) == (3, 40.0)
    assert (today["asa_seconds"], today["aht_seconds"]) == (16.0, 157.3)

    # A call that began before midnight and ends today counts on its own day, not today.
    late = CallRecord("L0", MIDNIGHT - timedelta(seconds=30), ended_at=NOW,
                      disposition="abandoned")  # fmt: skip
    bus.publish(CallEnded("L0", NOW, late))
    assert (await _board(client))["today"]["abandoned"] == 2

    # Local midnight: a new day starts from zero.
    clock.set(MIDNIGHT + timedelta(days=1, seconds=1))
    await login(client, "tuan")  # a day later the session has expired
    rolled = await _board(client)
    assert rolled["day"] == "11/03/2026"
    assert (rolled["today"]["answered"], rolled["today"]["service_level"]) == (0, None)


async def test_listen_in_modes_errors_and_audit(board_client: Any) -> None:
    client, people, control, _clock = board_client
    app = client.server.app
    app[BUS].publish(CallStarted("L7", NOW, "+84912345678", "", "19006868", "PJSIP/trunk-7"))
    app[BUS].publish(CallAnswered("L7", NOW, "PJSIP/101", "u7", 3.0, "+84912345678",
                                  agent_channel="PJSIP/101-0000007b"))  # fmt: skip
    await login(client, "tuan")
    headers = csrf_headers(client)

    async def listen(body: Any, **extra: Any) -> tuple[int, Any]:
        response = await client.post("/api/supervisor/listen", json=body, headers=headers)
        payload = await response.json() if response.content_type == "application/json" else None
        return response.status, payload

    for mode in ("listen", "whisper", "barge"):
        status, body = await listen({"agent_id": people["lan"], "mode": mode})
        assert status == 200, body
        assert (body["phone"], body["linkedid"], body["mode"]) == ("PJSIP/109", "L7", mode)
    assert [a for a in control.actions if a[0] == "listen_in"] == [
        ("listen_in", "PJSIP/109", "PJSIP/101-0000007b", "listen"),
        ("listen_in", "PJSIP/109", "PJSIP/101-0000007b", "whisper"),
        ("listen_in", "PJSIP/109", "PJSIP/101-0000007b", "barge"),
    ]
    async with app[SESSIONMAKER]() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    audited = [
        (e.action, e.username, e.details["call"]) for e in entries if e.action.startswith("call.")
    ]
    assert audited == [
        ("call.listen", "tuan", "L7"),
        ("call.whisper", "tuan", "L7"),
        ("call.barge", "tuan", "L7"),
    ]

    assert (await listen({"agent_id": people["minh"]}))[0] == 409  # not on a call
    assert (await listen({"agent_id": 9999}))[0] == 404
    status, body = await listen({"agent_id": people["lan"], "mode": "shout"})
    assert status == 400 and body["error"].startswith("mode")
    bad = await client.post("/api/supervisor/listen", data="not json", headers=headers)
    assert bad.status == 400
    control.refuse.add("listen_in")
    status, body = await listen({"agent_id": people["lan"]})
    assert status == 502 and "refused" in body["error"]
    control.connected = False
    assert (await listen({"agent_id": people["lan"]}))[0] == 503
    control.connected, control.refuse = True, set()

    # A supervisor with no phone on their record is told so; agents are refused.
    await client.post("/logout", data={"csrf_token": headers["X-CSRF-Token"]})
    await login(client, "hoa")
    headers = csrf_headers(client)
    status, body = await listen({"agent_id": people["lan"]})
    assert status == 409 and "phone" in body["error"]
    await client.post("/logout", data={"csrf_token": headers["X-CSRF-Token"]})
    await login(client, "minh")
    headers = csrf_headers(client)
    assert (await listen({"agent_id": people["lan"]}))[0] == 403
    async with app[SESSIONMAKER]() as session:
        count = len([e for e in await session.scalars(select(AuditEntry))
                     if e.action.startswith("call.")])  # fmt: skip
    assert count == 3  # refusals and failures are not listen-ins


async def test_ticket_events_refresh_the_summaries(board_client: Any) -> None:
    client, _people, _control, _clock = board_client
    app = client.server.app
    await login(client, "tuan")
    async with app[SESSIONMAKER]() as session:
        session.add(Ticket(code="TK-2026-000009", department_id=None, status="unassigned"))
        await session.commit()
    app[BUS].publish(TicketChanged(9, "TK-2026-000009", "created", "unassigned", None, None))
    feed = app[FEED]
    feed._summaries_due.set()
    for _ in range(60):
        board = await _board(client)
        if board["tickets"]["open"] == 4:
            break
        await asyncio.sleep(0.1)
    assert board["tickets"]["open"] == 4
    assert ("", 1, 0) in [
        (d["name"], d["open"], d["overdue"]) for d in board["tickets"]["departments"]
    ]


async def test_a_new_threshold_recounts_the_day(board_client: Any) -> None:
    client, _people, _control, _clock = board_client
    app = client.server.app
    await login(client, "tuan")
    assert (await _board(client))["today"]["service_level"] == 25.0  # A of A, B, D, E
    async with app[SESSIONMAKER]() as session:
        session.add(SystemSetting(key="service_level_seconds", value=30))
        await session.commit()
    app[BUS].publish(ConfigChanged(area="settings"))
    for _ in range(60):
        today = (await _board(client))["today"]
        if today["service_level_seconds"] == 30.0:
            break
        await asyncio.sleep(0.1)
    # B waited exactly 30 s: now in time as well
    assert (today["service_level_seconds"], today["service_level"]) == (30.0, 50.0)


async def test_a_wallboard_closes_when_its_login_ends(board_client: Any) -> None:
    client, people, _control, _clock = board_client
    await login(client, "tuan")
    ws = await client.ws_connect("/supervisor/ws")
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "board"
    async with client.server.app[SESSIONMAKER]() as session:  # e.g. a password change
        tuan = await session.get(User, people["tuan"])
        assert tuan is not None
        tuan.session_version += 1
        await session.commit()
    closed = None
    for _ in range(40):
        message = await ws.receive(timeout=5)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            closed = ws.close_code
            break
    assert closed == int(CloseCode.SESSION_ENDED)
