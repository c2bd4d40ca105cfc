"""Vietnamese phone numbers: one function turns any written form into E.164 (``+84…``).

Numbers reach us from Excel files (leading zero dropped, spaces, dots), forms,
and Asterisk caller IDs, some of them written before Vietnam's renumberings:
the 2017 landline area codes (Circular 22/2014/TT-BTTTT, e.g. Hà Nội 04 → 024)
and the 2018 mobile prefixes (11-digit 01xx numbers → 10 digits, e.g. 0168 → 038).
Storing and matching only the current E.164 form is what makes a customer
imported as ``0168 xxx xxxx`` pop up when they call from ``038 xxx xxxx``.

Where an old form and a current form look the same (``038…`` was Nghệ An's landline
area code and is now a Viettel mobile prefix), the current numbering plan wins; an
area code written in brackets, ``(038) 384 1234``, is always read as a landline code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PhoneKind = Literal["mobile", "landline", "service", "international"]

#: 2018 mobile renumbering: old 3-digit prefix (after the trunk 0) → new 2-digit prefix.
MOBILE_RENUMBERING_2018: dict[str, str] = {
    # Viettel
    "162": "32",
    "163": "33",
    "164": "34",
    "165": "35",
    "166": "36",
    "167": "37",
    "168": "38",
    "169": "39",
    # MobiFone
    "120": "70",
    "121": "79",
    "122": "77",
    "126": "76",
    "128": "78",
    # VinaPhone
    "123": "83",
    "124": "84",
    "125": "85",
    "127": "81",
    "129": "82",
    # Vietnamobile
    "186": "56",
    "188": "58",
    # Gmobile
    "199": "59",
}

#: Mobile network prefixes in use today (2 digits after the trunk 0, 9-digit national number).
MOBILE_PREFIXES: frozenset[str] = frozenset(
    {
        *(f"3{d}" for d in "23456789"),  # Viettel 032–039
        "52", "55", "56", "58", "59",  # Vietnamobile, Reddi, Vietnamobile, Gmobile
        "70", "76", "77", "78", "79",  # MobiFone
        *(f"8{d}" for d in "123456789"),  # VinaPhone 081–085, 088; Viettel 086; iTel 087; MobiFone 089
        "90", "91", "92", "93", "94", "96", "97", "98", "99",
    }
)  # fmt: skip

#: 2017 landline renumbering, the full official table: province → (old code, new code).
#: Four provinces kept their codes (Vĩnh Phúc, Phú Thọ, Hòa Bình, Hà Giang).
LANDLINE_AREA_CODES_2017: dict[str, tuple[str, str]] = {
    "Sơn La": ("22", "212"),
    "Lai Châu": ("231", "213"),
    "Lào Cai": ("20", "214"),
    "Điện Biên": ("230", "215"),
    "Yên Bái": ("29", "216"),
    "Quảng Bình": ("52", "232"),
    "Quảng Trị": ("53", "233"),
    "Thừa Thiên Huế": ("54", "234"),
    "Quảng Nam": ("510", "235"),
    "Đà Nẵng": ("511", "236"),
    "Thanh Hóa": ("37", "237"),
    "Nghệ An": ("38", "238"),
    "Hà Tĩnh": ("39", "239"),
    "Quảng Ninh": ("33", "203"),
    "Bắc Giang": ("240", "204"),
    "Lạng Sơn": ("25", "205"),
    "Cao Bằng": ("26", "206"),
    "Tuyên Quang": ("27", "207"),
    "Thái Nguyên": ("280", "208"),
    "Bắc Kạn": ("281", "209"),
    "Hải Dương": ("320", "220"),
    "Hưng Yên": ("321", "221"),
    "Bắc Ninh": ("241", "222"),
    "Hải Phòng": ("31", "225"),
    "Hà Nam": ("351", "226"),
    "Thái Bình": ("36", "227"),
    "Nam Định": ("350", "228"),
    "Ninh Bình": ("30", "229"),
    "Cà Mau": ("780", "290"),
    "Bạc Liêu": ("781", "291"),
    "Cần Thơ": ("710", "292"),
    "Hậu Giang": ("711", "293"),
    "Trà Vinh": ("74", "294"),
    "An Giang": ("76", "296"),
    "Kiên Giang": ("77", "297"),
    "Sóc Trăng": ("79", "299"),
    "Hà Nội": ("4", "24"),
    "TP. Hồ Chí Minh": ("8", "28"),
    "Đồng Nai": ("61", "251"),
    "Bình Thuận": ("62", "252"),
    "Bà Rịa - Vũng Tàu": ("64", "254"),
    "Quảng Ngãi": ("55", "255"),
    "Bình Định": ("56", "256"),
    "Phú Yên": ("57", "257"),
    "Khánh Hòa": ("58", "258"),
    "Ninh Thuận": ("68", "259"),
    "Kon Tum": ("60", "260"),
    "Đắk Nông": ("501", "261"),
    "Đắk Lắk": ("500", "262"),
    "Lâm Đồng": ("63", "263"),
    "Gia Lai": ("59", "269"),
    "Vĩnh Long": ("70", "270"),
    "Bình Phước": ("651", "271"),
    "Long An": ("72", "272"),
    "Tiền Giang": ("73", "273"),
    "Bình Dương": ("650", "274"),
    "Bến Tre": ("75", "275"),
    "Tây Ninh": ("66", "276"),
    "Đồng Tháp": ("67", "277"),
    "Vĩnh Phúc": ("211", "211"),
    "Phú Thọ": ("210", "210"),
    "Hòa Bình": ("218", "218"),
    "Hà Giang": ("219", "219"),
}

OLD_TO_NEW_AREA_CODE: dict[str, str] = {old: new for old, new in LANDLINE_AREA_CODES_2017.values()}
CURRENT_AREA_CODES: frozenset[str] = frozenset(new for _, new in LANDLINE_AREA_CODES_2017.values())

#: Caller IDs that mean "the caller hid their number" (compared case-insensitively).
ANONYMOUS_CALLER_IDS: frozenset[str] = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "private",
        "withheld",
        "unknown",
        "unavailable",
        "<unknown>",
        "asterisk",
        "số ẩn",
        "so an",
    }
)

VN_COUNTRY_CODE = "84"
_FORMATTING = re.compile(r"[\s.\-()/\u00a0\u2010-\u2015]")
_TEL_SCHEME = re.compile(r"^(?:tel|sip):", re.IGNORECASE)
_SIP_HOST = re.compile(r"@.*$")
_BRACKETED_CODE = re.compile(r"^\s*(?:\+?84\s*)?\(\s*0?([1-9]\d{0,2})\s*\)")
_SEPARATORS = re.compile(r"\s*(?:[/,;|\n]|\bhoặc\b|\bor\b|\bvà\b|&)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Phone:
    """A valid number: ``e164`` is what is stored and matched (``+84912345678``)."""

    e164: str
    kind: PhoneKind

    @property
    def national(self) -> str:
        """The number as Vietnamese people write it: ``0912 345 678``, ``024 3823 4567``."""
        return format_national(self.e164)


@dataclass(frozen=True)
class Anonymous:
    """The caller withheld their number: a valid call, never a customer match."""

    raw: str = ""


@dataclass(frozen=True)
class InvalidPhone:
    """Not a usable number; ``reason`` says why in words a user can act on.

    ``message`` is an English message id with ``{placeholders}`` (translated by the
    UI), ``params`` fills them; ``reason`` is the English text.
    """

    raw: str
    message: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def reason(self) -> str:
        return self.message.format(**dict(self.params))


PhoneResult = Phone | Anonymous | InvalidPhone


def normalize_phone(raw: str | int | float | None) -> PhoneResult:
    """Normalise any written or dialled form of a number.

    Returns :class:`Phone` (with ``e164``, e.g. ``"+84383456789"``) for a valid
    number, :class:`Anonymous` for a withheld caller ID (``"anonymous"``, empty,
    ``"Restricted"``…), or :class:`InvalidPhone` with a ``reason``. Accepts Excel's
    numeric cells (``912345678`` or ``912345678.0``, leading zero lost), ``+84``/``84``/
    ``0084`` prefixes, ``tel:``/``sip:`` URIs, and pre-2017/2018 numbers, which are
    translated to today's numbering.
    """
    if raw is None:
        return Anonymous("")
    if isinstance(raw, bool):
        return InvalidPhone(str(raw), "not a phone number")
    if isinstance(raw, float):
        if not raw.is_integer() or raw < 0:
            return InvalidPhone(repr(raw), "not a phone number")
        raw = int(raw)
    text = str(raw).strip()
    if text.lower().strip('"') in ANONYMOUS_CALLER_IDS:
        return Anonymous(text)
    cleaned = _SIP_HOST.sub("", _TEL_SCHEME.sub("", text))
    bracketed = _BRACKETED_CODE.match(cleaned)
    compact = _FORMATTING.sub("", cleaned)
    if not compact:
        return Anonymous(text)
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not digits.isdigit():
        return InvalidPhone(text, "contains characters that are not digits")
    if digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        if not digits.startswith(VN_COUNTRY_CODE):
            if 8 <= len(digits) <= 15 and digits[0] != "0":
                return Phone("+" + digits, "international")
            return InvalidPhone(text, "not a valid international number")
        national = digits[2:].removeprefix("0")
    elif digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith(VN_COUNTRY_CODE) and len(digits) in (11, 12):
        national = digits[2:]
    else:
        national = digits  # Excel dropped the trunk 0, or a service number
    if bracketed is not None:
        code = bracketed.group(1)
        new_code = code if code in CURRENT_AREA_CODES else OLD_TO_NEW_AREA_CODE.get(code)
        if new_code is not None and national.startswith(code):
            # An explicit ``(0xx)`` area code: the writer meant a landline, old code or new.
            return _landline(text, new_code, national[len(code) :])
    return _classify_national(text, national)


def _landline(text: str, code: str, subscriber: str) -> PhoneResult:
    expected = 10 - len(code)
    if len(subscriber) != expected:
        return InvalidPhone(
            text,
            "a landline with area code 0{code} has {expected} digits after the code",
            (("code", code), ("expected", str(expected))),
        )
    if subscriber[0] in "01":
        return InvalidPhone(text, "a landline number cannot start with 0 or 1 after the code")
    return Phone(f"+84{code}{subscriber}", "landline")


def _classify_national(text: str, national: str) -> PhoneResult:
    """Classify a national significant number (no trunk 0) and bring it up to date."""
    length = len(national)
    if national.startswith(("1800", "1900")) and length in (8, 10):
        return Phone(f"+84{national}", "service")
    if length == 9:
        if national[:2] in MOBILE_PREFIXES:
            return Phone(f"+84{national}", "mobile")
        for old in (national[:1], national[:2]):  # old 1- and 2-digit landline codes
            new = OLD_TO_NEW_AREA_CODE.get(old)
            if new is not None and len(old) + (8 if len(old) == 1 else 7) == 9:
                return _landline(text, new, national[len(old) :])
        return InvalidPhone(
            text, "0{prefix} is not a Vietnamese mobile or area code", (("prefix", national[:2]),)
        )
    if length == 10:
        if national.startswith("1"):
            new_prefix = MOBILE_RENUMBERING_2018.get(national[:3])
            if new_prefix is None:
                return InvalidPhone(
                    text, "0{prefix} is not a known old mobile prefix", (("prefix", national[:3]),)
                )
            return Phone(f"+84{new_prefix}{national[3:]}", "mobile")
        if national[:2] in ("24", "28") and national[2] not in "01":
            return Phone(f"+84{national}", "landline")
        if national[:3] in CURRENT_AREA_CODES:
            return _landline(text, national[:3], national[3:])
        old_new = OLD_TO_NEW_AREA_CODE.get(national[:3])
        if old_new is not None:
            return _landline(text, old_new, national[3:])
        return InvalidPhone(
            text, "0{prefix} is not a Vietnamese area code", (("prefix", national[:3]),)
        )
    if length < 9:
        return InvalidPhone(text, "too few digits for a Vietnamese number")
    return InvalidPhone(text, "too many digits for a Vietnamese number")


def split_phones(cell: str | int | float | None) -> list[str]:
    """Split a cell that holds several numbers (``0903 111 222 / 0977 333 444``)."""
    if cell is None:
        return []
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return [str(int(cell)) if float(cell).is_integer() else str(cell)]
    parts = [part.strip() for part in _SEPARATORS.split(str(cell))]
    return [part for part in parts if part]


def format_national(e164: str) -> str:
    """Display form: ``+84912345678`` → ``0912 345 678``; landlines group after the code."""
    if not e164.startswith("+84"):
        return e164
    national = e164[3:]
    if national.startswith(("1800", "1900")):
        return f"{national[:4]} {national[4:]}"
    if len(national) == 9:
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    if national[:2] in ("24", "28"):
        return f"0{national[:2]} {national[2:6]} {national[6:]}"
    return f"0{national[:3]} {national[3:6]} {national[6:]}"


def e164_or_none(raw: str | int | float | None) -> str | None:
    """The E.164 form of a valid number, else None (anonymous and invalid alike)."""
    result = normalize_phone(raw)
    return result.e164 if isinstance(result, Phone) else None


def caller_id_number(raw: str) -> str:
    """A caller ID as call records keep it: E.164 for a valid number (``0399000999`` →
    ``+84399000999``), else the text as the trunk sent it, so a withheld (``anonymous``) or
    unusable one (an extension, garbage) stays what it was and is never mistaken for a number."""
    result = normalize_phone(raw)
    return result.e164 if isinstance(result, Phone) else raw
