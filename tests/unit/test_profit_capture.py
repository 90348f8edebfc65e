"""Stage-3 profit capture strategy (R-STRAT): flat → buy at bid, position → sell at max(ask, target)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import D, make_book, make_position, make_rules, make_snapshot, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.accounting import Position
from btcbot.domain.models import Side
from btcbot.domain.strategies import Strategy
from btcbot.domain.strategies.exits import ExitParams
from btcbot.domain.strategies.profit_capture import ProfitCapture, ProfitCaptureParams

STRATEGY = ProfitCapture(ProfitCaptureParams(order_notional_try=D(250), min_profit_bps=D(50)))


def test_profit_capture_satisfies_strategy_protocol() -> None:
    strategy: Strategy = STRATEGY
    assert strategy.name == "profit_capture"


def test_profit_capture_flat_buys_notional_at_best_bid() -> None:
    [intent] = STRATEGY.decide(make_snapshot([make_book(bid="2000000", ask="2001000")]), {})
    assert intent.side is Side.BUY and intent.symbol == "BTCTRY"
    assert intent.price == D(2000000)
    assert intent.quantity == D("0.000125")
    assert intent.notional == D(250)
    assert intent.exit_kind is None
    assert intent.reference_price == D(2001000)
    assert intent.reason == "profit_capture_entry"


def test_profit_capture_flat_does_not_round_quantity() -> None:
    # quantization belongs to the symbol rules at preflight
    [intent] = STRATEGY.decide(make_snapshot([make_book(bid="3456789", ask="3460000")]), {})
    assert abs(intent.notional - D(250)) < D("1e-30")
    assert intent.quantity != make_rules().quantize_quantity(intent.quantity)


def test_profit_capture_zero_quantity_position_counts_as_flat() -> None:
    positions = {"BTCTRY": Position("BTCTRY")}
    [intent] = STRATEGY.decide(make_snapshot(), positions)
    assert intent.side is Side.BUY


def test_profit_capture_position_sells_all_at_ask_when_above_target() -> None:
    # target = 1,900,000 × 1.005 = 1,909,500 < ask 2,001,000
    positions = {"BTCTRY": make_position(quantity="0.00123456", avg_cost="1900000")}
    [intent] = STRATEGY.decide(make_snapshot([make_book(bid="2000000", ask="2001000")]), positions)
    assert intent.side is Side.SELL
    assert intent.quantity == D("0.00123456")
    assert intent.price == D(2001000)
    assert intent.exit_kind == "profit"
    assert intent.reference_price == D(2000000)


def test_profit_capture_position_sells_at_min_profit_target_when_above_ask() -> None:
    # target = 2,000,000 × 1.005 = 2,010,000 > ask 2,001,000
    positions = {"BTCTRY": make_position(quantity="0.001", avg_cost="2000000")}
    [intent] = STRATEGY.decide(make_snapshot([make_book(bid="2000000", ask="2001000")]), positions)
    assert intent.side is Side.SELL
    assert intent.price == D(2010000)


def test_profit_capture_dust_position_counts_as_flat() -> None:
    # 0.00004 BTC × 2,000,000 = 80 TRY < 99.91: cannot be sold, so the strategy buys again
    positions = {"BTCTRY": make_position(quantity="0.00004")}
    [intent] = STRATEGY.decide(make_snapshot(), positions)
    assert intent.side is Side.BUY
    assert intent.notional == D(250)


def test_profit_capture_position_exactly_min_notional_sells() -> None:
    positions = {"BTCTRY": make_position(quantity="0.00004995", avg_cost="1000000")}
    snapshot = make_snapshot([make_book(bid="2000000", ask="2001000")],
                             [make_rules(min_notional="99.9")])
    [intent] = STRATEGY.decide(snapshot, positions)
    assert intent.side is Side.SELL


def test_profit_capture_usdt_pair_converts_try_notional_via_usdttry_mid() -> None:
    books = [make_book("BTCUSDT", "60000", "60010"), make_book("USDTTRY", "40", "42")]  # mid 41
    rules = [make_rules("BTCUSDT", min_notional="10"), make_rules("USDTTRY", base_scale=2, price_scale=2)]
    intents = {i.symbol: i for i in STRATEGY.decide(make_snapshot(books, rules), {})}
    btcusdt = intents["BTCUSDT"]
    assert btcusdt.side is Side.BUY and btcusdt.price == D(60000)
    assert abs(btcusdt.notional - D(250) / D(41)) < D("1e-30")
    assert abs(btcusdt.notional * 41 - D(250)) < D("1e-30")
    usdttry = intents["USDTTRY"]
    assert usdttry.price == D(40) and usdttry.notional == D(250)


def test_profit_capture_usdt_pair_without_usdttry_book_skipped() -> None:
    books = [make_book("BTCUSDT", "60000", "60010")]
    assert STRATEGY.decide(make_snapshot(books, [make_rules("BTCUSDT")]), {}) == []


def test_profit_capture_usdt_pair_dust_measured_in_usdt() -> None:
    books = [make_book("BTCUSDT", "60000", "60010"), make_book("USDTTRY", "40", "42")]
    rules = [make_rules("BTCUSDT", min_notional="10"), make_rules("USDTTRY", base_scale=2, price_scale=2)]
    positions = {"BTCUSDT": make_position("BTCUSDT", quantity="0.0002", avg_cost="59000")}  # 12 USDT ≥ 10
    intents = {i.symbol: i for i in STRATEGY.decide(make_snapshot(books, rules), positions)}
    assert intents["BTCUSDT"].side is Side.SELL


def test_profit_capture_book_missing_a_side_skipped() -> None:
    for book in (make_book(bid=None), make_book(ask=None)):
        assert STRATEGY.decide(make_snapshot([book], [make_rules()]), {}) == []


def test_profit_capture_symbol_without_rules_skipped() -> None:
    assert STRATEGY.decide(make_snapshot([make_book()], rules=[]), {}) == []


def test_profit_capture_several_symbols_sorted_one_intent_each() -> None:
    books = [make_book("ETHTRY", "100000", "100100"), make_book("BTCTRY")]
    intents = STRATEGY.decide(make_snapshot(books), {})
    assert [i.symbol for i in intents] == ["BTCTRY", "ETHTRY"]


@given(st.decimals(min_value=D(1000), max_value=D(5000000), places=0),
       st.decimals(min_value=D(1), max_value=D(1000), places=0),
       st.decimals(min_value=D("0.00005"), max_value=D(1), places=8),
       st.decimals(min_value=D(1000), max_value=D(6000000), places=2),
       st.decimals(min_value=D(0), max_value=D(500), places=0))
@settings(max_examples=200, deadline=None)
def test_profit_capture_any_position_sell_price_at_least_ask_and_target(
    bid: Decimal, spread: Decimal, quantity: Decimal, avg_cost: Decimal, bps: Decimal
) -> None:
    strategy = ProfitCapture(ProfitCaptureParams(D(250), bps))
    ask = bid + spread
    positions = {"BTCTRY": make_position(quantity=quantity, avg_cost=avg_cost)}
    [intent] = strategy.decide(make_snapshot([make_book(bid=bid, ask=ask)]), positions)
    if quantity * bid >= D("99.91"):
        assert intent.side is Side.SELL and intent.quantity == quantity
        assert intent.price >= ask
        assert intent.price >= positions["BTCTRY"].avg_cost * (1 + bps / 10_000)
        assert intent.price in (ask, positions["BTCTRY"].avg_cost * (1 + bps / 10_000))
    else:
        assert intent.side is Side.BUY and intent.price == bid


def _trailing_strategy() -> ProfitCapture:
    exits = ExitParams(D(0), D(0), 0, D(10), D(300), trailing=True)
    return ProfitCapture(ProfitCaptureParams(D(250), D(50), exits))


def test_profit_capture_triggered_trail_replaces_the_profit_sell() -> None:
    positions = {"BTCTRY": make_position(quantity="0.001", avg_cost="1900000")}
    trails = {"BTCTRY": make_trail(mark="2050000")}  # trigger 2,019,250 ≥ bid 2,000,000
    [intent] = _trailing_strategy().decide(make_snapshot(), positions, {}, trails)
    assert intent.side is Side.SELL and intent.exit_kind == "trailing_stop"
    assert intent.reason == "trailing_stop_exit" and intent.price == D(2000000)
    assert intent.quantity == D("0.001") and intent.reference_price == D(2019250)


def test_profit_capture_trailing_on_holds_without_a_profit_sell() -> None:
    positions = {"BTCTRY": make_position(quantity="0.001", avg_cost="1900000")}  # 5 % up: a profit sell would rest
    armed = {"BTCTRY": make_trail(mark="2010000")}  # trigger 1,979,850 < bid
    assert _trailing_strategy().decide(make_snapshot(), positions, {}, armed) == []
    assert _trailing_strategy().decide(make_snapshot(), positions, {}, {}) == []  # waiting for activation


def test_profit_capture_trailing_on_still_buys_when_flat_or_dust() -> None:
    dust = {"BTCTRY": make_position(quantity="0.00004")}
    for positions in ({}, dust):
        [intent] = _trailing_strategy().decide(make_snapshot(), positions, {}, {})
        assert intent.side is Side.BUY


def test_profit_capture_trail_gap_beyond_floor_is_refused_intent() -> None:
    positions = {"BTCTRY": make_position(quantity="0.001", avg_cost="1900000")}
    trails = {"BTCTRY": make_trail(mark="2200000")}  # trigger 2,167,000, floor 2,101,990 > bid
    [intent] = _trailing_strategy().decide(make_snapshot(), positions, {}, trails)
    assert intent.reason == "trailing_stop_exit_refused" and intent.meta["refused"] == "gap"


@pytest.mark.parametrize(("bid", "ask"), [("0", "2001000"), ("2000000", "0"), ("-1", "2001000")])
def test_profit_capture_non_positive_book_price_no_intent(bid: str, ask: str) -> None:
    # issue 8: a zero bid once reached the strategy and raised DivisionByZero
    snapshot = make_snapshot([make_book(bid=bid, ask=ask)])
    assert STRATEGY.decide(snapshot, {}) == []
    assert STRATEGY.decide(snapshot, {"BTCTRY": make_position(quantity="0.01")}) == []


def test_profit_capture_usdt_pair_zero_usdttry_mid_skipped() -> None:
    books = [make_book("USDTTRY", bid="0", ask="0"), make_book("BTCUSDT", bid="60000", ask="60010")]
    assert [i.symbol for i in STRATEGY.decide(make_snapshot(books), {})] == []
