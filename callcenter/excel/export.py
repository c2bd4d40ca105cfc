"""Write customers to .xlsx with the import's own headers, so export → edit → import round-trips.

One row per vehicle (a customer without vehicles gets one row); phones share one
cell, primary first, separated by " / " — the import splits them again. The
rejected-rows workbook repeats the file's own header with a reason column.
Written with openpyxl's write-only mode, row by row, to keep memory flat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import selectinload

from callcenter.core.phones import format_national
from callcenter.db.models.customers import (
    Customer,
    CustomerImport,
    CustomerImportReject,
    Vehicle,
)
from callcenter.db.repos import customers as repo
from callcenter.db.repos.customers import CustomerFilter
from callcenter.excel.columns import FIELDS

EXPORT_FIELDS = tuple(field.key for field in FIELDS)
DATE_FORMAT = "DD/MM/YYYY"
_SOURCE_VI = {"hotline": "hotline", "import": "import", "marketing": "marketing",
              "dealer": "dealer", "web": "web"}  # fmt: skip


def customer_rows(customer: Customer) -> Iterable[list[Any]]:
    phones = sorted(customer.phones, key=lambda phone: (not phone.is_primary, phone.id or 0))
    base: dict[str, Any] = {
        "name": customer.name,
        "phones": " / ".join(format_national(phone.number) for phone in phones),
        "email": customer.email,
        "birthday": customer.birthday,
        "province": customer.province,
        "district": customer.district,
        "address": customer.address,
        "customer_type": "fleet" if customer.customer_type == "fleet" else "individual",
        "tags": ", ".join(str(tag) for tag in customer.tags or []),
        "notes": customer.notes,
        "source": _SOURCE_VI.get(customer.source, customer.source),
        "do_not_call": "x" if customer.do_not_call else "",
    }
    vehicles: list[Vehicle | None] = [*customer.vehicles] or [None]
    for vehicle in vehicles:
        row = dict(base)
        if vehicle is not None:
            row.update(
                vin=vehicle.vin,
                model=vehicle.model,
                plate=vehicle.plate,
                purchase_date=vehicle.purchase_date,
                warranty_end=vehicle.warranty_end,
                dealer=vehicle.dealer,
            )
        yield [row.get(key) for key in EXPORT_FIELDS]


class XlsxWriter:
    """A write-only workbook with one sheet; dates get a dd/mm/yyyy format."""

    def __init__(self, title: str, headers: Sequence[str]) -> None:
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(title)
        self.sheet.append(list(headers))

    def append(self, values: Sequence[Any]) -> None:
        row: list[Any] = []
        for value in values:
            if isinstance(value, date):
                cell = WriteOnlyCell(self.sheet, value=value)
                cell.number_format = DATE_FORMAT
                row.append(cell)
            elif isinstance(value, str) and value.startswith("="):
                # Text, never a formula: a customer note "=1+1" must not run in Excel.
                cell = WriteOnlyCell(self.sheet, value=value)
                cell.data_type = "s"
                row.append(cell)
            else:
                row.append(value)
        self.sheet.append(row)

    def append_many(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.append(row)

    def save(self, path: Path) -> None:
        self.workbook.save(path)


def export_headers() -> list[str]:
    return [field.label_vi for field in FIELDS]


def rejected_headers(file_headers: Sequence[str], reason_label: str) -> list[str]:
    return [*(header or "" for header in file_headers), reason_label]


async def export_customers(
    sessionmaker: async_sessionmaker[Any], where: CustomerFilter, path: Path, *, page: int = 1000
) -> int:
    """Write every customer matching ``where`` to ``path``; returns how many customers."""
    writer = XlsxWriter("Khách hàng", export_headers())
    count, last_id = 0, 0
    while True:
        async with sessionmaker() as session:
            query = (
                repo.filtered_query(where)
                .where(Customer.id > last_id)
                .order_by(Customer.id)
                .limit(page)
                .options(selectinload(Customer.phones), selectinload(Customer.vehicles))
            )
            customers = list((await session.execute(query)).scalars())
            rows = [row for customer in customers for row in customer_rows(customer)]
        if not customers:
            break
        await asyncio.to_thread(writer.append_many, rows)
        count += len(customers)
        last_id = customers[-1].id
    await asyncio.to_thread(writer.save, path)
    return count


async def write_rejected(
    sessionmaker: async_sessionmaker[Any], import_id: int, path: Path, *, reason_label: str
) -> int:
    """The rows an import refused, under the file's own header, with a reason column."""
    async with sessionmaker() as session:
        batch = await session.get(CustomerImport, import_id)
        if batch is None:
            raise LookupError(import_id)
        headers = [str(header) for header in batch.headers]
        rejects = await session.execute(
            select(
                CustomerImportReject.row_number,
                CustomerImportReject.cells,
                CustomerImportReject.reason,
            )
            .where(CustomerImportReject.import_id == import_id)
            .order_by(CustomerImportReject.row_number)
        )
        rows = [(number, list(cells), reason) for number, cells, reason in rejects]
    width = max([len(headers), *(len(cells) for _, cells, _ in rows)])
    writer = XlsxWriter(
        "Dòng bị từ chối",
        [*rejected_headers(headers + [""] * (width - len(headers)), reason_label), "#"],
    )

    def fill() -> None:
        for number, cells, reason in rows:
            writer.append([*cells, *([None] * (width - len(cells))), reason, number])
        writer.save(path)

    await asyncio.to_thread(fill)
    return len(rows)
