"""Stream a worksheet's rows with openpyxl in read-only mode (memory stays flat).

Rows come out as ``(row_number, values, formula_columns)``; values are what the
cell holds (a formula's text when it is a formula, see ``rows.py``). Trailing
empty cells are trimmed. Used from worker threads: openpyxl is synchronous.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.excel.columns import HEADER_SCAN_ROWS, HeaderGuess, auto_mapping, find_header
from callcenter.excel.safety import DEFAULT_LIMITS, ExcelError, Limits, check_xlsx
from callcenter.excel.strings import DiskStrings, load_streaming

Row = tuple[int, list[Any], frozenset[int]]


@dataclass
class SheetInfo:
    sheet: str
    header: HeaderGuess
    total_rows: int  # from the sheet's declared size; 0 when unknown


class _Book:
    """An open read-only workbook and what must be closed with it."""

    def __init__(self, workbook: Any, strings: DiskStrings | None) -> None:
        self.workbook = workbook
        self.strings = strings

    def close(self) -> None:
        self.workbook.close()
        if self.strings is not None:
            self.strings.close()


def _open(path: Path, limits: Limits) -> _Book:
    check_xlsx(path, limits)
    try:
        return _Book(*load_streaming(path))
    except ExcelError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise ExcelError("the workbook cannot be read: {error}", error=str(exc)[:200]) from None


def _sheet(workbook: Any, name: str = "") -> Any:
    if name:
        if name not in workbook.sheetnames:
            raise ExcelError("the workbook has no sheet named {sheet}", sheet=name)
        return workbook[name]
    return workbook.worksheets[0] if workbook.worksheets else None


def iter_rows(sheet: Any, start: int = 1) -> Iterator[Row]:
    for cells in sheet.iter_rows(min_row=start):
        values: list[Any] = []
        formulas: set[int] = set()
        row_number = 0
        for index, cell in enumerate(cells):
            value = getattr(cell, "value", None)
            row_number = getattr(cell, "row", 0) or row_number
            if getattr(cell, "data_type", None) == "f" or type(value).__name__ in (
                "ArrayFormula",
                "DataTableFormula",
            ):
                formulas.add(index)
                value = value if isinstance(value, str) else getattr(value, "text", str(value))
            values.append(value)
        while values and (values[-1] is None or values[-1] == ""):
            values.pop()
        if row_number:
            yield row_number, values, frozenset(formulas)


def inspect(path: Path, *, sheet: str = "", limits: Limits = DEFAULT_LIMITS) -> SheetInfo:
    """Find the sheet and its header row (the user may correct the mapping later)."""
    book = _open(path, limits)
    try:
        worksheet = _sheet(book.workbook, sheet)
        if worksheet is None:
            raise ExcelError("the workbook has no sheet")
        first = []
        for row in iter_rows(worksheet):
            first.append((row[0], row[1]))
            if len(first) >= HEADER_SCAN_ROWS:
                break
        if not any(values for _, values in first):
            raise ExcelError("the sheet is empty")
        header = find_header(first)
        if header is None:
            # No row names the columns the way we know: take the first non-empty row as
            # the header and let the user map the columns by hand (web form, --map).
            number, values = next((n, v) for n, v in first if v)
            header = HeaderGuess(
                number,
                ["" if value is None else str(value).strip() for value in values],
                auto_mapping(values),
            )
        total = int(worksheet.max_row or 0)
        return SheetInfo(worksheet.title, header, max(total - header.row_number, 0))
    finally:
        book.close()


@contextlib.contextmanager
def data_rows(
    path: Path, *, sheet: str, header_row: int, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Iterator[Row]]:
    """The rows below the header, streamed; the workbook is closed on exit."""
    book = _open(path, limits)
    try:
        worksheet = _sheet(book.workbook, sheet)
        if worksheet is None:
            raise ExcelError("the workbook has no sheet")
        yield iter_rows(worksheet, start=header_row + 1)
    finally:
        book.close()
