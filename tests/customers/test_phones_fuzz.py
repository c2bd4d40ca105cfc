"""Properties of the phone normaliser over any input an Excel cell or a trunk can carry."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.phones import (
    Anonymous,
    InvalidPhone,
    Phone,
    caller_id_number,
    e164_or_none,
    format_national,
    normalize_phone,
    split_phones,
)

digits_and_noise = st.text("0123456789 +-.()/;,tel:sip@x\u00a0", max_size=40)
any_cell = st.one_of(
    st.none(),
    st.text(max_size=40),
    digits_and_noise,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(any_cell)
def test_never_raises_on_any_cell(cell: object) -> None:
    result = normalize_phone(cell)  # type: ignore[arg-type]
    assert isinstance(result, Phone | Anonymous | InvalidPhone)
    for part in split_phones(cell):  # type: ignore[arg-type]
        assert isinstance(normalize_phone(part), Phone | Anonymous | InvalidPhone)
    assert e164_or_none(cell) in (None, getattr(result, "e164", None))  # type: ignore[arg-type]
    if isinstance(cell, str):
        assert caller_id_number(cell) in (cell, getattr(result, "e164", None))


@settings(max_examples=300, deadline=None)
@given(st.one_of(digits_and_noise, st.text(max_size=30)))
def test_a_valid_result_has_the_e164_shape_and_is_a_fixed_point(text: str) -> None:
    result = normalize_phone(text)
    if not isinstance(result, Phone):
        return
    assert result.e164[0] == "+" and result.e164[1:].isdigit() and result.e164[1] != "0"
    assert 8 <= len(result.e164) <= 16  # E.164: at most 15 digits after the "+"
    # Idempotent: the normalised form, and the form shown to people, normalise to itself.
    assert normalize_phone(result.e164) == result
    assert normalize_phone(format_national(result.e164)) == result
    assert caller_id_number(result.e164) == result.e164


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_numeric_cells_never_raise(value: float) -> None:
    """An Excel number cell can be NaN, infinite, negative or huge."""
    result = normalize_phone(value)
    if not math.isfinite(value):
        assert not isinstance(result, Phone)
    split_phones(value)
