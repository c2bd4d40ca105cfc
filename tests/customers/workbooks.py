"""Build realistic, messy customer workbooks in tests (openpyxl, written to tmp)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

HEADERS = [
    "STT",
    "Họ và tên",
    "SĐT",
    "Tỉnh/TP",
    "Địa chỉ",
    "Số khung",
    "Loại xe",
    "Ngày mua",
    "Đại lý",
    "Ghi chú",
]

VIN_A1 = "RL4TH1234AB000001"
VIN_A2 = "RL4TH1234AB000002"
VIN_A3 = "RL4TH1234AB000003"
VIN_B = "RL4TH1234AB000010"
VIN_C = "RL4TH1234AB000020"


def write_workbook(path: Path, rows: list[list[Any]], *, title_rows: bool = True) -> Path:
    """A sheet with a merged title banner and a date line above the header, like real files."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Khách hàng"
    if title_rows:
        sheet.append(["DANH SÁCH KHÁCH HÀNG MUA XE TẢI 2024"])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
        sheet.append(["Ngày xuất: 05/01/2025", None, None, "Đại lý: Miền Bắc"])
        sheet.append([])
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def messy_rows() -> list[list[Any]]:
    """The issue's cases, one per row; comments give the expected outcome."""
    return [
        # 1 new customer, number as text with dots, Excel date cell
        [1, "Nguyễn Văn An", "0912.345.678", "Hà Nội", "12 Láng Hạ", VIN_A1, "HD120SL",
         datetime(2024, 3, 15), "Đại lý Long Biên", "khách quen"],
        # 2 same customer (old Viettel 0168 number = 038 today? no: same phone) second truck
        [2, "Nguyễn Văn An", 912345678, "Hà Nội", "12 Láng Hạ", VIN_A2, "HD210", "20/04/2024",
         "Đại lý Long Biên", None],
        # 3 same customer again, found by a second number in a two-number cell, third truck
        [3, "NGUYỄN VĂN AN", "0912 345 678 / 0977 333 444", "Hà Nội", None, VIN_A3, "HD320",
         "01/05/2024", None, None],
        # 4 blank row
        [None, None, None, None, None, None, None, None, None, None],
        # 5 old mobile prefix, landline in brackets would be second phone
        [5, "Trần Thị Bình", "0168 123 4567", "TP.HCM", "Q.1", VIN_B, "Mighty EX8", None,
         "Đại lý Sài Gòn", None],
        # 6 bad date
        [6, "Lê Văn Cường", "0903 111 222", "Đà Nẵng", None, VIN_C, "HD72", "31/02/2024", None,
         None],
        # 7 VIN already owned by Trần Thị Bình (row 5), different phone → rejected
        [7, "Phạm Văn Dũng", "0987 654 321", "Hải Phòng", None, VIN_B, None, None, None, None],
        # 8 invalid phone
        [8, "Hoàng Thị E", "0912 34", "Huế", None, None, None, None, None, None],
        # 9 bad VIN (contains O)
        [9, "Vũ Văn F", "(028) 3823 4567", "TP.HCM", None, "RL4TH1234OB000030", None, None,
         None, None],
        # 10 landline in brackets, no vehicle → new
        [10, "Công ty Vận tải Gấu", "(028) 3823 4568", "TP.HCM", None, None, None, None, None,
         "VIP"],
        # 11 totals line
        [None, "Tổng cộng", None, None, None, None, None, None, None, "10 khách"],
    ]  # fmt: skip


def expected_purchase(row: int) -> date:
    return {1: date(2024, 3, 15), 2: date(2024, 4, 20), 3: date(2024, 5, 1)}[row]
