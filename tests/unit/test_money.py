"""Money helpers (ARCHITECTURE §6 "Decimal only"; LESSONS 9): strict conversion and canonical strings."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.money import (
    FloatRejected,
    ceil_to_scale,
    dec_str,
    floor_to_scale,
    round_to_scale,
    to_decimal,
)

FAST = settings(max_examples=200, deadline=None)

finite_decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e15"),
                              max_value=Decimal("1e15"), places=None)
places_decimals = st.integers(min_value=0, max_value=30).flatmap(
    lambda p: st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e15"),
                          max_value=Decimal("1e15"), places=p)
)


# -- to_decimal -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan"), float("inf"), -0.0])
def test_to_decimal_float_raises_float_rejected(value: float) -> None:
    with pytest.raises(FloatRejected, match="float"):
        to_decimal(value)


@pytest.mark.parametrize("value", [True, False])
def test_to_decimal_bool_raises_float_rejected(value: bool) -> None:
    with pytest.raises(FloatRejected):
        to_decimal(value)


def test_to_decimal_float_rejected_is_type_error() -> None:
    assert issubclass(FloatRejected, TypeError)


@given(st.floats(allow_nan=True, allow_infinity=True))
@FAST
def test_to_decimal_any_float_raises_float_rejected(value: float) -> None:
    with pytest.raises(FloatRejected):
        to_decimal(value)


@pytest.mark.parametrize("value", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", Decimal("NaN"),
                                   Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_to_decimal_non_finite_raises_value_error(value: str | Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        to_decimal(value)


@pytest.mark.parametrize("value", ["", "abc", "1.2.3", "1,2,3", "1.234,56", "0x10", "--1"])
def test_to_decimal_garbage_string_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="not a decimal number"):
        to_decimal(value, field="price")


@pytest.mark.parametrize("value", [None, [1], b"1", object()])
def test_to_decimal_unsupported_type_raises_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        to_decimal(value)


def test_to_decimal_error_message_names_field() -> None:
    with pytest.raises(FloatRejected, match=r"^fee:"):
        to_decimal(0.5, field="fee")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0,5", "0.5"), ("99,91", "99.91"), ("-1,25", "-1.25"), (" 12,0 ", "12.0")],
)
def test_to_decimal_comma_decimal_parsed_as_point(text: str, expected: str) -> None:
    assert to_decimal(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", Decimal("1.5")), (" 2 ", Decimal(2)), (7, Decimal(7)), (Decimal("0.10"), Decimal("0.10")),
     ("1e-8", Decimal("0.00000001")), ("-3", Decimal(-3))],
)
def test_to_decimal_str_int_decimal_accepted_exactly(value: object, expected: Decimal) -> None:
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected


def test_to_decimal_decimal_input_returned_unchanged() -> None:
    value = Decimal("123.4500")
    assert to_decimal(value) is value


@given(places_decimals)
@FAST
def test_to_decimal_str_of_decimal_round_trips(value: Decimal) -> None:
    assert to_decimal(str(value)) == value


# -- dec_str --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("0E-8"), "0"),
        (Decimal("0.00000000"), "0"),
        (Decimal("1.2300"), "1.23"),
        (Decimal("100"), "100"),
        (Decimal("1E+5"), "100000"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("-2.50"), "-2.5"),
        (Decimal("99.91"), "99.91"),
    ],
)
def test_dec_str_examples_canonical(value: Decimal, expected: str) -> None:
    assert dec_str(value) == expected


@pytest.mark.parametrize("value", [1.5, 1, "1", True])
def test_dec_str_non_decimal_raises_float_rejected(value: object) -> None:
    with pytest.raises(FloatRejected):
        dec_str(value)  # type: ignore[arg-type]


@given(finite_decimals)
@FAST
def test_dec_str_any_decimal_round_trips_exactly(value: Decimal) -> None:
    assert to_decimal(dec_str(value)) == value


@given(finite_decimals)
@FAST
def test_dec_str_any_decimal_has_no_exponent_or_trailing_zero(value: Decimal) -> None:
    text = dec_str(value)
    assert "e" not in text.lower()
    if "." in text:
        assert not text.endswith("0") and not text.endswith(".")
    assert text != "-0"


@given(finite_decimals, st.integers(min_value=0, max_value=8))
@FAST
def test_dec_str_equal_values_same_string(value: Decimal, extra_zeros: int) -> None:
    text = format(value, "f")
    padded = Decimal(text + ("" if "." in text else ".") + "0" * extra_zeros) if extra_zeros else value
    assert padded == value
    assert dec_str(padded) == dec_str(value)


def test_dec_str_more_digits_than_context_precision_round_trips() -> None:
    # 60 significant digits: the canonical string must not round (the module's context holds 50).
    value = Decimal("123456789012345678901234567890.123456789012345678901234567891")
    assert dec_str(value) == "123456789012345678901234567890.123456789012345678901234567891"
    assert Decimal(dec_str(value)) == value


def test_dec_str_long_value_with_trailing_zeros_strips_without_rounding() -> None:
    value = Decimal("1.00000000000000000000000000000000000000000000000000000001000")
    assert dec_str(value) == "1.00000000000000000000000000000000000000000000000000000001"


# -- rounding helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "value", "scale", "expected"),
    [
        (floor_to_scale, "1.239", 2, "1.23"),
        (floor_to_scale, "-1.239", 2, "-1.23"),
        (ceil_to_scale, "1.231", 2, "1.24"),
        (ceil_to_scale, "1.230", 2, "1.23"),
        (round_to_scale, "1.225", 2, "1.22"),
        (round_to_scale, "1.235", 2, "1.24"),
        (floor_to_scale, "123.9", 0, "123"),
        (ceil_to_scale, "0.000000001", 8, "0.00000001"),
    ],
)
def test_rounding_helpers_examples_expected(func: object, value: str, scale: int, expected: str) -> None:
    result = func(Decimal(value), scale)  # type: ignore[operator]
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -scale


@given(st.decimals(min_value=0, max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False),
       st.integers(min_value=0, max_value=12))
@FAST
def test_floor_and_ceil_positive_bracket_value_within_one_step(value: Decimal, scale: int) -> None:
    step = Decimal(1).scaleb(-scale)
    low, high = floor_to_scale(value, scale), ceil_to_scale(value, scale)
    assert low <= value <= high
    assert high - low in (0, step)
    assert value - low < step


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=Decimal("-1E+30"),
                   max_value=Decimal("1E+30")) | finite_decimals)
@FAST
def test_dec_str_equals_the_normalized_form_without_exponent(value: Decimal) -> None:
    exact = decimal.Context(prec=max(1, len(value.as_tuple().digits)))
    expected = "0" if value == 0 else format(value.normalize(exact), "f")
    assert dec_str(value) == expected
