"""The survey report: CSAT and NPS by day/week/month, answers per question, free text.

Built from the answer rows of one survey in a local date range
(:func:`callcenter.db.repos.surveys.report_rows`); periods are local calendar days,
ISO weeks (Monday first) or months. CSAT and NPS follow :func:`core.surveys.score`:
CSAT is the share of 1–5 answers that are 4 or 5, NPS the share of 0–10 answers
that are 9–10 minus the share that are 0–6, both in percent.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font

from callcenter.core import surveys as rules
from callcenter.localtime import local_date

PERIODS = ("day", "week", "month")


def period_start(day: date, by: str) -> date:
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def period_label(start: date, by: str) -> str:
    if by == "month":
        return start.strftime("%m/%Y")
    return start.strftime("%d/%m/%Y")


@dataclass
class PeriodRow:
    label: str
    responses: int
    scores: rules.Scores


@dataclass
class QuestionRow:
    question: rules.Question
    counts: list[tuple[str, int]] = field(default_factory=list)  # (answer, how many)
    answered: int = 0
    average: float | None = None


@dataclass
class FreeText:
    at: datetime
    question: str
    text: str
    linkedid: str


@dataclass
class SurveyReport:
    periods: list[PeriodRow]
    total: PeriodRow
    questions: list[QuestionRow]
    free_texts: list[FreeText]


def build(
    questions: Sequence[rules.Question], rows: Sequence[Any], *, by: str, zone: ZoneInfo
) -> SurveyReport:
    """rows: (response id, created_at, channel, question id, kind, number, choices, text,
    linkedid) as :func:`report_rows` returns them."""
    by_id = {q.id: q for q in questions}
    buckets: dict[date, tuple[set[int], list[tuple[str, float]]]] = {}
    all_responses: set[int] = set()
    all_numbers: list[tuple[str, float]] = []
    counts: dict[int, dict[str, int]] = {q.id: {} for q in questions}
    totals: dict[int, list[float]] = {q.id: [] for q in questions}
    answered: dict[int, int] = {q.id: 0 for q in questions}
    free: list[FreeText] = []
    for response_id, at, _channel, question_id, kind, number, choices, text, linkedid in rows:
        start = period_start(local_date(at, zone), by)
        ids, numbers = buckets.setdefault(start, (set(), []))
        ids.add(response_id)
        all_responses.add(response_id)
        if question_id in answered:
            answered[question_id] += 1
        if number is not None:
            numbers.append((kind, number))
            all_numbers.append((kind, number))
            if question_id in counts:
                key = str(int(number)) if float(number).is_integer() else str(number)
                counts[question_id][key] = counts[question_id].get(key, 0) + 1
                totals[question_id].append(number)
        for choice in choices or ():
            if question_id in counts:
                counts[question_id][choice] = counts[question_id].get(choice, 0) + 1
        if kind == rules.FREE_TEXT and text:
            question = by_id.get(question_id)
            free.append(FreeText(at, question.text if question else "", text, linkedid or ""))
    periods = [
        PeriodRow(period_label(start, by), len(ids), rules.score(numbers))
        for start, (ids, numbers) in sorted(buckets.items())
    ]
    question_rows = []
    for question in questions:
        row = QuestionRow(question, answered=answered[question.id])
        seen = counts[question.id]
        order = list(rules.allowed_values(question)) or sorted(seen)
        row.counts = [(value, seen.get(value, 0)) for value in order]
        if totals[question.id]:
            row.average = round(sum(totals[question.id]) / len(totals[question.id]), 2)
        question_rows.append(row)
    return SurveyReport(
        periods=periods,
        total=PeriodRow("", len(all_responses), rules.score(all_numbers)),
        questions=question_rows,
        free_texts=free,
    )


def workbook(report: SurveyReport, *, title: str, _: Callable[[str], str], zone: ZoneInfo) -> bytes:
    """The report as .xlsx: a summary sheet with a native line chart, answers, free text."""
    book = Workbook()
    bold = Font(bold=True)
    summary = book.active
    assert summary is not None
    summary.title = _("Summary")[:31]
    summary.append([title])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([_("Period"), _("Responses"), _("CSAT") + " (%)", _("NPS")])
    for cell in summary[2]:
        cell.font = bold
    for period in report.periods:
        summary.append([period.label, period.responses, period.scores.csat, period.scores.nps])
    total = report.total
    summary.append([_("Total"), total.responses, total.scores.csat, total.scores.nps])
    summary[summary.max_row][0].font = bold
    summary.column_dimensions["A"].width = 16
    if report.periods:
        chart = LineChart()
        chart.title = _("CSAT and NPS over time")
        data = Reference(summary, min_col=3, max_col=4, min_row=2, max_row=2 + len(report.periods))
        labels = Reference(summary, min_col=1, min_row=3, max_row=2 + len(report.periods))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(labels)
        summary.add_chart(chart, "F2")

    answers = book.create_sheet(_("Answers")[:31])
    answers.append([_("Question"), _("Kind"), _("Answer"), _("How many"), _("Average")])
    for cell in answers[1]:
        cell.font = bold
    for row in report.questions:
        kind = _(rules.KIND_LABELS.get(row.question.kind, row.question.kind))
        if not row.counts:
            answers.append([row.question.text, kind, "", row.answered, row.average])
        for value, count in row.counts:
            answers.append([row.question.text, kind, value, count, row.average])
    answers.column_dimensions["A"].width = 50

    texts = book.create_sheet(_("Free text")[:31])
    texts.append([_("Date"), _("Question"), _("Answer"), _("Call")])
    for cell in texts[1]:
        cell.font = bold
    for item in report.free_texts:
        texts.append([item.at.astimezone(zone).replace(tzinfo=None), item.question,
                      item.text, item.linkedid])  # fmt: skip
        texts.cell(texts.max_row, 1).number_format = "dd/mm/yyyy hh:mm"
    texts.column_dimensions["C"].width = 60
    for sheet in (answers, texts):
        for line in sheet.iter_rows(min_row=2):
            for cell in line:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text, never a formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
