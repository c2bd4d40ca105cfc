"""One scenario's world: the private Asterisk, the daemon against it, agents' pages,
customers' calls, and the database the daemon wrote.

Customers call in two ways, as in production:
- over SIP: ``Originate PJSIP/<DID>@tier-provider`` — this Asterisk sends an INVITE to
  its own UDP port, where the project's trunk endpoint (identified by IP) takes it into
  ``[from-trunk]``; the originated leg is the customer's phone (``[tier-caller]``);
- through a Local channel: ``Originate Local/<DID>@from-trunk`` (internal routing, a
  Local-channel trunk), whose ``;1`` half is the customer; or forwarded: the customer's
  channel dials ``Local/<DID>@from-trunk`` (``[tier-forward]``), two hops away.
Each call gets its own caller number (``03990009NN``, national format as trunks send
it) and a caller name with HTML in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from callcenter.config import load_settings
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Call, Task, Ticket
from callcenter.provision.sync import SyncResult, sync_from_settings
from tests.real_asterisk.ami import AmiClient
from tests.real_asterisk.asterisk import (
    DAEMON_AMI_SECRET,
    OUTSIDE_PREFIX,
    PROVIDER,
    TIER_AMI_SECRET,
    TIER_AMI_USER,
    Asterisk,
)
from tests.real_asterisk.daemon import AGENTS, HOTLINE, Daemon, Seeded, seed
from tests.real_asterisk.page import Page

HTML_NAME = "<b>Khách</b> & Co"


def caller_number(n: int) -> str:
    return f"039900{n:04d}"


def e164(national: str) -> str:
    return "+84" + national[1:]


@dataclass
class Tier:
    pbx: Asterisk
    ami: AmiClient
    daemon: Daemon
    seeded: Seeded
    pages: dict[str, Page] = field(default_factory=dict)

    # ------------------------------------------------------------------ agents
    async def open_pages(self, *names: str, available: bool = True) -> None:
        for name in names or tuple(AGENTS):
            page = Page(self.daemon.base_url, name, self.seeded.category_id)
            await page.open()
            self.pages[name] = page
            if available:
                await page.available()
                await asyncio.sleep(0.05)  # distinct login times: a stable order

    def agent_name(self, agent_id: int | None) -> str:
        for name, ident in self.seeded.agents.items():
            if ident == agent_id:
                return name
        return f"<none:{agent_id}>"

    # ------------------------------------------------------------------ customers
    async def call_sip(
        self,
        number: str,
        *,
        name: str = HTML_NAME,
        did: str = HOTLINE,
        patience: float = 90,
        digits: str = "",
        digits_after: float = 0,
    ) -> dict[str, str]:
        reply = await self.ami.originate(
            f"PJSIP/{did}@{PROVIDER}",
            context="tier-caller",
            caller_id=f'"{name}" <{number}>',
            variables=self._caller_vars(patience, digits, digits_after),
        )
        assert reply.get("Response") == "Success", reply
        return reply

    async def call_local(
        self,
        number: str,
        *,
        name: str = HTML_NAME,
        did: str = HOTLINE,
        patience: float = 90,
        digits: str = "",
        digits_after: float = 0,
    ) -> dict[str, str]:
        reply = await self.ami.originate(
            f"Local/{did}@from-trunk",
            context="tier-caller",
            caller_id=f'"{name}" <{number}>',
            variables=self._caller_vars(patience, digits, digits_after),
        )
        assert reply.get("Response") == "Success", reply
        return reply

    async def call_forwarded(
        self, number: str, *, name: str = HTML_NAME, did: str = HOTLINE, patience: float = 90
    ) -> dict[str, str]:
        """The customer's call forwarded to the hotline through a Local channel."""
        reply = await self.ami.originate(
            f"Local/{did}@tier-forward",
            context="tier-caller",
            caller_id=f'"{name}" <{number}>',
            variables=self._caller_vars(patience, "", 0),
        )
        assert reply.get("Response") == "Success", reply
        return reply

    @staticmethod
    def _caller_vars(patience: float, digits: str, digits_after: float) -> dict[str, str]:
        return {
            "TIER_PATIENCE": str(patience),
            "TIER_DIGITS": digits,
            "TIER_DIGITS_AFTER": str(digits_after),
        }

    # ------------------------------------------------------------------ database
    async def _query(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        engine = make_engine(self.daemon.db_url)
        try:
            async with sessionmaker(engine)() as session:
                return await fn(session)
        finally:
            await engine.dispose()

    def provider_linkedids(self) -> set[str]:
        """Linkedids of the simulated provider's own legs (``PJSIP/tier-provider-…``).

        In production that leg lives on the provider's PBX and the daemon never sees it;
        here the AMI event filter hides its events, but a resync's list replies
        (CoreShowChannels, Status), which no filter touches, still show it: the daemon
        then records it as a call. Those records belong to the test rig, not to users.
        """
        return {
            e.get("Linkedid", "") or e.get("Uniqueid", "")
            for e in self.ami.events
            if e.get("Event") == "Newchannel"
            and e.get("Channel", "").startswith(f"PJSIP/{PROVIDER}-")
        }

    async def calls(self) -> list[Call]:
        """The daemon's call records, without the simulated provider's own legs."""

        async def run(session: Any) -> list[Call]:
            rows = await session.scalars(
                select(Call).options(selectinload(Call.attempts)).order_by(Call.id)
            )
            return list(rows.all())

        result: list[Call] = await self._query(run)
        rig = self.provider_linkedids()
        return [
            call
            for call in result
            if call.linkedid not in rig
            # The outside phone's side of an external call: the provider sends it back
            # into this Asterisk; in production it rings beyond the provider.
            and not (call.direction == "inbound" and call.dialed_number.startswith(OUTSIDE_PREFIX))
        ]

    async def tickets(self) -> list[Ticket]:
        async def run(session: Any) -> list[Ticket]:
            return list((await session.scalars(select(Ticket).order_by(Ticket.id))).all())

        result: list[Ticket] = await self._query(run)
        return result

    async def tasks(self) -> list[Task]:
        async def run(session: Any) -> list[Task]:
            return list((await session.scalars(select(Task).order_by(Task.id))).all())

        result: list[Task] = await self._query(run)
        return result

    async def wait_calls_ended(self, count: int, within: float = 120.0) -> list[Call]:
        """Wait until ``count`` call records have ended and every page saved its wrap-ups."""
        deadline = time.monotonic() + within
        calls: list[Call] = []
        while time.monotonic() < deadline:
            calls = await self.calls()
            ended = [c for c in calls if c.disposition != "active"]
            saving = any(status == 0 for p in self.pages.values() for status in p.saved.values())
            if len(ended) >= count and not saving and not self.live_channels():
                return calls
            await asyncio.sleep(0.5)
        raise AssertionError(
            f"within {within}s only {len([c for c in calls if c.disposition != 'active'])} of "
            f"{count} calls ended; records: "
            f"{[(c.caller_number, c.disposition) for c in calls]}; "
            f"channels: {self.live_channels()}"
        )

    def live_channels(self) -> list[str]:
        out = self.pbx.cli("core show channels concise")
        return [line.split("!")[0] for line in out.splitlines() if "!" in line]

    async def until(
        self, predicate: Callable[[], bool], within: float = 30.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {within}s: {what}")
            await asyncio.sleep(0.05)

    def recording_exists(self, call: Call) -> bool:
        if not call.recording_path:
            return False
        path = Path(call.recording_path)
        if not path.is_absolute():
            path = self.daemon.recordings / path
        return path.is_file() and path.stat().st_size > 44

    async def reconnect_ami(self) -> None:
        """A new harness AMI session (after an Asterisk restart)."""
        self.ami = AmiClient(self.ami.host, self.ami.port, self.ami.username, self.ami.secret)
        await self.ami.connect()

    async def close(self) -> None:
        for page in self.pages.values():
            await page.close()


async def sync_asterisk(pbx: Asterisk, db_url: str) -> SyncResult:
    """What ``callcenter asterisk sync`` does, against this instance's config folder: the
    database's hotlines, department ring groups and fallback-queue members written into the
    included files, and reloaded over AMI."""
    settings = load_settings(
        None,
        database={"url": db_url},
        ami={
            "host": "127.0.0.1",
            "port": pbx.ports.ami,
            "username": "callcenter",
            "secret": DAEMON_AMI_SECRET,
        },
    )
    return await sync_from_settings(settings, config_dir=pbx.etc)


async def reset_phone(ami: AmiClient, ext: str) -> None:
    """What ``Asterisk.set_agent(ext)`` does (answer after 1 s, talk 0.5 s), over the
    harness's AMI session: no CLI process per key."""
    for key, value in (("mode", "answer"), ("ring", "1.0"), ("talk", "0.5")):
        reply = await ami.action(
            {"Action": "DBPut", "Family": "tier", "Key": f"{ext}/{key}", "Val": value}
        )
        assert reply.get("Response") == "Success", reply


@contextlib.asynccontextmanager
async def open_tier(
    pbx: Asterisk,
    work: Path,
    seed_args: dict[str, Any] | None = None,
    *,
    daemon_agi_port: int | None = None,
) -> AsyncIterator[Tier]:
    """A fresh database and daemon against ``pbx``, the harness's AMI session, and every
    agent's phone back to "answer after 1 s"; all of it closed on the way out."""
    db_url = f"sqlite+aiosqlite:///{work / 'callcenter.db'}"
    seeded = await seed(db_url, **(seed_args or {}))
    pbx.clear_recordings()
    daemon = Daemon(work, pbx.ports, db_url, pbx.recordings, agi_port=daemon_agi_port)
    starting = asyncio.create_task(daemon.start())  # its start-up overlaps the resets below
    ami = AmiClient("127.0.0.1", pbx.ports.ami, TIER_AMI_USER, TIER_AMI_SECRET)
    world = Tier(pbx, ami, daemon, seeded)
    try:
        await ami.connect()
        for ext in AGENTS.values():
            await reset_phone(ami, ext)
        await starting
        await sync_asterisk(pbx, db_url)
        yield world
    finally:
        if not starting.done():  # the set-up failed before the daemon was up
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
        await world.close()
        pbx.cli("channel request hangup all")
        daemon.stop()
        await world.ami.close()


def check_answered(tier: Tier, calls: list[Call], numbers: list[str]) -> list[str]:
    """What users rely on for calls that an agent answered: one record each (E.164
    caller), the agent set, the recording on disk, one pop on the agent's page before
    the answer, and no record that no one made. Returns the problems found."""
    problems = []
    for number in numbers:
        mine = [c for c in calls if c.caller_number.endswith(number[1:])]
        if len(mine) != 1:
            problems.append(
                f"{number}: {len(mine)} call records, not 1: "
                + "; ".join(
                    f"linkedid {c.linkedid} {c.direction} {c.disposition} agent "
                    f"{tier.agent_name(c.agent_id)} estimated={c.end_estimated} attempts "
                    f"{[(a.interface, a.outcome) for a in c.attempts]}"
                    for c in mine
                )
            )
            continue
        call = mine[0]
        if call.caller_number != e164(number):
            problems.append(
                f"{number}: caller number stored as {call.caller_number!r}, not E.164 "
                f"{e164(number)!r} (issue 11 item 1)"
            )
        if call.disposition != "answered" or call.agent_id is None:
            attempts = [(a.interface, a.outcome) for a in call.attempts]
            hint = (
                " (issue 11 item 4: the Local channel into the dialplan is taken for an agent)"
                if any("@from-trunk" in interface for interface, _ in attempts)
                else ""
            )
            problems.append(
                f"{number}: disposition {call.disposition!r}, agent {call.agent_id}, "
                f"attempts {attempts}{hint}"
            )
            continue
        if not tier.recording_exists(call):
            problems.append(f"{number}: recording {call.recording_path!r} missing or empty")
        page = tier.pages[tier.agent_name(call.agent_id)]
        popped = page.pops.get(call.linkedid)
        if popped is None:
            problems.append(f"{number}: no pop on {page.username}'s page")
        elif call.answered_at is None or popped >= call.answered_at.timestamp():
            problems.append(f"{number}: pop at {popped} not before the answer {call.answered_at}")
        if page.pop_count.get(call.linkedid, 0) > 1:
            problems.append(f"{number}: popped {page.pop_count[call.linkedid]} times")
    extra = [
        c.caller_number for c in calls if not any(c.caller_number.endswith(n[1:]) for n in numbers)
    ]
    if extra:
        problems.append(f"call records nobody made: {extra}")
    return problems
