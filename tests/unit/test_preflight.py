"""Preflight at the last moment (R-EXEC-6; LESSONS 8, 27; btcturk-api.md §7)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import D, make_intent, make_rules
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.fees import VAT_RATE, fee_schedule
from btcbot.domain.models import Denial, OrderMethod, Side
from btcbot.domain.preflight import Preflighted, preflight

FAST = settings(max_examples=300, deadline=None)
HEADROOM_TRY = D("0.0024") * (1 + VAT_RATE)  # taker fee + 18% VAT
RICH = D("1000000000")
CAP = D("250")


def _ok(result: Preflighted | Denial) -> Preflighted:
    assert isinstance(result, Preflighted), getattr(result, "reason", result)
    return result


def _denied(result: Preflighted | Denial, code: str) -> Denial:
    assert isinstance(result, Denial), result
    assert result.code == code, result.reason
    return result


# -- quantization ---------------------------------------------------------------------------------------------


def test_preflight_buy_price_rounds_down_quantity_rounds_down() -> None:
    intent = make_intent(side=Side.BUY, price="2000000.9", quantity="0.000123456789")
    checked = _ok(preflight(intent, make_rules(), RICH, RICH, CAP))
    assert checked.price == D(2000000)
    assert checked.quantity == D("0.00012345")
    assert checked.bumped is False
    assert checked.intent is intent
    assert checked.notional == D(2000000) * D("0.00012345")


def test_preflight_sell_price_rounds_up_quantity_rounds_down() -> None:
    intent = make_intent(side=Side.SELL, price="2000000.1", quantity="0.000123456789")
    checked = _ok(preflight(intent, make_rules(), RICH, RICH, CAP))
    assert checked.price == D(2000001)
    assert checked.quantity == D("0.00012345")


def test_preflight_usdttry_price_scale_respected_per_side() -> None:
    rules = make_rules("USDTTRY", base_scale=2, price_scale=3)
    buy = _ok(preflight(make_intent("USDTTRY", Side.BUY, "41.37159", "10.999"), rules, RICH, RICH, CAP))
    sell = _ok(preflight(make_intent("USDTTRY", Side.SELL, "41.37111", "10.999"), rules, RICH, RICH, CAP))
    assert (buy.price, buy.quantity) == (D("41.371"), D("10.99"))
    assert (sell.price, sell.quantity) == (D("41.372"), D("10.99"))


# -- denial codes -------------------------------------------------------------------------------------------


def test_preflight_untradable_symbol_denied_rules_not_tradable() -> None:
    denial = _denied(preflight(make_intent(), make_rules(tradable=False), RICH, RICH, CAP), "RULES_NOT_TRADABLE")
    assert denial.detail == {"symbol": "BTCTRY"}


def test_preflight_market_method_denied_rules_method_unsupported() -> None:
    intent = make_intent(method=OrderMethod.MARKET)
    denial = _denied(preflight(intent, make_rules(), RICH, RICH, CAP), "RULES_METHOD_UNSUPPORTED")
    assert denial.detail == {"method": "market"}


@pytest.mark.parametrize(("price", "quantity"), [("0", "0.001"), ("-1", "0.001"), ("2000000", "0"),
                                                 ("2000000", "-0.001")])
def test_preflight_non_positive_amounts_denied(price: str, quantity: str) -> None:
    intent = make_intent(price=price, quantity=quantity)
    _denied(preflight(intent, make_rules(), RICH, RICH, CAP), "PREFLIGHT_NON_POSITIVE")


def test_preflight_buy_price_below_one_step_denied_rounds_to_zero() -> None:
    intent = make_intent(price="0.9", quantity="1000")
    denial = _denied(preflight(intent, make_rules(min_price="0"), RICH, RICH, RICH), "PREFLIGHT_PRICE_ROUNDS_TO_ZERO")
    assert denial.detail == {"price": "0.9", "scale": "0"}


@pytest.mark.parametrize("side", list(Side))
def test_preflight_price_above_max_denied_out_of_band(side: Side) -> None:
    intent = make_intent(side=side, price="300000000", quantity="0.001")
    denial = _denied(preflight(intent, make_rules(), RICH, RICH, RICH), "PRICE_OUT_OF_BAND")
    assert denial.detail["high"] == "100000000"


def test_preflight_price_below_band_denied_out_of_band() -> None:
    rules = make_rules(band_low="1800000", band_high="2200000")
    intent = make_intent(side=Side.BUY, price="1700000", quantity="0.001")
    denial = _denied(preflight(intent, rules, RICH, RICH, RICH), "PRICE_OUT_OF_BAND")
    assert denial.detail == {"price": "1700000", "low": "1800000", "high": "2200000"}


def test_preflight_sell_rounding_up_crosses_band_edge_denied() -> None:
    # the band check sees the quantized price: 2200000.2 rounds up to 2200001 for a sell
    rules = make_rules(band_low="1800000", band_high="2200000")
    intent = make_intent(side=Side.SELL, price="2200000.2", quantity="0.001")
    _denied(preflight(intent, rules, RICH, RICH, RICH), "PRICE_OUT_OF_BAND")


def test_preflight_buy_rounding_down_into_band_accepted() -> None:
    rules = make_rules(band_low="1800000", band_high="2200000")
    intent = make_intent(side=Side.BUY, price="2200000.7", quantity="0.001")
    assert _ok(preflight(intent, rules, RICH, RICH, RICH)).price == D(2200000)


def test_preflight_zero_min_notional_quantity_rounding_to_zero_denied() -> None:
    intent = make_intent(quantity="0.000000001")
    denial = _denied(preflight(intent, make_rules(min_notional="0"), RICH, RICH, CAP),
                     "PREFLIGHT_QUANTITY_ROUNDS_TO_ZERO")
    assert denial.detail["scale"] == "8"


# -- min notional and the bump (LESSONS 27) ---------------------------------------------------------------


def test_preflight_100_try_usdttry_buy_quantized_below_min_bumped_to_clear_it() -> None:
    # 100 TRY at 41.37: 2.4172... floors to 2.41 → 99.70 TRY < 99.91, FAILED_MIN_TOTAL_AMOUNT on the venue
    rules = make_rules("USDTTRY", base_scale=2, price_scale=2)
    intent = make_intent("USDTTRY", Side.BUY, "41.37", D(100) / D("41.37"))
    assert rules.quantize_quantity(intent.quantity) * D("41.37") < D("99.91")
    checked = _ok(preflight(intent, rules, RICH, RICH, CAP))
    assert checked.bumped is True
    assert checked.quantity == D("2.42")
    assert checked.notional >= rules.min_notional
    assert checked.notional == D("100.1154")


def test_preflight_btctry_buy_just_under_min_bumped_by_one_step() -> None:
    intent = make_intent(price="3456789", quantity="0.0000289")  # 99.90 TRY
    checked = _ok(preflight(intent, make_rules(), RICH, RICH, CAP))
    assert checked.bumped is True
    assert checked.quantity == D("0.00002891")
    assert checked.notional >= D("99.91")


def test_preflight_buy_at_or_above_min_not_bumped() -> None:
    intent = make_intent(price="2000000", quantity="0.00005")  # 100 TRY exactly
    checked = _ok(preflight(intent, make_rules(), RICH, RICH, CAP))
    assert checked.bumped is False and checked.quantity == D("0.00005")


def test_preflight_buy_bump_beyond_cap_denied_min_notional() -> None:
    intent = make_intent(price="3456789", quantity="0.0000289")
    denial = _denied(preflight(intent, make_rules(), RICH, RICH, D("99.92")), "PREFLIGHT_MIN_NOTIONAL")
    assert denial.detail["min_notional"] == "99.91"
    assert denial.detail["bump_to"] == "0.00002891"


def test_preflight_buy_bump_exactly_at_cap_accepted() -> None:
    intent = make_intent(price="3456789", quantity="0.0000289")
    cap = D(3456789) * D("0.00002891")
    assert _ok(preflight(intent, make_rules(), RICH, RICH, cap)).bumped is True


def test_preflight_sell_below_min_never_bumped_denied() -> None:
    intent = make_intent(side=Side.SELL, price="3456789", quantity="0.0000289")
    denial = _denied(preflight(intent, make_rules(), RICH, RICH, RICH), "PREFLIGHT_MIN_NOTIONAL")
    assert denial.detail["notional"] == "99.9012021"


def test_preflight_sell_of_all_held_below_min_not_bumped_beyond_holding() -> None:
    held = D("0.0000289")
    intent = make_intent(side=Side.SELL, price="3456789", quantity=held)
    result = preflight(intent, make_rules(), RICH, held, RICH)
    assert isinstance(result, Denial) and result.code == "PREFLIGHT_MIN_NOTIONAL"


# -- balances and fee headroom ---------------------------------------------------------------------------


def test_fee_headroom_try_is_taker_plus_vat() -> None:
    assert fee_schedule("TRY").headroom == HEADROOM_TRY == D("0.002832")
    assert fee_schedule("USDT").headroom == D("0.0014") * D("1.18")
    assert fee_schedule("EUR") == fee_schedule("TRY")


def test_preflight_buy_free_quote_covers_notional_plus_fee_accepted() -> None:
    intent = make_intent(price="2000000", quantity="0.0001")  # 200 TRY
    needed = D(200) * (1 + HEADROOM_TRY)
    assert _ok(preflight(intent, make_rules(), needed, D(0), CAP)).notional == D(200)


def test_preflight_buy_free_quote_covers_notional_but_not_fee_denied() -> None:
    intent = make_intent(price="2000000", quantity="0.0001")
    free = D(200) * (1 + HEADROOM_TRY) - D("0.01")
    assert free > D(200)
    denial = _denied(preflight(intent, make_rules(), free, D(0), CAP), "BALANCE_INSUFFICIENT")
    assert denial.detail["asset"] == "TRY"
    assert D(denial.detail["needed"]) == D("200.5664")


def test_preflight_buy_ignores_base_balance() -> None:
    intent = make_intent(price="2000000", quantity="0.0001")
    assert isinstance(preflight(intent, make_rules(), RICH, D(0), CAP), Preflighted)


def test_preflight_sell_more_than_free_base_denied() -> None:
    intent = make_intent(side=Side.SELL, price="2000000", quantity="0.0002")
    denial = _denied(preflight(intent, make_rules(), RICH, D("0.00019999"), CAP), "BALANCE_INSUFFICIENT")
    assert denial.detail == {"asset": "BTC", "needed": "0.0002", "free": "0.00019999"}


def test_preflight_sell_exactly_free_base_accepted_without_quote() -> None:
    intent = make_intent(side=Side.SELL, price="2000000", quantity="0.0002")
    assert _ok(preflight(intent, make_rules(), D(0), D("0.0002"), CAP)).quantity == D("0.0002")


def test_preflight_denial_reason_formats_code_and_detail() -> None:
    denial = _denied(preflight(make_intent(), make_rules(tradable=False), RICH, RICH, CAP), "RULES_NOT_TRADABLE")
    assert denial.reason == "RULES_NOT_TRADABLE: symbol=BTCTRY"


# -- properties -------------------------------------------------------------------------------------------


prices = st.decimals(min_value=D(100), max_value=D(5000000), places=3, allow_nan=False, allow_infinity=False)
notionals = st.decimals(min_value=D("99.91"), max_value=D(1000), places=4, allow_nan=False, allow_infinity=False)
base_scales = st.integers(min_value=2, max_value=8)


@given(prices, notionals, base_scales, st.sampled_from(list(Side)))
@FAST
def test_preflight_any_order_result_quantized_side_aware_and_clears_minimum(
    price: Decimal, notional: Decimal, base_scale: int, side: Side
) -> None:
    rules = make_rules(base_scale=base_scale)
    intent = make_intent(side=side, price=price, quantity=notional / price)
    result = preflight(intent, rules, RICH, RICH, RICH)
    if isinstance(result, Denial):
        # with ample balances and cap, only a sell that quantizes below the minimum may be refused
        assert side is Side.SELL and result.code == "PREFLIGHT_MIN_NOTIONAL"
        return
    assert result.notional >= rules.min_notional
    assert result.price <= price if side is Side.BUY else result.price >= price
    assert rules.scale_ok(result.price, rules.price_scale) and rules.scale_ok(result.quantity, base_scale)
    if result.bumped:
        assert side is Side.BUY
        assert result.quantity == rules.min_quantity_at(result.price)
    else:
        assert result.quantity <= intent.quantity


@given(prices, notionals, base_scales, st.decimals(min_value=D(0), max_value=D(2000), places=2))
@FAST
def test_preflight_buy_bump_only_within_cap(price: Decimal, notional: Decimal, base_scale: int, cap: Decimal) -> None:
    rules = make_rules(base_scale=base_scale)
    intent = make_intent(side=Side.BUY, price=price, quantity=notional / price)
    result = preflight(intent, rules, RICH, RICH, cap)
    if isinstance(result, Preflighted):
        assert result.notional >= rules.min_notional
        if result.bumped:
            assert result.notional <= cap
    else:
        assert result.code == "PREFLIGHT_MIN_NOTIONAL"
        assert rules.min_quantity_at(rules.quantize_price(price, Side.BUY)) * rules.quantize_price(
            price, Side.BUY) > cap


@given(prices, notionals, st.decimals(min_value=D(0), max_value=D(2000), places=2))
@FAST
def test_preflight_buy_accepted_never_needs_more_than_free_quote(
    price: Decimal, notional: Decimal, free: Decimal
) -> None:
    intent = make_intent(side=Side.BUY, price=price, quantity=notional / price)
    result = preflight(intent, make_rules(), free, D(0), D(2000))
    if isinstance(result, Preflighted):
        assert result.notional * (1 + HEADROOM_TRY) <= free
    else:
        assert result.code == "BALANCE_INSUFFICIENT"


@given(prices, notionals, st.decimals(min_value=D(0), max_value=D(10), places=8))
@FAST
def test_preflight_sell_never_exceeds_free_base(price: Decimal, notional: Decimal, held: Decimal) -> None:
    intent = make_intent(side=Side.SELL, price=price, quantity=notional / price)
    result = preflight(intent, make_rules(), D(0), held, RICH)
    if isinstance(result, Preflighted):
        assert result.quantity <= held and not result.bumped
    else:
        assert result.code in {"BALANCE_INSUFFICIENT", "PREFLIGHT_MIN_NOTIONAL"}
