"""Vietnamese phone numbers: every written form of a number reaches the same E.164 value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.core.phones import (
    LANDLINE_AREA_CODES_2017,
    MOBILE_PREFIXES,
    MOBILE_RENUMBERING_2018,
    Anonymous,
    InvalidPhone,
    Phone,
    format_national,
    normalize_phone,
    split_phones,
)


@pytest.mark.parametrize(
    "raw",
    [
        "0912 345 678",
        "0912.345.678",
        "0912-345-678",
        "+84 912 345 678",
        "+84912345678",
        "84912345678",
        "0084 912 345 678",
        "+84 (0) 912 345 678",
        912345678,  # numeric Excel cell: the leading zero is gone
        912345678.0,
        "912345678",
        "tel:+84912345678",
        "sip:0912345678@10.0.0.5",
        " 0912\u00a0345\u00a0678 ",
    ],
)
def test_mobile_written_every_way(raw: object) -> None:
    assert normalize_phone(raw) == Phone("+84912345678", "mobile")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("0168 123 4567", "+84381234567"),  # Viettel 0168 → 038
        ("01621234567", "+84321234567"),
        ("+84 169 123 4567", "+84391234567"),
        ("0120 123 4567", "+84701234567"),  # MobiFone
        ("0121 123 4567", "+84791234567"),
        ("0122 123 4567", "+84771234567"),
        ("0126 123 4567", "+84761234567"),
        ("0128 123 4567", "+84781234567"),
        ("0123 123 4567", "+84831234567"),  # VinaPhone
        ("0124 123 4567", "+84841234567"),
        ("0125 123 4567", "+84851234567"),
        ("0127 123 4567", "+84811234567"),
        ("0129 123 4567", "+84821234567"),
        ("0186 123 4567", "+84561234567"),  # Vietnamobile
        ("0188 123 4567", "+84581234567"),
        ("0199 123 4567", "+84591234567"),  # Gmobile
        (1681234567, "+84381234567"),  # numeric cell of an old number
    ],
)
def test_2018_mobile_renumbering(old: str, new: str) -> None:
    assert normalize_phone(old) == Phone(new, "mobile")


def test_every_2018_prefix_maps_to_a_current_mobile_prefix() -> None:
    assert len(MOBILE_RENUMBERING_2018) == 21
    for old, new in MOBILE_RENUMBERING_2018.items():
        assert new in MOBILE_PREFIXES
        result = normalize_phone(f"0{old}1234567")
        assert result == Phone(f"+84{new}1234567", "mobile")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(028) 3823 4567", "+842838234567"),
        ("028 3823 4567", "+842838234567"),
        ("(08) 3823 4567", "+842838234567"),  # old HCMC code in brackets
        ("04 3823 4567", "+842438234567"),  # old Hà Nội code
        ("(024) 3823 4567", "+842438234567"),
        ("0511 3822 123", "+842363822123"),  # Đà Nẵng 0511 → 0236
        ("0236 3822 123", "+842363822123"),
        ("031 3842 123", "+842253842123"),  # Hải Phòng 031 → 0225
        ("0320 3812 345", "+842203812345"),  # Hải Dương 0320 → 0220
        ("0710 3812 345", "+842923812345"),  # Cần Thơ
        ("0211 3812 345", "+842113812345"),  # Vĩnh Phúc kept its code
        (2838234567, "+842838234567"),  # numeric cell
    ],
)
def test_landlines_and_2017_area_codes(raw: object, e164: str) -> None:
    assert normalize_phone(raw) == Phone(e164, "landline")  # type: ignore[arg-type]


def test_the_official_2017_table_is_complete_and_consistent() -> None:
    assert len(LANDLINE_AREA_CODES_2017) == 63  # every province
    changed = [p for p, (old, new) in LANDLINE_AREA_CODES_2017.items() if old != new]
    assert len(changed) == 59  # four provinces kept their codes
    news = [new for _, new in LANDLINE_AREA_CODES_2017.values()]
    olds = [old for old, _ in LANDLINE_AREA_CODES_2017.values()]
    assert len(set(news)) == 63 and len(set(olds)) == 63
    assert all(new.startswith("2") for new in news)
    for old, new in LANDLINE_AREA_CODES_2017.values():
        subscriber = "3" + "8" * (9 - len(new))  # 10-digit national number today
        assert normalize_phone(f"0{new}{subscriber}") == Phone(f"+84{new}{subscriber}", "landline")
        bracketed = normalize_phone(f"(0{old}) {subscriber}")
        assert bracketed == Phone(f"+84{new}{subscriber}", "landline"), (old, new)
        # Without brackets an old code is read as such unless it is a mobile prefix today
        # (038 was Nghệ An's code and is Viettel's now: the current plan wins).
        plain = normalize_phone(f"0{old} {subscriber}")
        national = old + subscriber
        if len(national) == 10 or national[:2] not in MOBILE_PREFIXES:
            assert plain == Phone(f"+84{new}{subscriber}", "landline"), (old, new)
        else:
            assert plain == Phone(f"+84{old}{subscriber}", "mobile"), (old, new)


@pytest.mark.parametrize("raw", ["anonymous", "Anonymous", "", "  ", "Restricted", "PRIVATE", None,
                                 "unknown", '"Anonymous"'])  # fmt: skip
def test_withheld_numbers_are_anonymous_not_invalid(raw: str | None) -> None:
    assert isinstance(normalize_phone(raw), Anonymous)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0912 34", "too few digits"),
        ("0912 345 678 999", "too many digits"),
        ("không có", "not digits"),
        ("0130 123 4567", "old mobile prefix"),
        ("0112 345 678", "not a Vietnamese mobile or area code"),
        ("0412 345 678", "cannot start with 0 or 1"),  # old Hà Nội code, bad subscriber
        ("0299 012 3456", "cannot start with 0 or 1"),
        ("+", "not"),
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    result = normalize_phone(raw)
    assert isinstance(result, InvalidPhone)
    assert reason in result.reason


def test_foreign_numbers_stay_international() -> None:
    assert normalize_phone("+1 415 555 2671") == Phone("+14155552671", "international")
    assert normalize_phone("0065 6123 4567") == Phone("+6561234567", "international")


def test_cells_with_two_numbers() -> None:
    assert split_phones("0903 111 222 / 0977 333 444") == ["0903 111 222", "0977 333 444"]
    assert split_phones("0903111222; 0977333444, 0912345678") == [
        "0903111222",
        "0977333444",
        "0912345678",
    ]
    assert split_phones("0903 111 222 hoặc 0977 333 444") == ["0903 111 222", "0977 333 444"]
    assert split_phones(912345678.0) == ["912345678"]
    assert split_phones(None) == []


# --- property-based: any formatting of a valid number gives the same E.164 ---

mobile_prefix = st.sampled_from(sorted(MOBILE_PREFIXES))
subscriber7 = st.text("0123456789", min_size=7, max_size=7)
separator = st.sampled_from(["", " ", ".", "-", "  "])


def _grouped(digits: str, sep: str, draw_sizes: list[int]) -> str:
    parts, index = [], 0
    for size in draw_sizes:
        if index >= len(digits):
            break
        parts.append(digits[index : index + size])
        index += size
    parts.append(digits[index:])
    return sep.join(part for part in parts if part)


@given(
    prefix=mobile_prefix,
    rest=subscriber7,
    sep=separator,
    sizes=st.lists(st.integers(1, 4), max_size=4),
    style=st.sampled_from(["0", "+84", "84", "0084", "", "+84 (0)"]),
)
def test_any_format_of_a_mobile_normalises_to_one_e164(
    prefix: str, rest: str, sep: str, sizes: list[int], style: str
) -> None:
    national = prefix + rest
    written = style + sep + _grouped(national, sep, sizes)
    result = normalize_phone(written)
    assert result == Phone(f"+84{national}", "mobile"), written
    # normalising the normalised form is a fixed point, and so is the displayed form
    assert normalize_phone(result.e164) == result
    assert normalize_phone(format_national(result.e164)) == result


@given(old=st.sampled_from(sorted(MOBILE_RENUMBERING_2018)), rest=subscriber7, sep=separator)
def test_old_and_new_forms_of_a_mobile_meet(old: str, rest: str, sep: str) -> None:
    before = normalize_phone(f"0{old}{sep}{rest[:3]}{sep}{rest[3:]}")
    after = normalize_phone(f"0{MOBILE_RENUMBERING_2018[old]}{rest}")
    assert isinstance(before, Phone) and before == after


@given(
    province=st.sampled_from(sorted(LANDLINE_AREA_CODES_2017)),
    first=st.sampled_from("2345678"),
    rest=st.text("0123456789", min_size=7, max_size=7),
    sep=separator,
)
def test_landlines_in_brackets_old_or_new_code(
    province: str, first: str, rest: str, sep: str
) -> None:
    old, new = LANDLINE_AREA_CODES_2017[province]
    subscriber = (first + rest)[: 10 - len(new)]
    expected = Phone(f"+84{new}{subscriber}", "landline")
    assert normalize_phone(f"(0{new}){sep}{subscriber}") == expected
    assert normalize_phone(f"(0{old}){sep}{subscriber}") == expected


@given(st.text(max_size=30))
def test_never_raises_and_always_classifies(text: str) -> None:
    result = normalize_phone(text)
    assert isinstance(result, Phone | Anonymous | InvalidPhone)
    if isinstance(result, Phone):
        assert result.e164.startswith("+") and result.e164[1:].isdigit()
        assert 9 <= len(result.e164) <= 16
    if isinstance(result, InvalidPhone):
        assert result.reason


@given(st.text("0123456789 .-+()", min_size=8, max_size=20))
def test_valid_vietnamese_results_have_a_valid_length(text: str) -> None:
    result = normalize_phone(text)
    if isinstance(result, Phone) and result.kind in ("mobile", "landline"):
        national = result.e164[3:]
        assert len(national) == (9 if result.kind == "mobile" else 10)
        prefixes = MOBILE_PREFIXES if result.kind == "mobile" else None
        assert prefixes is None or national[:2] in prefixes
