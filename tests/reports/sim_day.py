"""Drive the daemon and the PBX simulator on one :class:`ManualClock`, event by event.

Time stands still while the daemon and the simulator talk over their sockets (FastAGI,
AMI); the driver moves it to the next sleeper's deadline only when both are quiet (no
FastAGI session open, no PBX event for a few milliseconds). Every instant of the day is
therefore exactly the scripted one, however loaded the machine: the KPIs can be written
as literal numbers.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from callcenter.agi.plugin import AGI_SERVER
from callcenter.clock import ManualClock
from callcenter.sim.phones import PhoneBehaviour
from tests.acd.sim_rig import SimRig, build_rig


class Driver:
    def __init__(self, rig: SimRig, clock: ManualClock) -> None:
        self.rig = rig
        self.clock = clock

    async def settle(self, quiet_polls: int = 3) -> None:
        """Wait (wall time) until the daemon and the PBX have nothing left to say."""
        assert self.rig.app is not None
        server = self.rig.app[AGI_SERVER]
        last, quiet = len(self.rig.events), 0
        while quiet < quiet_polls:
            await asyncio.sleep(0.003)
            count = len(self.rig.events)
            busy = bool(server._sessions) or count != last
            last = count
            quiet = 0 if busy else quiet + 1

    def _next_deadline(self) -> float | None:
        pending = [d for d, _, f in self.clock._sleepers if not f.done()]
        return min(pending) if pending else None

    async def run_until(self, instant: datetime, *, busy: bool = True) -> None:
        """Advance to ``instant``, stopping at every sleeper's deadline on the way; with
        ``busy`` False (no call anywhere) skip the settling between deadlines."""
        target = self.clock.monotonic() + (instant - self.clock.now()).total_seconds()
        if target < self.clock.monotonic():
            raise AssertionError(f"{instant} is in the past ({self.clock.now()})")
        while True:
            if busy:
                await self.settle()
            deadline = self._next_deadline()
            if deadline is None or deadline > target:
                await self.clock.advance(target - self.clock.monotonic())
                if busy:
                    await self.settle()
                return
            await self.clock.advance(max(0.0, deadline - self.clock.monotonic()))
            if not busy:
                await asyncio.sleep(0)


async def build_sim_day(tmp: Path, start: datetime) -> tuple[SimRig, Driver]:
    phones = {
        "101": PhoneBehaviour("101", answer_delay=3.0, talk_seconds=60.0),
        "102": PhoneBehaviour("102", answer_delay=3.0, talk_seconds=60.0),
        "103": PhoneBehaviour("103", mode="unregistered"),
    }
    rig = await build_rig(tmp, phones, wrapup=15, strategy="least_recent")
    clock = ManualClock(start)
    rig.clock = clock  # type: ignore[assignment]
    rig.pbx.clock = clock
    return rig, Driver(rig, clock)
