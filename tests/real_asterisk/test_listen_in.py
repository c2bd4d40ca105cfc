"""A supervisor barges in on an agent's call from the wallboard's route, on a real
Asterisk: the daemon originates the supervisor's own phone into the production
``[cc-listen]``, ChanSpy attaches to the agent's channel (``ChanSpyStart``) with the
barge options, and the spy leaves when the call ends (option ``E``). Audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from callcenter.db.models import AuditEntry
from tests.auth_helpers import make_user
from tests.real_asterisk.daemon import agent_interface
from tests.real_asterisk.page import Page
from tests.real_asterisk.tier import Tier, caller_number

SUPERVISOR_EXT = "109"


def _events(tier: Tier, mark: int, name: str) -> list[dict[str, Any]]:
    return [e for e in tier.ami.events[mark:] if e.get("Event") == name]


async def test_supervisor_barges_in_through_chanspy(tier: Tier) -> None:
    await make_user(
        tier.daemon.db_url, "giamsat", "supervisor", interface=agent_interface(SUPERVISOR_EXT)
    )
    tier.pbx.set_agent(SUPERVISOR_EXT, ring=0.5, talk=60)  # the supervisor picks up at once
    tier.pbx.set_agent("101", talk=12)
    await tier.open_pages("an")
    await tier.call_sip(caller_number(810), patience=40)
    page = tier.pages["an"]
    await tier.until(page.talking, within=30, what="an talking")

    supervisor = Page(tier.daemon.base_url, "giamsat", tier.seeded.category_id)
    await supervisor.open()
    mark = len(tier.ami.events)
    try:
        status, body = await supervisor.post(
            "/api/supervisor/listen", {"agent_id": tier.seeded.agents["an"], "mode": "barge"}
        )
        assert status == 200, (status, body)
        assert body["phone"] == agent_interface(SUPERVISOR_EXT)
        await tier.until(
            lambda: bool(_events(tier, mark, "ChanSpyStart")), within=20, what="ChanSpyStart"
        )
        (start,) = _events(tier, mark, "ChanSpyStart")[:1]
        problems = []
        if not start.get("SpyeeChannel", "").startswith("Local/101@tier-agents-"):
            problems.append(f"spied on {start.get('SpyeeChannel')!r}, not an's channel")
        if not start.get("SpyerChannel", "").startswith(f"Local/{SUPERVISOR_EXT}@tier-agents-"):
            problems.append(f"the spy is {start.get('SpyerChannel')!r}, not the supervisor")
        steps = [
            (e.get("Application"), e.get("AppData", ""))
            for e in tier.ami.events[mark:]
            if e.get("Event") == "Newexten" and e.get("Context") == "cc-listen"
        ]
        if not any(app == "ChanSpy" and data.endswith(",qEB") for app, data in steps):
            problems.append(f"no ChanSpy with the barge options in [cc-listen]: {steps}")
        # an hangs up after 12 s of talk: the spy ends with the call (E), not at 60 s
        await tier.until(
            lambda: bool(_events(tier, mark, "ChanSpyStop")), within=30, what="ChanSpyStop"
        )
        await tier.until(
            lambda: not any(c.startswith(f"Local/{SUPERVISOR_EXT}@") for c in tier.live_channels()),
            within=15,
            what="the supervisor's spy channel hung up",
        )

        async def audited(session: Any) -> list[str]:
            rows = await session.scalars(select(AuditEntry.action))
            return [a for a in rows if a.startswith("call.")]

        if await tier._query(audited) != ["call.barge"]:
            problems.append("the barge-in is not in the audit log once")
        assert not problems, "\n".join(problems)
    finally:
        await supervisor.close()
