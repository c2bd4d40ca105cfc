"""THE scripted day through the PBX simulator: the real daemon (AMI link, FastAGI, ACD,
call recorder, wrap-up timer) and the simulated Asterisk running the production dialplan,
on one ManualClock (tests/reports/sim_day.py), so every instant is the scripted one.
Every KPI of every report is compared with numbers computed by hand from docs/kpi.md.

Script (local time, UTC+7; Wed 25/11/2026 and Thu 26/11/2026, ordinary working days).
Every prompt lasts 2 s, phones ring 3 s before answering, wrap-up is 15 s (the timer
saves it), ring timeout 15 s. Agents A (agent1, PJSIP/101) and B (agent2, PJSIP/102)
log in at 25/11 23:50:00 and 23:50:01; strategy least_recent.

  call  offered   path                        what happens                              wait talk wrap
  M1    23:59:00  care hotline                recording notice 2 + ring 3; A talks 100  5    100  15
                                              (ends 00:00:45 on the 26th: counts on the 25th)
        00:10:02  B pauses (training) until 00:20:00
  C1    00:11:00  care                        A, talks 60                               5    60   15
  C2    00:15:00  menu hotline, digit 2 at 3s menu 3 + notice 2 + ring 3; A talks 30    8    30   15
        00:25:00  A pauses (lunch) until 00:31:00
  C3    00:30:00  care                        B answers 00:30:05; at 00:31:05 B blind-  5    103  0
                                              transfers to 101: A answers 00:31:08, talks
                                              40, hangs up 00:31:48 (talk = 00:30:05 →
                                              00:31:48). B's wrap-up saved 00:31:20, before
                                              the call ended: wrap-up 0 (clamped).
        00:39:00  A and B pause (lunch); A back 00:50:00, B back 01:10:10
  C4    00:40:00  care, caller patience 40    nobody free: abandoned                    40
  C5    00:41:00  care, caller patience 3     short abandon                             3
  C6    01:10:00  care, A's phone never answers: rings 01:10:02-01:10:17 (missed by A);
                                              then B (back at 01:10:10) rings 3 s      20   50   15
        (survey after call switched on at 01:20)
  C7    01:40:00  care                        A (idle longest), talks 45, hangs up      5    48   12
                                              01:40:50; the caller presses 4 at 01:40:51,
                                              thanks 2 s, gone 01:40:53 (talk runs to
                                              there); wrap-up saved 01:41:05 (end + 12).
  The report is made at 26/11 02:00:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.db.models import CallSurvey, PauseReason, SystemSetting, Ticket
from callcenter.localtime import DEFAULT_ZONE
from callcenter.registry import CALL_CONTROL
from callcenter.reports import services
from callcenter.reports.periods import Grouping
from callcenter.reports.queries import Filters
from tests.reports.sim_day import build_sim_day


def local(day: int, hh: int, mm: int, ss: float = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC) - timedelta(hours=7, seconds=-ss)


CARE, MENU = "19006868", "19001080"


@pytest.mark.timeout(600)
async def test_a_scripted_day_through_the_simulator(tmp_path: Path) -> None:
    rig, drive = await build_sim_day(tmp_path, local(25, 23, 50))
    phones = rig.pbx.config.phones
    async with await rig.db() as session:
        session.add_all([PauseReason(code="lunch", name="Ăn trưa"),
                         PauseReason(code="training", name="Đào tạo")])  # fmt: skip
        await session.commit()
    try:
        await rig.start_daemon()
        acd = rig.service
        a, b = rig.agents["agent1"], rig.agents["agent2"]
        await drive.settle()
        await acd.login(a)
        await drive.run_until(local(25, 23, 50, 1))
        await acd.login(b)
        await drive.run_until(local(25, 23, 59))
        phones["101"].talk_seconds = 100
        await rig.pbx.place_call(CARE, "0911000001")  # M1
        await drive.run_until(local(26, 0, 10, 2))
        await acd.pause(b, "training")
        await drive.run_until(local(26, 0, 11))
        phones["101"].talk_seconds = 60
        await rig.pbx.place_call(CARE, "0911000002")  # C1
        await drive.run_until(local(26, 0, 15))
        phones["101"].talk_seconds = 30
        await rig.pbx.place_call(MENU, "0911000003", digits="2")  # C2
        await drive.run_until(local(26, 0, 20))
        await acd.set_available(b)
        await drive.run_until(local(26, 0, 25))
        await acd.pause(a, "lunch")
        await drive.run_until(local(26, 0, 30))
        phones["102"].talk_seconds = 300
        phones["101"].talk_seconds = 40
        await rig.pbx.place_call(CARE, "0911000004")  # C3
        await drive.run_until(local(26, 0, 31))
        await acd.set_available(a)
        await drive.run_until(local(26, 0, 31, 5))
        (b_leg,) = [c.name for c in rig.pbx.channels.values()
                    if c.name.startswith("PJSIP/102-") and not c.hungup]  # fmt: skip
        assert rig.app is not None
        await rig.app[CALL_CONTROL].blind_transfer(b_leg, "agents", "101")
        await drive.run_until(local(26, 0, 39))
        await acd.pause(a, "lunch")
        await acd.pause(b, "lunch")
        await drive.run_until(local(26, 0, 40))
        await rig.pbx.place_call(CARE, "0911000005", patience=40)  # C4
        await drive.run_until(local(26, 0, 41))
        await rig.pbx.place_call(CARE, "0911000006", patience=3)  # C5
        await drive.run_until(local(26, 0, 50))
        await acd.set_available(a)
        await drive.run_until(local(26, 1, 10))
        phones["101"].mode = "no_answer"
        phones["102"].talk_seconds = 50
        await rig.pbx.place_call(CARE, "0911000007")  # C6
        await drive.run_until(local(26, 1, 10, 10))
        await acd.set_available(b)
        await drive.run_until(local(26, 1, 15))
        phones["101"].mode = "answer"
        await drive.run_until(local(26, 1, 20))
        async with await rig.db() as session:
            session.add(SystemSetting(key="survey_after_call", value=1))
            await session.commit()
        await acd.reload()
        await drive.run_until(local(26, 1, 40))
        phones["101"].talk_seconds = 45
        caller = await rig.pbx.place_call(CARE, "0911000008")  # C7
        await drive.run_until(local(26, 1, 40, 51))
        rig.pbx.press(caller, "4")
        await drive.run_until(local(26, 2, 0))
        now = rig.clock.now()

        days = Filters(start=local(25, 0, 0), end=local(27, 0, 0))
        async with await rig.db() as session:
            calls = await services.calls_report(session, days, Grouping.DAY, DEFAULT_ZONE)
            agents = await services.agents_report(session, days, now)
            tickets = await services.tickets_report(session, days, Grouping.DAY, DEFAULT_ZONE, now)
            surveys = (await session.scalars(select(CallSurvey))).all()
            made = (await session.scalars(select(Ticket).order_by(Ticket.id))).all()
    finally:
        await rig.close()
        await rig.dispose()

    # ---- calls -------------------------------------------------------------------------
    wed, thu = calls.periods
    # 25/11: M1 only: SL 1/1 = 100.0, ASA 5.0, AHT 100 + 0 + 15 = 115.0.
    assert (wed["label"], wed["offered"], wed["answered"], wed["service_level"], wed["asa"],
            wed["aht"], wed["abandon_rate"]) == ("25/11/2026", 1, 1, 100.0, 5.0, 115.0, 0.0)  # fmt: skip
    # 26/11: offered C1-C7 = 7, answered C1 C2 C3 C6 C7 = 5, abandoned C4 = 1, short C5 = 1.
    # All answered waited ≤ 20 s (5, 8, 5, 20, 5): SL 5/(5+1) = 83.3; ASA 43/5 = 8.6;
    # AHT (75 + 45 + 103 + 65 + 60)/5 = 348/5 = 69.6; abandon rate 1/6 = 16.7; 1 transfer.
    assert (thu["offered"], thu["answered"], thu["abandoned"], thu["short_abandoned"],
            thu["answered_in_sl"], thu["transferred"]) == (7, 5, 1, 1, 5, 1)  # fmt: skip
    assert (thu["service_level"], thu["asa"], thu["aht"], thu["abandon_rate"]) == (
        83.3, 8.6, 69.6, 16.7)  # fmt: skip
    # Both days: SL 6/7 = 85.7; ASA 48/6 = 8.0; AHT 463/6 = 77.17 → 77.2; abandon 1/7 = 14.3.
    total = calls.total
    assert (total["offered"], total["service_level"], total["asa"], total["aht"],
            total["abandon_rate"]) == (8, 85.7, 8.0, 77.2, 14.3)  # fmt: skip
    assert [total[k] for k in ("abandon_0_5", "abandon_5_20", "abandon_20_60", "abandon_60_120",
                               "abandon_120")] == [1, 0, 1, 0, 0]  # fmt: skip
    # By hotline and IVR choice: the menu call C2 chose care (digit 2).
    # Care hotline: M1 C1 C3 C4 C5 C6 C7: SL 5/6 = 83.3, ASA 40/5 = 8.0,
    # AHT (115 + 75 + 103 + 65 + 60)/5 = 418/5 = 83.6.
    routes = {(r["hotline"], r["group"]): r for r in calls.by_route}
    assert set(routes) == {(CARE, "care"), (MENU, "care")}
    menu, care = routes[(MENU, "care")], routes[(CARE, "care")]
    assert (menu["offered"], menu["service_level"], menu["asa"], menu["aht"]) == (
        1,
        100.0,
        8.0,
        45.0,
    )
    assert (care["offered"], care["answered"], care["service_level"], care["asa"], care["aht"]) == (
        7, 5, 83.3, 8.0, 83.6)  # fmt: skip
    # Load: Wednesday (2) 23h: M1; Thursday (3) 00h: C1-C5; 01h: C6 C7.
    assert (calls.heat[2][23], calls.heat[3][0], calls.heat[3][1]) == (1, 5, 2)

    # ---- agents ------------------------------------------------------------------------
    rows = {row["agent_id"]: row for row in agents.agents}
    ra, rb = rows[a], rows[b]
    # A answered M1 100, C1 60, C2 30, C3 after the transfer 40, C7 45 (its own leg ends at
    # 01:40:50) = 5 offers, 275 s; missed C6. B: C3 60, C6 50 = 2, 110 s; missed none.
    assert (ra["answered"], ra["talk"], ra["missed"]) == (5, 275.0, 1)
    assert (rb["answered"], rb["talk"], rb["missed"]) == (2, 110.0, 0)
    # A's state log: ringing 3 + 3 + 3 + 15 + 3 = 27; on call 100 + 60 + 30 + 40 + 45 = 275
    # (the ACD marks A on call for the leg of C3 that B transferred to A); wrap-up 5 × 15 =
    # 75; available the rest until 02:00. Staffed 6780, busy 350 → occupancy 5.16 → 5.2 %.
    # Lunch 360 + 660 = 1020.
    assert (ra["staffed"], ra["occupancy"], ra["pause"], ra["pause_total"]) == (
        6780.0, 5.2, {"lunch": 1020.0, "training": 0.0}, 1020.0)  # fmt: skip
    # B: available 1201 + 602 + 460 + 7 + 2915 = 5185, ringing 6, on call 110, wrap-up 30:
    # staffed 5331, busy 140 → 2.63 → 2.6 %. Training 598 (00:10:02-00:20:00), lunch 1870
    # (00:39:00-01:10:10).
    assert (rb["staffed"], rb["occupancy"], rb["pause"], rb["pause_total"]) == (
        5331.0, 2.6, {"lunch": 1870.0, "training": 598.0}, 2468.0)  # fmt: skip
    # The wrap-up timer files each answered call as a ticket for review, created by the agent:
    # A M1 C1 C2 C7 = 4, B C3 C6 = 2; nobody closed one. Survey: A, one answer of 4.
    assert (ra["tickets_created"], ra["tickets_closed"], rb["tickets_created"]) == (4, 0, 2)
    assert [(s.score, s.agent_id) for s in surveys] == [(4, a)]
    assert (ra["surveys"], ra["survey_avg"], rb["survey_avg"]) == (1, 4.0, None)

    # ---- tickets -----------------------------------------------------------------------
    # Six tickets created 26/11 (M1's wrap-up was saved at 00:01:00), all waiting for review:
    # unhandled 6, nothing finished, no due time passed.
    assert len(made) == 6
    assert (tickets.total["created"], tickets.total["handled"], tickets.total["unhandled"],
            tickets.total["within_sla"], tickets.total["reopen_rate"],
            tickets.total["avg_work_hours"]) == (6, 0, 6, 0, None, 0.0)  # fmt: skip
    assert [(p["label"], p["created"]) for p in tickets.periods] == [("26/11/2026", 6)]
