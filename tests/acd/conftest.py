"""Fixtures shared by the ACD tests: the daemon against the PBX simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.acd.sim_rig import SimRig, build_rig


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    rigs: list[SimRig] = []

    async def make(phones: list[tuple[str, Any]], **options: Any) -> SimRig:
        rig = await build_rig(tmp_path, dict(phones), **options)
        rigs.append(rig)
        await rig.start_daemon()
        return rig

    yield make
    for rig in rigs:
        await rig.close()
        await rig.dispose()
