"""Excel import: time and peak memory for 10,000 / 100,000 rows and a 50 MB file (SQLite).

    .venv/bin/python bench/customers_import.py                    # all cases
    .venv/bin/python bench/customers_import.py --rows 100000      # one size
    .venv/bin/python bench/customers_import.py --backend postgresql

Each case generates a realistic workbook (title rows above the header, numbers
written several ways, old 0168 mobiles, Vietnamese names, one truck per row and
fleets of several rows), then runs the preview and the import each in a fresh
child process on an empty database, so the peak resident memory (``ru_maxrss``)
measured is that pass's own. "Flat memory" means the 100,000-row peak is close
to the 10,000-row peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Quang", "Ngọc", "Thanh", "Xuân", "Thu"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam"]
PROVINCES = ["Hà Nội", "TP.HCM", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Nghệ An", "Bình Dương"]
MODELS = ["HD72", "HD120SL", "HD210", "HD320", "Mighty EX8", "New Porter H150"]


def generate(path: Path, rows: int, notes_chars: int) -> None:
    """A write-only workbook; every 5th customer is a fleet spread over 3 rows."""
    from openpyxl import Workbook

    rng = random.Random(11)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Khách hàng")
    sheet.append(["DANH SÁCH KHÁCH HÀNG — XUẤT TỪ HỆ THỐNG ĐẠI LÝ"])
    sheet.append([f"Ngày xuất: {date.today():%d/%m/%Y}"])
    sheet.append([])
    sheet.append(["STT", "Họ và tên", "SĐT", "Tỉnh/TP", "Địa chỉ", "Số khung", "Loại xe",
                  "Ngày mua", "Đại lý", "Ghi chú"])  # fmt: skip
    customer = 0
    row = 0
    letters = string.ascii_letters + "áàảãạăắằẳẵặâấầẩẫậđéèẻẽẹêếềểễệ "
    while row < rows:
        customer += 1
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)} {customer}"
        prefix = ("90", "91", "93", "94", "96", "97", "98", "38", "86", "88")[customer % 10]
        national = f"{prefix}{customer:07d}"
        style = customer % 4
        if style == 0:
            phone: object = int(national)  # numeric cell, zero lost
        elif style == 1:
            phone = f"0{national[:3]}.{national[3:6]}.{national[6:]}"
        elif style == 2 and national.startswith("38"):
            phone = f"0168 {national[2:5]} {national[5:]}"  # written before the 2018 change
        elif style == 2:
            phone = f"+84 {national}"
        else:
            phone = f"0{national}"
        trucks = 3 if customer % 5 == 0 else 1
        for _ in range(min(trucks, rows - row)):
            row += 1
            notes = (
                "".join(rng.choice(letters) for _ in range(notes_chars)) if notes_chars else None
            )
            sheet.append([
                row, name, phone, rng.choice(PROVINCES), f"{rng.randrange(1, 300)} đường số {row}",
                f"RL4TH{row:012d}", rng.choice(MODELS),
                datetime(2020, 1, 1) + timedelta(days=rng.randrange(1800)),
                f"Đại lý {rng.choice(PROVINCES)}", notes,
            ])  # fmt: skip
    workbook.save(path)


async def _child(path: Path, url: str, dry_run: bool) -> dict[str, float]:
    from callcenter.clock import SystemClock
    from callcenter.db import migrate
    from callcenter.db.engine import make_engine, sessionmaker
    from callcenter.excel import importer
    from callcenter.excel.safety import Limits

    await migrate.upgrade_async(url)
    engine = make_engine(url)
    factory = sessionmaker(engine)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    limits = Limits(max_file_bytes=500 * 1024 * 1024)
    started = time.perf_counter()
    batch = await importer.prepare(
        factory, path, filename=path.name, at=datetime.now(UTC), keep_copy=False, limits=limits
    )
    counts = await importer.run(
        factory, batch.id, dry_run=dry_run, clock=SystemClock(), limits=limits
    )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return {
        "seconds": elapsed,
        "rows": counts.rows,
        "new": counts.new,
        "merged": counts.merged,
        "rejected": counts.rejected,
        "baseline_mb": baseline,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(path: Path, backend: str, dry_run: bool) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="cc-import-"))
    pg_name = ""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'import.db'}"
    else:
        pg_name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        f'CREATE DATABASE "{pg_name}"'], check=True)  # fmt: skip
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(path), "--url", url]
            + (["--dry-run"] if dry_run else []),
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "CALLCENTER_LOG_LEVEL": "WARNING"},
        ).stdout
    finally:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
        if pg_name:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'], check=True)  # fmt: skip
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="cases: rows (repeatable)")
    parser.add_argument("--big-mb", type=float, default=50.0, help="size of the big-file case")
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(Path(args.child), args.url, args.dry_run))))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, backend {args.backend}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    cases: list[tuple[int, int]] = [(rows, 0) for rows in (args.rows or [10_000, 100_000])]
    if not args.no_big:
        # ~400 bytes of hard-to-compress notes per row reach 50 MB in ~115,000 rows.
        cases.append((int(args.big_mb * 2300), 400))
    workdir = Path(tempfile.mkdtemp(prefix="cc-import-files-"))
    for rows, notes in cases:
        path = workdir / f"customers-{rows}-{notes}.xlsx"
        started = time.perf_counter()
        generate(path, rows, notes)
        size_mb = path.stat().st_size / 1048576
        print(f"\n{rows:,} rows, {size_mb:.1f} MB file (generated in "
              f"{time.perf_counter() - started:.0f} s)")  # fmt: skip
        for dry_run in (True, False):
            result = run_child(path, args.backend, dry_run)
            label = "preview" if dry_run else "import "
            print(
                f"  {label}: {result['seconds']:.1f} s ({result['rows'] / result['seconds']:,.0f}"
                f" rows/s), new {result['new']:,}, merged {result['merged']:,}, rejected "
                f"{result['rejected']:,}; peak RSS {result['peak_mb']:.0f} MB "
                f"(after start-up {result['baseline_mb']:.0f} MB)"
            )
        path.unlink()
    workdir.rmdir()


if __name__ == "__main__":
    main()
