"""When a part goes away: the daemon down (the dialplan's fallback queue), the daemon
restarted in the middle of a call (resync), Asterisk restarted (the AMI link reconnects).
The Asterisk restart runs last: it restarts this module's instance.
"""

from __future__ import annotations

import asyncio
import time

from tests.real_asterisk.tier import Tier, caller_number, check_answered

TALK = 12  # seconds the agent stays on the line after speaking


async def test_daemon_down_callers_reach_agents_through_the_fallback_queue(tier: Tier) -> None:
    """FastAGI fails (daemon stopped): [cc-fallback] queues the caller on app_queue, whose
    members must be the agents' phones; an agent's phone answers."""
    tier.daemon.stop()
    number = caller_number(500)
    mark = len(tier.ami.events)
    await tier.call_sip(number, patience=25)
    await tier.until(
        lambda: any(
            e.get("Event") in ("AgentConnect", "QueueCallerLeave")
            or (e.get("Event") == "VarSet" and e.get("Variable") == "QUEUESTATUS")
            for e in tier.ami.events[mark:]
        ),
        within=30,
        what="the caller reached the fallback queue",
    )
    await asyncio.sleep(1)
    events = tier.ami.events[mark:]
    connected = [e for e in events if e.get("Event") == "AgentConnect"]
    status = [e.get("Value") for e in events if e.get("Variable") == "QUEUESTATUS"]
    agi_status = [e.get("Value") for e in events if e.get("Variable") == "AGISTATUS"]
    members = tier.pbx.cli("queue show cc-fallback")
    assert "FAILURE" in agi_status, f"FastAGI did not fail with the daemon down: {agi_status}"
    assert connected and "tier-agents" in connected[0].get("Interface", ""), (
        f"no agent phone answered in the fallback queue (QUEUESTATUS {status}); its members "
        f"are static text, not the agents' phones (issue 11 item 6):\n{members}"
    )


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
