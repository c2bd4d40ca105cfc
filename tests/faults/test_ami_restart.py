"""Asterisk's manager (the simulator's AMI) restarts while calls go on, through the whole
daemon (web, FastAGI, ACD, AMI link, call recorder) with the default reconnect setting.

Guarantees: the daemon is connected again within 2 s of the manager being back (even
after an outage long enough for the back-off to reach its longest wait); every call
has exactly one record; the call that ended while the link was down is closed from the
resync (its end estimated); calls still up are tracked to their real end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.config import AmiSettings
from callcenter.db.models import Call
from callcenter.registry import AMI_STATUS, CALL_TRACKER, SESSIONMAKER
from callcenter.services.plugin import CALL_RECORDER
from tests.agent.stack import Stack, build_stack
from tests.conftest import MigratedTemplates

RECONNECT_WITHIN = 2.0
OUTAGE_SECONDS = 8.0  # long enough for the back-off to reach its longest wait


@pytest.fixture
async def stack(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    default = AmiSettings.model_fields["reconnect_max_seconds"].default
    stack.settings = stack.settings.model_copy(
        update={"ami": stack.settings.ami.model_copy(update={"reconnect_max_seconds": default})}
    )
    await stack.start_daemon()
    yield stack
    await stack.close()


async def _until(condition: Any, what: str, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_ami_restart_mid_calls(stack: Stack) -> None:
    app = stack.app
    assert app is not None
    tracker, status = app[CALL_TRACKER], app[AMI_STATUS]
    async with app[SESSIONMAKER]() as session:  # the seeded history
        before = await session.scalar(select(func.count()).select_from(Call))
    await stack.acd.login(stack.agents["lan"])
    await stack.acd.set_available(stack.agents["lan"])
    talking = await stack.call("0912345678", "KHACH MOT")
    phone = await stack.wait_ringing("PJSIP/101")
    stack.answer(phone)
    waiting = await stack.call("0987000111", "KHACH HAI")  # nobody free: it waits
    await _until(lambda: {talking.linkedid, waiting.linkedid} <= set(tracker.active_calls),
                 "both calls tracked")  # fmt: skip
    await _until(lambda: tracker.get(talking.linkedid).answered_at is not None, "answered")

    await stack.ami.close()  # the manager goes away
    await _until(lambda: not status.connected, "link down")
    stack.pbx.request_hangup(talking)  # the first caller hangs up during the outage
    late = await stack.call("0903000333", "KHACH BA")  # a call starts during the outage
    await asyncio.sleep(OUTAGE_SECONDS)
    back = time.monotonic()
    await stack.ami.start(port=stack.settings.ami.port)
    await _until(lambda: status.connected, "reconnected", seconds=15)
    took = time.monotonic() - back
    assert took <= RECONNECT_WITHIN, f"reconnected {took:.2f} s after the manager was back"

    await _until(lambda: talking.linkedid not in tracker.active_calls, "ended call closed")
    assert {waiting.linkedid, late.linkedid} <= set(tracker.active_calls)
    for channel in (waiting, late):
        stack.pbx.request_hangup(channel)
    await _until(lambda: not tracker.active_calls, "every call ended")
    await app[CALL_RECORDER].flush()
    ours = {talking.linkedid, waiting.linkedid, late.linkedid}
    async with app[SESSIONMAKER]() as session:
        rows = {c.linkedid: c for c in (await session.scalars(select(Call))).all()}
        total = await session.scalar(select(func.count()).select_from(Call))
    assert total == len(rows) == before + 3, sorted(rows)  # one record per call, no more
    assert ours <= set(rows)
    first = rows[talking.linkedid]
    assert first.disposition == "answered" and first.end_estimated and first.ended_at
    for linkedid in (waiting.linkedid, late.linkedid):
        assert rows[linkedid].ended_at is not None and not rows[linkedid].end_estimated
