"""Any cell values an Excel file can hold: each row is accepted, skipped or rejected with a
reason, the import never crashes and never loses a row."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import ManualClock
from callcenter.db.models import Vehicle
from callcenter.db.repos import customers as repo
from callcenter.excel import importer
from callcenter.excel.columns import FIELDS, auto_mapping
from callcenter.excel.rows import ParsedRow, RejectedRow, Skipped, parse_row

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HEADERS = ["STT", *(field.label_vi for field in FIELDS)]
MAPPING = auto_mapping(HEADERS)

# Text openpyxl can store (XML forbids most control characters).
cell_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), max_size=30
) | st.sampled_from(
    ["0912 345 678", "0912.345.678 / 0977 333 444", "(028) 3823 4567", "RL4TH1234AB000001",
     "RL4TH1234OB000030", "31/02/2024", "15/03/2024", "2024-03-15", "=1+1", "=HYPERLINK(\"x\")",
     "Tổng cộng", "x", "công ty", "a@b.vn", "not an email@", "<script>alert(1)</script>", ""]
)  # fmt: skip
cell_value = st.one_of(
    st.none(),
    cell_text,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2200, 12, 31)),
)
a_row = st.lists(cell_value, min_size=len(HEADERS) - 1, max_size=len(HEADERS) - 1)


@settings(max_examples=300, deadline=None)
@given(a_row, st.sets(st.integers(min_value=0, max_value=len(HEADERS) - 1), max_size=2))
def test_any_row_is_accepted_skipped_or_rejected_with_reasons(
    cells: list[Any], formulas: set[int]
) -> None:
    outcome = parse_row(7, [1, *cells], MAPPING, formulas=frozenset(formulas))
    assert isinstance(outcome, ParsedRow | RejectedRow | Skipped)
    if isinstance(outcome, RejectedRow):
        assert outcome.row_number == 7 and outcome.problems
        assert all(problem.text(lambda message: message).strip() for problem in outcome.problems)
    if isinstance(outcome, ParsedRow):
        assert outcome.customer.name
        assert outcome.customer.phones or outcome.customer.vehicles


def _workbook(path: Path, rows: list[list[Any]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADERS)
    for number, row in enumerate(rows, start=1):
        sheet.append([number, *row])  # the STT cell keeps every row in the sheet
    workbook.save(path)


def _written(value: Any) -> Any:
    """What openpyxl reads back: times are dropped from midnight datetimes, etc."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time())
    return value


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(a_row, min_size=1, max_size=8))
async def test_an_import_of_any_cells_accounts_for_every_row(
    session_factory: async_sessionmaker[Any], rows: list[list[Any]]
) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.xlsx"
        _workbook(path, rows)
        batch = await importer.prepare(
            session_factory, path, filename=path.name, at=NOW, keep_copy=False
        )
        counts = await importer.run(
            session_factory, batch.id, dry_run=False, clock=ManualClock(NOW), batch_size=3
        )
    assert counts.rows == len(rows)
    outcomes = counts.new + counts.merged + counts.updated + counts.unchanged
    assert outcomes + counts.skipped + counts.rejected == counts.rows
    assert counts.partial <= outcomes  # imported with a bad field left empty
    async with session_factory() as session:
        rejects = await importer.rejected_rows(session, batch.id)
        rejected_numbers = [reject.row_number for reject in rejects]
        # the rejected-rows list: the rows refused and the rows imported partially, once each
        assert len(rejects) == counts.rejected + counts.partial == len(set(rejected_numbers))
        assert all(reject.reason.strip() for reject in rejects)
        # Every row the rules accept and the database did not refuse is findable afterwards.
        for row_number, cells in enumerate(rows, start=2):
            parsed = parse_row(row_number, [row_number - 1, *map(_written, cells)], MAPPING)
            if not isinstance(parsed, ParsedRow) or row_number in rejected_numbers:
                continue
            customer = parsed.customer
            if customer.phones:
                assert await repo.find_by_phone(session, customer.phones[0]) is not None
            else:
                vin = customer.vehicles[0].vin
                assert await session.scalar(select(Vehicle).where(Vehicle.vin == vin))
