"""Create the async engine for SQLite (embedded default) or PostgreSQL (production).

SQLite gets WAL mode, foreign keys and a busy timeout on every connection, so
the daemon and a CLI command can share one file, and an in-process write gate
(``write_gate``) so the daemon's own writers queue instead of colliding.
``check_database`` turns the usual failures (server down, read-only file,
missing folder) into one clear line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from callcenter.db import write_gate


class DatabaseError(Exception):
    """The database cannot be used; the message says why in one line."""


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if backend == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # A read-only file cannot switch mode; check_writable reports that case.
            with contextlib.suppress(Exception):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        write_gate.install(engine)
    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def check_writable(url: str) -> None:
    """Fail early, before anything is written, if a SQLite file or its folder is read-only."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise DatabaseError(f"database error: folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise DatabaseError(f"database error: {path} is read-only")
    if not os.access(folder, os.W_OK):
        raise DatabaseError(
            f"database error: folder {folder} is read-only (SQLite needs it for its WAL files)"
        )


async def check_database(engine: AsyncEngine) -> None:
    """Connect once and run a trivial query; raise DatabaseError with a one-line reason."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # driver errors vary widely; the first line is what matters
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        url = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"database error: cannot use {url}: {reason}") from None


#: SQLSTATE classes of "the server cannot be reached now": connection exceptions (08)
#: and operator intervention (57P: shutting down, starting up, terminated by an admin).
_UNREACHABLE_SQLSTATES = ("08", "57P")


def database_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says the database is down or restarting, not that it refused this
    write: such a write must wait and be retried, however long the outage, never dropped."""
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return True
        orig = exc.orig
        code = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        if code.startswith(_UNREACHABLE_SQLSTATES):
            return True
        return isinstance(orig, OSError | ConnectionError | TimeoutError)
    return False
