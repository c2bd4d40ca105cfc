"""Excel import on both databases: messy realistic workbooks, exact outcomes, bad files."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import ManualClock
from callcenter.db.models import Customer, CustomerChange, CustomerImport, CustomerPhone, Vehicle
from callcenter.db.repos import customers as repo
from callcenter.excel import importer
from callcenter.excel.columns import find_header
from callcenter.excel.safety import ExcelError, Limits
from tests.customers.workbooks import (
    HEADERS,
    VIN_A1,
    VIN_A2,
    VIN_A3,
    VIN_B,
    VIN_C,
    expected_purchase,
    messy_rows,
    write_workbook,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def clock() -> ManualClock:
    return ManualClock(NOW)


async def run_file(
    factory: async_sessionmaker[Any], path: Path, *, dry_run: bool, batch_size: int = 500
) -> tuple[importer.ImportCounts, list[tuple[int, str]], int]:
    batch = await importer.prepare(factory, path, filename=path.name, at=NOW, keep_copy=False)
    counts = await importer.run(
        factory, batch.id, dry_run=dry_run, clock=clock(), batch_size=batch_size
    )
    async with factory() as session:
        rejects = await importer.rejected_rows(session, batch.id)
    return counts, [(reject.row_number, reject.reason) for reject in rejects], batch.id


async def count(factory: async_sessionmaker[Any], model: Any) -> int:
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


PARTIAL = "customer imported, field left empty: "
EXPECTED_REJECTS = [
    # valid customer, impossible purchase date: imported with the truck, date left empty
    (10, PARTIAL + "Ngày mua: 31/02/2024 is not a possible date (dd/mm/yyyy)"),
    # valid customer, the VIN is Trần Thị Bình's: imported without a vehicle
    (11, PARTIAL + "VIN RL4TH1234AB000010 already belongs to another customer: "),
    # no usable phone and no VIN: still rejected
    (12, "phone 0912 34: too few digits for a Vietnamese number"),
    # valid customer (landline), malformed VIN: imported without a vehicle
    (13, PARTIAL + "VIN: a VIN never contains the letters I, O or Q: RL4TH1234OB000030"),
]


@pytest.mark.parametrize("batch_size", [500, 2])  # 2: rows of one customer span batches
async def test_messy_workbook_preview_then_import_exactly(
    session_factory: async_sessionmaker[Any], tmp_path: Path, batch_size: int
) -> None:
    path = write_workbook(tmp_path / "khach-hang.xlsx", messy_rows())
    preview, rejects, _ = await run_file(session_factory, path, dry_run=True, batch_size=batch_size)
    assert preview.as_dict() == {
        "rows": 10, "new": 6, "merged": 2, "updated": 0, "unchanged": 0, "skipped": 1,
        "rejected": 1, "partial": 3,
    }  # fmt: skip
    assert [(row, reason[: len(expected)]) for (row, reason), (_, expected) in zip(
        rejects, EXPECTED_REJECTS, strict=True
    )] == EXPECTED_REJECTS  # fmt: skip
    assert await count(session_factory, Customer) == 0  # a preview writes no customer

    result, rejects, import_id = await run_file(
        session_factory, path, dry_run=False, batch_size=batch_size
    )
    assert result == preview  # the preview told the truth
    assert [row for row, _ in rejects] == [10, 11, 12, 13]

    async with session_factory() as session:
        an = await repo.find_by_phone(session, "0977 333 444")
        assert an is not None
        assert an.name == "Nguyễn Văn An"  # first spelling kept, not "NGUYỄN VĂN AN"
        assert an.customer_type == "fleet"  # three trucks on three rows → one fleet customer
        assert [p.number for p in an.phones] == ["+84912345678", "+84977333444"]
        assert an.phones[0].is_primary and not an.phones[1].is_primary
        vehicles = {vehicle.vin: vehicle for vehicle in an.vehicles}
        assert set(vehicles) == {VIN_A1, VIN_A2, VIN_A3}
        assert vehicles[VIN_A1].purchase_date == expected_purchase(1)  # Excel date cell
        assert vehicles[VIN_A2].purchase_date == expected_purchase(2)  # dd/mm/yyyy text
        assert vehicles[VIN_A3].purchase_date == expected_purchase(3)
        assert vehicles[VIN_A1].dealer == "Đại lý Long Biên"
        assert an.province == "Hà Nội" and an.address == "12 Láng Hạ" and an.notes == "khách quen"
        assert an.source == "import"

        binh = await repo.find_by_phone(session, "038 123 4567")  # imported as 0168 123 4567
        assert binh is not None and binh.name == "Trần Thị Bình"
        assert [v.vin for v in binh.vehicles] == [VIN_B]  # row 11 did not steal the truck
        assert binh.customer_type == "individual"

        gau = await repo.find_by_phone(session, "+84 28 3823 4568")
        assert gau is not None and gau.name == "Công ty Vận tải Gấu"

        # the three partial rows: the customer and every valid field, the bad one empty
        cuong = await repo.find_by_phone(session, "0903 111 222")
        assert cuong is not None and cuong.name == "Lê Văn Cường"
        assert cuong.province == "Đà Nẵng"
        assert [(v.vin, v.model, v.purchase_date) for v in cuong.vehicles] == [
            (VIN_C, "HD72", None)
        ]
        dung = await repo.find_by_phone(session, "0987 654 321")
        assert dung is not None and dung.name == "Phạm Văn Dũng"
        assert dung.province == "Hải Phòng" and dung.vehicles == []
        vu = await repo.find_by_phone(session, "(028) 3823 4567")
        assert vu is not None and vu.name == "Vũ Văn F"
        assert vu.province == "TP.HCM" and vu.vehicles == []
        assert await repo.find_by_phone(session, "0912 34") is None  # rejected row 12
        trail = (
            await session.execute(
                select(CustomerChange.action, func.count())
                .where(CustomerChange.import_id == import_id)
                .group_by(CustomerChange.action)
            )
        ).all()
        trail_counts = dict(trail)
        # rows merged within one batch are folded into the "created" entry; a fleet whose
        # rows span two batches also gets an "updated" entry per later row
        assert trail_counts["created"] == 6
        assert trail_counts.get("updated", 0) == (0 if batch_size == 500 else 1)
    trail_before = await count(session_factory, CustomerChange)

    # The same file again: every customer row is unchanged and nothing is written.
    again, rejects, _ = await run_file(session_factory, path, dry_run=False, batch_size=batch_size)
    assert again.as_dict() == {
        "rows": 10, "new": 0, "merged": 0, "updated": 0, "unchanged": 8, "skipped": 1,
        "rejected": 1, "partial": 3,
    }  # fmt: skip
    assert rejects[1][1] == (
        PARTIAL + f"VIN RL4TH1234AB000010 already belongs to another customer: #{binh.id} "
        "Trần Thị Bình"
    )
    assert await count(session_factory, Customer) == 6
    assert await count(session_factory, CustomerPhone) == 7
    assert await count(session_factory, Vehicle) == 5
    assert await count(session_factory, CustomerChange) == trail_before


async def test_updates_existing_customers_and_refuses_a_vin_of_another(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    from callcenter.core.customers import CustomerData, VehicleData

    async with session_factory() as session:
        await repo.create_customer(
            session,
            CustomerData(name="Lý Thị Hoa", phones=["+84903111222"]),
            at=NOW,
        )
        await repo.create_customer(
            session,
            CustomerData(
                name="Đặng Văn Long", phones=["+84904000000"], vehicles=[VehicleData(vin=VIN_B)]
            ),
            at=NOW,
        )
        await session.commit()
    path = write_workbook(
        tmp_path / "dealer.xlsx",
        [
            # Hoa, written with her number as a number and a new province: updated
            [1, "Lý Thị Hoa", 903111222, "Bắc Ninh", None, VIN_A1, "HD65", None, None, None],
            # VIN of Long with the phone of Hoa: Hoa kept, the VIN left off and listed
            [2, "Lý Thị Hoa", "0903 111 222", None, None, VIN_B, None, None, None, None],
            # VIN of Long with Long's name and a new phone: merged into Long
            [3, "Đặng Văn Long", "0988 000 111", None, None, VIN_B, None, None, None, None],
        ],
        title_rows=False,
    )
    counts, rejects, _ = await run_file(session_factory, path, dry_run=False)
    assert (counts.updated, counts.unchanged, counts.new, counts.rejected) == (2, 1, 0, 0)
    assert counts.partial == 1
    assert rejects == [
        (
            3,
            "customer imported, field left empty: VIN RL4TH1234AB000010 already belongs to "
            "another customer: #2 Đặng Văn Long",
        )
    ]
    async with session_factory() as session:
        hoa = await repo.find_by_phone(session, "0903111222")
        assert hoa is not None and hoa.province == "Bắc Ninh"
        assert [v.vin for v in hoa.vehicles] == [VIN_A1]
        long_ = await repo.find_by_vin(session, VIN_B)
        assert long_ is not None and sorted(p.number for p in long_.phones) == [
            "+84904000000",
            "+84988000111",
        ]
        history = await repo.history(session, hoa.id)
        assert history[0].via == "import" and history[0].changes["province"] == ["", "Bắc Ninh"]


async def test_formulas_are_flagged_not_trusted(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Họ tên", "Số điện thoại", "Ghi chú"])
    sheet.append(["Mai Văn Tâm", '="0912"&"345678"', None])
    sheet.append(["Ngô Thị Vân", "0912 000 111", "=1+1"])  # formula in a mapped column
    sheet.append(["Tổng cộng", "=COUNTA(B2:B3)", None])  # totals line: skipped, not rejected
    workbook.save(tmp_path / "formulas.xlsx")
    counts, rejects, _ = await run_file(session_factory, tmp_path / "formulas.xlsx", dry_run=False)
    assert counts.as_dict() == {
        "rows": 3, "new": 0, "merged": 0, "updated": 0, "unchanged": 0, "skipped": 1,
        "rejected": 2, "partial": 0,
    }  # fmt: skip
    assert rejects[0] == (
        2,
        'cell B2 (Số điện thoại) holds a formula ="0912"&"345678": paste values instead',
    )
    assert rejects[1][1].startswith("cell C3 (Ghi chú) holds a formula =1+1")
    assert await count(session_factory, Customer) == 0


def _bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    return path


async def test_bad_files_give_a_clear_error_and_import_nothing(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    csv = tmp_path / "khach.xlsx"
    csv.write_text("Họ tên;SĐT\nAn;0912345678\n", encoding="utf-8")
    xls = tmp_path / "old.xlsx"
    xls.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(1024))
    docx = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    empty_file = tmp_path / "zero.xlsx"
    empty_file.write_bytes(b"")
    empty_sheet = tmp_path / "empty.xlsx"
    Workbook().save(empty_sheet)
    bomb = _bomb(tmp_path / "bomb.xlsx")
    cases = {
        csv: "this is not an Excel .xlsx file",
        xls: "this is an old .xls file",
        docx: "no workbook inside",
        empty_file: "the file is empty",
        empty_sheet: "the sheet is empty",
        bomb: "would expand",
    }
    for path, message in cases.items():
        with pytest.raises(ExcelError) as info:
            await importer.prepare(
                session_factory, path, filename=path.name, at=NOW, keep_copy=False
            )
        assert message in str(info.value), path.name
    assert bomb.stat().st_size < 200 * 1024  # the check read only the directory
    with pytest.raises(ExcelError, match="too large"):
        await importer.prepare(
            session_factory,
            write_workbook(tmp_path / "ok.xlsx", messy_rows()),
            filename="ok.xlsx",
            at=NOW,
            keep_copy=False,
            limits=Limits(max_file_bytes=1000),
        )
    assert await count(session_factory, CustomerImport) == 0
    assert await count(session_factory, Customer) == 0


async def test_numbers_dates_and_a_header_below_merged_titles(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for _ in range(5):
        sheet.append([None])
    sheet["B2"] = "CÔNG TY CP Ô TÔ — PHÒNG CSKH"
    sheet.merge_cells("B2:H3")
    sheet.append(
        [None, "Tên khách hàng", "Điện thoại", "Tỉnh", "Ngày sinh", "Email", "VIN", "Biển số"]
    )
    sheet.append(
        [
            None,
            "Bùi Quang Huy",
            1681234567,
            "Nghệ An",
            date(1985, 7, 30),
            "HUY@Example.vn",
            "rl4th1234ab000099",
            "37C-123.45",
        ]
    )
    sheet.append([None, "Trịnh Lan", "0912 111 222", "Huế", "30/2/1990", "lan@", None, None])
    sheet.append([None, "Đinh Tuấn", "0912 111 333", "Huế", 32874, None, None, None])
    workbook.save(tmp_path / "dates.xlsx")  # fmt: skip
    batch = await importer.prepare(
        session_factory, tmp_path / "dates.xlsx", filename="dates.xlsx", at=NOW, keep_copy=False
    )
    assert batch.header_row == 6
    counts = await importer.run(session_factory, batch.id, dry_run=False, clock=clock())
    assert (counts.new, counts.rejected, counts.partial) == (3, 0, 2)
    async with session_factory() as session:
        rejects = [r.reason for r in await importer.rejected_rows(session, batch.id)]
        huy = await repo.find_by_phone(session, "0381234567")
        lan = await repo.find_by_phone(session, "0912 111 222")
        tuan = await repo.find_by_phone(session, "0912 111 333")
        plate_hits = await repo.find_by_plate(session, "37c12345")
    assert rejects[0] == (
        "customer imported, field left empty: "
        "Ngày sinh: 30/2/1990 is not a possible date (dd/mm/yyyy); not an e-mail address: lan@"
    )
    assert rejects[1] == (
        "customer imported, field left empty: "
        "Ngày sinh: 32874 is a number, not a date (format the cell as a date)"
    )
    assert lan is not None and (lan.name, lan.province, lan.birthday, lan.email) == (
        "Trịnh Lan",
        "Huế",
        None,
        "",
    )
    assert tuan is not None and (tuan.name, tuan.birthday) == ("Đinh Tuấn", None)
    assert huy is not None and huy.birthday == date(1985, 7, 30)
    assert huy.email == "huy@example.vn" and huy.vehicles[0].vin == "RL4TH1234AB000099"
    assert [customer.id for customer in plate_hits] == [huy.id]


def test_header_detection_prefers_the_row_that_names_columns() -> None:
    rows = [
        (1, ["DANH SÁCH KHÁCH HÀNG"]),
        (2, ["Khách hàng:", "Công ty A"]),  # names one field only
        (3, [None]),
        (4, HEADERS),
        (5, [1, "Nguyễn Văn A", "0912345678"]),
    ]
    guess = find_header(rows)
    assert guess is not None and guess.row_number == 4
    assert guess.mapping == {
        1: "name", 2: "phones", 3: "province", 4: "address", 5: "vin", 6: "model",
        7: "purchase_date", 8: "dealer", 9: "notes",
    }  # fmt: skip
    english = find_header([(1, ["Name", "Phone", "Province", "VIN", "Model", "Dealer", "Notes"])])
    assert english is not None and set(english.mapping.values()) == {
        "name", "phones", "province", "vin", "model", "dealer", "notes",
    }  # fmt: skip


async def test_export_round_trip_keeps_text_that_looks_like_a_formula(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    from callcenter.core.customers import CustomerData, VehicleData
    from callcenter.excel.export import export_customers

    async with session_factory() as session:
        await repo.create_customer(
            session,
            CustomerData(
                name="Hồ Văn Ý",
                phones=["+84912000111", "+842838234567"],
                notes="=1+1 không phải công thức",
                tags=["VIP", "đại lý"],
                do_not_call=True,
                birthday=date(1979, 12, 31),
                vehicles=[
                    VehicleData(vin=VIN_A1, plate="51C-123.45", warranty_end=date(2027, 1, 1))
                ],
            ),
            at=NOW,
        )
        await session.commit()
    path = tmp_path / "export.xlsx"
    assert await export_customers(session_factory, repo.CustomerFilter(), path) == 1
    counts, rejects, _ = await run_file(session_factory, path, dry_run=False)
    assert rejects == [] and counts.unchanged == 1 and counts.rows == 1
    async with session_factory() as session:
        customer = await repo.find_by_phone(session, "028 3823 4567")
    assert customer is not None and customer.notes == "=1+1 không phải công thức"
    assert customer.do_not_call and customer.tags == ["VIP", "đại lý"]


async def test_big_string_tables_are_read_from_disk_with_the_same_result(
    session_factory: async_sessionmaker[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    from callcenter.excel import strings

    rows = messy_rows()
    rows[0][9] = CellRichText("khách ", TextBlock(InlineFont(b=True), "quen"))  # rich text
    path = write_workbook(tmp_path / "rich.xlsx", rows)
    in_memory, rejects_in_memory, _ = await run_file(session_factory, path, dry_run=True)
    monkeypatch.setattr(strings, "IN_MEMORY_LIMIT", 0)  # every table goes to disk
    on_disk, rejects_on_disk, _ = await run_file(session_factory, path, dry_run=False)
    assert on_disk == in_memory and rejects_on_disk == rejects_in_memory
    async with session_factory() as session:
        an = await repo.find_by_phone(session, "0912345678")
    assert an is not None and an.name == "Nguyễn Văn An" and an.notes == "khách quen"
    leftovers = list(Path(tempfile.gettempdir()).glob("cc-strings-*"))  # noqa: ASYNC240
    assert not leftovers  # cleaned up


async def test_agents_keep_saving_customers_while_an_import_runs(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    import asyncio

    from callcenter.core.customers import CustomerData

    rows = [[n, f"Khách {n}", f"0912{n:06d}", "Huế", None, None, None, None, None, None]
            for n in range(200)]  # fmt: skip
    path = write_workbook(tmp_path / "many.xlsx", rows, title_rows=False)
    batch = await importer.prepare(session_factory, path, filename="many", at=NOW, keep_copy=False)

    async def agent(worker: int) -> None:
        for index in range(10):
            async with session_factory() as session:
                await repo.create_customer(
                    session,
                    CustomerData(
                        name=f"Gọi vào {worker}-{index}", phones=[f"+8497{worker}{index:06d}"]
                    ),
                    at=NOW,
                )
                await session.commit()
            await asyncio.sleep(0)

    counts, *_ = await asyncio.gather(
        importer.run(session_factory, batch.id, dry_run=False, clock=clock(), batch_size=10),
        *(agent(worker) for worker in range(3)),
    )
    assert counts.new == 200
    assert await count(session_factory, Customer) == 230
    assert await count(session_factory, CustomerPhone) == 230
