"""``callcenter import customers`` / ``export customers`` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from callcenter.cli import main
from tests.customers.workbooks import messy_rows, write_workbook


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", url)
    return url


def test_dry_run_then_import_then_export(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = write_workbook(tmp_path / "khach.xlsx", messy_rows())
    rejected = tmp_path / "rejected.xlsx"
    assert (
        main(["import", "customers", str(workbook), "--dry-run", "--rejected", str(rejected)]) == 0
    )
    out, err = capsys.readouterr()
    assert "header on row 4" in out
    assert (
        "10 rows: 6 new customers, 2 rows merged into customers new in this file, 0 updated, "
        "0 unchanged, 1 skipped, 1 rejected, 3 imported with a bad field left empty "
        "(would be written" in out
    )
    assert (
        "row 10: đã nhập khách hàng, bỏ trống ô lỗi: "
        "Ngày mua: 31/02/2024 không phải ngày hợp lệ (dd/mm/yyyy)" in out
    )
    assert "preview: 10/10 rows (100%)" in err  # the progress bar (a pipe: one line per 10 %)
    sheet = load_workbook(rejected, read_only=True).active
    assert sheet is not None
    assert len(list(sheet.iter_rows(values_only=True))) == 5  # header + 1 rejected + 3 partial

    assert main(["import", "customers", str(workbook)]) == 0
    out, _ = capsys.readouterr()
    assert "6 new customers" in out and "(were written" in out
    assert main(["import", "customers", str(workbook)]) == 0
    out, _ = capsys.readouterr()
    assert "0 new customers" in out and "0 updated, 8 unchanged" in out

    exported = tmp_path / "export.xlsx"
    assert main(["export", "customers", str(exported), "--type", "fleet"]) == 0
    assert "1 customers written" in capsys.readouterr().out
    assert main(["import", "customers", str(exported), "--dry-run"]) == 0
    assert "3 rows: 0 new customers" in capsys.readouterr().out


def test_bad_file_is_one_line_and_status_2(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "list.xlsx"
    text.write_text("not a workbook", encoding="utf-8")
    assert main(["import", "customers", str(text)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "import error: list.xlsx: đây không phải tệp Excel .xlsx"
    assert main(["import", "customers", str(tmp_path / "missing.xlsx")]) == 2


def test_mapping_corrected_on_the_command_line(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Khách", "Liên lạc"])
    sheet.append(["Đỗ Minh Khoa", "0903 555 666"])
    workbook.save(tmp_path / "odd.xlsx")
    assert main(["import", "customers", str(tmp_path / "odd.xlsx")]) == 2
    assert "hãy chọn ít nhất cột họ tên" in capsys.readouterr().err
    assert main(["import", "customers", str(tmp_path / "odd.xlsx"), "--map", "A=name",
                 "--map", "B=phones"]) == 0  # fmt: skip
    assert "1 new customers" in capsys.readouterr().out
