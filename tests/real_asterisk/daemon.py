"""The daemon, unchanged, as its own process (``python -m callcenter.cli serve``, what the ``callcenter`` console script runs), pointed at the
private Asterisk: its AMI port, its own FastAGI port (the instance's ``CC_AGI``), a temp
SQLite database seeded here, and the instance's recordings folder.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dt_time
from pathlib import Path

import aiohttp
from sqlalchemy import select

from callcenter.clock import SystemClock
from callcenter.config import load_settings
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    BusinessHours,
    Category,
    Department,
    Hotline,
    SystemSetting,
    User,
)
from callcenter.localtime import local_date
from callcenter.seed import open_on_public_holidays, seed_reference_data
from tests.auth_helpers import make_user
from tests.real_asterisk.asterisk import DAEMON_AMI_SECRET, Ports, free_port

HOTLINE = "19006868"  # no menu: group care
MENU_HOTLINE = "19001080"  # menu: 1 sales, 2 care
#: agent username → extension; the phone is Local/<ext>@tier-agents
AGENTS = {"an": "101", "binh": "102", "chi": "103"}
SESSION_SECRET = "tier-session-secret-" + "x" * 20


def local_now() -> datetime:
    return SystemClock().now().astimezone(load_settings(None).tz)


def agent_interface(ext: str) -> str:
    return f"Local/{ext}@tier-agents"


_TEMPLATE: list[Path] = []


async def migrated_copy(db_url: str) -> None:
    """The SQLite file at ``db_url`` at the schema's head: migrated once per test run, then
    copied (every scenario gets a fresh database without paying for the migrations)."""
    prefix = "sqlite+aiosqlite:///"
    assert db_url.startswith(prefix), db_url
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="cc-tier-db-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "template.db"
        await migrate.upgrade_async(prefix + str(template))
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], db_url.removeprefix(prefix))


@dataclass
class Seeded:
    agents: dict[str, int]
    category_id: int


async def seed(
    db_url: str,
    *,
    strategy: str | None = None,
    ring_timeout: int = 6,
    max_wait: int = 120,
    wrapup: int = 1,
    overflow_action: str = "callback",
    closed_now: bool = False,
) -> Seeded:
    """Three agents (an, binh, chi) in group care; chi alone in sales; two hotlines."""
    await migrated_copy(db_url)
    ids: dict[str, int] = {}
    for name, ext in AGENTS.items():
        user = await make_user(
            db_url,
            name,
            "agent",
            full_name=f"Agent {name}",
            interface=agent_interface(ext),
            extension=ext,
        )
        ids[name] = user.id
    engine = make_engine(db_url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            await seed_reference_data(session)
            # binh also works for the sales department (number 6001): a transfer to 6001
            # should ring binh's phone once the ring groups come from the database.
            sales_dept = await session.scalar(select(Department).where(Department.code == "sales"))
            binh = await session.get(User, ids["binh"])
            assert sales_dept is not None and binh is not None
            binh.department_id = sales_dept.id
            # strategy None: the model's default, what a new install gets
            chosen = {} if strategy is None else {"strategy": strategy}
            care = AgentGroup(
                code="care",
                name="CSKH",
                **chosen,
                ring_timeout_seconds=ring_timeout,
                max_wait_seconds=max_wait,
                overflow_action=overflow_action,
            )
            sales = AgentGroup(
                code="sales",
                name="Kinh doanh",
                **chosen,
                ring_timeout_seconds=ring_timeout,
                max_wait_seconds=max_wait,
            )
            session.add_all([care, sales])
            await session.flush()
            for n, name in enumerate(AGENTS):
                session.add(AgentGroupMember(group_id=care.id, user_id=ids[name], priority=n))
            session.add(AgentGroupMember(group_id=sales.id, user_id=ids["chi"]))
            session.add_all(
                [
                    Hotline(number=HOTLINE, name="CSKH", group_id=care.id),
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
            if closed_now:
                # Open one minute a day, far from now: the centre is closed for this test.
                hour = 3 if local_now().hour not in (2, 3, 4) else 15
                session.add_all(
                    BusinessHours(weekday=day, opens=dt_time(hour, 0), closes=dt_time(hour, 1))
                    for day in range(7)
                )
            await open_on_public_holidays(session, local_date(SystemClock().now()))
            category_id = await session.scalar(select(Category.id).order_by(Category.id).limit(1))
            assert category_id is not None
    finally:
        await engine.dispose()
    return Seeded(ids, category_id)


@dataclass
class Daemon:
    root: Path
    ports: Ports
    db_url: str
    recordings: Path
    http_port: int = field(default_factory=free_port)
    #: where the daemon's FastAGI server listens; None = the instance's CC_AGI port
    #: (the trace recorder puts a transcribing proxy there instead).
    agi_port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.root / "daemon.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        env.update(
            {
                "CALLCENTER_DATABASE__URL": self.db_url,
                "CALLCENTER_AMI__HOST": "127.0.0.1",
                "CALLCENTER_AMI__PORT": str(self.ports.ami),
                "CALLCENTER_AMI__USERNAME": "callcenter",
                "CALLCENTER_AMI__SECRET": DAEMON_AMI_SECRET,
                "CALLCENTER_AMI__RECONNECT_MAX_SECONDS": "1",
                "CALLCENTER_AGI__HOST": "127.0.0.1",
                "CALLCENTER_AGI__PORT": str(self.agi_port or self.ports.agi),
                "CALLCENTER_HTTP__HOST": "127.0.0.1",
                "CALLCENTER_HTTP__PORT": str(self.http_port),
                "CALLCENTER_RECORDINGS_DIR": str(self.recordings),
                "CALLCENTER_PROMPTS_DIR": str(self.root / "prompts"),
                "CALLCENTER_SESSION_SECRET": SESSION_SECRET,
                "CALLCENTER_LOG_LEVEL": "INFO",
            }
        )
        return env

    async def start(self, within: float = 30.0) -> None:
        """Start ``callcenter serve``; return once /healthz says the AMI link is up."""
        await asyncio.to_thread(self._spawn)
        await self.wait_healthy(within)

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "callcenter.cli", "serve"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def wait_healthy(self, within: float = 30.0, *, ami: bool = True) -> None:
        deadline = time.monotonic() + within
        last = ""
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"the daemon exited:\n{self.tail()}")
                try:
                    async with http.get(self.base_url + "/healthz") as response:
                        body = await response.json()
                        last = str(body)
                        if body.get("ami") is ami:
                            return
                except aiohttp.ClientError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.1)
        raise RuntimeError(f"daemon not ready within {within}s ({last}):\n{self.tail()}")

    def stop(self, *, kill: bool = False, timeout: float = 15) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        body = self.log_path.read_text(errors="replace").splitlines()
        return f"--- {self.log_path} (last lines)\n" + "\n".join(body[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
