"""The whole system on loopback for the agent-page tests: daemon + simulated Asterisk.

The daemon is the real application (web, FastAGI, ACD service, AMI link and
call recorder) on real ports; the PBX simulator runs the production dialplan
(``asterisk/extensions.conf``), serves AMI to the daemon and opens FastAGI
sessions to it. Agents' phones are in ``no_answer`` mode: they ring until the
test answers them (:meth:`Stack.answer`), so a test can check the screen-pop
while the phone is still ringing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from callcenter.agent_desk.plugin import AGENT_HUB
from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.clock import SystemClock
from callcenter.config import Settings, load_settings
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import AgentGroup, AgentGroupMember, Hotline
from callcenter.localtime import local_date
from callcenter.registry import AMI_STATUS
from callcenter.seed import open_on_public_holidays, seed_reference_data
from callcenter.services import plugin as acd_plugin
from callcenter.services.plugin import ACD_SERVICE
from callcenter.sim.ami import AmiServer, AmiUser
from callcenter.sim.channels import Channel
from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.phones import PhoneBehaviour
from callcenter.web.app import create_app
from tests.agent.factories import World, build_world
from tests.auth_helpers import make_user
from tests.conftest import MigratedTemplates
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
HOTLINE = "19006868"
AMI_SECRET = "sim-secret-agent-page"


@dataclass
class Stack:
    tmp: Path
    settings: Settings
    pbx: Pbx
    ami: AmiServer
    http_port: int
    world: World | None = None
    agents: dict[str, int] = field(default_factory=dict)
    app: web.Application | None = None
    runner: web.AppRunner | None = None
    #: How often open agent sockets re-check their login (the daemon's default: 15 s).
    session_check_seconds: float = 15.0
    #: Rooms a test adds to the daemon (e.g. the surveys room for the agent page's panel).
    more_plugins: list[Any] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start_daemon(self) -> web.Application:
        """Start (or restart) the daemon on the same ports; wait until AMI and ACD are up."""
        app = create_app(
            self.settings,
            clock=SystemClock(),
            extra_plugins=[
                ami_plugin.PLUGIN,
                agi_plugin.PLUGIN,
                acd_plugin.PLUGIN,
                *self.more_plugins,
            ],
        )
        app[AGENT_HUB].session_check_seconds = self.session_check_seconds
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.http_port).start()
        self.app, self.runner = app, runner
        for _ in range(200):
            if app[AMI_STATUS].connected:
                break
            await asyncio.sleep(0.05)
        assert app[AMI_STATUS].connected, f"AMI never connected: {app[AMI_STATUS].detail}"
        return app

    async def stop_daemon(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.app = self.runner = None

    async def close(self) -> None:
        await self.stop_daemon()
        await self.ami.close()
        await self.pbx.close()

    @property
    def acd(self) -> Any:
        assert self.app is not None
        return self.app[ACD_SERVICE]

    async def call(self, number: str, name: str = "") -> Channel:
        return await self.pbx.place_call(HOTLINE, number, name)

    def phone_channel(self, endpoint: str) -> Channel | None:
        for name, channel in self.pbx.channels.items():
            if name.startswith(endpoint + "-") and not channel.hungup:
                return channel
        return None

    async def wait_ringing(self, endpoint: str, within: float = 10.0) -> Channel:
        for _ in range(int(within / 0.05)):
            channel = self.phone_channel(endpoint)
            if channel is not None:
                return channel
            await asyncio.sleep(0.05)
        raise AssertionError(f"{endpoint} never rang")

    def answer(self, channel: Channel) -> None:
        """The agent picks up the ringing phone."""
        self.pbx.answer(channel)
        self.pbx.device_state(self.pbx.device_of(channel), "INUSE")

    def hang_up(self, channel: Channel) -> None:
        """The agent puts the phone down (the caller may go on to the after-call steps)."""
        self.pbx.request_hangup(channel, 16, soft=True)
        self.pbx.destroy(channel)


async def build_stack(tmp: Path, templates: MigratedTemplates, *, ring_timeout: int = 30) -> Stack:
    """Database with reference data, two agents in the hotline's group, a known customer.

    The database is a copy of the run's migrated template (``migrated_templates``).
    """
    db_url = f"sqlite+aiosqlite:///{tmp / 'stack.db'}"
    await asyncio.to_thread(templates.sqlite_copy, tmp / "stack.db")
    engine = make_engine(db_url)
    factory = sessionmaker(engine)
    try:
        lan = await make_user(
            factory,
            "lan",
            "agent",
            full_name="Trần Thị Lan",
            interface="PJSIP/101",
            extension="101",
        )
        minh = await make_user(
            factory, "minh", "agent", full_name="Lê Minh", interface="PJSIP/102", extension="102"
        )
        async with factory() as session:
            await seed_reference_data(session)
            await session.flush()
            world = await build_world(session, agent_id=lan.id)
            group = AgentGroup(
                code="care", name="CSKH", ring_timeout_seconds=ring_timeout, max_wait_seconds=600
            )
            session.add(group)
            await session.flush()
            session.add_all(
                [
                    AgentGroupMember(group_id=group.id, user_id=lan.id, priority=0),
                    AgentGroupMember(group_id=group.id, user_id=minh.id, priority=1),
                    Hotline(number=HOTLINE, name="CSKH", group_id=group.id),
                    # "lunch" (Ăn trưa) and "training" (Đào tạo) come from the reference data.
                ]
            )
            # The stack runs on the real clock: open today even if it is a public holiday.
            await open_on_public_holidays(session, local_date(SystemClock().now()))
            await session.commit()
    finally:
        await engine.dispose()

    recordings = tmp / "recordings"
    recordings.mkdir(exist_ok=True)
    agi_port = free_port()
    pbx = Pbx(
        PbxConfig(
            dialplan=REPO / "asterisk" / "extensions.conf",
            queues=REPO / "asterisk" / "queues.conf",
            globals={"CC_AGI": f"agi://127.0.0.1:{agi_port}", "CC_RECORDINGS": str(recordings)},
            default_sound_seconds=0.2,
            phones={
                "101": PhoneBehaviour("101", mode="no_answer"),
                "102": PhoneBehaviour("102", mode="no_answer"),
                "103": PhoneBehaviour("103", mode="no_answer"),  # departments' desk phone
            },
            recordings_dir=recordings,
            write_recordings=False,
        ),
        SystemClock(),
    )
    ami = AmiServer(pbx, {"callcenter": AmiUser("callcenter", AMI_SECRET)})
    ami_port = await ami.start()
    settings = load_settings(
        None,
        database={"url": db_url},
        recordings_dir=str(recordings),
        session_secret="s" * 40,
        ami={
            "host": "127.0.0.1",
            "port": ami_port,
            "username": "callcenter",
            "secret": AMI_SECRET,
            "reconnect_max_seconds": 0.5,
        },
        agi={"host": "127.0.0.1", "port": agi_port},
    )
    stack = Stack(tmp, settings, pbx, ami, free_port(), world, {"lan": lan.id, "minh": minh.id})
    return stack
