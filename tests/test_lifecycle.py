"""Start-up and shutdown: one clear line when the daemon cannot start, and nothing left open.

``callcenter serve`` runs as a user would run it (a subprocess) for the busy HTTP port and
the unreachable database; in-process runs of ``daemon.serve`` then check what a process
exit would hide: no task, socket, connection or open database file survives a start-up
that failed halfway, with the AMI link already logged in and FastAGI listening.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from callcenter import daemon, tasks
from callcenter.agi import plugin as agi_plugin
from callcenter.ami import plugin as ami_plugin
from callcenter.config import AmiSettings, Settings
from callcenter.db.engine import DatabaseError
from callcenter.plugins import Plugin, PluginError, StartupError
from callcenter.registry import AMI_STATUS, SHUTDOWN
from callcenter.services import plugin as acd_plugin
from callcenter.tasks import TaskFailed
from callcenter.web.app import create_app
from tests.ami.peer import AmiPeer
from tests.ami.test_link import until
from tests.ports import free_port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def can_bind(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def run_serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "recordings").mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "CALLCENTER_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        "CALLCENTER_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "CALLCENTER_SESSION_SECRET": "x" * 40,
        "CALLCENTER_AGI__PORT": str(free_port()),
        "CALLCENTER_AMI__PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "callcenter"), "serve"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_on_a_busy_http_port_says_so_in_one_line(tmp_path: Path, busy_port: int) -> None:
    agi_port = free_port()
    result = run_serve(
        tmp_path, CALLCENTER_HTTP__PORT=str(busy_port), CALLCENTER_AGI__PORT=str(agi_port)
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"cannot listen for HTTP on 127.0.0.1:{busy_port}: Address already in use"
    ]
    # The port was the first thing opened: no database was created, nothing else was bound.
    assert not (tmp_path / "cc.db").exists()
    assert can_bind(agi_port)


def test_serve_with_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    http_port = free_port()
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/callcenter"
    result = run_serve(
        tmp_path, CALLCENTER_HTTP__PORT=str(http_port), CALLCENTER_DATABASE__URL=nowhere
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("database error"), result.stderr
    assert "Traceback" not in result.stderr
    assert can_bind(http_port)


class Leftovers:
    """What this process holds open: tasks, sockets, files; compared before and after."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.tasks = asyncio.all_tasks()
        self.sockets = self._sockets()
        self.files = {f.path for f in self.process.open_files()}

    def _sockets(self) -> set[tuple[object, object, str]]:
        return {(c.laddr, c.raddr, c.status) for c in self.process.net_connections(kind="inet")}

    async def assert_none(self) -> None:
        await asyncio.sleep(0)  # let done callbacks run
        assert asyncio.all_tasks() <= self.tasks, asyncio.all_tasks() - self.tasks
        assert self._sockets() <= self.sockets, self._sockets() - self.sockets
        assert {f.path for f in self.process.open_files()} <= self.files


@pytest.fixture
async def ami_peer() -> AsyncIterator[AmiPeer]:
    peer = AmiPeer()
    await peer.start()
    yield peer
    await peer.stop()


def live_settings(settings: Settings, peer: AmiPeer) -> Settings:
    ami = AmiSettings(
        host="127.0.0.1",
        port=peer.port,
        username="callcenter",
        secret="s3cret",
        reconnect_max_seconds=0.2,
    )
    return settings.model_copy(
        update={
            "ami": ami,
            "http": settings.http.model_copy(update={"port": free_port()}),
            "agi": settings.agi.model_copy(update={"port": free_port()}),
        }
    )


async def test_a_start_up_failing_halfway_closes_everything_it_opened(
    settings: Settings, ami_peer: AmiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAGI listening, AMI logged in, the ACD started: then a later plugin fails."""
    live = live_settings(settings, ami_peer)

    def failing(app: web.Application) -> None:
        async def ctx(app: web.Application) -> AsyncIterator[None]:
            await until(lambda: app[AMI_STATUS].connected, "AMI login before the failure")
            raise StartupError("the last plugin could not start")
            yield

        app.cleanup_ctx.append(ctx)

    monkeypatch.setattr(
        daemon, "PLUGINS", (*daemon.PLUGINS, Plugin("failing", failing, requires=("acd",)))
    )
    await daemon.prepare_database(live)  # migrations are not what is under test
    leftovers = Leftovers()
    with pytest.raises(StartupError, match="the last plugin could not start"):
        await asyncio.wait_for(daemon.serve(live), timeout=30)
    assert ami_peer.logins == 1
    await leftovers.assert_none()
    assert can_bind(live.http.port) and can_bind(live.agi.port)


async def test_a_busy_http_port_leaves_nothing_open(settings: Settings, busy_port: int) -> None:
    busy = settings.model_copy(
        update={"http": settings.http.model_copy(update={"port": busy_port})}
    )
    leftovers = Leftovers()
    with pytest.raises(StartupError, match=f"cannot listen for HTTP on 127.0.0.1:{busy_port}"):
        await daemon.serve(busy)
    await leftovers.assert_none()
    assert can_bind(busy.agi.port)


async def test_an_unreachable_database_leaves_nothing_open(settings: Settings) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/callcenter"
    broken = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": nowhere}),
            "http": settings.http.model_copy(update={"port": free_port()}),
        }
    )
    leftovers = Leftovers()
    with pytest.raises(DatabaseError):
        await daemon.serve(broken)
    await leftovers.assert_none()
    assert can_bind(broken.http.port)


def test_a_plugin_set_up_before_the_one_it_needs_is_a_start_up_error(
    settings: Settings,
) -> None:
    """The ACD without FastAGI before it would route no call: refused, not silent."""
    with pytest.raises(PluginError, match="plugin 'acd' needs 'agi' set up before it"):
        create_app(settings, extra_plugins=[acd_plugin.PLUGIN, agi_plugin.PLUGIN])
    with pytest.raises(PluginError, match="set up twice"):
        create_app(settings, extra_plugins=[agi_plugin.PLUGIN, agi_plugin.PLUGIN])
    app = create_app(settings, extra_plugins=[agi_plugin.PLUGIN, acd_plugin.PLUGIN])
    assert "route" in app[agi_plugin.AGI_SERVER]._routes  # the ACD answers route requests


async def test_serve_refuses_plugins_in_the_wrong_order_and_closes_the_port(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        daemon, "PLUGINS", (ami_plugin.PLUGIN, acd_plugin.PLUGIN, agi_plugin.PLUGIN)
    )
    port_settings = settings.model_copy(
        update={"http": settings.http.model_copy(update={"port": free_port()})}
    )
    leftovers = Leftovers()
    with pytest.raises(PluginError, match="'acd' needs 'agi'"):
        await daemon.serve(port_settings)
    await leftovers.assert_none()
    assert can_bind(port_settings.http.port)


async def test_a_task_that_keeps_failing_stops_the_daemon_with_one_line(
    settings: Settings, ami_peer: AmiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = live_settings(settings, ami_peer)

    async def broken() -> None:
        raise RuntimeError("disk on fire")

    def doomed(app: web.Application) -> None:
        async def ctx(app: web.Application) -> AsyncIterator[None]:
            task = tasks.supervise(
                "doomed", broken, backoff=0.01, max_restarts=2, on_fatal=app[SHUTDOWN]
            )
            yield
            await tasks.stop(task)

        app.cleanup_ctx.append(ctx)

    monkeypatch.setattr(daemon, "PLUGINS", (*daemon.PLUGINS, Plugin("doomed", doomed)))
    await daemon.prepare_database(live)
    leftovers = Leftovers()
    with pytest.raises(TaskFailed) as failed:
        await asyncio.wait_for(daemon.serve(live), timeout=30)
    assert str(failed.value) == "doomed failed 3 times in a row: RuntimeError: disk on fire"
    await leftovers.assert_none()
