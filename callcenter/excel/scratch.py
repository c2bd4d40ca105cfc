"""What an import remembers about the rows it has read, kept on disk so memory stays flat.

A preview must know, at row 90,000, that row 12 already introduced this phone
number; an import must know that an earlier row already touched this customer.
Keeping that in Python dicts grows with the file, so it lives in a throw-away
SQLite file (stdlib ``sqlite3``, small page cache) that is deleted at the end.
Queries are point lookups on primary keys: microseconds each.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 500


class ScratchStore:
    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="cc-import-", suffix=".sqlite")
        os.close(fd)
        self.path = Path(name)
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -4096;
            CREATE TABLE keys (key TEXT PRIMARY KEY, owner INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE groups (owner INTEGER PRIMARY KEY, row INTEGER, name TEXT);
            CREATE TABLE touched (owner INTEGER PRIMARY KEY);
            """
        )

    def owners(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(f"SELECT key, owner FROM keys WHERE key IN ({marks})", chunk)
            )
        return found

    def add_keys(self, pairs: Iterable[tuple[str, int]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO keys VALUES (?, ?)", pairs)

    def add_groups(self, groups: Iterable[tuple[int, int, str]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO groups VALUES (?, ?, ?)", groups)

    def group(self, owner: int) -> tuple[int, str] | None:
        row = self.db.execute("SELECT row, name FROM groups WHERE owner = ?", (owner,)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def touch(self, owners: Iterable[int]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((o,) for o in owners))

    def is_touched(self, owner: int) -> bool:
        return (
            self.db.execute("SELECT 1 FROM touched WHERE owner = ?", (owner,)).fetchone()
            is not None
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        self.path.unlink(missing_ok=True)
