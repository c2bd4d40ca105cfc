"""Write-behind: rows the routing and pop paths produce are stored later, in batches.

Why: a route decision and a screen-pop run on in-memory state. If producing a row
meant waiting for the database (SQLite's single write lock, a slow PostgreSQL
commit), every call routed during a slow write waited with it: in the 30 s bench
run of issue 19 one state batch held the database 1.1 s and route decisions reached
p99 474 ms. Producers here only append to a queue; one writer task drains it.

Overflow policy (decided for issue 19): the queue's ``limit`` is a *soft* bound.

* :meth:`put` (the route path, synchronous bus handlers) never waits and never
  drops: past the limit the item is still queued, the overflow is counted
  (``callcenter_write_behind_overflow_total``) and logged once per episode with the
  depth, and again when the queue is back under the limit. Holding a state change
  costs a few hundred bytes; losing one corrupts an agent's history, and blocking
  the route path would make the caller wait on the database, the thing this module
  exists to prevent.
* :meth:`put_wait` (producers that are not on the route path and can afford to
  wait, e.g. a wrap-up save answering an agent's click) waits while the queue is
  over the limit: back-pressure lands on the writer side, not on a call.

A batch that fails is retried (the items stay first in line, in order) with a
doubling pause; after ``max_attempts`` the batch is written one item at a time and
an item the database still refuses is logged with its content — never silently.
A database that is down or restarting refuses nothing: those failures do not count
as attempts, and the batch waits for it however long the outage lasts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from callcenter.db.engine import database_unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")


#: While the database is unreachable, the longest pause between two tries.
UNREACHABLE_RETRY_MAX_SECONDS = 2.0


class WriteBehind(Generic[T]):
    """A bounded, batched write-behind queue with one writer (run :meth:`run` in a task)."""

    def __init__(
        self,
        name: str,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        coalesce: Callable[[list[T]], list[T]] | None = None,
        limit: int = 10_000,
        batch_size: int = 500,
        retry_seconds: float = 0.5,
        max_attempts: int = 5,
        metrics: Any = None,
    ) -> None:
        self.name = name
        self._write = write
        self._coalesce = coalesce
        self.limit = limit
        self.batch_size = batch_size
        self.retry_seconds = retry_seconds
        self.max_attempts = max_attempts
        self._items: deque[T] = deque()
        self._in_flight = 0  # taken by the writer, not yet stored
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()
        self._room.set()
        self._overflowing = False
        self.peak = 0
        self.written = 0
        self.overflows = 0
        self.lost = 0  # items the database refused max_attempts times (each one logged)
        self._overflow_counter = None
        if metrics is not None:
            metrics.write_behind_depth.labels(name).set_function(lambda: self.depth)
            self._overflow_counter = metrics.write_behind_overflow.labels(name)
            self._written_counter = metrics.write_behind_written.labels(name)
        else:
            self._written_counter = None

    @property
    def depth(self) -> int:
        """Items produced and not stored yet (queued plus the batch being written)."""
        return len(self._items) + self._in_flight

    def put(self, item: T) -> None:
        """Queue ``item``; never waits, never drops (past the limit: counted and logged)."""
        self._items.append(item)
        depth = self.depth
        if depth > self.peak:
            self.peak = depth
        if depth > self.limit:
            self.overflows += 1
            if self._overflow_counter is not None:
                self._overflow_counter.inc()
            self._room.clear()
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "write-behind %s over its limit (%d queued > %d): the database is "
                    "behind; rows are held in memory, none is dropped",
                    self.name,
                    depth,
                    self.limit,
                )
        self._idle.clear()
        self._wake.set()

    async def put_wait(self, item: T) -> None:
        """Queue ``item``, first waiting while the queue is over its limit (back-pressure)."""
        while self.depth >= self.limit:
            self._room.clear()
            await self._room.wait()
        self.put(item)

    async def flush(self, wait_seconds: float | None = None) -> None:
        """Wait until everything queued so far is stored (tests, shutdown)."""
        if wait_seconds is None:
            await self._idle.wait()
            return
        async with asyncio.timeout(wait_seconds):
            await self._idle.wait()

    async def run(self) -> None:
        """The writer: take a batch, coalesce, write; repeat. Never returns."""
        while True:
            if not self._items:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(len(self._items), self.batch_size)
            batch = [self._items.popleft() for _ in range(count)]
            self._in_flight = count
            try:
                await self._store(batch)
            finally:
                self._in_flight = 0
                self._after_write()

    def _after_write(self) -> None:
        depth = self.depth
        if depth < self.limit:
            self._room.set()
            if self._overflowing:
                self._overflowing = False
                log.warning(
                    "write-behind %s back under its limit (%d queued; peak %d)",
                    self.name,
                    depth,
                    self.peak,
                )

    async def _store(self, batch: list[T]) -> None:
        rows = self._coalesce(batch) if self._coalesce is not None else batch
        delay = self.retry_seconds
        attempt = 0
        while attempt < self.max_attempts:
            try:
                await self._write(rows)
            except asyncio.CancelledError:
                self._items.extendleft(reversed(batch))  # nothing lost at shutdown
                raise
            except Exception as exc:
                if database_unreachable(exc):
                    # Down or restarting: not a refusal. Wait for it however long it
                    # takes, trying every few seconds so writing resumes soon after.
                    log.warning("write-behind %s: database unreachable (%s); %d rows wait",
                                self.name, exc, len(rows))  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, UNREACHABLE_RETRY_MAX_SECONDS)
                    continue
                attempt += 1
                log.exception(
                    "write-behind %s: storing %d rows failed (attempt %d of %d)",
                    self.name,
                    len(rows),
                    attempt,
                    self.max_attempts,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._stored(len(batch))
            return
        await self._one_by_one(rows)
        self._stored(len(batch))

    async def _one_by_one(self, rows: Sequence[T]) -> None:
        for row in rows:
            try:
                await self._write([row])
            except asyncio.CancelledError:
                raise
            except Exception:
                self.lost += 1
                log.exception(
                    "write-behind %s: the database refused %r; not stored", self.name, row
                )

    def _stored(self, count: int) -> None:
        self.written += count
        if self._written_counter is not None:
            self._written_counter.inc(count)
