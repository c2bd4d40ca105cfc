"""Injectable time, so the core never calls ``datetime.now()`` itself.

Three clocks share one protocol:

* :class:`SystemClock` — production: wall time, real sleeps.
* :class:`ManualClock` — unit tests: time moves only when the test says so.
* :class:`ScaledClock` — the PBX simulator and load tests: time runs N times
  faster than the wall, so a simulated working day passes in minutes.

Every clock returns timezone-aware UTC datetimes; local days are computed from
those by :mod:`callcenter.localtime`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and deadlines)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Wall time sped up by ``scale`` from a chosen start instant."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._wall0 = time.monotonic()
        self._start = (start or datetime.now(UTC)).astimezone(UTC)

    def monotonic(self) -> float:
        return (time.monotonic() - self._wall0) * self.scale

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


class ManualClock:
    """A clock that stands still until :meth:`advance` is called.

    Sleepers wake in order of their deadline when time is advanced past it, so a
    test can run a simulated day of timers instantly and deterministically.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 1, 5, 1, 0, tzinfo=UTC)).astimezone(UTC)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def set(self, instant: datetime) -> None:
        delta = (instant.astimezone(UTC) - self._now).total_seconds()
        if delta < 0:
            raise ValueError("a ManualClock never goes back")
        self._advance_to(self._mono + delta)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order and letting them run."""
        target = self._mono + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._advance_to(deadline)
            if not future.done():
                future.set_result(None)
            # Let the woken task run (and maybe schedule new sleeps) before going on.
            for _ in range(5):
                await asyncio.sleep(0)
        self._advance_to(target)
        await asyncio.sleep(0)

    def _advance_to(self, mono: float) -> None:
        self._now += timedelta(seconds=mono - self._mono)
        self._mono = mono
