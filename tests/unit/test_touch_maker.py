"""Stage-4 strategy "touch maker" (R-STRAT): maker orders at the touch toward a target position, exits on the
ladder via decide_exit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from factories import T0, D, make_book, make_order, make_position, make_rules, make_snapshot
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.models import Side
from btcbot.domain.strategies import Strategy
from btcbot.domain.strategies.exits import ExitParams
from btcbot.domain.strategies.profit_capture import ProfitCaptureParams
from btcbot.domain.strategies.touch_maker import TouchMaker

STRATEGY = TouchMaker(ProfitCaptureParams(order_notional_try=D(250), min_profit_bps=D(50)))
BOOK = make_book(bid="2000000", ask="2001000")


def test_touch_maker_satisfies_strategy_protocol() -> None:
    strategy: Strategy = STRATEGY
    assert strategy.name == "touch_maker"


def test_touch_maker_flat_buys_target_at_best_bid() -> None:
    [buy] = STRATEGY.decide(make_snapshot([BOOK]), {})
    assert (buy.side, buy.price, buy.notional, buy.reason) == (Side.BUY, D(2000000), D(250), "touch_maker_buy")
    assert buy.reference_price == D(2001000) and buy.exit_kind is None


def test_touch_maker_partial_position_sells_it_at_ask_and_buys_the_rest_at_bid() -> None:
    positions = {"BTCTRY": make_position(quantity="0.00006", avg_cost="1900000")}  # 120 TRY at the bid
    sell, buy = STRATEGY.decide(make_snapshot([BOOK]), positions)
    assert (sell.side, sell.price, sell.quantity, sell.exit_kind) == (Side.SELL, D(2001000), D("0.00006"), "profit")
    assert (buy.side, buy.price) == (Side.BUY, D(2000000))
    assert buy.notional == D(250) - D("0.00006") * D(2000000)  # what is missing to the target


def test_touch_maker_sell_never_below_min_profit_target() -> None:
    positions = {"BTCTRY": make_position(quantity="0.000125", avg_cost="2000000")}
    [sell] = STRATEGY.decide(make_snapshot([BOOK]), positions)
    assert sell.price == D(2000000) * D("1.005")  # above the ask: the target is the floor


def test_touch_maker_full_position_sells_only() -> None:
    positions = {"BTCTRY": make_position(quantity="0.000125", avg_cost="1900000")}
    assert [i.side for i in STRATEGY.decide(make_snapshot([BOOK]), positions)] == [Side.SELL]


def test_touch_maker_remainder_below_min_notional_not_bought() -> None:
    positions = {"BTCTRY": make_position(quantity="0.0001", avg_cost="1900000")}  # 200 TRY: 50 missing < 99.91
    assert [i.side for i in STRATEGY.decide(make_snapshot([BOOK]), positions)] == [Side.SELL]


def test_touch_maker_dust_position_not_sold_full_target_bought_less_dust() -> None:
    positions = {"BTCTRY": make_position(quantity="0.00001", avg_cost="1900000")}  # 20 TRY: below min notional
    [buy] = STRATEGY.decide(make_snapshot([BOOK]), positions)
    assert buy.side is Side.BUY and buy.notional == D(230)


def test_touch_maker_triggered_exit_replaces_sell_and_stops_buys() -> None:
    exits = ExitParams(stop_loss_bps=D(100), take_profit_bps=D(0), position_ttl_minutes=0, ladder_step_bps=D(10),
                       max_slippage_bps=D(300))
    strategy = TouchMaker(ProfitCaptureParams(D(250), D(50), exits))
    positions = {"BTCTRY": make_position(quantity="0.00006", avg_cost="2050000")}  # bid 2.0M ≤ stop 2,029,500
    [exit_] = strategy.decide(make_snapshot([BOOK]), positions)
    assert (exit_.side, exit_.exit_kind, exit_.price, exit_.quantity) == (Side.SELL, "stop_loss", D(2000000),
                                                                          D("0.00006"))


def test_touch_maker_exit_ladder_steps_with_earlier_legs() -> None:
    exits = ExitParams(D(0), D(0), position_ttl_minutes=1, ladder_step_bps=D(10), max_slippage_bps=D(300))
    strategy = TouchMaker(ProfitCaptureParams(D(250), D(50), exits))
    position = make_position(quantity="0.00006", avg_cost="1900000")
    snapshot = make_snapshot([BOOK], now=T0 + timedelta(minutes=5))
    leg = replace(make_order("leg", side=Side.SELL, price="2000000"), exit_kind="ttl")
    [exit_] = strategy.decide(snapshot, {"BTCTRY": position}, {"BTCTRY": [leg]})
    assert exit_.exit_kind == "ttl" and exit_.price == D(2000000) * (1 - D(10) / D(10000))


def test_touch_maker_usdt_pair_target_converted_at_usdttry() -> None:
    snapshot = make_snapshot([make_book("BTCUSDT", "50000", "50010"), make_book("USDTTRY", "40", "40.2")],
                             [make_rules("BTCUSDT", price_scale=2, min_notional="1"), make_rules("USDTTRY")])
    buys = {i.symbol: i for i in STRATEGY.decide(snapshot, {}) if i.side is Side.BUY}
    assert abs(buys["BTCUSDT"].notional - D(250) / D("40.1")) < D("1e-20")  # USDTTRY mid, unrounded


def test_touch_maker_symbol_without_book_or_rules_skipped() -> None:
    assert STRATEGY.decide(make_snapshot([BOOK], rules=[]), {}) == []


@given(st.decimals(min_value=D(0), max_value=D("0.0002"), places=8))
def test_touch_maker_any_position_buy_plus_holding_never_exceeds_target(held: Decimal) -> None:
    positions = {"BTCTRY": make_position(quantity=held, avg_cost="1900000")} if held else {}
    intents = STRATEGY.decide(make_snapshot([BOOK]), positions)
    buys = [i for i in intents if i.side is Side.BUY]
    if buys:  # a buy only tops the holding up to the target
        assert sum((i.notional for i in buys), D(0)) + held * D(2000000) <= D(250) + D("1e-20")
    assert len(buys) <= 1 and len(intents) - len(buys) <= 1
