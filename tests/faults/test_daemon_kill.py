"""The daemon is killed (SIGKILL, a real process) while an agent talks and a caller waits,
then started again, against the PBX simulator running the production dialplan.

Guarantees: the calls in progress are recovered from the PBX (the waiting caller keeps
waiting, the talking call is tracked to its real end, by the same agent); the agent's
page connects again to the new process and its wrap-up makes exactly one ticket; every
call has exactly one record. (With a real Asterisk, including the fallback queue that
answers callers while the daemon is down: tests/real_asterisk/test_resilience.py.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Call
from tests.agent.stack import AMI_SECRET, Stack, build_stack
from tests.agent.test_through_simulator import AgentClient
from tests.conftest import MigratedTemplates


class DaemonProcess:
    """``python -m callcenter.cli serve`` pointed at the stack's simulator and database."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.port = stack.http_port
        self.log = stack.tmp / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        settings = self.stack.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        env.update({
            "CALLCENTER_DATABASE__URL": settings.database.url,
            "CALLCENTER_AMI__HOST": "127.0.0.1",
            "CALLCENTER_AMI__PORT": str(settings.ami.port),
            "CALLCENTER_AMI__USERNAME": "callcenter",
            "CALLCENTER_AMI__SECRET": AMI_SECRET,
            "CALLCENTER_AGI__HOST": "127.0.0.1",
            "CALLCENTER_AGI__PORT": str(settings.agi.port),
            "CALLCENTER_HTTP__HOST": "127.0.0.1",
            "CALLCENTER_HTTP__PORT": str(self.port),
            "CALLCENTER_RECORDINGS_DIR": str(settings.recordings_dir),
            "CALLCENTER_PROMPTS_DIR": str(self.stack.tmp / "prompts"),
            "CALLCENTER_ATTACHMENTS_DIR": str(self.stack.tmp / "attachments"),
            "CALLCENTER_SESSION_SECRET": "s" * 40,
        })  # fmt: skip
        return env

    def _spawn(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "callcenter.cli", "serve"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def start(self, within: float = 30.0) -> None:
        await asyncio.to_thread(self._spawn)
        assert self.process is not None
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if (await response.json()).get("ami") is True:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("daemon not ready:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    yield stack
    await stack.ami.close()
    await stack.pbx.close()


async def _until(condition: Any, what: str, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _crash_mid_calls(stack: Stack, daemon: DaemonProcess, lan: AgentClient) -> Any:
    """lan talks with one caller, another caller waits; the daemon is SIGKILLed and restarted."""
    await daemon.start()
    await lan.login("lan")
    await lan.connect()
    status, body = await lan.post("/api/agent/state", {"action": "available"})
    assert status == 200, body
    talking = await stack.call("0912345678", "NGUYEN VAN AN")
    await lan.next_of("pop", within=10)
    phone = await stack.wait_ringing("PJSIP/101")
    stack.answer(phone)
    assert (await lan.next_of("call"))["call"]["phase"] == "talking"
    waiting = await stack.call("0987000111", "KHACH HAI")  # lan is busy: it waits
    await asyncio.sleep(1.0)  # its route is decided: it waits in the queue

    daemon.kill()  # a crash: nothing flushed, no goodbye
    await asyncio.sleep(1.0)
    assert not waiting.hungup and not talking.hungup  # the PBX keeps both callers
    await daemon.start()
    return talking, waiting, phone


async def test_daemon_killed_mid_calls_loses_no_call_record(stack: Stack) -> None:
    daemon = DaemonProcess(stack)
    lan = AgentClient(stack.base_url)
    engine = make_engine(stack.settings.database.url)
    factory = sessionmaker(engine)
    try:
        talking, waiting, phone = await _crash_mid_calls(stack, daemon, lan)
        stack.hang_up(phone)  # the talking call ends after the restart
        stack.pbx.request_hangup(talking)
        stack.pbx.request_hangup(waiting)
        ours = [talking.linkedid, waiting.linkedid]

        async def both_closed() -> bool:
            async with factory() as session:
                ended = await session.scalar(
                    select(func.count()).select_from(Call).where(
                        Call.linkedid.in_(ours), Call.ended_at.is_not(None)
                    )
                )  # fmt: skip
            return ended == 2

        await _until(both_closed, "both call records closed")
        async with factory() as session:
            rows = (await session.scalars(select(Call).where(Call.linkedid.in_(ours)))).all()
        by_id = {row.linkedid: row for row in rows}
        assert len(rows) == len(by_id) == 2  # one record per call, none duplicated
        first = by_id[talking.linkedid]
        assert first.agent_id == stack.agents["lan"] and first.answered_at is not None
        assert not first.end_estimated  # the daemon was up again when it really ended
        assert by_id[waiting.linkedid].answered_at is None
    finally:
        await lan.close()
        daemon.stop()
        await engine.dispose()


async def test_daemon_killed_mid_call_the_agents_page_gets_its_call_back(stack: Stack) -> None:
    daemon = DaemonProcess(stack)
    lan = AgentClient(stack.base_url)
    try:
        talking, _waiting, phone = await _crash_mid_calls(stack, daemon, lan)
        sync = await lan.connect()  # the page's socket, as its reconnect loop opens it again
        assert sync["call"] is not None and sync["call"]["linkedid"] == talking.linkedid, sync
        assert sync["state"]["state"] != "available", sync["state"]
        stack.hang_up(phone)
        wrapup = await lan.next_of("call", within=10)
        assert wrapup["call"]["phase"] == "wrapup", wrapup
        assert stack.world is not None
        status, saved = await lan.post(
            f"/api/agent/calls/{talking.linkedid}/wrapup",
            {"outcome": "new_ticket", "category_id": stack.world.category_id,
             "priority": "normal", "notes": "sau khi khởi động lại"},
        )  # fmt: skip
        assert status == 200, saved
    finally:
        await lan.close()
        daemon.stop()
