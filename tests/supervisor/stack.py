"""The agent-page stack (daemon + simulated Asterisk on loopback) with the supervisor room
installed and a supervisor whose own phone (PJSIP/109) answers at once."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from callcenter.agent_desk.plugin import AGENT_HUB
from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.clock import SystemClock
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import SystemSetting
from callcenter.registry import AMI_STATUS
from callcenter.services import plugin as acd_plugin
from callcenter.sim.phones import PhoneBehaviour
from callcenter.supervisor.plugin import PLUGIN as SUPERVISOR
from callcenter.web.app import create_app
from tests.agent.stack import Stack, build_stack
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html, make_user
from tests.conftest import MigratedTemplates

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
SUPERVISOR_PHONE = "PJSIP/109"


class SupervisorStack(Stack):
    async def start_daemon(self) -> web.Application:
        app = create_app(
            self.settings,
            clock=SystemClock(),
            extra_plugins=[ami_plugin.PLUGIN, agi_plugin.PLUGIN, acd_plugin.PLUGIN, SUPERVISOR],
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


async def build_supervisor_stack(
    tmp: Path, templates: MigratedTemplates, *, settings: dict[str, int] | None = None
) -> SupervisorStack:
    """The agent stack plus supervisor ``tuan`` on PJSIP/109 and the given system settings."""
    base = await build_stack(tmp, templates)
    stack = SupervisorStack(
        base.tmp, base.settings, base.pbx, base.ami, base.http_port, base.world, base.agents
    )
    engine = make_engine(stack.settings.database.url)
    try:
        factory = sessionmaker(engine)
        tuan = await make_user(
            factory, "tuan", "supervisor", full_name="Phạm Tuấn", interface=SUPERVISOR_PHONE
        )
        stack.agents["tuan"] = tuan.id
        async with factory() as session:
            for key, value in (settings or {}).items():
                session.add(SystemSetting(key=key, value=value))
            await session.commit()
    finally:
        await engine.dispose()
    stack.pbx.phones["109"] = PhoneBehaviour("109", mode="answer", answer_delay=0.2)
    return stack


class WallboardClient:
    """A logged-in supervisor speaking HTTP and websocket to the daemon, as the page does."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.csrf = ""
        self.landed = ""

    async def login(self, username: str) -> None:
        async with self.http.get(self.base_url + "/login") as page:
            token = csrf_from_html(await page.text())
        async with self.http.post(
            self.base_url + "/login",
            data={"username": username, "password": DEFAULT_PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 302, await response.text()
            self.landed = response.headers["Location"]
        async with self.http.get(self.base_url + "/supervisor") as page:
            match = CSRF_META.search(await page.text())
            assert match
            self.csrf = match.group(1)

    async def connect(self) -> dict[str, Any]:
        self.ws = await self.http.ws_connect(self.base_url + "/supervisor/ws")
        return await self.board_where(lambda _b: True)

    async def board_where(self, wanted: Any, within: float = 8.0) -> dict[str, Any]:
        """The next pushed board for which ``wanted(board)`` is true."""
        assert self.ws is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last: dict[str, Any] | None = None
        while True:
            left = deadline - loop.time()
            assert left > 0, f"no matching board within {within}s; last: {json.dumps(last)[:2000]}"
            try:
                message = await self.ws.receive(timeout=left)
            except TimeoutError:
                continue
            assert message.type == aiohttp.WSMsgType.TEXT, message
            board: dict[str, Any] = json.loads(message.data)
            assert board["type"] == "board"
            last = board
            if wanted(board):
                return board

    async def post(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            self.base_url + path, json=body, headers={"X-CSRF-Token": self.csrf}
        ) as response:
            return response.status, await response.json()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


def agent_row(board: dict[str, Any], agent_id: int) -> dict[str, Any]:
    rows = [a for a in board["agents"] if a["id"] == agent_id]
    assert rows, f"agent {agent_id} not on the board"
    return rows[0]
