"""Every KPI of every report over a scripted day, against numbers computed by hand from
docs/kpi.md (the computations are written next to each expectation), on SQLite and
PostgreSQL, through the pages and the Excel exports.

The day (tests/reports/day.py), local time UTC+7, threshold 20 s, short abandon 5 s:

  call  offered          hotline/group   agent  wait  talk hold wrap  outcome
  C10   23/11 23:58:00   care            A      12    300  0    10    answered (ends 00:03:12 on 24/11)
  C1    24/11 08:00:00   care            A      10    100  0    20    answered
  C2    24/11 08:30:00   care            B      30    200  20   10    answered
  C3    24/11 09:10:00   menu → sales    A      15    60   0    –     answered (no wrap-up row)
  C4    24/11 09:20:00   care            –      40                    abandoned
  C5    24/11 09:25:00   care            –      3                     short abandon
  C6    24/11 10:05:00   menu → sales    B→A    20    120  0    30    answered, blind transfer B→A
  C7    24/11 14:00:00   care            B      25    90   10   15    answered (A missed it first)
  C8    24/11 14:40:00   care            –      130                   abandoned (B missed it)
  C9    24/11 16:00:00   care            A      5     45   0    5     answered
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.localtime import DEFAULT_ZONE
from callcenter.registry import SESSIONMAKER
from callcenter.reports import services
from callcenter.reports.periods import Grouping
from callcenter.reports.plugin import PLUGIN
from callcenter.reports.queries import Filters
from callcenter.web.app import create_app
from tests.auth_helpers import make_user
from tests.reports.day import NOW, Day, build_day, local
from tests.tickets.pages_helpers import as_user

RANGE = Filters(start=local(23, 0, 0), end=local(25, 0, 0))
QUERY = "from=23/11/2026&to=24/11/2026&by=day"


@pytest.fixture
async def day(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> tuple[TestClient, Day]:
    app = create_app(settings, clock=ManualClock(NOW), engine=engine, extra_plugins=[PLUGIN])
    async with app[SESSIONMAKER]() as session:
        built = await build_day(session)
    client = await aiohttp_client(app)
    return client, built


async def test_calls_report(day: tuple[TestClient, Day]) -> None:
    client, _built = day
    async with client.server.app[SESSIONMAKER]() as session:
        report = await services.calls_report(session, RANGE, Grouping.DAY, DEFAULT_ZONE)
    monday, tuesday = report.periods
    # 23/11: C10 only (offered before midnight, so it counts on the 23rd).
    # SL = 1 in 20 s / (1 answered + 0 abandoned) = 100.0; ASA 12; AHT 300+0+10 = 310.
    assert (monday["label"], monday["offered"], monday["answered"], monday["abandoned"]) == (
        "23/11/2026", 1, 1, 0)  # fmt: skip
    assert (monday["service_level"], monday["asa"], monday["aht"], monday["abandon_rate"]) == (
        100.0, 12.0, 310.0, 0.0)  # fmt: skip
    # 24/11: offered C1-C9 = 9; answered C1 C2 C3 C6 C7 C9 = 6; abandoned after 5 s: C4 C8 = 2;
    # short: C5 = 1. Within 20 s: C1 10, C3 15, C6 20 (inclusive), C9 5 = 4.
    # SL = 4 / (6 + 2) = 50.0. ASA = (10+30+15+20+25+5)/6 = 105/6 = 17.5.
    # AHT = (120 + 230 + 60 + 150 + 115 + 50)/6 = 725/6 = 120.83 → 120.8.
    # Abandon rate = 2 / (6 + 2) = 25.0. Transferred: C6 = 1.
    assert (tuesday["label"], tuesday["offered"], tuesday["answered"], tuesday["abandoned"],
            tuesday["short_abandoned"], tuesday["answered_in_sl"], tuesday["transferred"]) == (
        "24/11/2026", 9, 6, 2, 1, 4, 1)  # fmt: skip
    assert (tuesday["service_level"], tuesday["asa"], tuesday["aht"], tuesday["abandon_rate"]) == (
        50.0, 17.5, 120.8, 25.0)  # fmt: skip
    # Total: SL 5/9 = 55.6; ASA 117/7 = 16.71 → 16.7; AHT 1035/7 = 147.86 → 147.9; 2/9 = 22.2.
    total = report.total
    assert (total["offered"], total["answered"], total["abandoned"], total["short_abandoned"]) == (
        10, 7, 2, 1)  # fmt: skip
    assert (total["service_level"], total["asa"], total["aht"], total["abandon_rate"]) == (
        55.6, 16.7, 147.9, 22.2)  # fmt: skip
    # Abandoned after: C5 3 s → 0-5; C4 40 s → 20-60; C8 130 s → ≥120. Mean abandon wait (40+130)/2.
    assert [total[k] for k in ("abandon_0_5", "abandon_5_20", "abandon_20_60", "abandon_60_120",
                               "abandon_120")] == [1, 0, 1, 0, 1]  # fmt: skip
    assert total["avg_abandon_wait"] == 85.0
    # By hotline and IVR choice: menu/sales = C3 C6: SL 2/2, ASA (15+20)/2, AHT (60+150)/2.
    # care = C1 C2 C4 C5 C7 C8 C9 C10: answered 5, abandoned 2, within 20 s C1 C9 C10 = 3:
    # SL 3/7 = 42.9; ASA (10+30+25+5+12)/5 = 16.4; AHT (120+230+115+50+310)/5 = 165.0.
    routes = {(r["hotline"], r["group"]): r for r in report.by_route}
    sales, care = routes[("19001080", "sales")], routes[("19006868", "care")]
    assert (sales["offered"], sales["service_level"], sales["asa"], sales["aht"]) == (
        2,
        100.0,
        17.5,
        105.0,
    )
    assert (care["offered"], care["answered"], care["abandoned"], care["service_level"],
            care["asa"], care["aht"]) == (8, 5, 2, 42.9, 16.4, 165.0)  # fmt: skip
    # Heat map (Monday = 0): Tue 08h C1 C2; 09h C3 C4 C5; 10h C6; 14h C7 C8; 16h C9; Mon 23h C10.
    assert report.heat[1][8:17] == [2, 3, 1, 0, 0, 0, 2, 0, 1]
    assert report.heat[0][23] == 1 and sum(map(sum, report.heat)) == 10


async def test_call_filters(day: tuple[TestClient, Day]) -> None:
    client, built = day
    async with client.server.app[SESSIONMAKER]() as session:
        only_a = await services.calls_report(
            session, Filters(RANGE.start, RANGE.end, agent_id=built.agent_a), Grouping.MONTH,
            DEFAULT_ZONE)  # fmt: skip
        sales = await services.calls_report(
            session, Filters(RANGE.start, RANGE.end, group="sales"), Grouping.WEEK, DEFAULT_ZONE
        )
    # Answered first by A: C1 C3 C9 C10, all within 20 s; ASA (10+15+5+12)/4 = 10.5.
    assert (only_a.total["offered"], only_a.total["service_level"], only_a.total["asa"]) == (
        4,
        100.0,
        10.5,
    )
    assert [p["label"] for p in only_a.periods] == ["11/2026"]
    # The week of Monday 23/11 holds both days; sales = C3 and C6.
    assert [(p["label"], p["offered"]) for p in sales.periods] == [("23/11–29/11/2026", 2)]


async def test_agents_report(day: tuple[TestClient, Day]) -> None:
    client, built = day
    async with client.server.app[SESSIONMAKER]() as session:
        report = await services.agents_report(session, RANGE, NOW)
    by_id = {row["agent_id"]: row for row in report.agents}
    a, b = by_id[built.agent_a], by_id[built.agent_b]
    assert report.pause_reasons == [("lunch_r", "Ăn trưa"), ("training_r", "Đào tạo")]
    # A answered offers: C1 100, C3 60, C6 55 (after the transfer), C9 45, C10 300 = 5, 560 s.
    # B: C2 220 (talk 200 + hold 20), C6 60, C7 100 (90 + 10) = 3, 380 s. Missed: A C7, B C8.
    assert (a["answered"], a["talk"], a["missed"]) == (5, 560.0, 1)
    assert (b["answered"], b["talk"], b["missed"]) == (3, 380.0, 1)
    # A staffed: 492 + 300 + 10 (23/11 23:50-00:03:22) + 7200 + 1800 + 600 + 1200 = 11602 s;
    # busy (on call + wrap-up): 300 + 10 + 1800 + 600 = 2710 → occupancy 23.36 → 23.4 %.
    # Pause: lunch 3600. B staffed 3600 + 2700 + 2700 = 9000, busy 2700 → 30.0 %;
    # lunch 1800 + 600 (23:50 → midnight, the rest falls after the range), training 1800.
    assert (a["staffed"], a["occupancy"], a["pause"], a["pause_total"]) == (
        11602.0, 23.4, {"lunch_r": 3600.0, "training_r": 0.0}, 3600.0)  # fmt: skip
    assert (b["staffed"], b["occupancy"], b["pause"], b["pause_total"]) == (
        9000.0, 30.0, {"lunch_r": 2400.0, "training_r": 1800.0}, 4200.0)  # fmt: skip
    # Tickets: A created 901 903 905, closed 903 (created closed); B created 902 904, closed none.
    assert (a["tickets_created"], a["tickets_closed"], b["tickets_created"], b["tickets_closed"]) == (
        3, 1, 2, 0)  # fmt: skip
    # Surveys: A 4 and 5 → 4.5; B 2 → 2.0.
    assert (a["surveys"], a["survey_avg"], b["surveys"], b["survey_avg"]) == (2, 4.5, 1, 2.0)
    assert built.supervisor not in by_id


async def test_tickets_report(day: tuple[TestClient, Day]) -> None:
    client, built = day
    async with client.server.app[SESSIONMAKER]() as session:
        report = await services.tickets_report(session, RANGE, Grouping.DAY, DEFAULT_ZONE, NOW)
    groups = {(g["category_id"], g["department_id"]): g for g in report.groups}
    warranty = groups[(built.warranty, built.tech)]
    info = groups[(built.info, built.care)]
    # Warranty/tech: 901 (closed, done 11:30 ≤ due 12:00: within), 902 (reopened, in progress,
    # done 10:30 > due 10:00: overdue), 904 (unassigned, due 16:00 passed: overdue).
    # Within-SLA rate 1/3 = 33.3; reopen rate 1 reopened / 2 ever finished = 50.0.
    # Work: 901 09-10 + 11-11:30 = 5400; 902 09:00-10:30 = 5400 + 12:00 → now (24:00) = 43200;
    # = 54000 s / 3 tickets / 3600 = 5.0 h. Waiting: 901 10-11 = 3600 / 3 / 3600 = 0.33 h.
    assert (warranty["created"], warranty["handled"], warranty["unhandled"], warranty["cancelled"],
            warranty["within_sla"], warranty["overdue"], warranty["within_sla_rate"],
            warranty["reopen_rate"], warranty["avg_work_hours"], warranty["avg_waiting_hours"]) == (
        3, 1, 2, 0, 1, 2, 33.3, 50.0, 5.0, 0.33)  # fmt: skip
    # Info/care: 903 created closed (handled, no due), 905 cancelled (due tomorrow: neither).
    assert (info["created"], info["handled"], info["unhandled"], info["cancelled"],
            info["within_sla"], info["overdue"], info["within_sla_rate"], info["reopen_rate"],
            info["avg_work_hours"]) == (2, 1, 0, 1, 0, 0, None, 0.0, 0.0)  # fmt: skip
    # Total: 5 tickets; work 54000 / 5 / 3600 = 3.0 h; waiting 3600 / 5 / 3600 = 0.2 h;
    # reopen 1 / 3 finished (901 902 903) = 33.3.
    total = report.total
    assert (total["created"], total["handled"], total["unhandled"], total["within_sla_rate"],
            total["reopen_rate"], total["avg_work_hours"], total["avg_waiting_hours"]) == (
        5, 2, 2, 33.3, 33.3, 3.0, 0.2)  # fmt: skip
    assert [(p["label"], p["created"], p["handled"]) for p in report.periods] == [
        ("24/11/2026", 5, 2)
    ]


async def test_pages_and_excel_hold_the_same_numbers(day: tuple[TestClient, Day]) -> None:
    client, built = day
    supervisor = built.supervisor
    await as_user(client, supervisor)
    page = await client.get(f"/reports/calls?{QUERY}")
    html = await page.text()
    assert page.status == 200 and "<svg" in html and 'id="calls-table"' in html
    assert (
        "<td>24/11/2026</td><td>9</td><td>6</td><td>2</td><td>1</td><td>50.0</td><td>17.5</td>"
        in html
    )
    response = await client.get(f"/reports/calls.xlsx?{QUERY}")
    assert response.status == 200
    book = load_workbook(io.BytesIO(await response.read()))
    sheet = book.worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[2][:10] == ["24/11/2026", 9, 6, 2, 1, 4, 50.0, 17.5, 120.8, 25.0]
    assert rows[3][:10] == [rows[3][0], 10, 7, 2, 1, 5, 55.6, 16.7, 147.9, 22.2]
    assert sheet._charts, "the calls sheet has a native chart"
    agents = load_workbook(
        io.BytesIO(await (await client.get(f"/reports/agents.xlsx?{QUERY}")).read())
    )
    agent_rows = {row[0]: row for row in agents.worksheets[0].iter_rows(values_only=True)}
    assert agent_rows["A Lan"][1:5] == (5, 560.0, 1, 3600.0)
    assert agent_rows["B Minh"][-1] == 2.0
    tickets = load_workbook(
        io.BytesIO(await (await client.get(f"/reports/tickets.xlsx?{QUERY}")).read())
    )
    ticket_rows = list(tickets.worksheets[0].iter_rows(values_only=True))
    assert ticket_rows[-1][2:12] == (5, 2, 2, 1, 1, 2, 33.3, 33.3, 3.0, 0.2)
    for kind in ("agents", "tickets"):
        assert (await client.get(f"/reports/{kind}?{QUERY}")).status == 200


async def test_bad_filters_are_refused_with_a_reason(day: tuple[TestClient, Day]) -> None:
    client, built = day
    await as_user(client, built.supervisor)
    bad = await client.get("/reports/calls?from=31/02/2026")
    assert bad.status == 400 and "dd/mm/yyyy" in await bad.text()
    backwards = await client.get("/reports/calls?from=24/11/2026&to=23/11/2026")
    assert backwards.status == 400
    assert (await client.get("/reports/calls?agent=x")).status == 400


async def test_only_supervisors_and_admins(day: tuple[TestClient, Day], tmp_path: Path) -> None:
    client, built = day
    staff = await make_user(client, "dept", "department")
    await as_user(client, built.agent_a)
    assert (await client.get(f"/reports/calls?{QUERY}")).status == 403
    await as_user(client, staff.id)
    assert (await client.get(f"/reports/tickets.xlsx?{QUERY}")).status == 403
