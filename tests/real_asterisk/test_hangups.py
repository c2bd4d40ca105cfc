"""Callers who hang up at each stage: during the recording notice, in the menu, while an
agent's phone rings, and after the answer. Each call is one record; only the caller
who hung up on a ringing agent gets a callback task, and the answered one a ticket.
"""

from __future__ import annotations

import asyncio

from tests.real_asterisk.daemon import MENU_HOTLINE
from tests.real_asterisk.tier import Tier, caller_number, check_answered, e164


async def test_hang_up_before_an_agent_answers(tier: Tier) -> None:
    tier.pbx.set_agent("101", mode="noanswer")
    await tier.open_pages("an")
    in_notice, in_menu, ringing = caller_number(600), caller_number(601), caller_number(602)
    await tier.call_sip(in_notice, patience=1.5)  # the notice lasts about 4 s
    await tier.call_local(in_menu, did=MENU_HOTLINE, patience=3)
    await tier.call_sip(ringing, patience=8)  # notice ~4 s, then an's phone rings
    calls = await tier.wait_calls_ended(3, within=60)
    problems = []
    for number in (in_notice, in_menu, ringing):
        mine = [c for c in calls if c.caller_number.endswith(number[1:])]
        if len(mine) != 1:
            problems.append(f"{number}: {len(mine)} call records, not 1")
            continue
        call = mine[0]
        if call.disposition != "abandoned" or call.hangup_by != "caller":
            problems.append(
                f"{number}: {call.disposition!r} hung up by {call.hangup_by!r}, "
                "want abandoned by the caller"
            )
        if call.caller_number != e164(number):
            problems.append(f"{number}: stored as {call.caller_number!r}, not E.164 (item 1)")
    rang = [c for c in calls if c.caller_number.endswith(ringing[1:])]
    if rang:
        outcomes = [(a.interface, a.outcome) for a in rang[0].attempts]
        if outcomes != [("Local/101@tier-agents", "caller_gone")]:
            problems.append(f"{ringing}: attempts {outcomes}, want an's phone 'caller_gone'")
        page = tier.pages["an"]
        if rang[0].linkedid not in page.pops:
            problems.append(f"{ringing}: no pop while an's phone rang")
        if not any(d.get("type") == "offer_ended" for d in page.of_type("offer_ended")):
            problems.append(f"{ringing}: the pop was never withdrawn (offer_ended)")
    tasks = [(t.origin, t.phone) for t in await tier.tasks()]
    if ("abandoned", e164(ringing)) not in tasks:
        problems.append(f"no callback task for the caller who hung up on a ringing agent: {tasks}")
    if any(phone in (e164(in_notice), e164(in_menu)) for _, phone in tasks):
        problems.append(f"callback tasks for callers who never reached the queue: {tasks}")
    assert not problems, "\n".join(problems)


async def test_caller_hangs_up_during_the_conversation(tier: Tier) -> None:
    tier.pbx.set_agent("101", talk=20)
    await tier.open_pages("an")
    number = caller_number(610)
    await tier.call_sip(number, patience=10)  # answered at ~5-6 s, hangs up at 10 s
    calls = await tier.wait_calls_ended(1, within=60)
    await asyncio.sleep(1)
    problems = check_answered(tier, calls, [number])
    call = calls[0]
    if call.hangup_by != "caller":
        problems.append(f"hangup_by {call.hangup_by!r}, want 'caller'")
    tickets = [t for t in await tier.tickets() if t.call_id == call.id]
    if len(tickets) != 1:
        problems.append(f"{len(tickets)} tickets, not 1")
    if await tier.tasks():
        problems.append("a callback task for a caller who was served")
    assert not problems, "\n".join(problems)
