"""Refuse a file before openpyxl touches it: not an xlsx, or a zip bomb.

An .xlsx is a zip archive. We look only at the zip's directory (no
decompression) and refuse archives whose entries claim to expand too much in
total or by a ratio no real workbook reaches. openpyxl then reads the sheet as a
stream, so even a lying archive cannot fill memory.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls, or an encrypted .xlsx
MAX_ENTRIES = 10_000


class ExcelError(ValueError):
    """The file cannot be imported; ``message``/``params`` let the UI translate why."""

    def __init__(self, message: str, **params: str) -> None:
        self.message = message
        self.params = params
        super().__init__(message.format(**params))


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 200 * 1024 * 1024
    max_uncompressed_bytes: int = 4 * 1024 * 1024 * 1024
    max_ratio: float = 250.0  # deflated XML of real sheets stays far below this


DEFAULT_LIMITS = Limits()


def check_xlsx(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise ExcelError unless ``path`` looks like a sane .xlsx workbook."""
    size = path.stat().st_size
    if size == 0:
        raise ExcelError("the file is empty")
    if size > limits.max_file_bytes:
        raise ExcelError(
            "the file is too large ({size} MB, at most {limit} MB)",
            size=f"{size / 1048576:.1f}",
            limit=f"{limits.max_file_bytes / 1048576:.0f}",
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if head == OLE_MAGIC:
        raise ExcelError(
            "this is an old .xls file or a password-protected workbook: "
            "open it in Excel and save it as .xlsx without a password"
        )
    if not zipfile.is_zipfile(path):
        raise ExcelError("this is not an Excel .xlsx file")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        raise ExcelError("this is not an Excel .xlsx file (the archive is damaged)") from None
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise ExcelError("this is not an Excel .xlsx file (no workbook inside)")
    if len(entries) > MAX_ENTRIES:
        raise ExcelError("the workbook has too many parts to be a customer list")
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > 1024 * 1024 and ratio > limits.max_ratio:
            raise ExcelError(
                "refused: {part} would expand {ratio} times when unpacked (a zip bomb?)",
                part=entry.filename,
                ratio=f"{ratio:.0f}",
            )
    if total > limits.max_uncompressed_bytes:
        raise ExcelError(
            "refused: the workbook would expand to {size} MB when unpacked",
            size=f"{total / 1048576:.0f}",
        )
