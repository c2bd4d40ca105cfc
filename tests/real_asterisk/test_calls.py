"""A dozen customers over the SIP trunk and a dozen through a Local channel, three agents,
the default strategy (``fewest_calls`` for a new install): what users rely on, checked on
a real Asterisk running the project's dialplan with the daemon unchanged.

Per call: exactly one call record with the caller's number in E.164, answered by an
agent, its recording written and linked, the agent's pop before the answer (and only
once), one ticket from the wrap-up; no abandon and no callback task; the calls spread
within ±1 of the mean.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.real_asterisk.tier import Tier, caller_number, check_answered

CALLS = 12
SPACING = 0.8  # seconds between customers: agents are busy, some callers wait


async def _run_batch(tier: Tier, place: str, first: int, count: int = CALLS) -> None:
    await tier.open_pages()
    numbers = [caller_number(first + n) for n in range(count)]
    for number in numbers:
        await getattr(tier, place)(number)
        await asyncio.sleep(SPACING)
    calls = await tier.wait_calls_ended(count, within=150)
    problems = check_answered(tier, calls, numbers)
    tickets = await tier.tickets()
    tasks = await tier.tasks()

    by_call = Counter(t.call_id for t in tickets)
    for call in calls:
        if by_call.get(call.id, 0) != 1:
            problems.append(f"{call.caller_number}: {by_call.get(call.id, 0)} tickets, not 1")
    if tasks:
        problems.append(
            f"callback tasks for served callers: {[(t.phone, t.origin) for t in tasks]}"
        )
    for page in tier.pages.values():
        problems += [f"{page.username}: {e}" for e in page.errors]
    counts = Counter(tier.agent_name(c.agent_id) for c in calls if c.disposition == "answered")
    mean = len(numbers) / len(tier.pages)
    if any(abs(counts.get(name, 0) - mean) > 1 for name in tier.pages):
        problems.append(f"calls per agent {dict(counts)} not within ±1 of {mean:g}")
    assert not problems, "\n".join(problems)


async def test_a_dozen_calls_over_the_sip_trunk(tier: Tier) -> None:
    await _run_batch(tier, "call_sip", 100)


async def test_a_dozen_calls_through_a_local_channel(tier: Tier) -> None:
    await _run_batch(tier, "call_local", 200)


async def test_forwarded_calls_through_a_local_channel(tier: Tier) -> None:
    await _run_batch(tier, "call_forwarded", 300, count=6)
