"""Call records as a service: write the tracker's call records to the database as the
calls progress.

The call tracker (pure, fed by the AMI adapter) publishes typed call facts; this
service subscribes to them (``CallFact``, and ``CallsResynced`` to close calls that
ended while the link was down) and persists the records. The AMI adapter only
speaks AMI; nothing here knows AMI.

Why a queue of call ids instead of writing in the bus handler: bus handlers
run synchronously inside the tracker's event processing; writes are async and
may be slow. Every call event marks its call dirty; one writer task saves the
latest snapshot of each dirty call (several events of one call coalesce into
one write). The repository's upsert makes re-saving harmless.

Why batches: at 20 calls/s one transaction per call (three queries and a commit,
each a pass through the busy event loop) fell 12-20 s behind the calls, so the
agent desk found no call record when a wrap-up timed out. The writer now waits
a short window for more events, then saves every dirty call in one transaction.
If that transaction fails, the batch is saved again one call per transaction: a
record the database refuses is retried a few times, then logged with its
content and dropped, never blocking the other calls' records. A database that is
down or restarting refuses nothing: its records wait, however long, and are saved
when it is back (see ``database_unreachable``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.bus import EventBus
from callcenter.core.calltracker import CallTracker
from callcenter.core.events import CallFact, CallsResynced
from callcenter.core.interfaces import interface_key
from callcenter.db.engine import database_unreachable
from callcenter.db.repos import calls as calls_repo

log = logging.getLogger(__name__)


class CallRecorder:
    def __init__(
        self,
        tracker: CallTracker,
        sessions: async_sessionmaker[Any],
        bus: EventBus,
        *,
        agents_ttl: float = 60.0,
        retry_seconds: float = 2.0,
        coalesce_seconds: float = 0.05,
        batch_size: int = 200,
    ) -> None:
        self._tracker = tracker
        self._sessions = sessions
        self._dirty: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._agents: dict[str, int] = {}
        # Who sits at which phone right now (hot-desking), from the ACD when it runs:
        # it overrides the phone's configured owner.
        self.phones_in_use: Callable[[], Mapping[str, int]] | None = None
        self._agents_at = float("-inf")
        self._agents_ttl = agents_ttl
        self._retry_seconds = retry_seconds
        self._coalesce_seconds = coalesce_seconds
        self._batch_size = batch_size
        self.saved = 0
        self.failures = 0
        self.max_attempts = 5
        self._failures: dict[str, int] = {}
        self._stale: tuple[set[str], datetime] | None = None
        unsubscribers = [
            bus.subscribe(CallFact, self._on_event),
            bus.subscribe(CallsResynced, self._on_resynced),
        ]
        self._unsubscribe = lambda: [unsubscribe() for unsubscribe in unsubscribers]

    @property
    def depth(self) -> int:
        """Calls with facts not yet stored (each call's events coalesce into one write)."""
        return len(self._dirty)

    def _on_event(self, event: CallFact) -> None:
        linkedid = event.linkedid
        if linkedid:
            self._dirty[linkedid] = None
            self._idle.clear()
            self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                if self._coalesce_seconds > 0:
                    await asyncio.sleep(self._coalesce_seconds)  # let a call's events pile up
                self._wake.clear()
                await self._write_dirty()
        finally:
            self._unsubscribe()

    async def _write_dirty(self) -> None:
        while self._dirty or self._stale is not None:
            if self._stale is not None:
                live, at = self._stale
                self._stale = None
                try:
                    async with self._sessions() as session:
                        closed = await calls_repo.close_stale_calls(session, live, at)
                        await session.commit()
                    if closed:
                        log.warning("closed %d call record(s) Asterisk no longer has", closed)
                except Exception as exc:
                    if not database_unreachable(exc):
                        log.exception("closing stale call records failed")
                    else:  # keep the list: the calls are closed once the database is back
                        log.warning("closing stale call records: database unreachable (%s)", exc)
                        self._stale = self._stale or (live, at)
                        await asyncio.sleep(self._retry_seconds)
                        continue
            linkedids = list(self._dirty)[: self._batch_size]
            for linkedid in linkedids:
                del self._dirty[linkedid]
            try:
                await self._save_batch(linkedids)
            except Exception:
                log.warning(
                    "saving %d call records together failed; saving them one by one",
                    len(linkedids), exc_info=True,
                )  # fmt: skip
            else:
                for linkedid in linkedids:
                    self._failures.pop(linkedid, None)
                continue
            failed = False
            for linkedid in linkedids:
                try:
                    await self._save(linkedid)
                    self._failures.pop(linkedid, None)
                except Exception as exc:
                    self.failures += 1
                    if database_unreachable(exc):
                        # Down or restarting: wait for it however long it takes.
                        log.warning("call record %s waits for the database (%s)", linkedid, exc)
                        self._dirty.setdefault(linkedid, None)
                        failed = True
                        continue
                    count = self._failures.get(linkedid, 0) + 1
                    if count >= self.max_attempts:
                        self._failures.pop(linkedid, None)
                        log.exception(
                            "call record %s could not be saved %d times; giving up: %r",
                            linkedid, count, self._tracker.get(linkedid),
                        )  # fmt: skip
                        continue
                    self._failures[linkedid] = count
                    log.exception("saving call record %s failed; will retry", linkedid)
                    self._dirty.setdefault(linkedid, None)
                    failed = True
            if failed:
                await asyncio.sleep(self._retry_seconds)
        self._idle.set()

    async def _agents_of(self, session: Any) -> dict[str, int]:
        if time.monotonic() - self._agents_at > self._agents_ttl:
            self._agents = await calls_repo.agent_ids_by_interface(session)
            self._agents_at = time.monotonic()
        if self.phones_in_use is None:
            return self._agents
        live = {interface_key(k): v for k, v in self.phones_in_use().items()}
        return {**self._agents, **live}

    async def _save_batch(self, linkedids: list[str]) -> None:
        records = [
            record.snapshot()
            for record in (self._tracker.get(linkedid) for linkedid in linkedids)
            if record is not None
        ]
        if not records:
            return
        async with self._sessions() as session:
            await calls_repo.save_calls(session, records, await self._agents_of(session))
            await session.commit()
        self.saved += len(records)

    async def _save(self, linkedid: str) -> None:
        record = self._tracker.get(linkedid)
        if record is None:
            return
        async with self._sessions() as session:
            await calls_repo.save_call(session, record.snapshot(), await self._agents_of(session))
            await session.commit()
        self.saved += 1

    def _on_resynced(self, event: CallsResynced) -> None:
        self.close_stale(set(event.live), event.at)

    def close_stale(self, live: set[str], at: datetime) -> None:
        """After a resync: close stored calls still marked active that Asterisk no longer has
        (they ended while the daemon or its link was down)."""
        self._stale = (set(live), at)
        self._idle.clear()
        self._wake.set()

    async def flush(self, wait_seconds: float = 5.0) -> None:
        """Wait until every call marked so far is written (tests, shutdown)."""
        async with asyncio.timeout(wait_seconds):
            await self._idle.wait()
