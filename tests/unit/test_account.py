"""The account snapshot (R-SAFE-3, R-REL-3): holdings and equity at mark, sell-only, untradable books."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import T0, D, make_balances, make_book, make_order, make_position, make_rules, make_snapshot

from btcbot.domain.account import account_snapshot, book_problem, free_for_execution, in_try
from btcbot.domain.models import Balance, BookLevel, OrderBook, Side
from btcbot.domain.order_fsm import OrderStatus

MARKS = {"BTCTRY": D("2000000"), "USDTTRY": D("40")}


def test_account_snapshot_values_holdings_at_marks_and_sums_equity() -> None:
    balances = {"TRY": Balance("TRY", D("1000"), D("250")), "BTC": Balance("BTC", D("0.001"), D("0")),
                "USDT": Balance("USDT", D("10"), D("5")), "ETH": Balance("ETH", D("0"), D("0"))}
    account = account_snapshot(make_snapshot(balances=balances), MARKS)
    assert (account.cash.free, account.cash.locked) == (D("1000"), D("250"))
    assert {a: h.value_try for a, h in account.holdings.items()} == {
        "BTC": D("2000"), "TRY": D("1250"), "USDT": D("600")}  # zero holdings left out
    assert account.equity_try == D("3850") and account.equity_complete
    assert account.sell_only is None and account.untradable == {}


def test_account_snapshot_unpriced_asset_reported_equity_incomplete() -> None:
    account = account_snapshot(make_snapshot(balances=make_balances(TRY="100", DOGE="5")), MARKS)
    assert account.unpriced == ("DOGE",) and account.equity_try == D("100")
    assert not account.equity_complete and account.holdings["DOGE"].value_try is None


def test_account_snapshot_missing_private_data_sell_only() -> None:
    account = account_snapshot(make_snapshot(no_balances=True), MARKS)
    assert account.sell_only is not None and account.sell_only.startswith("BALANCES_UNAVAILABLE")
    assert account.equity_try is None and account.holdings == {}


def test_account_snapshot_stale_symbols_untradable() -> None:
    snapshot = make_snapshot()
    snapshot.stale["ETHTRY"] = "order book is 90 s old"
    assert account_snapshot(snapshot, MARKS).untradable == {"ETHTRY": "order book is 90 s old"}


def _book(bid: str | None, ask: str | None, age: int = 0) -> OrderBook:
    return make_book(bid=bid, ask=ask, timestamp=T0 - timedelta(seconds=age))


@pytest.mark.parametrize(("book", "code"), [
    (_book("2000000", "2001000"), None),
    (_book("2000000", "2001000", age=61), "MARKET_DATA_STALE"),
    (_book(None, "2001000"), "MARKET_DATA_STALE"),
    (_book("2000000", None), "MARKET_DATA_STALE"),
    (_book("2001000", "2001000"), "MARKET_DATA_INVALID"),
    (_book("2002000", "2001000"), "MARKET_DATA_INVALID"),
    (OrderBook("BTCTRY", (BookLevel(D("0"), D("1")),), (BookLevel(D("1"), D("1")),), T0), "MARKET_DATA_INVALID"),
])
def test_book_problem_flags_stale_and_invalid_books(book: OrderBook, code: str | None) -> None:
    problem = book_problem(book, T0, timedelta(seconds=60))
    assert (problem[0] if problem else None) == code


def test_free_for_execution_with_balances_is_venue_free() -> None:
    balances = make_balances(TRY="500", BTC="0.1")
    assert free_for_execution(balances, {}, [], {}) == {"TRY": D("500"), "BTC": D("0.1")}


def test_free_for_execution_sell_only_ledger_less_own_live_sells_no_quote() -> None:
    positions = {"BTCTRY": make_position(quantity="0.003")}
    orders = [make_order("s1", side=Side.SELL, quantity="0.001", status=OrderStatus.OPEN),
              make_order("s2", side=Side.SELL, quantity="0.0005", status=OrderStatus.UNKNOWN),
              make_order("b1", side=Side.BUY, quantity="0.002", status=OrderStatus.OPEN),
              make_order("s3", side=Side.SELL, quantity="0.002", status=OrderStatus.CANCELED)]
    free = free_for_execution(None, positions, orders, {"BTCTRY": make_rules()})
    assert free == {"BTC": D("0.0015")}  # no TRY key: nothing may be bought


def test_free_for_execution_sell_only_never_negative() -> None:
    orders = [make_order("s1", side=Side.SELL, quantity="0.01", status=OrderStatus.OPEN)]
    assert free_for_execution(None, {"BTCTRY": make_position(quantity="0.001")}, orders, {}) == {"BTC": D("0")}


def test_in_try_converts_usdt_quoted_amounts_and_skips_unpriced() -> None:
    assert in_try({"BTCTRY": D("10"), "BTCUSDT": D("2")}, MARKS) == D("90")
    assert in_try({"BTCTRY": D("10"), "BTCUSDT": D("2")}, {}) == D("10")  # no USDTTRY mark yet
