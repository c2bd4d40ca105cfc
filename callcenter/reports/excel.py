"""The reports as a formatted .xlsx (openpyxl): one sheet per report, bold frozen header,
number formats, and a native Excel chart where a picture helps (calls per period)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from callcenter.reports.services import AgentsReport, CallsReport, TicketsReport

HEADER_FILL = PatternFill("solid", fgColor="DDE7F3")


def _sheet(
    book: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Worksheet:
    sheet = book.create_sheet(title[:31])
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(header) + 4))
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "0.0"
    return sheet


def calls_workbook(report: CallsReport, _: Callable[[str], str]) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    headers = [_("Period"), _("Offered"), _("Answered"), _("Abandoned"), _("Short abandons"),
               _("Answered within threshold"), (_("Service level") + " (%)"), _("ASA (s)"),
               _("AHT (s)"), (_("Abandon rate") + " (%)"), _("Transferred")]  # fmt: skip

    def line(label: str, r: dict[str, Any]) -> list[Any]:
        return [label, r["offered"], r["answered"], r["abandoned"], r["short_abandoned"],
                r["answered_in_sl"], r["service_level"], r["asa"], r["aht"],
                r["abandon_rate"], r["transferred"]]  # fmt: skip

    rows = [line(r["label"], r) for r in report.periods]
    rows.append(line(_("Total"), report.total))
    sheet = _sheet(book, _("Calls"), headers, rows)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    if report.periods:
        chart = BarChart()
        chart.title = _("Calls per period")
        data = Reference(sheet, min_col=2, max_col=4, min_row=1, max_row=len(report.periods) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(
            Reference(sheet, min_col=1, min_row=2, max_row=len(report.periods) + 1)
        )
        chart.width, chart.height = 22, 10
        sheet.add_chart(chart, f"A{sheet.max_row + 3}")
    _sheet(
        book,
        _("By hotline and menu"),
        [_("Hotline"), _("Group"), _("Offered"), _("Answered"), _("Abandoned"),
         (_("Service level") + " (%)"), _("ASA (s)"), _("AHT (s)")],
        [[r["hotline"], r["group"], r["offered"], r["answered"], r["abandoned"],
          r["service_level"], r["asa"], r["aht"]] for r in report.by_route],
    )  # fmt: skip
    weekdays = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
                _("Saturday"), _("Sunday")]  # fmt: skip
    _sheet(
        book,
        _("Load by hour"),
        [_("Day"), *[f"{h:02d}" for h in range(24)]],
        [[weekdays[d], *report.heat[d]] for d in range(7)],
    )
    _sheet(
        book,
        _("Abandoned after"),
        [_("Wait"), _("Calls")],
        [["0–5 s", report.total["abandon_0_5"]], ["5–20 s", report.total["abandon_5_20"]],
         ["20–60 s", report.total["abandon_20_60"]], ["60–120 s", report.total["abandon_60_120"]],
         ["≥ 120 s", report.total["abandon_120"]]],
    )  # fmt: skip
    return _bytes(book)


def agents_workbook(report: AgentsReport, _: Callable[[str], str]) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    headers = [_("Agent"), _("Calls answered"), _("Talk time (s)"), _("Missed"),
               *[f"{_('Pause')}: {name}" for _code, name in report.pause_reasons],
               _("Pause total (s)"), (_("Occupancy") + " (%)"), _("Tickets created"),
               _("Tickets closed"), _("Survey answers"), _("Average survey score")]  # fmt: skip
    rows = [
        [a["name"], a["answered"], a["talk"], a["missed"],
         *[a["pause"][code] for code, _name in report.pause_reasons],
         a["pause_total"], a["occupancy"], a["tickets_created"], a["tickets_closed"],
         a["surveys"], a["survey_avg"]]
        for a in report.agents
    ]  # fmt: skip
    _sheet(book, _("Agents"), headers, rows)
    return _bytes(book)


def tickets_workbook(report: TicketsReport, _: Callable[[str], str]) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    measures = [_("Created"), _("Handled"), _("Unhandled"), _("Cancelled"), _("Within SLA"),
                _("Overdue"), (_("Within-SLA rate") + " (%)"), (_("Reopen rate") + " (%)"),
                _("Average work time (h)"), _("Average waiting time (h)")]  # fmt: skip

    def values(r: dict[str, Any]) -> list[Any]:
        return [r["created"], r["handled"], r["unhandled"], r["cancelled"], r["within_sla"],
                r["overdue"], r["within_sla_rate"], r["reopen_rate"], r["avg_work_hours"],
                r["avg_waiting_hours"]]  # fmt: skip

    rows = [[g["category"], g["department"], *values(g)] for g in report.groups]
    rows.append([_("Total"), "", *values(report.total)])
    _sheet(book, _("Tickets"), [_("Category"), _("Department"), *measures], rows)
    sheet = _sheet(book, _("Tickets per period"), [_("Period"), *measures],
                   [[p["label"], *values(p)] for p in report.periods])  # fmt: skip
    if report.periods:
        chart = BarChart()
        chart.title = _("Handled and unhandled tickets")
        data = Reference(sheet, min_col=3, max_col=4, min_row=1, max_row=len(report.periods) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(
            Reference(sheet, min_col=1, min_row=2, max_row=len(report.periods) + 1)
        )
        sheet.add_chart(chart, f"A{sheet.max_row + 3}")
    return _bytes(book)


def _bytes(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
