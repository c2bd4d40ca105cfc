"""The outbound tests run the whole daemon (ACD, tickets, outbound rooms) against the
simulated Asterisk of ``tests/agent/stack.py``, on an injectable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.agent_desk.plugin import AGENT_HUB
from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.clock import Clock, SystemClock
from callcenter.config import Settings
from callcenter.registry import AMI_STATUS
from callcenter.services import plugin as acd_plugin
from callcenter.tickets import plugin as tickets_plugin
from callcenter.web.app import create_app
from tests.agent.stack import Stack, build_stack
from tests.conftest import MigratedTemplates
from tests.ports import free_port


def outbound_plugins() -> list[object]:
    from callcenter.outbound import plugin as outbound_plugin

    return [
        ami_plugin.PLUGIN,
        agi_plugin.PLUGIN,
        acd_plugin.PLUGIN,
        tickets_plugin.PLUGIN,
        outbound_plugin.PLUGIN,
    ]


@dataclass
class OutboundStack(Stack):
    clock: Clock = field(default_factory=SystemClock)

    async def start_daemon(self) -> web.Application:
        """Start (or restart) the daemon with the outbound room, on ``self.clock``."""
        app = create_app(self.settings, clock=self.clock, extra_plugins=outbound_plugins())  # type: ignore[arg-type]
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


async def outbound_stack(
    tmp_path: Path, templates: MigratedTemplates, clock: Clock | None = None
) -> OutboundStack:
    base = await build_stack(tmp_path, templates)
    values = {f.name: getattr(base, f.name) for f in fields(Stack)}
    return OutboundStack(**values, clock=clock or SystemClock())


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await outbound_stack(tmp_path, migrated_templates)
    await stack.start_daemon()
    yield stack
    await stack.close()


@dataclass
class WebDaemon:
    """The daemon's web side with the ACD, tickets and outbound rooms (no telephone system)
    on either database, restartable on the same database like a real daemon restart."""

    settings: Settings
    port: int
    app: web.Application | None = None
    runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> web.Application:
        plugins = [agi_plugin.PLUGIN, *outbound_plugins()[2:]]  # FastAGI, ACD, tickets, outbound
        app = create_app(self.settings, extra_plugins=plugins)  # type: ignore[arg-type]
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.app, self.runner = app, runner
        return app

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.app = self.runner = None

    async def restart(self) -> web.Application:
        await self.stop()
        return await self.start()


@pytest.fixture
async def daemon(settings: Settings, migrated_url: str) -> AsyncIterator[WebDaemon]:
    """A running :class:`WebDaemon` on a migrated database of each backend."""
    configured = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": migrated_url}),
            "agi": settings.agi.model_copy(update={"port": 0}),
        }
    )
    running = WebDaemon(configured, free_port())
    await running.start()
    yield running
    await running.stop()
