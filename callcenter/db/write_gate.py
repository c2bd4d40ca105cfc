"""One writer at a time for a SQLite file, queued in-process instead of inside SQLite.

SQLite allows one write transaction per file. When two of the daemon's tasks write
at once (the ACD state log, the call recorder, a wrap-up save), the loser waits in
SQLite's busy handler, which sleeps in growing steps (up to 100 ms each) and, after
``busy_timeout``, fails with "database is locked": latency spikes of a second and,
under overload, a lost write. The gate queues writers on an ``asyncio.Lock``
instead: a transaction takes it just before its first write statement and gives it
back when it commits or rolls back, so writers run back to back in arrival order
and readers (WAL) never wait.

It works below the ORM, on the engine's events, so every write path is covered
without callers knowing. A task that already holds the gate and opens a *second*
write transaction would wait for itself; the wait is bounded and ends with a clear
error instead of a hang (the same code would have failed on SQLite's own lock).
PostgreSQL engines get no gate.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

# The first word of statements that take SQLite's write lock.
_WRITES = frozenset(
    {"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "VACUUM", "REINDEX"}
)
_GATES: weakref.WeakKeyDictionary[Any, WriteGate] = weakref.WeakKeyDictionary()


def _is_write(statement: str) -> bool:
    head = statement.lstrip(" \n\t(").split(None, 1)
    if not head:
        return False
    word = head[0].upper()
    if word == "WITH":  # a CTE may end in a write
        upper = statement.upper()
        return any(f" {w} " in upper or f"\n{w} " in upper for w in ("INSERT", "UPDATE", "DELETE"))
    return word in _WRITES


class WriteGate:
    """The in-process queue of writers for one SQLite engine."""

    def __init__(self, wait_seconds: float = 30.0) -> None:
        self.wait_seconds = wait_seconds
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.acquired = 0  # counters for benchmarks and tests
        self.waited = 0

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {known: lk for known, lk in self._locks.items() if not known.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def acquire(self) -> asyncio.Lock:
        lock = self._lock()
        if lock.locked():
            self.waited += 1
        try:
            async with asyncio.timeout(self.wait_seconds):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: no write slot within {self.wait_seconds:.0f} s "
                "(is a task nesting two write transactions?)"
            ) from None
        self.acquired += 1
        return lock


def install(engine: AsyncEngine, gate: WriteGate | None = None) -> WriteGate:
    """Put ``engine`` (SQLite) behind a write gate; returns the gate."""
    gate = gate or WriteGate()
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect
    held: dict[int, asyncio.Lock] = {}  # DBAPI connection id -> the gate it holds

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before_write(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        key = id(conn.connection.dbapi_connection)
        if key in held or not _is_write(statement):
            return
        held[key] = await_only(gate.acquire())

    def _releasing(original: Any) -> Any:
        def wrapper(dbapi_connection: Any, *args: Any) -> Any:
            try:
                return original(dbapi_connection, *args)
            finally:
                # The engine passes the pool's proxy, the pool the raw connection.
                raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
                lock = held.pop(id(raw), None)
                if lock is not None and lock.locked():
                    lock.release()

        return wrapper

    # The transaction's end, after SQLite has committed or rolled back (or the
    # connection closed): the next writer may start.
    dialect.do_commit = _releasing(dialect.do_commit)  # type: ignore[method-assign]
    dialect.do_rollback = _releasing(dialect.do_rollback)  # type: ignore[method-assign]
    dialect.do_close = _releasing(dialect.do_close)  # type: ignore[method-assign]
    _GATES[sync_engine] = gate
    return gate


def gate_of(engine: AsyncEngine) -> WriteGate | None:
    """The gate in front of ``engine``, if it has one (benchmarks read its counters)."""
    return _GATES.get(engine.sync_engine)
