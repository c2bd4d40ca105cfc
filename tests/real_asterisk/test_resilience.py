"""When a part goes away: the daemon down (the dialplan's fallback queue), the daemon
restarted in the middle of a call (resync), Asterisk restarted (the AMI link reconnects).
The Asterisk restart runs last: it restarts this module's instance.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from sqlalchemy import select

from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import AgentGroup
from callcenter.db.repos import routing, users
from tests.real_asterisk.daemon import AGENTS, agent_interface
from tests.real_asterisk.tier import Tier, caller_number, check_answered

TALK = 12  # seconds the agent stays on the line after speaking


async def test_daemon_down_callers_reach_agents_through_the_fallback_queue(tier: Tier) -> None:
    """FastAGI fails (daemon stopped): [cc-fallback] queues the caller on app_queue, whose
    members must be the agents' phones; an agent's phone answers.

    The agents are at work (pages open, available) when the daemon goes: the daemon keeps
    logged-out agents paused in the fallback queue, so with nobody logged in the caller
    would rightly hear the sorry prompt (joinempty includes paused)."""
    await tier.open_pages()
    await tier.until(
        lambda: _unpaused_members(tier) == 3, within=15, what="the agents unpaused in cc-fallback"
    )
    tier.daemon.stop()
    connected = await _fallback_answer(tier, caller_number(500))
    members = tier.pbx.cli("queue show cc-fallback")
    assert connected and "tier-agents" in connected[0].get("Interface", ""), (
        f"no agent phone answered in the fallback queue; its members (issue 11 item 6):\n{members}"
    )


def _unpaused_members(tier: Tier) -> int:
    lines = tier.pbx.cli("queue show cc-fallback").splitlines()
    return sum(1 for line in lines if "@tier-agents" in line and "(paused" not in line)


async def _fallback_answer(tier: Tier, number: str) -> list[dict[str, str]]:
    """Call with the daemon down; return the AgentConnect events of the fallback queue."""
    mark = len(tier.ami.events)
    await tier.call_sip(number, patience=25)
    await tier.until(
        lambda: any(
            e.get("Event") == "AgentConnect"  # answered, or the queue gave up:
            or (e.get("Event") == "VarSet" and e.get("Variable") == "QUEUESTATUS")
            for e in tier.ami.events[mark:]
        ),
        within=30,
        what="the caller reached the fallback queue",
    )
    events = tier.ami.events[mark:]
    agi_status = [e.get("Value") for e in events if e.get("Variable") == "AGISTATUS"]
    assert "FAILURE" in agi_status, f"FastAGI did not fail with the daemon down: {agi_status}"
    return [e for e in events if e.get("Event") == "AgentConnect"]


async def test_an_agent_added_in_the_console_takes_fallback_calls_after_sync(
    tier: Tier,
) -> None:
    """The admin adds agent dung (phone 104) in the console, runs ``callcenter asterisk
    sync``; with the daemon down, the fallback queue rings dung's phone, which answers
    (the three others are busy, so only a member that sync added can take the call)."""
    engine = make_engine(tier.daemon.db_url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            # what the console's "add user" form calls (web/admin.py user_create)
            user = await users.create_user(
                session,
                username="dung",
                password="Tier-agent-passw0rd-4",
                role="agent",
                full_name="Agent dung",
                interface=routing.normalize_interface(agent_interface("104")),
            )
            care = await session.scalar(select(AgentGroup.id).where(AgentGroup.code == "care"))
            assert care is not None
            await routing.set_user_groups(session, user.id, {care})
    finally:
        await engine.dispose()
    for ext in AGENTS.values():
        tier.pbx.set_agent(ext, mode="busy")
    tier.pbx.set_agent("104")
    synced = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "callcenter.cli", "asterisk", "sync", "--config-dir",
         str(tier.pbx.etc)],
        env=tier.daemon.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "4 fallback-queue members" in synced.stdout, synced.stdout
    members = tier.pbx.cli("queue show cc-fallback")
    assert "Local/104@tier-agents" in members, members
    tier.daemon.stop()
    connected = await _fallback_answer(tier, caller_number(505))
    assert [e.get("Interface") for e in connected] == [agent_interface("104")], (
        f"the fallback queue connected {connected} (QueueMembers:\n{members})"
    )
    assert connected[0].get("MemberName") == "dung", connected[0]


async def test_daemon_restart_mid_call_resyncs(tier: Tier) -> None:
    """The daemon restarts while an agent talks: after the resync the call is one record,
    answered by that agent, ended when it really ended, and wrapped up into one ticket."""
    tier.pbx.set_agent("101", talk=TALK)
    await tier.open_pages("an")
    number = caller_number(510)
    await tier.call_sip(number)
    page = tier.pages["an"]
    await tier.until(
        lambda: any(
            d.get("type") == "call" and (d.get("call") or {}).get("phase") == "talking"
            for _, d in page.messages
        ),
        within=30,
        what="an is talking",
    )
    started = time.monotonic()
    tier.daemon.stop(kill=True)  # a crash: nothing is flushed or said goodbye
    await tier.daemon.start()
    await page.connect()
    restarted = time.monotonic() - started
    calls = await tier.wait_calls_ended(1, within=60)
    problems = check_answered(tier, calls, [number])
    if restarted > TALK:
        problems.append(
            f"the restart took {restarted:.1f} s, longer than the call: resync not exercised"
        )
    call = calls[0]
    if call.end_estimated:
        problems.append("the end is estimated although the daemon was up when the call ended")
    if call.agent_id != tier.seeded.agents["an"]:
        problems.append(f"answered by {tier.agent_name(call.agent_id)}, not an")
    tickets = [t for t in await tier.tickets() if t.call_id == call.id]
    if len(tickets) != 1:
        problems.append(
            f"{len(tickets)} tickets for the call (the page reconnected after the restart)"
        )
    assert not problems, "\n".join(problems)


async def test_daemon_stops_promptly_on_sigterm_with_a_page_open(tier: Tier) -> None:
    """A service manager stops the daemon with SIGTERM: an open agent page must not hold
    the stop up (systemd kills after 90 s; a restart should take seconds)."""
    await tier.open_pages("an")
    started = time.monotonic()
    tier.daemon.stop(timeout=20)
    took = time.monotonic() - started
    assert took < 5, f"the daemon took {took:.1f} s to stop on SIGTERM with an agent page open"


async def test_asterisk_restart_link_reconnects(tier: Tier) -> None:
    """Asterisk restarts: the daemon's AMI link comes back by itself and calls work again."""
    tier.pbx.stop()
    await tier.daemon.wait_healthy(20, ami=False)
    tier.pbx.start()
    for ext in ("101", "102", "103"):
        tier.pbx.set_agent(ext)
    await tier.daemon.wait_healthy(20, ami=True)
    await tier.ami.close()
    await tier.reconnect_ami()
    await tier.open_pages()
    number = caller_number(520)
    await tier.call_local(number)
    calls = await tier.wait_calls_ended(1, within=60)
    problems = check_answered(tier, calls, [number])
    assert not problems, "\n".join(problems)
