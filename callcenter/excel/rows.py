"""One spreadsheet row → a customer (plain data), a reason to reject it, or a skip.

A row whose customer is usable (a name and a valid phone or VIN) but one of whose
other cells is not (an impossible date, a malformed VIN or phone, a bad e-mail)
still yields the customer: the bad field is left empty and named in ``warnings``,
so the preview and the rejected-rows file list it without losing the customer.

Pure: no workbook, no database. Cells arrive as openpyxl gives them (str, int,
float, date, datetime, bool, None) plus a flag for formula cells. Formulas are
flagged, never evaluated or trusted: a cached value may be stale or absent
(files written by scripts have none), so a row whose mapped cell holds a formula
is rejected with the cell and formula named ("paste values instead").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from callcenter.core.customers import (
    CustomerData,
    RuleError,
    VehicleData,
    normalize_email,
    normalize_vin,
)
from callcenter.core.phones import InvalidPhone, Phone, normalize_phone, split_phones
from callcenter.core.text import fold
from callcenter.excel.columns import FIELDS_BY_KEY
from callcenter.localtime import parse_date

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_TOTALS = ("tong", "tong cong", "cong", "total", "totals", "grand total", "sum", "tong so")
_TRUE = {"x", "1", "co", "yes", "y", "true", "dnc", "khong goi", "v"}
_TAG_SPLIT = re.compile(r"[,;/|]")
_FLEET_WORDS = {"fleet", "doanh nghiep", "doi xe", "cong ty", "to chuc", "company"}
_INDIVIDUAL_WORDS = {"individual", "ca nhan", "khach le", "personal"}
_SOURCES = {
    "hotline": "hotline",
    "tong dai": "hotline",
    "import": "import",
    "marketing": "marketing",
    "tiep thi": "marketing",
    "dealer": "dealer",
    "dai ly": "dealer",
    "web": "web",
    "website": "web",
}
MIN_YEAR, MAX_YEAR = 1900, 2100


@dataclass(frozen=True)
class Problem:
    """Why a row was refused: an English message id with ``{placeholders}``, optionally
    after a label naming the cell (``"phone {phone}"``, ``"{column}"``, ``"VIN"``)."""

    message: str
    params: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def text(self, translate: Any = None) -> str:
        def tr(message: str) -> str:
            template = translate(message) if translate is not None else message
            return str(template).format(**self.params)

        return f"{tr(self.label)}: {tr(self.message)}" if self.label else tr(self.message)


@dataclass(frozen=True)
class Skipped:
    why: str  # "blank" or "totals" or "not a customer"


@dataclass
class ParsedRow:
    row_number: int
    customer: CustomerData
    cells: list[Any]
    warnings: list[Problem] = field(default_factory=list)  # fields left empty, and why

    @property
    def vin(self) -> str | None:
        return self.customer.vehicles[0].vin if self.customer.vehicles else None


@dataclass
class RejectedRow:
    row_number: int
    problems: list[Problem]
    cells: list[Any]


RowOutcome = ParsedRow | RejectedRow | Skipped


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return " ".join(str(value).split())


def parse_date_cell(value: Any) -> date | None:
    """A date from an Excel date cell or ``dd/mm/yyyy`` text; raise RuleError if impossible."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raise RuleError(
            "{value} is a number, not a date (format the cell as a date)", value=_text(value)
        )
    else:
        text = str(value).strip()
        iso = _ISO_DATE.match(text)
        try:
            if iso:
                result = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
            else:
                result = parse_date(text.split(" ")[0])
        except ValueError:
            raise RuleError("{value} is not a possible date (dd/mm/yyyy)", value=text) from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise RuleError("{value} is not a possible date (dd/mm/yyyy)", value=_text(value))
    return result


def _label(key: str) -> str:
    return FIELDS_BY_KEY[key].label_vi


def _cell_ref(column: int, row_number: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column + 1)}{row_number}"


def parse_row(
    row_number: int,
    cells: list[Any],
    mapping: dict[int, str],
    *,
    formulas: frozenset[int] = frozenset(),
    source: str = "import",
) -> RowOutcome:
    """Turn one row into a customer, a rejection with every reason, or a skip."""
    values: dict[str, Any] = {}
    for index, key in mapping.items():
        if index < len(cells):
            values[key] = cells[index]
    if all(_blank(cell) for cell in cells):
        return Skipped("blank")
    first_text = next((fold(_text(cell)) for cell in cells if not _blank(cell)), "")
    name_text = fold(_text(values.get("name")))
    for candidate in (name_text, first_text):
        words = candidate.rstrip(":").strip()
        if words in _TOTALS or words.startswith(("tong cong", "total", "tong so")):
            return Skipped("totals")
    if all(_blank(values.get(key)) for key in ("name", "phones", "vin")):
        return Skipped("not a customer")

    problems: list[Problem] = []
    for index in sorted(formulas):
        if index in mapping:
            problems.append(
                Problem(
                    "cell {cell} ({column}) holds a formula {formula}: paste values instead",
                    {
                        "cell": _cell_ref(index, row_number),
                        "column": _label(mapping[index]),
                        "formula": _text(cells[index]),
                    },
                )
            )
    if problems:
        return RejectedRow(row_number, problems, cells)

    customer = CustomerData(source=source)
    customer.name = _text(values.get("name"))[:200]
    fatal: list[Problem] = []  # the customer itself is unusable
    if not customer.name:
        fatal.append(Problem("no customer name"))

    for raw in split_phones(values.get("phones")):
        result = normalize_phone(raw)
        if isinstance(result, Phone):
            if result.e164 not in customer.phones:
                customer.phones.append(result.e164)
        elif isinstance(result, InvalidPhone):
            problems.append(
                Problem(result.message, {"phone": raw, **dict(result.params)}, "phone {phone}")
            )
        else:
            problems.append(Problem("not a phone number", {"phone": raw}, "phone {phone}"))

    dates: dict[str, date | None] = {}
    for key in ("birthday", "purchase_date", "warranty_end"):
        try:
            dates[key] = parse_date_cell(values.get(key))
        except RuleError as exc:
            problems.append(Problem(exc.message, {"column": _label(key), **exc.params}, "{column}"))
    customer.birthday = dates.get("birthday")

    try:
        customer.email = normalize_email(_text(values.get("email")))
    except RuleError as exc:
        problems.append(Problem(exc.message, exc.params))

    customer.province = _text(values.get("province"))[:80]
    customer.district = _text(values.get("district"))[:80]
    customer.address = _text(values.get("address"))[:300]
    customer.notes = _text(values.get("notes"))
    tags = _text(values.get("tags"))
    customer.tags = [tag.strip() for tag in _TAG_SPLIT.split(tags) if tag.strip()]
    kind = fold(_text(values.get("customer_type")))
    if kind in _FLEET_WORDS:
        customer.customer_type = "fleet"
    elif kind and kind not in _INDIVIDUAL_WORDS:
        problems.append(
            Problem("unknown customer type {value}", {"value": _text(values.get("customer_type"))})
        )
    source_text = fold(_text(values.get("source")))
    if source_text:
        customer.source = _SOURCES.get(source_text, source)
    dnc = values.get("do_not_call")
    customer.do_not_call = dnc is True or fold(_text(dnc)) in _TRUE

    vin_text = _text(values.get("vin"))
    if vin_text:
        try:
            vin = normalize_vin(vin_text)
        except RuleError as exc:
            problems.append(Problem(exc.message, exc.params, "VIN"))
        else:
            customer.vehicles.append(
                VehicleData(
                    vin=vin,
                    model=_text(values.get("model"))[:120],
                    plate=_text(values.get("plate"))[:20],
                    purchase_date=dates.get("purchase_date"),
                    warranty_end=dates.get("warranty_end"),
                    dealer=_text(values.get("dealer"))[:160],
                )
            )
    if not customer.phones and not customer.vehicles:
        if not problems:
            fatal.append(Problem("no phone number or VIN: nothing identifies the customer"))
        else:  # the only identifying cells are the bad ones: nothing usable is left
            fatal.extend(problems)
            problems = []
    if fatal:
        return RejectedRow(row_number, [*fatal, *problems], cells)
    return ParsedRow(row_number, customer, cells, warnings=problems)
