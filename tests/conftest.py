"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, settings, clocks.

PostgreSQL tests use a fresh database per test on 127.0.0.1:5432. Outside CI a
missing server skips them with a loud reason; with CI=true it fails the run.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from callcenter.config import Settings, load_settings
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker

hypothesis_settings.register_profile("ci", max_examples=60, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=400, deadline=None)
hypothesis_settings.load_profile(
    "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev")
)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection left alive (modules, test functions), as the daemon freezes
    its start-up heap: full garbage collections then stay short, and the simulator tests,
    which run 60x faster than real time, are not thrown by a long pause in the middle."""
    gc.collect()
    gc.freeze()


PG_HOST = os.environ.get("CALLCENTER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CALLCENTER_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CALLCENTER_TEST_PG_USER", "postgres")


def _pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


PG_AVAILABLE = _pg_reachable()


def require_postgres() -> None:
    if PG_AVAILABLE:
        return
    reason = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} and CI=true: the PostgreSQL tests must run in CI")
    pytest.skip(f"!!! SKIPPED: {reason}; start it to run the PostgreSQL half of the suite")


def pg_admin_url(database: str = "postgres") -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class PgDatabase:
    """A throw-away PostgreSQL database."""

    def __init__(self) -> None:
        self.name = f"cc_test_{uuid.uuid4().hex[:12]}"
        self.url = pg_admin_url(self.name)

    def create(self, template: str = "") -> None:
        copy = f' TEMPLATE "{template}"' if template else ""
        asyncio.run(_pg_admin(f'CREATE DATABASE "{self.name}"{copy}'))

    def drop(self) -> None:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on (the suite runs such tests on both)."""
    backend: str = request.param
    return backend


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once per backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    require_postgres()
    database = PgDatabase()
    database.create()
    try:
        yield database.url
    finally:
        database.drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


class MigratedTemplates:
    """One database per backend migrated to head once per test run; tests get copies.

    Running the Alembic chain costs about a second a test on each backend; copying a
    migrated SQLite file or ``CREATE DATABASE … TEMPLATE`` costs a fraction of that,
    and the copy is the same schema (``alembic_version`` included).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: Path | None = None
        self._postgres: PgDatabase | None = None

    def sqlite_copy(self, target: Path) -> None:
        if self._sqlite is None:
            path = self.folder / "template.db"
            migrate.upgrade(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path
        source, copy = sqlite3.connect(self._sqlite), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()

    def postgres_template(self) -> str:
        if self._postgres is None:
            database = PgDatabase()
            database.create()
            migrate.upgrade(database.url)
            self._postgres = database
        return self._postgres.name

    def drop(self) -> None:
        if self._postgres is not None:
            self._postgres.drop()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("migrated"))
    yield templates
    templates.drop()


@pytest.fixture
def migrated_url(
    backend: str, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[str]:
    """A database URL whose schema is at head (both backends): a copy of a migrated one."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        migrated_templates.sqlite_copy(path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    require_postgres()
    database = PgDatabase()
    database.create(template=migrated_templates.postgres_template())
    try:
        yield database.url
    finally:
        database.drop()


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(migrated_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return sessionmaker(engine)


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Settings for an app under test: SQLite in tmp, recordings in tmp."""
    (tmp_path / "recordings").mkdir(exist_ok=True)
    return load_settings(
        None,
        database={"url": sqlite_url},
        recordings_dir=str(tmp_path / "recordings"),
        session_secret="x" * 40,
    )
