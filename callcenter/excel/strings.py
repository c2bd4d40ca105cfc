"""Excel's shared-string table without holding it in memory.

Excel stores every distinct text of a workbook once, in ``xl/sharedStrings.xml``,
and cells refer to it by index. openpyxl reads the whole table into a list even
in read-only mode, so a 100,000-customer file (names, addresses, notes: mostly
distinct) costs memory in proportion to the file. Above a size threshold we
stream the table into a throw-away SQLite file instead and look strings up by
index, with a small cache for the repeated ones (provinces, models, dealers).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from openpyxl.reader.excel import ExcelReader
from openpyxl.xml.constants import SHEET_MAIN_NS

SI = f"{{{SHEET_MAIN_NS}}}si"
T = f"{{{SHEET_MAIN_NS}}}t"
R = f"{{{SHEET_MAIN_NS}}}r"
IN_MEMORY_LIMIT = 1024 * 1024  # uncompressed sharedStrings.xml below this stays a list
CACHE_SIZE = 20_000


def _texts(source: IO[bytes]) -> Iterator[str]:
    """Each <si>'s text as openpyxl gives it: plain <t> plus rich-text runs, no phonetics."""
    root = None
    for event, node in ET.iterparse(source, events=("start", "end")):
        if root is None:
            root = node
        if event != "end" or node.tag != SI:
            continue
        parts = [child.text or "" for child in node if child.tag == T]
        for run in node.iter(R):
            parts.extend(t.text or "" for t in run if t.tag == T)
        root.remove(node)  # keep nothing of what was read
        yield "".join(parts).replace("x005F_", "")


class DiskStrings:
    """A read-only sequence of strings kept in SQLite; ``close()`` deletes the file."""

    def __init__(self, source: IO[bytes]) -> None:
        fd, name = tempfile.mkstemp(prefix="cc-strings-", suffix=".sqlite")
        os.close(fd)
        self.path = Path(name)
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096;"
            "CREATE TABLE strings (idx INTEGER PRIMARY KEY, text TEXT NOT NULL);"
        )
        self.count = 0
        batch: list[tuple[int, str]] = []
        for text in _texts(source):
            batch.append((self.count, text))
            self.count += 1
            if len(batch) == 5000:
                self.db.executemany("INSERT INTO strings VALUES (?, ?)", batch)
                batch = []
        self.db.executemany("INSERT INTO strings VALUES (?, ?)", batch)
        self.cache: dict[int, str] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        cached = self.cache.get(index)
        if cached is not None:
            return cached
        row = self.db.execute("SELECT text FROM strings WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise IndexError(index)
        if len(self.cache) >= CACHE_SIZE:
            self.cache.clear()
        text: str = row[0]
        self.cache[index] = text
        return text

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        self.path.unlink(missing_ok=True)


class StreamingReader(ExcelReader):  # type: ignore[misc]
    """openpyxl's reader, except that a big shared-string table goes to disk."""

    disk_strings: DiskStrings | None = None

    def read_strings(self) -> None:
        from openpyxl.xml.constants import SHARED_STRINGS

        part = self.package.find(SHARED_STRINGS)
        if part is None:
            super().read_strings()
            return
        path = part.PartName[1:]
        if self.archive.getinfo(path).file_size <= IN_MEMORY_LIMIT:
            super().read_strings()
            return
        with self.archive.open(path) as source:
            self.disk_strings = DiskStrings(source)
        self.shared_strings = self.disk_strings


def load_streaming(path: Path) -> tuple[Any, DiskStrings | None]:
    """A read-only workbook (formulas as written) and its on-disk strings, if any."""
    install_row_pruning()
    reader = StreamingReader(str(path), read_only=True, keep_vba=False, data_only=False)
    try:
        reader.read()
    except BaseException:
        if reader.disk_strings is not None:
            reader.disk_strings.close()
        raise
    return reader.wb, reader.disk_strings


def _pruning_iterparse(original: Any) -> Any:
    """openpyxl's ``iterparse``, except that each finished <row> leaves its parent.

    openpyxl clears every row element after reading it but leaves the empty element
    in the tree, about 80 bytes per row: memory that grows with the sheet. This
    wrapper yields the same "end" events and then detaches the row.
    """
    row_tag = f"{{{SHEET_MAIN_NS}}}row"

    def iterparse(source: Any, events: tuple[str, ...] = ("end",), **kwargs: Any) -> Any:
        parents: list[Any] = []
        for event, element in original(source, events=("start", "end"), **kwargs):
            if event == "start":
                parents.append(element)
                if "start" in events:
                    yield event, element
                continue
            parents.pop()
            yield event, element
            if element.tag == row_tag and parents:
                parents[-1].remove(element)

    return iterparse


def install_row_pruning() -> None:
    """Make openpyxl's worksheet reader drop rows it has read (idempotent)."""
    from openpyxl.worksheet import _reader

    if not getattr(_reader.iterparse, "_callcenter_pruning", False):
        patched = _pruning_iterparse(_reader.iterparse)
        patched._callcenter_pruning = True
        _reader.iterparse = patched
