"""The daemon (AMI link, FastAGI, ACD service) against the PBX simulator at 60× time scale.

The simulator runs the production dialplan (``asterisk/extensions.conf``), serves
AMI to the daemon and opens real FastAGI sessions to it; both share one
:class:`ScaledClock`, so a 15-second wrap-up passes in a quarter of a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.clock import ScaledClock
from callcenter.config import Settings, load_settings
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    AgentStateLog,
    BusinessHours,
    Customer,
    CustomerPhone,
    Holiday,
    Hotline,
    SystemSetting,
    Task,
    Ticket,
    User,
)
from callcenter.registry import AMI_STATUS
from callcenter.services import plugin as acd_plugin
from callcenter.services.acd import AcdService
from callcenter.sim.ami import AmiServer, AmiUser
from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.phones import PhoneBehaviour
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
HOTLINE = "19006868"  # no menu: group care
MENU_HOTLINE = "19001080"  # menu: 1 sales, 2 care
SCALE = 60.0
#: Monday 23/11/2026 09:00 in Hanoi
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SECRET = "sim-secret-acd"


@dataclass
class SimRig:
    tmp: Path
    settings: Settings
    clock: ScaledClock
    pbx: Pbx
    ami: AmiServer
    agents: dict[str, int]
    events: list[list[tuple[str, str]]] = field(default_factory=list)
    app: web.Application | None = None
    runner: web.AppRunner | None = None

    @property
    def service(self) -> AcdService:
        assert self.app is not None
        return self.app[acd_plugin.ACD_SERVICE]

    async def start_daemon(self) -> AcdService:
        from callcenter.web.app import create_app

        app = create_app(
            self.settings,
            clock=self.clock,
            extra_plugins=[ami_plugin.PLUGIN, agi_plugin.PLUGIN, acd_plugin.PLUGIN],
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self.app, self.runner = app, runner
        for _ in range(200):
            if app[AMI_STATUS].connected:
                break
            await asyncio.sleep(0.02)
        assert app[AMI_STATUS].connected, app[AMI_STATUS].detail
        return app[acd_plugin.ACD_SERVICE]

    async def stop_daemon(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.app = self.runner = None

    async def close(self) -> None:
        await self.stop_daemon()
        await self.ami.close()
        await self.pbx.close()

    async def login(self, *names: str) -> None:
        for name in names:
            await self.service.login(self.agents[name])
            await self.sleep(1)  # distinct login times: a stable least-recent order

    async def sleep(self, sim_seconds: float) -> None:
        await self.clock.sleep(sim_seconds)

    async def until(self, predicate: Callable[[], bool], sim_seconds: float = 120.0) -> None:
        """Wait until ``predicate`` holds; fail after ``sim_seconds`` of simulated time, but
        never before 10 s of wall time (a loaded test machine slows the daemon, not the test)."""
        import time as wall

        sim_deadline = self.clock.monotonic() + sim_seconds
        wall_deadline = wall.monotonic() + 10.0
        while not predicate():
            if self.clock.monotonic() > sim_deadline and wall.monotonic() > wall_deadline:
                waiting = self.service.acd.waiting() if self.app is not None else []
                raise AssertionError(
                    f"condition not met within {sim_seconds} simulated seconds; "
                    f"dialed {self.dialed_callers()}, waiting {[w.caller for w in waiting]}, "
                    f"channels {[(c.name, c.context) for c in self.pbx.channels.values()]}"
                )
            await asyncio.sleep(0.01)

    def dialed(self) -> list[str]:
        """Endpoints the simulator rang, in order (from its DialBegin events)."""
        found = []
        for block in self.events:
            headers = dict(block)
            if headers.get("Event") == "DialBegin":
                found.append(headers.get("DialString", ""))
        return found

    def dialed_callers(self) -> list[tuple[str, str]]:
        """(endpoint, caller number) of each DialBegin, in order."""
        return [
            (dict(block).get("DialString", ""), dict(block).get("CallerIDNum", ""))
            for block in self.events
            if dict(block).get("Event") == "DialBegin"
        ]

    def agent_state(self, name: str) -> str:
        return str(self.service.acd.agents[self.agents[name]].state)

    async def db(self) -> AsyncSession:
        engine = make_engine(self.settings.database.url)
        self._engines.append(engine)
        return sessionmaker(engine)()

    _engines: list[Any] = field(default_factory=list)

    async def tasks(self) -> list[Task]:
        async with await self.db() as session:
            return list((await session.scalars(select(Task).order_by(Task.id))).all())

    async def states(self, name: str) -> list[tuple[str, str]]:
        async with await self.db() as session:
            rows = await session.scalars(
                select(AgentStateLog)
                .where(AgentStateLog.user_id == self.agents[name])
                .order_by(AgentStateLog.id)
            )
            return [(row.state, row.reason) for row in rows]

    async def dispose(self) -> None:
        for engine in self._engines:
            await engine.dispose()


async def build_rig(
    tmp: Path,
    phones: dict[str, PhoneBehaviour],
    *,
    ring_timeout: int = 15,
    max_wait: int = 300,
    wrapup: int = 15,
    sticky: int | None = None,
    strategy: str = "least_recent",
    hours: list[tuple[int, time, time]] | None = None,
    holidays: list[date] | None = None,
    tickets: dict[str, str] | None = None,
    vip: list[str] | None = None,
    closed_action: str = "callback",
    overflow_action: str = "callback",
    scale: float = SCALE,
) -> SimRig:
    """Agents agent1..3 on PJSIP/101..103; care = all three, sales = agent3 only."""
    db_url = f"sqlite+aiosqlite:///{tmp / 'sim.db'}"
    await migrate.upgrade_async(db_url)
    engine = make_engine(db_url)
    factory = sessionmaker(engine)
    try:
        async with factory() as session, session.begin():
            users = [
                User(
                    username=f"agent{i}",
                    full_name=f"Agent {i}",
                    role="agent",
                    interface=f"PJSIP/10{i}",
                )
                for i in range(1, 4)
            ]
            session.add_all(users)
            care = AgentGroup(
                code="care",
                name="CSKH",
                strategy=strategy,
                ring_timeout_seconds=ring_timeout,
                max_wait_seconds=max_wait,
                overflow_action=overflow_action,
            )
            sales = AgentGroup(
                code="sales",
                name="Kinh doanh",
                strategy=strategy,
                ring_timeout_seconds=ring_timeout,
                max_wait_seconds=max_wait,
            )
            session.add_all([care, sales])
            await session.flush()
            for n, user in enumerate(users):
                session.add(AgentGroupMember(group_id=care.id, user_id=user.id, priority=n))
            session.add(AgentGroupMember(group_id=sales.id, user_id=users[2].id))
            session.add_all(
                [
                    Hotline(
                        number=HOTLINE, name="CSKH", group_id=care.id, closed_action=closed_action
                    ),
                    Hotline(
                        number=MENU_HOTLINE,
                        name="Tổng đài",
                        group_id=care.id,
                        menu_enabled=True,
                        menu={"1": "sales", "2": "care"},
                        menu_timeout_seconds=5,
                    ),
                ]
            )
            session.add(SystemSetting(key="wrapup_seconds", value=wrapup))
            if sticky is not None:
                session.add(SystemSetting(key="sticky_agent_seconds", value=sticky))
            for weekday, opens, closes in hours or []:
                session.add(BusinessHours(weekday=weekday, opens=opens, closes=closes))
            for day in holidays or []:
                session.add(Holiday(day=day, name="Nghỉ nội bộ", closed=True))
            owners = {f"agent{i}": user for i, user in enumerate(users, start=1)}
            for number, owner in (tickets or {}).items():
                customer = Customer(name=f"KH {number}")
                session.add(customer)
                await session.flush()
                session.add(CustomerPhone(customer_id=customer.id, number=number, is_primary=True))
                session.add(
                    Ticket(
                        customer_id=customer.id,
                        status="in_progress",
                        assignee_id=owners[owner].id,
                        created_at=START,
                        updated_at=START,
                    )
                )
            for number in vip or []:
                customer = Customer(name=f"VIP {number}", tags=["VIP"])
                session.add(customer)
                await session.flush()
                session.add(CustomerPhone(customer_id=customer.id, number=number, is_primary=True))
        ids = {f"agent{i}": user.id for i, user in enumerate(users, start=1)}
    finally:
        await engine.dispose()

    clock = ScaledClock(scale, start=START)
    agi_port = free_port()
    pbx = Pbx(
        PbxConfig(
            dialplan=REPO / "asterisk" / "extensions.conf",
            queues=REPO / "asterisk" / "queues.conf",
            globals={"CC_AGI": f"agi://127.0.0.1:{agi_port}"},
            default_sound_seconds=2.0,
            phones=phones,
            recordings_dir=tmp,
            write_recordings=False,
        ),
        clock,
    )
    ami = AmiServer(pbx, {"callcenter": AmiUser("callcenter", SECRET)})
    ami_port = await ami.start()
    settings = load_settings(
        None,
        database={"url": db_url},
        recordings_dir=str(tmp),
        session_secret="s" * 40,
        ami={
            "host": "127.0.0.1",
            "port": ami_port,
            "username": "callcenter",
            "secret": SECRET,
            "reconnect_max_seconds": 0.5,
        },
        agi={"host": "127.0.0.1", "port": agi_port},
    )
    rig = SimRig(tmp, settings, clock, pbx, ami, ids)
    pbx.listeners.append(rig.events.append)
    return rig


def phone(
    endpoint: str, mode: str = "answer", *, answer: float = 2.0, talk: float | None = 20.0
) -> tuple[str, PhoneBehaviour]:
    return endpoint, PhoneBehaviour(endpoint, mode=mode, answer_delay=answer, talk_seconds=talk)
