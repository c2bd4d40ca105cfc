"""Preview, then import, a customer workbook: streamed, in batches, idempotent.

The same code runs both passes. A **preview** (dry run) writes no customer: it
reports per row what the import would do (new, merged into a customer found
earlier in the file, updated, unchanged, skipped, rejected) and stores the
rejected rows with their reasons. The **import** commits one batch of rows per
transaction, so the daemon keeps answering calls on SQLite, and finds rows of
earlier batches in the database: memory does not grow with the file. Importing
the same file again finds every row unchanged and writes nothing.

Rows are matched to customers by any phone number or by VIN. A row whose phones
belong to different customers is rejected, never guessed. A row whose customer
is usable but one of whose other cells is not (an impossible date, a malformed
VIN, a VIN that belongs to another customer) imports the customer without that
field and is listed with the reason among the rejected rows ("partial").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import Clock
from callcenter.core.customers import CustomerData, merge, new_customer
from callcenter.core.text import fold
from callcenter.db.models.customers import Customer, CustomerImport, CustomerImportReject
from callcenter.db.repos import customers as repo
from callcenter.excel import reader
from callcenter.excel.columns import mapping_from_json, mapping_to_json
from callcenter.excel.rows import ParsedRow, Problem, RejectedRow, RowOutcome, Skipped, parse_row
from callcenter.excel.safety import DEFAULT_LIMITS, ExcelError, Limits
from callcenter.excel.scratch import ScratchStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500
PREVIEW_CACHE = 1_000  # existing customers whose merged state a preview remembers
Translate = Callable[[str], str]
Progress = Callable[[int, int], Awaitable[None]]


def _identity(message: str) -> str:
    return message


@dataclass
class ImportCounts:
    """Per-row outcome counts; all but ``partial`` add up to ``rows``.

    ``partial`` counts the imported rows (new, merged, updated or unchanged) that had
    a field left empty; they are listed with the rejected rows.
    """

    rows: int = 0
    new: int = 0
    merged: int = 0  # joined a customer created from an earlier row of the same file
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: int = 0
    partial: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def imports_dir() -> Path:
    """Where uploaded workbooks wait between preview and import."""
    folder = Path(tempfile.gettempdir()) / "callcenter-imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def prepare(
    sessionmaker: async_sessionmaker[Any],
    path: Path,
    *,
    filename: str,
    at: datetime,
    created_by_id: int | None = None,
    sheet: str = "",
    keep_copy: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> CustomerImport:
    """Check the file, find its header and mapping, and record the import (status "uploaded").

    Raises ExcelError (nothing recorded) if the file is not a usable workbook.
    """
    info = await asyncio.to_thread(reader.inspect, path, sheet=sheet, limits=limits)
    stored = path
    if keep_copy:
        stored = imports_dir() / f"{sha256_of(path)[:16]}-{at.timestamp():.0f}.xlsx"
        await asyncio.to_thread(shutil.copyfile, path, stored)
    size = (await asyncio.to_thread(path.stat)).st_size
    async with sessionmaker() as session, session.begin():
        batch = CustomerImport(
            filename=filename[:255],
            stored_path=str(stored),
            sha256=await asyncio.to_thread(sha256_of, path),
            size_bytes=size,
            status="uploaded",
            sheet=info.sheet,
            header_row=info.header.row_number,
            headers=info.header.headers,
            mapping=mapping_to_json(info.header.mapping),
            total_rows=info.total_rows,
            created_by_id=created_by_id,
            created_at=at,
        )
        session.add(batch)
    return batch


async def set_mapping(
    sessionmaker: async_sessionmaker[Any], import_id: int, mapping: dict[int, str]
) -> None:
    async with sessionmaker() as session, session.begin():
        batch = await session.get(CustomerImport, import_id)
        if batch is None:
            raise LookupError(import_id)
        batch.mapping = mapping_to_json(mapping)
        batch.status = "uploaded"


def _parse_batch(
    rows: Iterator[reader.Row], mapping: dict[int, str], size: int
) -> list[RowOutcome]:
    return [
        parse_row(number, values, mapping, formulas=formulas)
        for number, values, formulas in itertools.islice(rows, size)
    ]


def _reason(problems: list[Problem], translate: Translate) -> str:
    return "; ".join(problem.text(translate) for problem in problems)


PARTIAL_PREFIX = "customer imported, field left empty"


def _cells(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, datetime):
            out.append(value.strftime("%d/%m/%Y"))
        elif value is None or isinstance(value, int | float | str | bool):
            out.append(value)
        else:
            out.append(str(value))
    return out


class _Matcher:
    """Finds which customer a row belongs to: this batch, earlier rows (on disk), the database.

    Owners are customer ids (>0) or placeholders (<0) for customers a preview would
    create or an import creates at the end of the current batch.
    """

    def __init__(self, dry_run: bool, store: ScratchStore) -> None:
        self.dry_run = dry_run
        self.store = store
        self.next_new = -1
        self.by_phone: dict[str, int] = {}  # this batch
        self.by_vin: dict[str, int] = {}
        self.new_rows: dict[int, tuple[int, str]] = {}  # placeholder → (row, name)
        self.touched: set[int] = set()
        self.earlier: dict[str, int] = {}  # keys of earlier batches (preview), prefetched

    def prefetch(self, phones: set[str], vins: set[str]) -> None:
        if self.dry_run:  # an import finds earlier batches in the database instead
            self.earlier = self.store.owners([*(f"p{p}" for p in phones), *(f"v{v}" for v in vins)])

    def phone_owner(self, phone: str, database: dict[str, int]) -> int | None:
        found = self.by_phone.get(phone)
        if found is None:
            found = self.earlier.get(f"p{phone}", database.get(phone))
        return found

    def vin_owner(self, vin: str, database: dict[str, int]) -> int | None:
        found = self.by_vin.get(vin)
        if found is None:
            found = self.earlier.get(f"v{vin}", database.get(vin))
        return found

    def group(self, owner: int) -> tuple[int, str]:
        return self.new_rows.get(owner) or self.store.group(owner) or (0, "")

    def remember(self, row: CustomerData, owner: int) -> None:
        for phone in row.phones:
            self.by_phone.setdefault(phone, owner)
        for vehicle in row.vehicles:
            self.by_vin.setdefault(vehicle.vin, owner)

    def first_touch(self, owner: int) -> bool:
        """Whether no earlier row of this file touched ``owner``; marks it touched."""
        first = owner not in self.touched and not self.store.is_touched(owner)
        self.touched.add(owner)
        return first

    def end_batch(self, created: dict[int, int]) -> None:
        """Write this batch's memory to disk; ``created`` maps placeholders to new ids."""
        if self.dry_run:
            self.store.add_keys(
                [*((f"p{k}", o) for k, o in self.by_phone.items()),
                 *((f"v{k}", o) for k, o in self.by_vin.items())]
            )  # fmt: skip
            self.store.add_groups((o, row, name) for o, (row, name) in self.new_rows.items())
        self.store.touch(created.get(owner, owner) for owner in self.touched)
        self.by_phone.clear()
        self.by_vin.clear()
        self.new_rows.clear()
        self.touched.clear()
        self.earlier = {}


async def run(
    sessionmaker: async_sessionmaker[Any],
    import_id: int,
    *,
    dry_run: bool,
    clock: Clock,
    actor: repo.Actor | None = None,
    translate: Translate = _identity,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    limits: Limits = DEFAULT_LIMITS,
    collect: set[int] | None = None,
) -> ImportCounts:
    """Preview (``dry_run``) or import the recorded file; returns the per-row counts.

    ``collect`` (an import only) receives the id of every customer a row was imported
    into: a lead list imported from Excel calls exactly these customers.

    Status goes previewing → previewed, or importing → done; on a file error it
    becomes "failed" with the reason and ExcelError is raised. The counts and the
    rejected rows are stored on the import.
    """
    async with sessionmaker() as session, session.begin():
        batch = await session.get(CustomerImport, import_id)
        if batch is None:
            raise LookupError(import_id)
        batch.status = "previewing" if dry_run else "importing"
        batch.processed_rows = 0
        batch.error = ""
        await session.execute(
            delete(CustomerImportReject).where(CustomerImportReject.import_id == import_id)
        )
        path, sheet, header_row = Path(batch.stored_path), batch.sheet, batch.header_row
        mapping = mapping_from_json(batch.mapping)
        total = batch.total_rows
        max_id_before = (await session.execute(select(func.max(Customer.id)))).scalar() or 0
    counts = ImportCounts()
    store = ScratchStore()
    matcher = _Matcher(dry_run, store)
    preview_state: OrderedDict[int, CustomerData] = OrderedDict()
    try:
        if not await asyncio.to_thread(path.exists):
            raise ExcelError("the uploaded file is gone (the server restarted?): upload it again")
        if not {"name", "phones", "vin"} & set(mapping.values()):
            raise ExcelError("map at least the name, phone or VIN column")
        with contextlib.ExitStack() as stack:
            opening = reader.data_rows(path, sheet=sheet, header_row=header_row, limits=limits)
            rows = await asyncio.to_thread(stack.enter_context, opening)
            while True:
                outcomes = await asyncio.to_thread(_parse_batch, rows, mapping, batch_size)
                if not outcomes:
                    break
                async with sessionmaker() as session, session.begin():
                    await _process(
                        session,
                        outcomes,
                        counts=counts,
                        matcher=matcher,
                        import_id=import_id,
                        max_id_before=max_id_before,
                        preview_state=preview_state,
                        at=clock.now(),
                        actor=actor,
                        translate=translate,
                        collect=collect,
                    )
                    batch = await session.get(CustomerImport, import_id)
                    assert batch is not None
                    batch.processed_rows = counts.rows
                if progress is not None:
                    await progress(counts.rows, max(total, counts.rows))
    except ExcelError as exc:
        async with sessionmaker() as session, session.begin():
            batch = await session.get(CustomerImport, import_id)
            assert batch is not None
            batch.status = "failed"
            batch.error = (
                exc.message.format(**exc.params)
                if translate is _identity
                else (translate(exc.message).format(**exc.params))
            )
            batch.finished_at = clock.now()
        raise
    finally:
        store.close()
    if progress is not None:
        await progress(counts.rows, counts.rows)
    async with sessionmaker() as session, session.begin():
        batch = await session.get(CustomerImport, import_id)
        assert batch is not None
        batch.processed_rows = counts.rows
        batch.total_rows = counts.rows
        if dry_run:
            batch.status = "previewed"
            batch.preview_counts = counts.as_dict()
        else:
            batch.status = "done"
            batch.result_counts = counts.as_dict()
            batch.finished_at = clock.now()
    if not dry_run and path.parent == imports_dir():
        await asyncio.to_thread(path.unlink, True)
    return counts


async def _process(
    session: AsyncSession,
    outcomes: list[RowOutcome],
    *,
    counts: ImportCounts,
    matcher: _Matcher,
    import_id: int,
    max_id_before: int,
    preview_state: OrderedDict[int, CustomerData],
    at: datetime,
    actor: repo.Actor | None,
    translate: Translate,
    collect: set[int] | None = None,
) -> None:
    parsed = [outcome for outcome in outcomes if isinstance(outcome, ParsedRow)]
    phones = {phone for row in parsed for phone in row.customer.phones}
    vins = {row.vin for row in parsed if row.vin}
    db_phone, db_vin = await repo.owners_of(session, phones, vins)
    matcher.prefetch(phones, vins)
    loaded = await repo.load_customers(session, [*db_phone.values(), *db_vin.values()])
    pending: dict[int, CustomerData] = {}  # placeholder → new customer, inserted at batch end
    rejects: list[CustomerImportReject] = []

    def reject(row_number: int, cells: list[Any], text: str) -> None:
        counts.rejected += 1
        rejects.append(
            CustomerImportReject(
                import_id=import_id, row_number=row_number, reason=text, cells=_cells(cells)
            )
        )

    def _same_name(owner: int, name: str) -> bool:
        if owner < 0:
            other = matcher.group(owner)[1]
        else:
            found = loaded.get(owner)
            other = found.name if found is not None else ""
        return not other or not name or fold(other) == fold(name)

    def describe(owner: int) -> str:
        if owner < 0:
            row_number, name = matcher.group(owner)
            return translate("{name} on row {row} of this file").format(name=name, row=row_number)
        customer = loaded.get(owner)
        return f"#{owner} {customer.name if customer is not None else ''}".strip()

    for outcome in outcomes:
        if isinstance(outcome, Skipped) and outcome.why == "blank":
            continue  # empty rows are layout, not data (openpyxl may not even yield them)
        counts.rows += 1
        if isinstance(outcome, Skipped):
            counts.skipped += 1
            continue
        if isinstance(outcome, RejectedRow):
            reject(outcome.row_number, outcome.cells, _reason(outcome.problems, translate))
            continue
        row = outcome.customer
        warnings = list(outcome.warnings)
        phone_owners = {
            owner
            for phone in row.phones
            if (owner := matcher.phone_owner(phone, db_phone)) is not None
        }
        vin_owner = matcher.vin_owner(outcome.vin, db_vin) if outcome.vin else None
        vin_of_another = vin_owner is not None and (
            (phone_owners and vin_owner not in phone_owners)
            or (not phone_owners and not _same_name(vin_owner, row.name))
        )
        if len(phone_owners) > 1:
            problem = Problem(
                "the phone numbers belong to different customers: {owners}",
                {"owners": ", ".join(describe(owner) for owner in sorted(phone_owners))},
            )
            reject(outcome.row_number, outcome.cells, problem.text(translate))
            continue
        if vin_of_another:
            assert vin_owner is not None
            problem = Problem(
                "VIN {vin} already belongs to another customer: {owner}",
                {"vin": outcome.vin or "", "owner": describe(vin_owner)},
            )
            if not row.phones:  # the VIN was all that identified the customer
                reject(outcome.row_number, outcome.cells, problem.text(translate))
                continue
            row.vehicles = []  # the customer is imported without the other's vehicle
            warnings.append(problem)
            vin_owner = None
        owners = phone_owners | ({vin_owner} if vin_owner is not None else set())
        if warnings:
            counts.partial += 1
            text = f"{translate(PARTIAL_PREFIX)}: {_reason(warnings, translate)}"
            rejects.append(
                CustomerImportReject(
                    import_id=import_id,
                    row_number=outcome.row_number,
                    reason=text,
                    cells=_cells(outcome.cells),
                )
            )
        if not owners:
            target = matcher.next_new
            matcher.next_new -= 1
            matcher.new_rows[target] = (outcome.row_number, row.name)
            matcher.first_touch(target)
            counts.new += 1
            if not matcher.dry_run:
                pending[target] = new_customer(row)
            matcher.remember(row, target)
            continue
        owner = owners.pop()
        if collect is not None and owner > 0:
            collect.add(owner)
        matcher.remember(row, owner)
        first_touch = matcher.first_touch(owner)
        joins_new = owner < 0 or owner > max_id_before
        if owner < 0:  # a customer first seen on an earlier row of this batch (or preview)
            counts.merged += 1
            if not matcher.dry_run:
                pending[owner], _ = merge(pending[owner], row, replace_values=False)
            continue
        customer = loaded[owner]
        if matcher.dry_run:
            before = preview_state.get(owner) or repo.to_data(customer)
            merged, changes = merge(before, row, replace_values=first_touch)
            preview_state[owner] = merged
            preview_state.move_to_end(owner)
            while len(preview_state) > PREVIEW_CACHE:
                preview_state.popitem(last=False)
        else:
            merged, changes = merge(repo.to_data(customer), row, replace_values=first_touch)
            await repo.apply_changes(
                session, customer, merged, changes, at=at, actor=actor, via="import",
                import_id=import_id, flush=False,
            )  # fmt: skip
        if joins_new:
            counts.merged += 1
        elif changes:
            counts.updated += 1
        else:
            counts.unchanged += 1
    created: dict[int, int] = {}
    if pending:
        # One multi-row INSERT per table instead of ORM flushes, which would insert row
        # by row to learn each new id (SQLite cannot order RETURNING rows).
        ids = await repo.bulk_create(
            session, list(pending.values()), at=at, actor=actor, via="import", import_id=import_id
        )
        created = dict(zip(pending, ids, strict=True))
    if collect is not None:
        collect.update(created.values())
    matcher.end_batch(created)  # later batches only fill blanks of customers touched here
    session.add_all(rejects)
    await session.flush()


async def rejected_rows(
    session: AsyncSession, import_id: int, *, limit: int | None = None
) -> list[CustomerImportReject]:
    query = (
        select(CustomerImportReject)
        .where(CustomerImportReject.import_id == import_id)
        .order_by(CustomerImportReject.row_number)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())
