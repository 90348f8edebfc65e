"""The candle fill model: CandleFeed ticks and the matching engine's range rule (adapters/sim/candles.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from factories import T0, make_candles

from btcbot.adapters.sim.candles import VOLUME_SHARE, CandleFeed, candle_pair
from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.engine import MatchingEngine, fee_and_tax
from btcbot.adapters.sim.market import MarketTick
from btcbot.domain.candles import Candle
from btcbot.domain.fees import VAT_RATE, fee_schedule
from btcbot.domain.models import ExchangeOrderStatus

D = Decimal
MINUTE = timedelta(minutes=1)


class OneTick:
    """A feed whose every tick is the given MarketTick (built around a fixed candle range)."""

    def __init__(self, low: str, high: str, buy_flow: str, sell_flow: str, mid: str = "3500000") -> None:
        self.candle_feed = CandleFeed([Candle(T0, D(mid), D(high), D(low), D(mid), D(1))], seed=1)
        self.args = (D(low), D(high), D(buy_flow), D(sell_flow))

    def tick(self, symbol, tick, previous_mid, rules, at):  # type: ignore[no-untyped-def]
        low, high, buy_flow, sell_flow = self.args
        book = self.candle_feed.book(symbol, previous_mid, D(1), rules, at)
        if tick == 0:
            return MarketTick(previous_mid, book)
        return MarketTick(previous_mid, book, buy_flow=buy_flow, sell_flow=sell_flow, low=low, high=high)


def engine_with(feed: object) -> MatchingEngine:
    config = SimConfig(pairs=(candle_pair("BTCTRY", D(3500000)),), auto_advance=False)
    return MatchingEngine.create(config, feed, T0)  # type: ignore[arg-type]


def rest(engine: MatchingEngine, side: str, price: str, qty: str) -> int:
    order = engine.submit(symbol="BTCTRY", side=side, method="limit", price=D(price), quantity=D(qty),
                          client_order_id=f"{side}{price}", now=T0)
    assert order.status is ExchangeOrderStatus.UNTOUCHED  # rests: the test prices never cross the book
    return order.order_id


@pytest.mark.parametrize(("price", "filled"), [("3490001", "0.001"), ("3490000", "0"), ("3489999", "0")])
def test_range_resting_buy_fills_only_when_low_trades_below_its_price(price: str, filled: str) -> None:
    engine = engine_with(OneTick(low="3490000", high="3510000", buy_flow="5", sell_flow="5"))
    order_id = rest(engine, "buy", price, "0.001")
    engine.advance(T0 + MINUTE, ticks=1)
    order = engine.state.orders[order_id]
    assert order.quantity - order.left == D(filled)  # a touch (low == price) does not fill


@pytest.mark.parametrize(("price", "filled"), [("3509999", "0.001"), ("3510000", "0")])
def test_range_resting_sell_fills_only_when_high_trades_above_its_price(price: str, filled: str) -> None:
    engine = engine_with(OneTick(low="3490000", high="3510000", buy_flow="5", sell_flow="5"))
    engine.state.holdings["BTC"].free = D("0.01")
    order_id = rest(engine, "sell", price, "0.001")
    engine.advance(T0 + MINUTE, ticks=1)
    order = engine.state.orders[order_id]
    assert order.quantity - order.left == D(filled)


def test_range_fill_is_limited_by_the_flow_best_price_first_as_maker_at_own_price() -> None:
    engine = engine_with(OneTick(low="3400000", high="3510000", buy_flow="0", sell_flow="0.0015"))
    low_bid = rest(engine, "buy", "3495000", "0.001")
    high_bid = rest(engine, "buy", "3496000", "0.001")
    engine.advance(T0 + MINUTE, ticks=1)
    high, low = engine.state.orders[high_bid], engine.state.orders[low_bid]
    assert high.status is ExchangeOrderStatus.CLOSED and high.left == 0
    assert low.status is ExchangeOrderStatus.PARTIAL and low.left == D("0.0005")
    fills = [f.report for f in engine.state.fills]
    assert [(f.price, f.quantity) for f in fills] == [(D(3496000), D("0.001")), (D(3495000), D("0.0005"))]
    maker = fee_schedule("TRY").maker
    assert all(engine.state.fills[i].maker for i in range(2))
    assert [(f.fee, f.tax) for f in fills] == [fee_and_tax(f.price * f.quantity, maker, VAT_RATE) for f in fills]


def test_range_tick_does_not_take_book_levels_with_resting_orders() -> None:
    engine = engine_with(OneTick(low="3499999", high="3500001", buy_flow="0", sell_flow="0"))
    order_id = rest(engine, "buy", "3498000", "0.001")  # below every ask of the next book: no taker match
    engine.advance(T0 + MINUTE, ticks=1)
    assert engine.state.orders[order_id].left == D("0.001")


def test_candle_feed_ticks_follow_the_candles_deterministically() -> None:
    candles = make_candles([3500000, 3510000, 3490000], volume="2")
    rules = candle_pair("BTCTRY", D(3500000))
    config = SimConfig(pairs=(rules,))
    engine = MatchingEngine.create(config, CandleFeed(candles, seed=7), T0)
    pair_rules = engine.rules("BTCTRY")
    feed, again = CandleFeed(candles, seed=7), CandleFeed(candles, seed=7)
    first = feed.tick("BTCTRY", 0, D(0), pair_rules, T0)
    assert first.mid == candles[0].open and first.low is None
    tick = feed.tick("BTCTRY", 2, D(0), pair_rules, T0)
    assert (tick.mid, tick.low, tick.high) == (candles[1].close, candles[1].low, candles[1].high)
    assert tick == again.tick("BTCTRY", 2, D(0), pair_rules, T0)
    assert 0 <= tick.buy_flow <= 2 * VOLUME_SHARE * candles[1].volume
    assert tick.book.best_bid is not None and tick.book.best_ask is not None
    assert tick.book.best_bid < candles[1].close < tick.book.best_ask
    other = CandleFeed(candles, seed=8).tick("BTCTRY", 2, D(0), pair_rules, T0)
    assert (other.buy_flow, other.sell_flow) != (tick.buy_flow, tick.sell_flow)


def test_candle_feed_builds_books_only_where_cycles_read_them() -> None:
    candles = make_candles([100000 + i for i in range(7)])
    rules = engine_with(CandleFeed(candles, seed=1)).rules("BTCTRY")
    feed = CandleFeed(candles, seed=1, book_every=3)
    books = [bool(feed.tick("BTCTRY", t, D(0), rules, T0).book.bids) for t in range(8)]
    assert books == [True, False, False, True, False, False, True, True]  # 0, every 3rd and the last


def test_candle_pair_known_symbol_keeps_its_rules_other_try_pair_gets_btcturk_fees() -> None:
    btc = candle_pair("BTCTRY", D(3400000))
    assert (btc.price_scale, btc.base_scale, btc.start_price) == (0, 8, D(3400000))
    doge = candle_pair("DOGETRY", D("5.123"))
    assert (doge.price_scale, doge.maker_fee, doge.taker_fee) == (4, fee_schedule("TRY").maker,
                                                                  fee_schedule("TRY").taker)
    assert candle_pair("XYZTRY", D(42000)).price_scale == 0


def test_candle_feed_refuses_empty_candles() -> None:
    with pytest.raises(ValueError, match="at least one candle"):
        CandleFeed([], seed=1)
