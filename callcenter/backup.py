"""Backup and restore: the database (SQLite or PostgreSQL), the configuration file, recordings.

A backup is one ``.tar.gz`` with a ``manifest.json`` (format, schema revision,
row counts, a SHA-256 per member) and:

* from SQLite: ``database.sqlite``, an exact copy made with SQLite's online
  backup API (consistent while the daemon keeps writing);
* from PostgreSQL: ``tables/<name>.jsonl``, every table's rows read in one
  REPEATABLE READ snapshot through SQLAlchemy (portable: no pg_dump needed);
* ``config.toml`` when the daemon's configuration file is known;
* ``prompts/...``, the converted IVR prompts (configuration made in the browser);
* ``recordings/...`` with ``--with-recordings``.

Restore checks the whole archive first (format, checksums, schema revision,
empty target) and then replaces the database's content in ONE transaction,
so a bad archive or a failure changes nothing. SQLite into SQLite uses the
backup API again; every other pairing (PostgreSQL into either, SQLite into
PostgreSQL) copies rows through the models' tables, which is also how a site
moves from SQLite to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import TypeDecorator

from callcenter import __version__
from callcenter.clock import Clock, SystemClock
from callcenter.config import Settings
from callcenter.db import migrate
from callcenter.db.engine import check_database, make_engine, sqlite_path
from callcenter.db.models import Base
from callcenter.db.models.reports import ROLLUP_TABLES
from callcenter.db.models.tickets import drop_code_sequences

FORMAT = "callcenter-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
CONFIG_MEMBER = "config.toml"
TABLES_DIR = "tables"
RECORDINGS_DIR = "recordings"
PROMPTS_DIR = "prompts"
BATCH = 1000


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why in one line."""


@dataclass
class Manifest:
    format: str
    format_version: int
    app_version: str
    created_at: str
    backend: str
    revision: str
    tables: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)  # member -> sha256
    recordings: int = 0
    config: bool = False
    prompts: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode("utf-8")


def tables() -> list[Table]:
    """Every application table, parents before children (the order rows are inserted in),
    but the reports' rollup: derived rows, rebuilt on demand after a restore."""
    return [t for t in Base.metadata.sorted_tables if t.name not in ROLLUP_TABLES]


# --- values <-> JSON ---------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot store {type(value).__name__} in a backup")


def _decoder(table: Table) -> dict[str, Any]:
    """Per column, how to turn the JSON value back into what the column type expects."""
    decoders: dict[str, Any] = {}
    for column in table.columns:
        column_type = column.type
        if isinstance(column_type, TypeDecorator):  # e.g. UTCDateTime: decode as its impl
            column_type = column_type.impl_instance
        try:
            kind = column_type.python_type
        except NotImplementedError:
            continue
        if kind is datetime:
            decoders[column.name] = datetime.fromisoformat
        elif kind is date:
            decoders[column.name] = date.fromisoformat
        elif kind is time:
            decoders[column.name] = time.fromisoformat
        elif kind is Decimal:
            decoders[column.name] = Decimal
        elif kind is bytes:
            decoders[column.name] = base64.b64decode
    return decoders


def _decode_row(row: dict[str, Any], decoders: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (decoders[key](value) if value is not None and key in decoders else value)
        for key, value in row.items()
    }


# --- helpers ------------------------------------------------------------------------------


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()


async def schema_revision(connection: AsyncConnection) -> str | None:
    names = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    if "alembic_version" not in names:
        return None
    row = (await connection.execute(text("SELECT version_num FROM alembic_version"))).first()
    return None if row is None else str(row[0])


async def row_counts(connection: AsyncConnection) -> dict[str, int]:
    """Rows per application table (tables missing from this database are left out)."""
    present = set(await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync)))
    counts = {}
    for table in tables():
        if table.name not in present:
            continue
        counts[table.name] = int(
            (await connection.execute(select(func.count()).select_from(table))).scalar_one()
        )
    return counts


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even while others write."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@contextlib.asynccontextmanager
async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


# --- backup -------------------------------------------------------------------------------


def _check_backup_paths(destination: Path, config_file: Path | None) -> Path:
    destination = destination.resolve()
    if not destination.parent.is_dir():
        raise BackupError(f"backup error: folder {destination.parent} does not exist")
    if config_file is not None and not config_file.is_file():
        raise BackupError(f"backup error: configuration file {config_file} does not exist")
    return destination


async def create_backup(
    settings: Settings,
    destination: Path,
    *,
    with_recordings: bool = False,
    config_file: Path | None = None,
    clock: Clock | None = None,
) -> Manifest:
    """Write a backup archive to ``destination`` (atomically: a temp file renamed at the end)."""
    url = settings.database.url
    backend = backend_of(url)
    destination = await asyncio.to_thread(_check_backup_paths, destination, config_file)
    now = (clock or SystemClock()).now()
    with tempfile.TemporaryDirectory(prefix="cc-backup-") as work_dir:
        work = Path(work_dir)
        members: dict[str, Path] = {}
        async with _engine(url) as engine:
            await check_database(engine)
            if backend == "sqlite":
                path = sqlite_path(url)
                if path is None or not path.exists():
                    raise BackupError(f"backup error: SQLite file {path} does not exist")
                await asyncio.to_thread(_sqlite_copy, path, work / SQLITE_MEMBER)
                members[SQLITE_MEMBER] = work / SQLITE_MEMBER
                copy_url = f"sqlite+aiosqlite:///{work / SQLITE_MEMBER}"
                async with _engine(copy_url) as copy, copy.connect() as connection:
                    revision = await schema_revision(connection)
                    counts = await row_counts(connection)
            else:
                async with engine.connect() as connection:
                    connection = await connection.execution_options(
                        isolation_level="REPEATABLE READ"
                    )
                    async with connection.begin():
                        revision = await schema_revision(connection)
                        counts = {}
                        (work / TABLES_DIR).mkdir()
                        for table in tables():
                            member = f"{TABLES_DIR}/{table.name}.jsonl"
                            counts[table.name] = await _dump_table(connection, table, work / member)
                            members[member] = work / member
        if revision is None:
            raise BackupError(
                "backup error: the database has no schema; run: callcenter db upgrade"
            )
        if config_file is not None:
            members[CONFIG_MEMBER] = config_file
        prompts = 0
        for file in _recording_files(settings.prompts_dir):
            relative = file.relative_to(settings.prompts_dir)
            if any(part.startswith(".") for part in relative.parts):
                continue  # uploads being staged
            members[f"{PROMPTS_DIR}/{relative.as_posix()}"] = file
            prompts += 1
        recordings = 0
        if with_recordings:
            for file in _recording_files(settings.recordings_dir):
                name = file.relative_to(settings.recordings_dir).as_posix()
                members[f"{RECORDINGS_DIR}/{name}"] = file
                recordings += 1
        manifest = Manifest(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            app_version=__version__,
            created_at=now.isoformat(),
            backend=backend,
            revision=revision,
            tables=counts,
            files={name: _sha256_file(path) for name, path in members.items()},
            recordings=recordings,
            config=config_file is not None,
            prompts=prompts,
        )
        partial = destination.with_name(f".{destination.name}.partial")
        try:
            await asyncio.to_thread(_write_archive, partial, manifest, members)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


async def _dump_table(connection: AsyncConnection, table: Table, target: Path) -> int:
    count = 0
    primary = list(table.primary_key.columns)
    query = select(table).order_by(*primary)
    with target.open("w", encoding="utf-8") as handle:
        result = await connection.stream(query.execution_options(yield_per=BATCH))
        async for partition in result.mappings().partitions(BATCH):
            handle.writelines(
                json.dumps(dict(row), default=_encode, ensure_ascii=False) + "\n"
                for row in partition
            )
            count += len(partition)
    return count


def _recording_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _write_archive(target: Path, manifest: Manifest, members: dict[str, Path]) -> None:
    with tarfile.open(target, "w:gz") as archive:
        data = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mtime = int(datetime.fromisoformat(manifest.created_at).timestamp())
        archive.addfile(info, io.BytesIO(data))
        for name, path in members.items():
            archive.add(path, arcname=name, recursive=False)


# --- restore ------------------------------------------------------------------------------


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name == path.as_posix()


def read_and_check(archive_path: Path, work: Path) -> Manifest:
    """Extract ``archive_path`` into ``work`` and verify it completely; raise BackupError if not sound."""
    if not archive_path.is_file():
        raise BackupError(f"restore error: {archive_path} does not exist")
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            names = archive.getnames()
            if MANIFEST not in names:
                raise BackupError(f"restore error: {archive_path} is not a callcenter backup")
            bad = [name for name in names if not _safe_member(name)]
            if bad:
                raise BackupError(f"restore error: unsafe path in archive: {bad[0]}")
            archive.extractall(work, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(
            f"restore error: {archive_path} is not a readable backup archive ({exc})"
        ) from None
    try:
        raw = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
    except (ValueError, TypeError) as exc:
        raise BackupError(f"restore error: the manifest is damaged ({exc})") from None
    if manifest.format != FORMAT:
        raise BackupError(f"restore error: {archive_path} is not a callcenter backup")
    if manifest.format_version > FORMAT_VERSION:
        raise BackupError(
            f"restore error: backup format {manifest.format_version} is newer than this "
            f"program understands ({FORMAT_VERSION}); upgrade callcenter first"
        )
    for name, expected in manifest.files.items():
        path = work / name
        if not path.is_file():
            raise BackupError(f"restore error: {name} is missing from the archive")
        if _sha256_file(path) != expected:
            raise BackupError(f"restore error: {name} is damaged (checksum mismatch)")
    return manifest


async def restore_backup(
    settings: Settings,
    source: Path,
    *,
    force: bool = False,
    config_out: Path | None = None,
) -> Manifest:
    """Replace the database's content (and recordings, if archived) with the backup's."""
    url = settings.database.url
    target_backend = backend_of(url)
    with tempfile.TemporaryDirectory(prefix="cc-restore-") as work_dir:
        work = Path(work_dir)
        manifest = await asyncio.to_thread(read_and_check, source, work)
        if config_out is not None:
            if not manifest.config:
                raise BackupError("restore error: this backup holds no configuration file")
            if await asyncio.to_thread(config_out.exists) and not force:
                raise BackupError(
                    f"restore error: {config_out} exists; add --force to overwrite it"
                )
        async with _engine(url) as engine:
            await check_database(engine)
            async with engine.connect() as connection:
                current = await schema_revision(connection)
                existing = await row_counts(connection) if current is not None else {}
            same_file_format = manifest.backend == "sqlite" and target_backend == "sqlite"
            if current is None and not same_file_format:
                await migrate.upgrade_async(url, manifest.revision)
            elif current is not None and current != manifest.revision and not same_file_format:
                raise BackupError(
                    f"restore error: the backup's schema is revision {manifest.revision}, "
                    f"the database's is {current}; restore into an empty database"
                )
            rows = sum(existing.values())
            if rows and not force:
                raise BackupError(
                    f"restore error: the database is not empty ({rows} rows); "
                    "add --force to replace everything in it"
                )
            if same_file_format:
                await engine.dispose()  # no pooled connection may hold the file during the copy
                target = sqlite_path(url)
                assert target is not None
                await asyncio.to_thread(_sqlite_copy_into, work / SQLITE_MEMBER, target)
            else:
                await _copy_rows(engine, manifest, work)
            async with engine.connect() as connection:
                restored = await row_counts(connection)
        if restored != manifest.tables:
            raise BackupError(
                "restore error: row counts differ after restore "
                f"(expected {manifest.tables}, got {restored})"
            )
        if manifest.recordings:
            await asyncio.to_thread(_restore_files, work / RECORDINGS_DIR, settings.recordings_dir)
        if manifest.prompts:
            await asyncio.to_thread(_restore_files, work / PROMPTS_DIR, settings.prompts_dir)
        if config_out is not None:
            await asyncio.to_thread(shutil.copyfile, work / CONFIG_MEMBER, config_out)
    return manifest


def _sqlite_copy_into(source: Path, target: Path) -> None:
    """Replace the target database's pages with the source's in one step (backup API)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


async def _source_rows(
    manifest: Manifest, work: Path, table: Table
) -> AsyncIterator[list[dict[str, Any]]]:
    """The archived rows of ``table`` in batches, from JSON lines or from the SQLite copy."""
    if manifest.backend == "sqlite":
        source_url = f"sqlite+aiosqlite:///{work / SQLITE_MEMBER}"
        async with _engine(source_url) as source, source.connect() as connection:
            result = await connection.stream(select(table).order_by(*table.primary_key.columns))
            async for partition in result.mappings().partitions(BATCH):
                yield [dict(row) for row in partition]
        return
    decoders = _decoder(table)
    path = work / TABLES_DIR / f"{table.name}.jsonl"
    batch: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            batch.append(_decode_row(json.loads(line), decoders))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


async def _copy_rows(engine: AsyncEngine, manifest: Manifest, work: Path) -> None:
    """Delete every row and insert the archived ones, all in one transaction."""
    backend = engine.dialect.name
    async with engine.begin() as connection:
        for name in ROLLUP_TABLES:  # children first; its stale marks keep their sequence
            await connection.execute(Base.metadata.tables[name].delete())
        for table in reversed(tables()):
            await connection.execute(table.delete())
        for table in tables():
            async for batch in _source_rows(manifest, work, table):
                await connection.execute(table.insert(), batch)
        if backend == "postgresql":
            for table in tables():
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (
                        column.autoincrement == "auto" and column.type.python_type is int
                    ):
                        await connection.execute(
                            text(
                                "SELECT setval(pg_get_serial_sequence(:table, :column), "
                                f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 1), "
                                f"(SELECT MAX({column.name}) FROM {table.name}) IS NOT NULL) "
                                "WHERE pg_get_serial_sequence(:table, :column) IS NOT NULL"
                            ),
                            {"table": table.name, "column": column.name},
                        )
            # ticket numbers go on from the restored codes, not from before the restore
            await connection.run_sync(drop_code_sequences)


def _restore_files(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for file in source.rglob("*"):
        if file.is_file():
            destination = target / file.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(file.read_bytes())
