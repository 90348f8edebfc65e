"""Simulator matching engine (R-EX-7): validation order, matching, fees, locks, cancels, time, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from btcbot.adapters.sim.config import DEFAULT_PAIRS, SimConfig
from btcbot.adapters.sim.engine import MatchingEngine, fee_and_tax
from btcbot.adapters.sim.exchange import random_walk_feed
from btcbot.adapters.sim.market import BookSnapshotFeed, RandomWalkFeed
from btcbot.adapters.sim.state import SimOrder
from btcbot.domain.errors import OrderNotFound, Rejected
from btcbot.domain.models import BookLevel, ExchangeOrderStatus, OrderBook, OrderMethod, Side

D = Decimal
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
TAKER_LOCK = D("1.002832")  # 1 + 0.0024 × 1.18
Status = ExchangeOrderStatus


def make_book(
    bids: tuple[tuple[str, str], ...] = (("3499000", "0.01"),),
    asks: tuple[tuple[str, str], ...] = (("3501000", "0.01"),),
    symbol: str = "BTCTRY",
) -> OrderBook:
    return OrderBook(
        symbol,
        tuple(BookLevel(D(p), D(q)) for p, q in bids),
        tuple(BookLevel(D(p), D(q)) for p, q in asks),
        T0,
    )


def make_engine(book: OrderBook | None = None, **overrides: object) -> tuple[MatchingEngine, BookSnapshotFeed]:
    feed = BookSnapshotFeed()
    feed.push(book if book is not None else make_book())
    config = SimConfig(**overrides)  # type: ignore[arg-type]
    return MatchingEngine.create(config, feed, T0), feed


def limit(
    engine: MatchingEngine, side: str, price: str, qty: str, now: datetime = T0, symbol: str = "BTCTRY"
) -> SimOrder:
    return engine.submit(
        symbol=symbol, side=side, method="limit", price=D(price), quantity=D(qty), client_order_id="c1", now=now
    )


def market(engine: MatchingEngine, side: str, qty: str, now: datetime = T0) -> SimOrder:
    return engine.submit(
        symbol="BTCTRY", side=side, method="market", price=D(0), quantity=D(qty), client_order_id="m1", now=now
    )


def free(engine: MatchingEngine, asset: str) -> Decimal:
    return engine.state.holdings[asset].free


def locked(engine: MatchingEngine, asset: str) -> Decimal:
    return engine.state.holdings[asset].locked


# ------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("side", "method", "price", "qty", "code", "numeric"),
    [
        ("buy", "limit", "3500000", "0", "FAILED_ORDER_PARAMETER", None),
        ("buy", "limit", "0", "0.001", "FAILED_ORDER_PARAMETER", None),
        ("buy", "stoplimit", "3500000", "0.001", "ORDER_METHOD_NOT_SUPPORTED", 1134),
        ("short", "limit", "3500000", "0.001", "ORDER_TYPE_NOT_SUPPORTED", 1193),
        ("buy", "limit", "3500000", "0.000000001", "FAILED_INVALID_QUANTITY_SCALE", 1127),
        ("buy", "market", "0", "150.001", "FAILED_INVALID_QUANTITY_SCALE", 1127),
        ("buy", "limit", "3500000.5", "0.001", "FAILED_INVALID_PRICE_SCALE", 1126),
        ("buy", "limit", "10000001", "0.001", "PRICE_MUST_BE_LESS_THAN_MAXPRICE", 1226),
        ("buy", "limit", "349999", "0.001", "PRICE_MUST_BE_LESS_THAN_MINPRICE", 1227),
        ("buy", "limit", "3500000", "0.00002", "FAILED_MIN_TOTAL_AMOUNT", 1123),
        ("buy", "market", "0", "99.90", "FAILED_MIN_TOTAL_AMOUNT", 1123),
        ("buy", "limit", "3500000", "0.01", "BALANCE_NOT_ENOUGH", 1055),
        ("sell", "limit", "3500000", "0.001", "BALANCE_NOT_ENOUGH", 1055),
        ("sell", "market", "0", "0.001", "BALANCE_NOT_ENOUGH", 1055),
    ],
)
def test_submit_invalid_order_rejected_with_btcturk_name(
    side: str, method: str, price: str, qty: str, code: str, numeric: int | None
) -> None:
    engine, _ = make_engine()
    with pytest.raises(Rejected) as info:
        engine.submit(
            symbol="BTCTRY", side=side, method=method, price=D(price), quantity=D(qty), client_order_id="c", now=T0
        )
    assert (info.value.code, info.value.numeric_code) == (code, numeric)


@pytest.mark.parametrize(
    ("side", "method", "price", "qty", "code"),
    [
        ("buy", "stoplimit", "3500000", "0", "FAILED_ORDER_PARAMETER"),  # params before method
        ("short", "stoplimit", "3500000.5", "0.000000001", "ORDER_METHOD_NOT_SUPPORTED"),  # method first
        ("buy", "limit", "10000001.5", "0.000000001", "FAILED_INVALID_QUANTITY_SCALE"),  # scale before band
        ("buy", "limit", "10000001", "0.000001", "PRICE_MUST_BE_LESS_THAN_MAXPRICE"),  # band before min total
        ("sell", "limit", "3500000", "0.00002", "FAILED_MIN_TOTAL_AMOUNT"),  # min total before balance
    ],
)
def test_submit_several_violations_first_rule_in_exchange_order_wins(
    side: str, method: str, price: str, qty: str, code: str
) -> None:
    engine, _ = make_engine()
    with pytest.raises(Rejected) as info:
        engine.submit(
            symbol="BTCTRY", side=side, method=method, price=D(price), quantity=D(qty), client_order_id="c", now=T0
        )
    assert info.value.code == code


def test_submit_unknown_pair_rejected_invalid_request() -> None:
    engine, _ = make_engine()
    with pytest.raises(Rejected) as info:
        limit(engine, "buy", "10", "20", symbol="XRPTRY")
    assert (info.value.code, info.value.numeric_code) == ("INVALID_REQUEST_ERROR", 1037)


def test_submit_market_disabled_rejected_failed_market_order() -> None:
    pairs = tuple(replace(p, market_orders=p.symbol != "BTCTRY") for p in DEFAULT_PAIRS)
    engine, _ = make_engine(pairs=pairs)
    with pytest.raises(Rejected) as info:
        market(engine, "buy", "500")
    assert (info.value.code, info.value.numeric_code) == ("FAILED_MARKET_ORDER", 1118)


def test_submit_funds_tied_in_open_orders_rejected_with_open_orders() -> None:
    engine, _ = make_engine()
    limit(engine, "buy", "3400000", "0.004")  # locks ~13,637 TRY
    with pytest.raises(Rejected) as info:
        limit(engine, "buy", "3400000", "0.003")  # needs ~10,229, free ~6,362, free+locked enough
    assert (info.value.code, info.value.numeric_code) == ("FAILED_ORDER_WITH_OPEN_ORDERS", 1122)


def test_submit_rejected_state_unchanged() -> None:
    engine, _ = make_engine()
    before = (engine.balances(), engine.state.next_order_id, dict(engine.state.orders))
    with pytest.raises(Rejected):
        limit(engine, "buy", "3500000", "0.01")
    assert (engine.balances(), engine.state.next_order_id, dict(engine.state.orders)) == before


def test_rules_band_follows_current_mid() -> None:
    engine, _ = make_engine()
    rules = engine.rules("btc_try")
    assert (rules.band_low, rules.band_high) == (D("350000"), D("35000000"))
    assert (rules.min_notional, rules.min_price, rules.max_price) == (D("99.91"), D("1E-13"), D("10000000"))
    assert (rules.base_scale, rules.price_scale, engine.rules("USDTTRY").price_scale) == (8, 0, 3)
    assert engine.rules("BTCUSDT").min_notional == D("10")


# ------------------------------------------------------------------------------------------- matching


def test_limit_buy_crossing_book_takes_levels_at_their_prices() -> None:
    engine, _ = make_engine(make_book(asks=(("3501000", "0.001"), ("3502000", "0.002"))))
    order = limit(engine, "buy", "3502000", "0.0025")
    fills = [f.report for f in engine.state.fills]
    assert [(f.price, f.quantity) for f in fills] == [(D("3501000"), D("0.001")), (D("3502000"), D("0.0015"))]
    assert [f.maker for f in engine.state.fills] == [False, False]
    assert [(f.fee, f.tax) for f in fills] == [(D("8.4024"), D("1.512432")), (D("12.6072"), D("2.269296"))]
    assert (order.status, order.left, order.locked) == (Status.CLOSED, D(0), D(0))
    assert free(engine, "TRY") == D("20000") - D("8778.791328")
    assert (locked(engine, "TRY"), free(engine, "BTC")) == (D(0), D("0.0025"))
    assert [(lvl.price, lvl.quantity) for lvl in engine.book("BTCTRY").asks] == [(D("3502000"), D("0.0005"))]


def test_limit_buy_partly_crossing_remainder_rests_partial_with_lock() -> None:
    engine, _ = make_engine(make_book(asks=(("3501000", "0.001"), ("3505000", "1"))))
    order = limit(engine, "buy", "3501000", "0.003")
    assert (order.status, order.left) == (Status.PARTIAL, D("0.002"))
    assert order.locked == D("3501000") * D("0.002") * TAKER_LOCK == D("7021.829664")
    assert locked(engine, "TRY") == order.locked
    assert free(engine, "TRY") == D("20000") - D("3510.914832") - D("7021.829664")


def test_resting_buy_filled_partially_then_fully_over_ticks_as_maker() -> None:
    engine, feed = make_engine()
    order = limit(engine, "buy", "3500000", "0.003")
    assert (order.status, order.locked) == (Status.UNTOUCHED, D("10529.736"))
    feed.push(make_book(bids=(("3497000", "1"),), asks=(("3499000", "0.001"), ("3500000", "0.0005"), ("3500500", "1"))))
    assert engine.advance(T0 + MINUTE) == 1
    assert (order.status, order.left) == (Status.PARTIAL, D("0.0015"))
    assert [(f.report.price, f.report.quantity, f.maker) for f in engine.state.fills] == [
        (D("3500000"), D("0.001"), True),
        (D("3500000"), D("0.0005"), True),
    ]
    assert order.locked == D("3500000") * D("0.0015") * TAKER_LOCK
    feed.push(make_book(bids=(("3497000", "1"),), asks=(("3498000", "0.01"),)))
    engine.advance(T0 + 2 * MINUTE)
    assert (order.status, order.left, order.locked, order.updated_at) == (Status.CLOSED, D(0), D(0), T0 + 2 * MINUTE)
    assert free(engine, "TRY") == D("20000") - D("10500") - D("12.6") - D("2.268")
    assert (locked(engine, "TRY"), free(engine, "BTC")) == (D(0), D("0.003"))


def test_resting_sell_filled_by_buy_flow_at_touch_as_maker() -> None:
    engine, feed = make_engine(initial_balances={"TRY": D("0"), "BTC": D("0.01")})
    order = limit(engine, "sell", "3501000", "0.003")
    assert (locked(engine, "BTC"), free(engine, "BTC")) == (D("0.003"), D("0.007"))
    feed.push(make_book(), buy_flow=D("0.001"))
    engine.advance(T0 + MINUTE)
    assert (order.status, order.left, order.locked) == (Status.PARTIAL, D("0.002"), D("0.002"))
    fill = engine.state.fills[-1]
    assert (fill.maker, fill.report.fee, fill.report.tax) == (True, D("4.2012"), D("0.756216"))
    assert free(engine, "TRY") == D("3501") - D("4.2012") - D("0.756216")


def test_fills_maker_and_taker_fees_with_18pct_tax_exact() -> None:
    engine, feed = make_engine(make_book(asks=(("3500000", "0.001"), ("3600000", "1"))))
    limit(engine, "buy", "3500000", "0.002")  # 0.001 taker now, 0.001 maker later
    feed.push(make_book(asks=(("3400000", "1"),)))
    engine.advance(T0 + MINUTE)
    taker, maker = (f.report for f in engine.state.fills)
    assert (taker.fee, taker.tax) == (D("8.4"), D("1.512"))  # 3500 × 0.24 %, 18 % of it
    assert (maker.fee, maker.tax) == (D("4.2"), D("0.756"))  # 3500 × 0.12 %
    assert free(engine, "TRY") == D("20000") - D("7000") - D("8.4") - D("1.512") - D("4.2") - D("0.756")


def test_fee_and_tax_rounded_down_to_8_decimals() -> None:
    assert fee_and_tax(D("123.456789"), D("0.0024"), D("0.18")) == (D("0.29629629"), D("0.05333333"))
    assert fee_and_tax(D("0.000001"), D("0.0012"), D("0.18")) == (D("0"), D("0"))


def test_usdt_pair_fill_uses_usdt_fee_schedule() -> None:
    book = make_book(bids=(("84990", "1"),), asks=(("85010", "1"),), symbol="BTCUSDT")
    engine, _ = make_engine(book)
    limit(engine, "buy", "85010", "0.001", symbol="BTCUSDT")
    fill = engine.state.fills[-1].report
    assert (fill.fee, fill.tax, fill.fee_asset) == (D("0.119014"), D("0.02142252"), "USDT")
    assert free(engine, "USDT") == D("2000") - D("85.01") - D("0.119014") - D("0.02142252")


def test_limit_sell_taker_credits_proceeds_minus_fee_and_tax() -> None:
    engine, _ = make_engine(initial_balances={"TRY": D("0"), "BTC": D("0.01")})
    order = limit(engine, "sell", "3499000", "0.002")
    assert order.status is Status.CLOSED
    assert free(engine, "TRY") == D("6998") - D("16.7952") - D("3.023136")
    assert (free(engine, "BTC"), locked(engine, "BTC")) == (D("0.008"), D(0))


def test_market_buy_spends_quote_amount_and_reports_base_bought() -> None:
    engine, _ = make_engine(make_book(asks=(("3501000", "0.001"), ("3510000", "0.01"))))
    order = market(engine, "buy", "5000")
    spent = D("20000") - free(engine, "TRY")
    assert spent == D("3510.914832") + D("1489.07555297") <= D("5000")
    assert (order.status, order.quantity, order.left, order.requested) == (
        Status.CLOSED,
        D("0.00142304"),
        D(0),
        D("5000"),
    )
    assert free(engine, "BTC") == order.quantity
    assert order.price == D("3503676")  # VWAP 3503675.51…, price scale 0


def test_market_buy_stops_at_5pct_from_best_ask() -> None:
    engine, _ = make_engine(make_book(asks=(("3500000", "0.0001"), ("3675001", "1"))))
    order = market(engine, "buy", "1000")
    assert (order.status, order.quantity, order.left) == (Status.CLOSED, D("0.0001"), D(0))
    assert [lvl.price for lvl in engine.book("BTCTRY").asks] == [D("3675001")]


def test_market_sell_walks_bids_until_cap_and_drops_rest() -> None:
    bids = (("3499000", "0.001"), ("3400000", "0.001"), ("3300000", "1"))
    engine, _ = make_engine(make_book(bids=bids), initial_balances={"BTC": D("0.01")})
    order = market(engine, "sell", "0.005")
    assert [f.report.price for f in engine.state.fills] == [D("3499000"), D("3400000")]
    assert (order.status, order.quantity, order.left) == (Status.CLOSED, D("0.002"), D(0))
    assert free(engine, "BTC") == D("0.008")


def test_market_order_on_empty_book_canceled_without_fill() -> None:
    engine, _ = make_engine(make_book(asks=()))
    order = market(engine, "buy", "500")
    assert (order.status, order.quantity, engine.state.fills) == (Status.CANCELED, D(0), [])
    assert free(engine, "TRY") == D("20000")


# ---------------------------------------------------------------------------------------- cancels


def test_cancel_open_order_immediate_releases_lock() -> None:
    engine, _ = make_engine()
    order = limit(engine, "buy", "3400000", "0.002")
    engine.cancel(order.order_id, T0 + MINUTE)
    assert (order.status, order.locked, order.updated_at) == (Status.CANCELED, D(0), T0 + MINUTE)
    assert (free(engine, "TRY"), locked(engine, "TRY")) == (D("20000"), D(0))
    assert engine.open_order_ids() == []


def test_cancel_with_delay_order_still_fills_until_due_then_canceled_with_left() -> None:
    engine, feed = make_engine(cancel_delay_seconds=90)
    order = limit(engine, "buy", "3500000", "0.003")
    engine.cancel(order.order_id, T0)
    assert order.status is Status.UNTOUCHED and order.cancel_due == T0 + timedelta(seconds=90)
    feed.push(make_book(asks=(("3499000", "0.001"), ("3600000", "1"))))
    engine.advance(T0 + MINUTE)
    assert (order.status, order.left) == (Status.PARTIAL, D("0.002"))
    feed.push(make_book(asks=(("3400000", "1"),)))
    engine.advance(T0 + 2 * MINUTE)  # due at +90 s: cancelled before the tick at +120 s matches
    assert (order.status, order.left, order.locked) == (Status.CANCELED, D("0.002"), D(0))
    assert order.updated_at == T0 + timedelta(seconds=90)
    assert len(engine.state.fills) == 1 and locked(engine, "TRY") == D(0)


def test_cancel_already_canceled_order_succeeds() -> None:
    engine, _ = make_engine()
    order = limit(engine, "buy", "3400000", "0.002")
    engine.cancel(order.order_id, T0)
    engine.cancel(order.order_id, T0 + MINUTE)
    assert order.status is Status.CANCELED and order.updated_at == T0


def test_cancel_closed_order_rejected_could_not_be_canceled() -> None:
    engine, _ = make_engine()
    order = limit(engine, "buy", "3501000", "0.001")
    assert order.status is Status.CLOSED
    with pytest.raises(Rejected) as info:
        engine.cancel(order.order_id, T0)
    assert (info.value.code, info.value.numeric_code) == ("ORDER_COULD_NOT_BE_CANCELED", 1050)


def test_cancel_unknown_id_raises_order_not_found() -> None:
    engine, _ = make_engine()
    with pytest.raises(OrderNotFound) as info:
        engine.cancel(123, T0)
    assert (info.value.code, info.value.numeric_code) == ("NO_ORDER_MATCHES_YOUR_REQUEST", 1051)


# ------------------------------------------------------------------------------------------- time


def test_create_starts_at_now_with_zero_ticks() -> None:
    engine, _ = make_engine()
    assert (engine.state.tick, engine.state.last_wall, engine.state.mids["BTCTRY"]) == (0, T0, D("3500000"))
    assert engine.state.mids["ETHTRY"] == D("120000")  # no book pushed: start price


def test_advance_wall_time_whole_ticks_keeps_remainder() -> None:
    engine, _ = make_engine()
    assert engine.advance(T0 + timedelta(seconds=150)) == 2
    assert engine.state.last_wall == T0 + 2 * MINUTE
    assert engine.advance(T0 + timedelta(seconds=179)) == 0
    assert engine.advance(T0 + timedelta(seconds=180)) == 1 and engine.state.tick == 3


def test_advance_wall_time_capped_at_max_ticks() -> None:
    engine, _ = make_engine(max_ticks_per_advance=5)
    assert engine.advance(T0 + timedelta(hours=1)) == 5
    assert engine.state.last_wall == T0 + timedelta(hours=1)


def test_advance_exact_ticks_interpolates_fill_times() -> None:
    engine, feed = make_engine()
    order = limit(engine, "buy", "3500000", "0.002")
    feed.push(make_book(asks=(("3499000", "0.001"),)))
    assert engine.advance(T0 + 10 * MINUTE, ticks=2) == 2
    assert [f.report.timestamp for f in engine.state.fills] == [T0 + 5 * MINUTE, T0 + 10 * MINUTE]
    assert order.status is Status.CLOSED


def test_advance_clock_before_last_event_does_nothing() -> None:
    engine, _ = make_engine()
    limit(engine, "buy", "3400000", "0.002", now=T0 + 5 * MINUTE)
    assert engine.advance(T0 + 3 * MINUTE) == 0 and engine.state.tick == 0


# ---------------------------------------------------------------------------------- random walk


def random_engine(seed: int = 42, **overrides: object) -> MatchingEngine:
    config = SimConfig(seed=seed, **overrides)  # type: ignore[arg-type]
    return MatchingEngine.create(config, random_walk_feed(config, seed), T0)


def run_script(engine: MatchingEngine) -> None:
    mid = engine.state.mids["BTCTRY"]
    for i, offset in enumerate(("0.999", "0.998", "1.0005", "0.997")):
        limit(engine, "buy", str(int(mid * D(offset))), "0.0005", now=T0 + i * MINUTE)
        engine.advance(T0 + (i + 1) * MINUTE)
    engine.advance(T0 + 4 * MINUTE + timedelta(hours=3))


def test_random_walk_same_seed_same_books_and_fills() -> None:
    first, second = random_engine(), random_engine()
    run_script(first)
    run_script(second)
    assert first.state.mids == second.state.mids
    assert first.state.books == second.state.books
    assert first.state.fills == second.state.fills and first.state.fills
    other = random_engine(seed=7)
    run_script(other)
    assert other.state.mids != first.state.mids


def test_random_walk_book_has_depth_spread_and_scale() -> None:
    feed = RandomWalkFeed(42)
    engine = random_engine()
    rules = engine.rules("USDTTRY")
    market = feed.tick("USDTTRY", 3, D("42.5"), rules, T0)
    book = market.book
    assert len(book.bids) == len(book.asks) == 10
    assert [b.price for b in book.bids] == sorted((b.price for b in book.bids), reverse=True)
    assert [a.price for a in book.asks] == sorted(a.price for a in book.asks)
    assert all(rules.scale_ok(lvl.price, 3) and rules.scale_ok(lvl.quantity, 2) for lvl in book.bids + book.asks)
    assert book.best_bid is not None and book.best_ask is not None
    spread_bps = (book.best_ask - book.best_bid) / market.mid * 10000
    assert D(6) <= spread_bps <= D(11)
    assert feed.tick("USDTTRY", 3, D("42.5"), rules, T0) == market  # (seed, symbol, tick) → same market


def test_random_walk_levels_sometimes_thinner_than_250_try() -> None:
    feed = RandomWalkFeed(42)
    rules = random_engine().rules("BTCTRY")
    thin = 0
    for tick in range(1, 51):
        book = feed.tick("BTCTRY", tick, D("3500000"), rules, T0).book
        thin += sum(1 for lvl in book.bids + book.asks if lvl.price * lvl.quantity < 250)
    assert thin > 0


def test_random_walk_orders_fill_partially_over_time() -> None:
    engine = random_engine()
    run_script(engine)
    fills_per_order: dict[int, int] = {}
    for fill in engine.state.fills:
        fills_per_order[fill.report.exchange_order_id] = fills_per_order.get(fill.report.exchange_order_id, 0) + 1
    assert max(fills_per_order.values()) > 1  # at least one order filled in several parts
    times = [f.report.timestamp for f in engine.state.fills]
    assert times == sorted(times) and times[-1] <= T0 + 4 * MINUTE + timedelta(hours=3)


# ------------------------------------------------------------------------------- conservation


ASSETS = ("TRY", "BTC", "ETH", "USDT")
INITIAL = {"TRY": D("20000"), "BTC": D("0.01"), "USDT": D("2000")}

op_strategy = st.one_of(
    st.tuples(
        st.just("limit"),
        st.sampled_from(("BTCTRY", "ETHTRY", "USDTTRY", "BTCUSDT")),
        st.sampled_from(("buy", "sell")),
        st.integers(-60, 60),  # price offset from mid in bps
        st.integers(1, 40),  # notional as a multiple of min notional / 4
    ),
    st.tuples(
        st.just("market"),
        st.sampled_from(("BTCTRY", "USDTTRY")),
        st.sampled_from(("buy", "sell")),
        st.integers(0, 0),
        st.integers(4, 40),
    ),
    st.tuples(st.just("cancel"), st.just(""), st.just(""), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("advance"), st.just(""), st.just(""), st.integers(1, 20), st.just(0)),
)


def apply_op(engine: MatchingEngine, op: tuple[str, str, str, int, int], now: datetime) -> None:
    kind, symbol, side, a, b = op
    try:
        if kind == "advance":
            engine.advance(now, ticks=a)
        elif kind == "cancel":
            ids = sorted(engine.state.orders)
            if ids:
                engine.cancel(ids[a % len(ids)], now)
        else:
            rules = engine.rules(symbol)
            mid = engine.state.mids[symbol]
            notional = rules.min_notional * b / 4
            if kind == "market":
                qty = rules.quantize_quote(notional) if side == "buy" else rules.quantize_quantity(notional / mid)
                price = D(0)
            else:
                price = rules.quantize_price(mid * (1 + D(a) / 10000), Side(side))
                qty = rules.quantize_quantity(notional / price)
            engine.submit(
                symbol=symbol, side=side, method=kind, price=price, quantity=qty, client_order_id="p", now=now
            )
    except Rejected:
        pass


def assert_conserved(engine: MatchingEngine) -> None:
    expected = {asset: INITIAL.get(asset, D(0)) for asset in ASSETS}
    for fill in engine.state.fills:
        r = fill.report
        base = r.symbol[: -len(r.fee_asset)]
        sign = 1 if r.side is Side.BUY else -1
        expected[base] += sign * r.quantity
        expected[r.fee_asset] -= sign * r.notional + r.fee + r.tax
    by_order: dict[str, Decimal] = {asset: D(0) for asset in ASSETS}
    for order in engine.state.orders.values():
        spec = engine.spec(order.symbol)
        by_order[spec.quote if order.side is Side.BUY else spec.base] += order.locked
        if not order.status.is_open:
            assert order.locked == 0
    for asset in ASSETS:
        holding = engine.state.holdings[asset]
        assert holding.free + holding.locked == expected[asset], asset
        assert holding.locked == by_order[asset], asset
        assert holding.free >= 0 and holding.locked >= 0, asset


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_strategy, min_size=8, max_size=30), delay=st.sampled_from((0, 90)))
def test_balances_random_orders_cancels_advances_conserved(
    ops: list[tuple[str, str, str, int, int]], delay: int
) -> None:
    engine = random_engine(initial_balances=INITIAL, cancel_delay_seconds=delay)
    now = T0
    for op in ops:
        now += timedelta(seconds=37)
        apply_op(engine, op, now)
        assert_conserved(engine)
    assert all(engine.state.orders[i].left > 0 for i in engine.open_order_ids())
    assert all(o.method is OrderMethod.LIMIT for o in engine.state.orders.values() if o.status.is_open)
