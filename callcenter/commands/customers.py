"""``callcenter import customers FILE.xlsx [--dry-run]`` and ``callcenter export customers FILE.xlsx``.

The same importer as the web page: preview first with ``--dry-run`` (counts and
every rejected row with its reason, nothing written), then import in batches with
a progress bar on stderr. A bad file ends with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.excel.columns import FIELD_KEYS

EXIT_BAD_INPUT = 2


class ProgressBar:
    """A one-line bar on a terminal; on a pipe, a line every 10 %."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.last_tenth = -1

    async def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        if self.tty:
            filled = int(fraction * 30)
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} rows"
            )
        elif int(fraction * 10) != self.last_tenth:
            self.last_tenth = int(fraction * 10)
            self.stream.write(f"{self.label}: {done:,}/{total:,} rows ({fraction:.0%})\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _parse_mapping(items: list[str]) -> dict[int, str]:
    """``--map D=phones`` (column letter or 1-based number) → {3: "phones"}."""
    from openpyxl.utils import column_index_from_string

    mapping: dict[int, str] = {}
    for item in items:
        column, _, field = item.partition("=")
        if field not in FIELD_KEYS:
            raise ValueError(
                f"--map {item}: unknown field {field!r} (one of {', '.join(FIELD_KEYS)})"
            )
        column = column.strip()
        index = (
            int(column) - 1 if column.isdigit() else column_index_from_string(column.upper()) - 1
        )
        mapping[index] = field
    return mapping


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.daemon import prepare_database
    from callcenter.db.engine import make_engine, sessionmaker
    from callcenter.excel import export, importer
    from callcenter.excel.columns import FIELDS_BY_KEY, mapping_from_json
    from callcenter.excel.safety import ExcelError, Limits
    from callcenter.i18n import translations

    path = Path(args.file)  # made absolute by _run_import
    if not await asyncio.to_thread(path.is_file):
        print(f"import error: {path} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT
    await prepare_database(settings)
    translate = translations(settings.language).gettext
    limits = Limits(max_file_bytes=max(int(args.max_mb * 1048576), 1))
    engine = make_engine(settings.database.url)
    clock = SystemClock()
    try:
        factory = sessionmaker(engine)
        try:
            batch = await importer.prepare(
                factory,
                path,
                filename=path.name,
                at=clock.now(),
                sheet=args.sheet or "",
                keep_copy=False,
                limits=limits,
            )
            if args.map:
                mapping = mapping_from_json(batch.mapping)
                mapping.update(_parse_mapping(args.map))
                await importer.set_mapping(factory, batch.id, mapping)
                batch.mapping = {str(k): v for k, v in mapping.items()}
            columns = ", ".join(
                f"{batch.headers[int(index)] if int(index) < len(batch.headers) else index}"
                f" → {FIELDS_BY_KEY[field].label_vi}"
                for index, field in sorted(batch.mapping.items(), key=lambda item: int(item[0]))
            )
            print(f"sheet {batch.sheet!r}, header on row {batch.header_row}: {columns}")
            bar = ProgressBar(sys.stderr, "preview" if args.dry_run else "import")
            try:
                counts = await importer.run(
                    factory,
                    batch.id,
                    dry_run=args.dry_run,
                    clock=clock,
                    translate=translate,
                    progress=bar,
                    limits=limits,
                )
            finally:
                bar.close()
        except (ExcelError, ValueError) as exc:
            message = (
                translate(exc.message).format(**exc.params)
                if isinstance(exc, ExcelError)
                else str(exc)
            )
            print(f"import error: {path.name}: {message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        verb = "would be" if args.dry_run else "were"
        print(
            f"{counts.rows} rows: {counts.new} new customers, {counts.merged} rows merged into "
            f"customers new in this file, {counts.updated} updated, {counts.unchanged} unchanged, "
            f"{counts.skipped} skipped, {counts.rejected} rejected, {counts.partial} imported "
            f"with a bad field left empty ({verb} written; import #{batch.id})"
        )
        async with factory() as session:
            rejects = await importer.rejected_rows(session, batch.id, limit=args.show_rejected)
        for reject in rejects:
            print(f"  row {reject.row_number}: {reject.reason}")
        listed = counts.rejected + counts.partial
        if listed > len(rejects):
            print(f"  … and {listed - len(rejects)} more")
        if args.rejected and listed:
            await export.write_rejected(
                factory, batch.id, Path(args.rejected), reason_label=translate("Reason")
            )
            print(f"rejected rows written to {args.rejected}")
    finally:
        await engine.dispose()
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.daemon import prepare_database
    from callcenter.db.engine import make_engine, sessionmaker
    from callcenter.db.repos.audit import record
    from callcenter.db.repos.customers import CustomerFilter
    from callcenter.excel import export

    await prepare_database(settings)
    engine = make_engine(settings.database.url)
    try:
        factory = sessionmaker(engine)
        where = CustomerFilter(
            text=args.search or "",
            province=args.province or "",
            customer_type=args.type or "",
            tag=args.tag or "",
        )
        count = await export.export_customers(factory, where, Path(args.file))
        async with factory() as session, session.begin():
            await record(
                session,
                action="export",
                username="cli",
                target="customers",
                details={"count": count, "file": Path(args.file).name, **where.__dict__},
            )
    finally:
        await engine.dispose()
    print(f"{count} customers written to {args.file}")
    return 0


def _run_import(args: argparse.Namespace, settings: Settings) -> int:
    args.file = os.path.abspath(args.file)
    return asyncio.run(_import(args, settings))


def _run_export(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_export(args, settings))


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``import customers`` and ``export customers``."""
    imp = subparsers.add_parser("import", help="import data from files")
    imp_sub = imp.add_subparsers(dest="import_what", required=True)
    customers = imp_sub.add_parser(
        "customers", help="import customers from an .xlsx file (preview with --dry-run)"
    )
    customers.add_argument("file", help="the .xlsx workbook")
    customers.add_argument("--dry-run", action="store_true", help="preview: count, write nothing")
    customers.add_argument("--sheet", help="sheet name (default: the first sheet)")
    customers.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help=f"correct the column mapping, e.g. D=phones; fields: {', '.join(FIELD_KEYS)}",
    )
    customers.add_argument("--rejected", metavar="OUT.xlsx", help="write rejected rows here")
    customers.add_argument("--show-rejected", type=int, default=20, help="rejected rows to print")
    customers.add_argument(
        "--max-mb", type=float, default=200.0, help="refuse files larger than this (MB)"
    )
    customers.set_defaults(func=_run_import)

    exp = subparsers.add_parser("export", help="export data to files")
    exp_sub = exp.add_subparsers(dest="export_what", required=True)
    out = exp_sub.add_parser("customers", help="export customers to .xlsx (same columns as import)")
    out.add_argument("file", help="the .xlsx file to write")
    out.add_argument("--search", help="name, phone, VIN or plate")
    out.add_argument("--province")
    out.add_argument("--type", choices=["individual", "fleet"])
    out.add_argument("--tag")
    out.set_defaults(func=_run_export)
