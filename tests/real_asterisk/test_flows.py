"""Rows of the dialplan ↔ daemon contract on a real Asterisk, simplest first: the menu,
closed hours with "press 1", no answer then re-route, waiting with music and
announcements then Redirect, every agent paused, a caller who gives up.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.real_asterisk.daemon import MENU_HOTLINE
from tests.real_asterisk.tier import Tier, caller_number, check_answered, e164


async def _tickets_per_call(tier: Tier) -> dict[int, int]:
    counts: dict[int, int] = {}
    for ticket in await tier.tickets():
        if ticket.call_id is not None:
            counts[ticket.call_id] = counts.get(ticket.call_id, 0) + 1
    return counts


async def test_menu_digit_routes_to_its_group(tier: Tier) -> None:
    """Press 1 on the menu hotline: the sales group (chi alone) takes the call."""
    await tier.open_pages()
    number = caller_number(400)
    await tier.call_sip(number, did=MENU_HOTLINE, digits="1", digits_after=1.5)
    calls = await tier.wait_calls_ended(1, within=60)
    problems = check_answered(tier, calls, [number])
    if calls and calls[0].agent_id != tier.seeded.agents["chi"]:
        problems.append(f"menu 1 (sales: chi) answered by {tier.agent_name(calls[0].agent_id)}")
    if (await _tickets_per_call(tier)).get(calls[0].id) != 1:
        problems.append("the call has no ticket (or several)")
    assert not problems, "\n".join(problems)


@pytest.mark.tier_seed(closed_now=True)
async def test_closed_hours_press_1_for_a_callback(tier: Tier) -> None:
    """Out of hours: the closed prompt, "press 1", a callback task for the caller's number."""
    number = caller_number(410)
    await tier.call_local(number, digits="1", digits_after=6)
    calls = await tier.wait_calls_ended(1, within=60)
    problems = []
    mine = [c for c in calls if c.caller_number.endswith(number[1:])]
    if len(mine) != 1:
        problems.append(f"{len(mine)} call records, not 1")
    elif mine[0].caller_number != e164(number):
        problems.append(f"caller stored as {mine[0].caller_number!r}, not E.164 (item 1)")
    tasks = await tier.tasks()
    if [(t.origin, t.phone[-9:]) for t in tasks] != [("closed", number[1:])]:
        problems.append(f"callback tasks {[(t.origin, t.phone) for t in tasks]}, want one 'closed'")
    assert not problems, "\n".join(problems)


async def test_no_answer_then_reroute(tier: Tier) -> None:
    """The first agent's phone rings out: the call goes to another agent; one record, the
    missed attempt in it, and no false CDR mismatch warning (issue 11 item 3)."""
    tier.pbx.set_agent("101", mode="noanswer")
    await tier.open_pages()
    number = caller_number(420)
    await tier.call_sip(number)
    calls = await tier.wait_calls_ended(1, within=60)
    problems = check_answered(tier, calls, [number])
    call = calls[0]
    outcomes = [(a.interface, a.outcome) for a in call.attempts]
    if ("Local/101@tier-agents", "noanswer") not in outcomes:
        problems.append(f"no 'noanswer' attempt on an's phone: {outcomes}")
    if call.agent_id == tier.seeded.agents["an"]:
        problems.append("answered by the agent whose phone never answers")
    if "CDR mismatch" in tier.daemon.log_text():
        lines = [x for x in tier.daemon.log_text().splitlines() if "CDR mismatch" in x]
        problems.append(f"false CDR mismatch warning (issue 11 item 3): {lines}")
    assert not problems, "\n".join(problems)


async def test_waiting_with_music_then_redirect(tier: Tier) -> None:
    """One agent, two callers: the second waits in [cc-wait] hearing music between the
    announcements (MusicOnHoldStart/Stop), then the daemon Redirects them to the agent."""
    await tier.ami.action(
        {"Action": "Setvar", "Variable": "CC_ANNOUNCE_EVERY", "Value": "3"}
    )  # global: announcements every 3 s instead of 30 (time scale for the test)
    tier.pbx.set_agent("101", talk=14)  # the second caller waits ~10 s: music, announcement, music
    await tier.open_pages()
    await tier.pages["binh"].pause()
    await tier.pages["chi"].pause()
    first, second = caller_number(430), caller_number(431)
    mark = len(tier.ami.events)
    await tier.call_sip(first)
    await tier.until(lambda: tier.pages["an"].talking(), within=30, what="an talks to the first")
    tier.pbx.set_agent("101")  # the waiting caller's own conversation: short again
    await tier.call_sip(second)
    try:
        calls = await tier.wait_calls_ended(2, within=90)
    finally:
        await tier.ami.action({"Action": "Setvar", "Variable": "CC_ANNOUNCE_EVERY", "Value": "30"})
    problems = check_answered(tier, calls, [first, second])
    events = [
        e["Event"]
        for e in tier.ami.events[mark:]
        if e.get("Event", "").startswith("MusicOnHold") and e.get("CallerIDNum") == second
    ]
    if events.count("MusicOnHoldStart") < 2 or "MusicOnHoldStop" not in events:
        problems.append(
            f"the waiting caller's music events {events}: want music, announcement, music "
            "(MusicOnHold returns at once when the class has no files: issue 11 item 5)"
        )
    by_number = {c.caller_number[-9:]: c for c in calls}
    waited = by_number.get(second[1:])
    if waited is not None and waited.agent_id != tier.seeded.agents["an"]:
        problems.append(f"the waiting caller went to {tier.agent_name(waited.agent_id)}, not an")
    tickets = await _tickets_per_call(tier)
    problems += [
        f"{c.caller_number}: {tickets.get(c.id, 0)} tickets"
        for c in calls
        if tickets.get(c.id) != 1
    ]
    if await tier.tasks():
        problems.append("a callback task for callers who were served")
    assert not problems, "\n".join(problems)


async def test_all_agents_paused_caller_gives_up(tier: Tier) -> None:
    """Everyone paused: the caller waits, gives up, and gets exactly one callback task."""
    await tier.open_pages()
    for page in tier.pages.values():
        await page.pause()
    number = caller_number(440)
    await tier.call_local(number, patience=9)
    calls = await tier.wait_calls_ended(1, within=60)
    problems = []
    if len(calls) != 1 or calls[0].disposition != "abandoned":
        problems.append(
            f"records {[(c.caller_number, c.disposition) for c in calls]}: want one abandoned"
        )
    if any(p.pops for p in tier.pages.values()):
        problems.append("a paused agent's page popped")
    tasks = await tier.tasks()
    if [(t.origin, t.phone[-9:]) for t in tasks] != [("abandoned", number[1:])]:
        problems.append(f"tasks {[(t.origin, t.phone) for t in tasks]}: want one 'abandoned'")
    elif tasks[0].phone != e164(number):
        problems.append(f"task phone {tasks[0].phone!r}, not E.164")
    assert not problems, "\n".join(problems)


@pytest.mark.tier_seed(max_wait=5)
async def test_overflow_press_1_for_a_callback(tier: Tier) -> None:
    """Everyone paused and the group's longest wait (5 s) passes: the daemon moves the caller
    to [cc-overflow]; they press 1 and get exactly one callback task (origin overflow)."""
    await tier.open_pages()
    for page in tier.pages.values():
        await page.pause()
    number = caller_number(450)
    mark = len(tier.ami.events)
    await tier.call_sip(number, digits="1", digits_after=15, patience=5)
    calls = await tier.wait_calls_ended(1, within=60)
    problems = []
    overflowed = [
        e
        for e in tier.ami.events[mark:]
        if e.get("Event") == "Newexten" and e.get("Context") == "cc-overflow"
    ]
    if not overflowed:
        problems.append("the caller never reached [cc-overflow]")
    if len(calls) != 1:
        problems.append(f"{len(calls)} call records, not 1")
    tasks = [(t.origin, t.phone) for t in await tier.tasks()]
    if tasks != [("overflow", e164(number))]:
        problems.append(f"callback tasks {tasks}: want exactly one ('overflow', {e164(number)!r})")
    assert not problems, "\n".join(problems)


async def test_survey_route_is_served(tier: Tier) -> None:
    """[cc-after-call] sends the caller's score to FastAGI ``survey``: the daemon must serve it."""
    reply = await tier.ami.action(
        {
            "Action": "Originate",
            "Channel": "Local/survey@tier-agi-probe",
            "Application": "Wait",
            "Data": "3",
            "Variable": "TIER_ARG=5",
            "Async": "true",
        }
    )
    assert reply.get("Response") == "Success", reply
    await tier.until(
        lambda: "tier/probe/survey" in tier.pbx.cli("database show tier probe"),
        within=15,
        what="the survey probe ran",
    )
    status = tier.pbx.cli("database get tier probe/survey")
    unknown = [x for x in tier.daemon.log_text().splitlines() if "no FastAGI route" in x]
    assert not unknown and "SUCCESS" in status, (
        f"FastAGI survey: AGISTATUS {status.strip()!r}, daemon log {unknown} "
        "(the dialplan calls a route the daemon does not register, issue 11 item 7)"
    )


async def test_the_survey_loop_stores_a_key_pressed_on_a_real_asterisk(tier: Tier) -> None:
    """[cc-survey] on Asterisk 22: the daemon hands over the default survey's question,
    Read takes the key the other end presses, the loop comes back, the answer is stored
    and the caller is thanked and hung up."""
    from sqlalchemy import select

    from callcenter.db.models import SurveyAnswer, SurveyResponse

    reply = await tier.ami.action(
        {
            "Action": "Originate",
            "Channel": "Local/s@cc-survey",
            "Application": "SendDTMF",
            "Data": "wwww4",  # two seconds into the question, the caller presses 4
            "Async": "true",
        }
    )
    assert reply.get("Response") == "Success", reply

    async def stored(session: Any) -> list[tuple[str, float | None]]:
        rows = await session.execute(
            select(SurveyResponse.channel, SurveyAnswer.value_number).join(
                SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id
            )
        )
        return [tuple(r) for r in rows]

    answers: list[tuple[str, float | None]] = []
    for _ in range(300):
        answers = await tier._query(stored)
        if answers:
            break
        await asyncio.sleep(0.1)
    assert answers == [("ivr", 4.0)], tier.daemon.log_text()[-2000:]
    await tier.until(
        lambda: not [c for c in tier.live_channels() if "cc-survey" in c or "Local/s@" in c],
        within=20,
        what="the surveyed channel hung up after the thanks",
    )
