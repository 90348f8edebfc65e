"""Symbol rules and side-aware quantization (btcturk-api.md §7.1-7.2, R-EXEC-6, LESSONS 27)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import make_rules
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.models import Side
from btcbot.domain.symbols import SYMBOL_RE, SymbolRules, split_symbol

FAST = settings(max_examples=200, deadline=None)

scales = st.integers(min_value=0, max_value=8)
prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000000"), allow_nan=False,
                     allow_infinity=False, places=10)
quantities = st.decimals(min_value=Decimal(0), max_value=Decimal("100000"), allow_nan=False,
                         allow_infinity=False, places=14)
min_notionals = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), allow_nan=False,
                            allow_infinity=False, places=2)


def _step(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# -- split_symbol / SYMBOL_RE ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [("BTCTRY", ("BTC", "TRY")), ("USDTTRY", ("USDT", "TRY")), ("BTCUSDT", ("BTC", "USDT")),
     ("ETHUSDT", ("ETH", "USDT")), ("SHIBTRY", ("SHIB", "TRY"))],
)
def test_split_symbol_try_and_usdt_pairs_split(symbol: str, expected: tuple[str, str]) -> None:
    assert split_symbol(symbol) == expected


@pytest.mark.parametrize("symbol", ["BTCEUR", "TRY", "USDT", "XTRY", "", "BTC"])
def test_split_symbol_unsupported_raises_value_error(symbol: str) -> None:
    with pytest.raises(ValueError, match="not a TRY or USDT pair"):
        split_symbol(symbol)


@pytest.mark.parametrize("symbol", ["BTCTRY", "ETHUSDT", "USDTTRY", "1INCHTRY"])
def test_symbol_re_valid_pairs_match(symbol: str) -> None:
    assert SYMBOL_RE.match(symbol)


@pytest.mark.parametrize("symbol", ["btctry", "BTC-TRY", "BTC_TRY", "BTCEUR", "TRY", "ABCDEFGHIJKTRY"])
def test_symbol_re_malformed_pairs_rejected(symbol: str) -> None:
    assert SYMBOL_RE.match(symbol) is None


# -- quantity ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("0.123456789", "0.12345678"), ("0.00000001", "0.00000001"), ("0.000000009", "0"), ("1", "1")],
)
def test_quantize_quantity_btctry_examples_round_down(quantity: str, expected: str) -> None:
    assert make_rules().quantize_quantity(Decimal(quantity)) == Decimal(expected)


@given(quantities, scales)
@FAST
def test_quantize_quantity_any_input_down_within_one_step_and_scale(quantity: Decimal, scale: int) -> None:
    rules = make_rules(base_scale=scale)
    result = rules.quantize_quantity(quantity)
    assert result <= quantity
    assert quantity - result < _step(scale)
    assert _decimals(result) <= scale
    assert rules.scale_ok(result, scale)
    assert rules.quantize_quantity(result) == result


# -- price -------------------------------------------------------------------------------------------------


def test_quantize_price_btctry_buy_rounds_down_sell_rounds_up() -> None:
    rules = make_rules()
    assert rules.quantize_price(Decimal("2000000.7"), Side.BUY) == Decimal(2000000)
    assert rules.quantize_price(Decimal("2000000.2"), Side.SELL) == Decimal(2000001)


def test_quantize_price_on_scale_unchanged_for_both_sides() -> None:
    rules = make_rules(price_scale=2)
    for side in Side:
        assert rules.quantize_price(Decimal("41.37"), side) == Decimal("41.37")


@given(prices, scales)
@FAST
def test_quantize_price_buy_never_above_input_within_one_step(price: Decimal, scale: int) -> None:
    rules = make_rules(price_scale=scale)
    result = rules.quantize_price(price, Side.BUY)
    assert result <= price
    assert price - result < _step(scale)
    assert _decimals(result) <= scale
    assert rules.quantize_price(result, Side.BUY) == result


@given(prices, scales)
@FAST
def test_quantize_price_sell_never_below_input_within_one_step(price: Decimal, scale: int) -> None:
    rules = make_rules(price_scale=scale)
    result = rules.quantize_price(price, Side.SELL)
    assert result >= price
    assert result - price < _step(scale)
    assert _decimals(result) <= scale
    assert rules.quantize_price(result, Side.SELL) == result


@given(prices, scales)
@FAST
def test_quantize_price_buy_and_sell_bracket_input(price: Decimal, scale: int) -> None:
    rules = make_rules(price_scale=scale)
    buy, sell = rules.quantize_price(price, Side.BUY), rules.quantize_price(price, Side.SELL)
    assert buy <= price <= sell
    assert sell - buy in (0, _step(scale))


def test_quantize_quote_rounds_down_to_quote_scale() -> None:
    assert make_rules(quote_scale=2).quantize_quote(Decimal("196.665")) == Decimal("196.66")


# -- min_quantity_at -----------------------------------------------------------------------------------------


def test_min_quantity_at_btctry_clears_min_notional() -> None:
    rules = make_rules()
    quantity = rules.min_quantity_at(Decimal(3456789))
    assert quantity == Decimal("0.00002891")
    assert quantity * 3456789 >= Decimal("99.91")
    assert (quantity - Decimal("0.00000001")) * 3456789 < Decimal("99.91")


@pytest.mark.parametrize("price", ["0", "-1"])
def test_min_quantity_at_non_positive_price_raises_value_error(price: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_rules().min_quantity_at(Decimal(price))


@given(prices, scales, min_notionals)
@FAST
def test_min_quantity_at_any_price_is_smallest_quantity_clearing_minimum(
    price: Decimal, scale: int, min_notional: Decimal
) -> None:
    rules = make_rules(base_scale=scale, min_notional=min_notional)
    quantity = rules.min_quantity_at(price)
    assert quantity * price >= min_notional
    assert (quantity - _step(scale)) * price < min_notional
    assert _decimals(quantity) <= scale
    assert rules.quantize_quantity(quantity) == quantity


# -- price band / scale_ok -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "inside"),
    [("1", True), ("100000000", True), ("0.5", False), ("100000001", False)],
)
def test_price_in_band_min_max_limits_inclusive(price: str, inside: bool) -> None:
    assert make_rules().price_in_band(Decimal(price)) is inside


@pytest.mark.parametrize(
    ("price", "inside"),
    [("1800000", True), ("2200000", True), ("1799999", False), ("2200001", False), ("2000000", True)],
)
def test_price_in_band_optional_band_applies(price: str, inside: bool) -> None:
    rules = make_rules(band_low="1800000", band_high="2200000")
    assert rules.price_in_band(Decimal(price)) is inside


@pytest.mark.parametrize(
    ("value", "scale", "ok"),
    [("1.23", 2, True), ("1.230", 2, True), ("1.231", 2, False), ("100", 0, True), ("0.5", 0, False)],
)
def test_scale_ok_counts_significant_decimals(value: str, scale: int, ok: bool) -> None:
    assert make_rules().scale_ok(Decimal(value), scale) is ok


def test_symbol_rules_frozen_assignment_raises() -> None:
    rules: SymbolRules = make_rules()
    with pytest.raises(AttributeError):
        rules.base_scale = 2  # type: ignore[misc]
