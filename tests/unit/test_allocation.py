"""Stage-7 strategy "target allocation" (SPEC §8), pure: targets, band, sizing within the caps, skip reasons."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from factories import T0, D, make_balances, make_book, make_position, make_risk_params, make_rules
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Balance, Intent, OrderBook, Side, TradingState
from btcbot.domain.risk import filter_intents
from btcbot.domain.strategies import SKIP
from btcbot.domain.strategies.allocation import (
    AllocationParams,
    TargetAllocation,
    account_equity,
    default_weights,
    trading_symbol,
)
from btcbot.domain.symbols import SymbolRules

SYMBOLS = ("BTCTRY", "ETHTRY", "USDTTRY")
BTC_BID, BTC_ASK = D("3500000"), D("3501000")


def _books() -> dict[str, OrderBook]:
    return {b.symbol: b for b in (make_book("BTCTRY", BTC_BID, BTC_ASK), make_book("ETHTRY", "120000", "120100"),
                                  make_book("USDTTRY", "42.5", "42.6"))}


def _rules() -> dict[str, SymbolRules]:
    return {"BTCTRY": make_rules("BTCTRY"), "ETHTRY": make_rules("ETHTRY"),
            "USDTTRY": make_rules("USDTTRY", base_scale=2, price_scale=3, tick_size="0.001")}


def _snapshot(balances: dict[str, Balance] | None = None, *, books: dict[str, OrderBook] | None = None,
              rules: dict[str, SymbolRules] | None = None, no_balances: bool = False) -> MarketSnapshot:
    """The simulator's account: 20,000 TRY and 2,000 USDT (at 42.5) = 105,000 TRY of equity."""
    if balances is None and not no_balances:
        balances = make_balances(TRY="20000", USDT="2000")
    return MarketSnapshot(T0, _books() if books is None else books, _rules() if rules is None else rules,
                          None if no_balances else balances)


def _strategy(weights: Mapping[str, str] | None = None, *, band_bps: str = "50", order_cap: str = "1000",
              cycle_cap: str = "2000", position_cap: str = "5000", symbols: tuple[str, ...] = SYMBOLS
              ) -> TargetAllocation:
    resolved = {a: D(w) for a, w in weights.items()} if weights is not None else default_weights(symbols)
    return TargetAllocation(AllocationParams(resolved, D(band_bps), symbols, D(order_cap), D(cycle_cap),
                                             D(position_cap)))


def _by_symbol(intents: list[Intent]) -> dict[str, Intent]:
    return {i.symbol: i for i in intents}


def _notional_try(intent: Intent) -> Decimal:
    return intent.price * intent.quantity  # every pair here is TRY-quoted


# -- defaults, pair choice, equity ----------------------------------------------------------------------
def test_default_weights_three_percent_of_each_base_asset() -> None:
    assert default_weights(SYMBOLS) == {"BTC": D("0.03"), "ETH": D("0.03"), "USDT": D("0.03")}


def test_default_weights_many_pairs_scaled_to_half_of_equity() -> None:
    symbols = [f"C{i:02d}TRY" for i in range(40)]
    weights = default_weights(symbols)
    assert set(weights.values()) == {D("0.0125")}
    assert sum(weights.values()) <= D("0.5")


def test_trading_symbol_prefers_try_quoted_pair() -> None:
    assert trading_symbol("BTC", ("BTCUSDT", "BTCTRY")) == "BTCTRY"
    assert trading_symbol("BTC", ("BTCUSDT", "ETHTRY")) == "BTCUSDT"
    assert trading_symbol("XRP", SYMBOLS) is None


def test_account_equity_counts_managed_assets_at_best_bid_only() -> None:
    balances = make_balances(TRY="20000", USDT="2000", BTC="0.01", XRP="1000")  # XRP: no configured pair
    equity, unpriced = account_equity(_snapshot(balances), SYMBOLS)
    assert (equity, unpriced) == (D("20000") + D("2000") * D("42.5") + D("0.01") * BTC_BID, ())


def test_account_equity_managed_asset_without_book_is_unpriced() -> None:
    books = {s: b for s, b in _books().items() if s != "BTCTRY"}
    assert account_equity(_snapshot(make_balances(TRY="100", BTC="0.01"), books=books), SYMBOLS)[1] == ("BTC",)


# -- targets and sizing ----------------------------------------------------------------------------------
def test_allocation_flat_account_buys_every_asset_at_best_bid_splitting_cycle_cap() -> None:
    intents = _by_symbol(_strategy().decide(_snapshot(), {}))
    assert set(intents) == set(SYMBOLS)
    books = _books()
    for symbol, intent in intents.items():
        assert (intent.side, intent.price, intent.reason) == (Side.BUY, books[symbol].best_bid, "allocation_buy")
        assert _notional_try(intent) == pytest.approx(D("2000") / 3, abs=D("1e-12"))
        assert intent.meta["target_try"] == "3150"


def test_allocation_small_gap_is_served_whole_and_the_rest_split() -> None:
    weights = {"BTC": "0.003", "ETH": "0.03", "USDT": "0.03"}
    intents = _by_symbol(_strategy(weights, band_bps="10").decide(_snapshot(), {}))
    assert _notional_try(intents["BTCTRY"]) == pytest.approx(D("315"), abs=D("1e-12"))
    assert _notional_try(intents["ETHTRY"]) == pytest.approx((D("2000") - D("315")) / 2, abs=D("1e-12"))


def test_allocation_within_band_makes_no_intent() -> None:
    held = (D("3150") - D("500")) / BTC_BID  # 500 TRY short of target, band is 525
    intents = _strategy({"BTC": "0.03"}).decide(_snapshot(), {"BTCTRY": make_position("BTCTRY", held)})
    assert intents == []


def test_allocation_over_target_sells_at_best_ask_one_order_cap() -> None:
    position = make_position("BTCTRY", "0.002")  # 7,000 TRY, target 3,150
    [sell] = _strategy({"BTC": "0.03"}).decide(_snapshot(), {"BTCTRY": position})
    assert (sell.side, sell.price, sell.exit_kind, sell.reason) == (Side.SELL, BTC_ASK, "rebalance", "allocation_sell")
    assert sell.quantity == D("1000") / BTC_ASK


def test_allocation_zero_weight_sells_whole_position_never_more() -> None:
    position = make_position("BTCTRY", "0.0001")  # 350 TRY, below one order's cap
    [sell] = _strategy({"BTC": "0"}, band_bps="10").decide(_snapshot(), {"BTCTRY": position})
    assert sell.side is Side.SELL and sell.quantity == D("0.0001")


def test_allocation_target_is_capped_by_max_position_notional() -> None:
    held = D("4800") / BTC_BID  # weight 0.5 of 105,000 would be 52,500; the cap is 5,000
    intents = _strategy({"BTC": "0.5"}).decide(_snapshot(), {"BTCTRY": make_position("BTCTRY", held)})
    assert intents == []


def test_allocation_unlisted_asset_is_not_managed() -> None:
    intents = _strategy({"ETH": "0.03"}).decide(_snapshot(), {"BTCTRY": make_position("BTCTRY", "1")})
    assert {i.symbol for i in intents} == {"ETHTRY"}


# -- skipped intents carry reasons -----------------------------------------------------------------------
def _skips(intents: list[Intent]) -> dict[str, str]:
    return {i.symbol: i.meta[SKIP] for i in intents if SKIP in i.meta}


def test_allocation_stale_book_skips_with_price_unavailable() -> None:
    books = {s: b for s, b in _books().items() if s != "ETHTRY"}
    intents = _strategy().decide(_snapshot(books=books), {})
    assert _skips(intents) == {"ETHTRY": "PRICE_UNAVAILABLE"}
    assert {i.symbol for i in intents if SKIP not in i.meta} == {"BTCTRY", "USDTTRY"}


def test_allocation_unreadable_balances_skip_everything() -> None:
    assert set(_skips(_strategy().decide(_snapshot(no_balances=True), {})).values()) == {"BALANCE_UNAVAILABLE"}


def test_allocation_unpriced_managed_balance_skips_with_equity_unpriced() -> None:
    books = {s: b for s, b in _books().items() if s != "BTCTRY"}
    balances = make_balances(TRY="20000", BTC="0.01")
    intents = _strategy({"ETH": "0.03"}).decide(_snapshot(balances, books=books), {})
    assert _skips(intents) == {"ETHTRY": "EQUITY_UNPRICED"}
    assert intents[0].meta["assets"] == "BTC"


def test_allocation_untradable_pair_skips_with_rules_code() -> None:
    rules = dict(_rules(), BTCTRY=make_rules("BTCTRY", tradable=False))
    assert _skips(_strategy({"BTC": "0.03"}).decide(_snapshot(rules=rules), {})) == {"BTCTRY": "RULES_NOT_TRADABLE"}


def test_allocation_gap_below_min_notional_skips_with_notional_code() -> None:
    intents = _strategy({"BTC": "0.03"}).decide(_snapshot(make_balances(TRY="3000")), {})  # target 90 TRY
    assert _skips(intents) == {"BTCTRY": "NOTIONAL_BELOW_MIN"}
    assert intents[0].meta["min_notional_try"] == "99.91"


def test_allocation_exhausted_cycle_budget_skips_with_cycle_cap_code() -> None:
    intents = _strategy(cycle_cap="250").decide(_snapshot(), {})  # shares of 83 TRY are below the minimum
    assert set(_skips(intents).values()) == {"NOTIONAL_CYCLE_CAP"}


def test_risk_filter_drops_skipped_intent_with_strategy_code_and_detail() -> None:
    [skip] = _strategy({"BTC": "0.03"}).decide(_snapshot(make_balances(TRY="3000")), {})
    decision = filter_intents([skip], _snapshot(), {}, [], {}, TradingState.NORMAL, make_risk_params())
    assert decision.accepted == []
    [denial] = decision.denials
    assert denial.code == "NOTIONAL_BELOW_MIN" and SKIP not in denial.detail
    assert denial.reason.startswith("NOTIONAL_BELOW_MIN: ") and "min_notional_try=99.91" in denial.reason


# -- properties: every order stays within the caps --------------------------------------------------------
amounts = st.decimals("0", "0.004", places=8)


@given(btc=amounts, eth=st.decimals("0", "0.1", places=8), usdt=st.decimals("0", "200", places=2),
       try_free=st.decimals("0", "200000", places=2), weight=st.decimals("0", "0.3", places=3),
       band=st.decimals("0", "300", places=0))
def test_allocation_orders_stay_within_caps_and_at_the_touch(btc: Decimal, eth: Decimal, usdt: Decimal,
                                                             try_free: Decimal, weight: Decimal,
                                                             band: Decimal) -> None:
    positions: dict[str, Position] = {s: make_position(s, q) for s, q in
                                      (("BTCTRY", btc), ("ETHTRY", eth), ("USDTTRY", usdt)) if q > 0}
    balances = make_balances(TRY=try_free, BTC=btc, ETH=eth, USDT=usdt)
    strategy = _strategy({"BTC": str(weight), "ETH": str(weight), "USDT": str(weight)}, band_bps=str(band))
    intents = [i for i in strategy.decide(_snapshot(balances), positions) if SKIP not in i.meta]
    books, buys = _books(), [i for i in intents if i.side is Side.BUY]
    assert sum((_notional_try(i) for i in buys), Decimal(0)) <= D("2000")
    for intent in intents:
        book = books[intent.symbol]
        assert intent.price == (book.best_bid if intent.side is Side.BUY else book.best_ask)
        assert _notional_try(intent) <= D("1000")
        held = positions[intent.symbol].quantity if intent.symbol in positions else Decimal(0)
        if intent.side is Side.SELL:
            assert intent.quantity <= held
        else:
            assert held * book.best_bid + _notional_try(intent) <= D("5000")  # type: ignore[operator]
