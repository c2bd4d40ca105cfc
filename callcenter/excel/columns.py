"""Which column is which: find the header row and map Vietnamese/English headers to fields.

Files from marketing and dealers put titles, dates and merged banners above the
real header, and name columns every way (``Họ tên``, ``Họ và tên``, ``Tên khách
hàng``, ``Name``…). We fold headers (no accents, lower-case, no punctuation) and
look them up in one alias table; the user can correct the result in the web form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.core.text import fold
from callcenter.i18n import N_

HEADER_SCAN_ROWS = 30


@dataclass(frozen=True)
class Field:
    key: str
    label_vi: str  # the header written by exports (and recognised on import)
    label_en: str
    aliases: tuple[str, ...]


FIELDS: tuple[Field, ...] = (
    Field("name", "Họ tên", N_("Name"), ("ho ten", "ho va ten", "ten khach hang", "ho ten khach hang",
          "ten kh", "khach hang", "ten", "name", "full name", "customer name", "customer")),
    Field("phones", "Số điện thoại", N_("Phone"), ("sdt", "so dien thoai", "dien thoai", "so dt", "dt",
          "dtdd", "di dong", "phone", "phones", "phone number", "mobile", "tel", "telephone")),
    Field("email", "Email", N_("Email"), ("email", "e mail", "thu dien tu", "mail")),
    Field("birthday", "Ngày sinh", N_("Birthday"), ("ngay sinh", "sinh nhat", "birthday",
          "date of birth", "dob")),
    Field("province", "Tỉnh/TP", N_("Province"), ("tinh", "tinh tp", "tinh thanh", "tinh thanh pho",
          "thanh pho", "tinh thanh pho", "province", "city")),
    Field("district", "Quận/Huyện", N_("District"), ("quan huyen", "quan", "huyen", "district")),
    Field("address", "Địa chỉ", N_("Address"), ("dia chi", "address")),
    Field("customer_type", "Loại khách hàng", N_("Customer type"), ("loai khach hang", "loai kh",
          "customer type", "type")),
    Field("tags", "Nhãn", N_("Tags"), ("nhan", "tag", "tags", "phan loai")),
    Field("notes", "Ghi chú", N_("Notes"), ("ghi chu", "note", "notes", "remarks", "comment",
          "comments")),
    Field("source", "Nguồn", N_("Source"), ("nguon", "source")),
    Field("do_not_call", "Không gọi", N_("Do not call"), ("khong goi", "do not call", "dnc")),
    Field("vin", "Số khung", N_("VIN"), ("so khung", "so vin", "vin", "chassis", "chassis no",
          "chassis number", "frame number")),
    Field("model", "Loại xe", N_("Model"), ("loai xe", "dong xe", "mau xe", "xe", "model",
          "vehicle model")),
    Field("plate", "Biển số", N_("Plate"), ("bien so", "bien so xe", "bks", "plate",
          "license plate", "licence plate")),
    Field("purchase_date", "Ngày mua", N_("Purchase date"), ("ngay mua", "ngay mua xe", "ngay ban",
          "purchase date", "date of purchase")),
    Field("warranty_end", "Hết bảo hành", N_("Warranty end"), ("het bao hanh", "ngay het bao hanh",
          "han bao hanh", "bao hanh den", "warranty end", "warranty until", "warranty")),
    Field("dealer", "Đại lý", N_("Dealer"), ("dai ly", "ten dai ly", "dai ly ban", "dealer")),
)  # fmt: skip

FIELD_KEYS: tuple[str, ...] = tuple(field.key for field in FIELDS)
FIELDS_BY_KEY: dict[str, Field] = {field.key: field for field in FIELDS}
_NON_WORD = re.compile(r"[^0-9a-z]+")


def header_key(text: Any) -> str:
    """``"Tỉnh/TP:"`` → ``"tinh tp"``: folded, punctuation turned into single spaces."""
    if text is None:
        return ""
    return _NON_WORD.sub(" ", fold(str(text))).strip()


_ALIASES: dict[str, str] = {
    header_key(alias): field.key for field in FIELDS for alias in (*field.aliases, field.label_vi)
}
_ALIASES_LONGEST_FIRST = sorted(_ALIASES.items(), key=lambda item: -len(item[0]))


def field_for_header(text: Any) -> str | None:
    """The field a header names: exact alias, else the longest alias it starts with."""
    key = header_key(text)
    if not key:
        return None
    if key in _ALIASES:
        return _ALIASES[key]
    for alias, field in _ALIASES_LONGEST_FIRST:
        if len(alias) >= 3 and key.startswith(alias + " "):
            return field
    return None


def auto_mapping(headers: Sequence[Any]) -> dict[int, str]:
    """Column index → field, first column wins when two headers name the same field."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        field = field_for_header(header)
        if field is not None and field not in taken:
            mapping[index] = field
            taken.add(field)
    return mapping


@dataclass(frozen=True)
class HeaderGuess:
    row_number: int  # 1-based, as Excel shows it
    headers: list[str]
    mapping: dict[int, str]


def find_header(rows: Iterable[tuple[int, Sequence[Any]]]) -> HeaderGuess | None:
    """The first row (among the first 30) that names the most known fields.

    A header must name at least two fields, one of them the name or the phone;
    title rows and merged banners above it name at most one, so they lose.
    """
    best: HeaderGuess | None = None
    for row_number, cells in rows:
        mapping = auto_mapping(cells)
        fields = set(mapping.values())
        if (
            len(fields) >= 2
            and fields & {"name", "phones"}
            and (best is None or len(fields) > len(best.mapping))
        ):
            best = HeaderGuess(row_number, [_text(cell) for cell in cells], mapping)
    return best


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def mapping_to_json(mapping: dict[int, str]) -> dict[str, str]:
    return {str(index): field for index, field in sorted(mapping.items())}


def mapping_from_json(data: dict[str, Any]) -> dict[int, str]:
    """Parse a stored/posted mapping, dropping unknown fields and duplicate targets."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index_text, field in sorted(data.items(), key=lambda item: int(item[0])):
        if field in FIELDS_BY_KEY and field not in taken:
            mapping[int(index_text)] = field
            taken.add(field)
    return mapping
