"""An agent passes the caller on (blind to an outside number, attended to an outside
number, to another agent, to a department) and click-to-call, through the agent page's
API as a person would, on a real Asterisk.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.real_asterisk.asterisk import OUTSIDE_PREFIX
from tests.real_asterisk.tier import Tier, caller_number, check_answered, e164

OUTSIDE = OUTSIDE_PREFIX + "000001"


async def _talking(tier: Tier, name: str, number: str, entry: str) -> str:
    """Place a call that ``name`` answers; return its linkedid once the page shows talking."""
    page = tier.pages[name]
    await getattr(tier, entry)(number)

    def talking() -> bool:
        return any(
            d.get("type") == "call" and (d.get("call") or {}).get("phase") == "talking"
            for _, d in page.messages
        )

    await tier.until(talking, within=30, what=f"{name} talking")
    (data,) = [
        d
        for _, d in page.messages
        if d.get("type") == "call" and (d.get("call") or {}).get("phase") == "talking"
    ][:1]
    return str(data["call"]["linkedid"])


def _dials(tier: Tier, mark: int, dialstring: str) -> tuple[list[dict[str, Any]], list[str]]:
    events = tier.ami.events[mark:]
    begins = [
        e for e in events if e.get("Event") == "DialBegin" and e.get("DialString") == dialstring
    ]
    ids = {e.get("DestUniqueid") for e in begins}
    ends = [
        e.get("DialStatus", "")
        for e in events
        if e.get("Event") == "DialEnd" and e.get("DestUniqueid") in ids
    ]
    return begins, ends


def _steps(tier: Tier, mark: int) -> list[tuple[str, str, str, str]]:
    """The dialplan steps in [agents]/[cc-outbound] since ``mark`` (context, priority, app)."""
    return [
        (
            e.get("Context", ""),
            e.get("Priority", ""),
            e.get("Application", ""),
            e.get("AppData", ""),
        )
        for e in tier.ami.events[mark:]
        if e.get("Event") == "Newexten" and e.get("Context") in ("agents", "cc-outbound")
    ]


async def _transfer(
    tier: Tier, kind: str, target: str, mode: str, entry: str = "call_sip", talk: float = 10
) -> tuple[str, int]:
    tier.pbx.set_agent("101", talk=talk)
    await tier.open_pages("an")
    number = caller_number(700 + len(tier.ami.events) % 100)
    linkedid = await _talking(tier, "an", number, entry)
    mark = len(tier.ami.events)
    status, body = await tier.pages["an"].post(
        f"/api/agent/calls/{linkedid}/transfer", {"kind": kind, "target": target, "mode": mode}
    )
    assert status == 200, (status, body)
    return number, mark


@pytest.mark.parametrize("entry", ["call_sip", "call_local"])
async def test_blind_transfer_to_an_outside_number_keeps_the_caller(tier: Tier, entry: str) -> None:
    number, mark = await _transfer(tier, "external", OUTSIDE, "blind", entry)
    await tier.wait_calls_ended(1, within=60)
    begins, ends = _dials(tier, mark, f"{OUTSIDE}@trunk")
    priorities = [
        (e.get("Context"), e.get("Priority"), e.get("Application"))
        for e in tier.ami.events[mark:]
        if e.get("Event") == "Newexten" and e.get("Context") in ("agents", "cc-outbound")
    ]
    assert begins and "ANSWER" in ends, (
        "after the blind transfer the caller never reached the outside number through the "
        f"trunk (dials {ends}); dialplan steps {priorities}: a channel taken out of a bridge "
        "resumes at priority 2 of [agents] _0XXXXXXXX., which has only priority 1 "
        "(issue 11 item 7)"
    )
    calls = await tier.calls()
    transfers = [c for c in calls if c.caller_number.endswith(number[1:])]
    assert len(transfers) == 1, [(c.caller_number, c.disposition) for c in calls]


async def test_attended_transfer_to_an_outside_number(tier: Tier) -> None:
    """The agent consults the outside number, then hangs up: the caller is put through.
    The outside person stays on the line longer than the agent (else the consultation
    ends first and the caller comes back to the agent, which is no transfer): the agent
    hangs up ~7.5 s after answering, the outside phone ~4.5 + 8 s after the transfer."""
    tier.pbx.cli("database put tier outside/talk 8")
    try:
        number, mark = await _transfer(
            tier, "external", OUTSIDE_PREFIX + "000002", "attended", talk=6
        )
        await tier.wait_calls_ended(1, within=60)
    finally:
        tier.pbx.cli("database del tier outside/talk")
    events = tier.ami.events[mark:]
    attended = [e.get("Result") for e in events if e.get("Event") == "AttendedTransfer"]
    begins, ends = _dials(tier, mark, f"{OUTSIDE_PREFIX}000002@trunk")
    assert begins and "ANSWER" in ends and "Success" in attended, (
        f"attended transfer: consultation dials {ends}, AttendedTransfer results {attended}"
    )
    problems = check_answered(
        tier, [c for c in await tier.calls() if c.caller_number.endswith(number[1:])], [number]
    )
    assert not problems, "\n".join(problems)


async def test_blind_transfer_to_another_agent_rings_their_phone(tier: Tier) -> None:
    _number, mark = await _transfer(tier, "agent", "102", "blind")
    await tier.wait_calls_ended(1, within=60)
    dialed = [e.get("DialString") for e in tier.ami.events[mark:] if e.get("Event") == "DialBegin"]
    ends = [e.get("DialStatus") for e in tier.ami.events[mark:] if e.get("Event") == "DialEnd"]
    steps = _steps(tier, mark)
    assert any("102@tier-agents" in (d or "") for d in dialed), (
        f"a transfer to agent 102 dialled {dialed} ({ends}), not binh's phone "
        "Local/102@tier-agents: [agents] _1XX dials PJSIP/<ext> only, whatever the agent's "
        f"phone is (hand-kept dialplan, issue 11 item 6); steps {steps}"
    )


async def test_blind_transfer_to_a_department_rings_its_members(tier: Tier) -> None:
    _number, mark = await _transfer(tier, "department", "6001", "blind")
    await tier.wait_calls_ended(1, within=60)
    dialed = [e.get("DialString") for e in tier.ami.events[mark:] if e.get("Event") == "DialBegin"]
    ends = [e.get("DialStatus") for e in tier.ami.events[mark:] if e.get("Event") == "DialEnd"]
    steps = _steps(tier, mark)
    assert any("102@tier-agents" in (d or "") for d in dialed) and "ANSWER" in ends, (
        f"a transfer to department 6001 (sales: binh) dialled {dialed} ({ends}): its ring "
        "group is the static CC_DEPT_6001 in extensions.conf, not the department's people "
        f"(issue 11 item 6); steps {steps}"
    )


async def test_click_to_call_rings_the_agent_then_the_number(tier: Tier) -> None:
    await tier.open_pages("an")
    mark = len(tier.ami.events)
    status, body = await tier.pages["an"].post("/api/agent/originate", {"number": OUTSIDE})
    assert status == 200, (status, body)
    calls = await tier.wait_calls_ended(1, within=60)
    begins, ends = _dials(tier, mark, f"{OUTSIDE}@trunk")
    problems = []
    if not begins or "ANSWER" not in ends:
        problems.append(f"the outside number was not reached: {ends}")
    mine = [c for c in calls if c.direction == "outbound"]
    if len(mine) != 1:
        problems.append(
            f"{len(mine)} outbound records: {[(c.direction, c.caller_number, c.dialed_number) for c in calls]}"
        )
    else:
        call = mine[0]
        if call.agent_id != tier.seeded.agents["an"]:
            problems.append(
                f"the call is credited to {tier.agent_name(call.agent_id)}, not an (record: "
                f"caller {call.caller_number!r}, agent_interface {call.agent_interface!r}, "
                f"attempts {[(a.interface, a.outcome) for a in call.attempts]})"
            )
        if call.dialed_number != e164(OUTSIDE):
            problems.append(f"customer number stored as {call.dialed_number!r}, not E.164")
        if not tier.recording_exists(call):
            problems.append(f"recording {call.recording_path!r} missing")
    assert not problems, "\n".join(problems)
