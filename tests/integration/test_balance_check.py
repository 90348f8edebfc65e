"""Balance check (R-ACC-4) on a real store: a mismatch explained by fills the venue has not listed yet does not
count towards REDUCE_ONLY; an unexplained one seen twice does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import D, make_balances, make_order

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Side, TradingState
from btcbot.domain.order_fsm import OrderStatus
from btcbot.services.balance_check import check_balances
from btcbot.services.ledger import DISCREPANCY_GRACE

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SYMBOLS = ["BTCTRY"]
BEFORE = make_balances(TRY="1000", BTC="0")
AFTER_BUY = make_balances(TRY="799.5", BTC="0.0001")  # a buy of 0.0001 @ 2,000,000 filled on the venue


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state", "sim")
    assert check_balances(opened, BEFORE, SYMBOLS, D(10), True, NOW, None) == []  # the baseline
    yield opened
    opened.close()


def _filled_without_fills(store: Store, at: datetime) -> None:
    """The venue reported our buy Closed, but its fills are not listed yet (LESSONS: fills can come late)."""
    order = make_order("bb4b-BTCTRY-late", side=Side.BUY, status=OrderStatus.FILLED, exchange_filled="0.0001",
                       created_at=at, now=at)
    store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), at)


def _check(store: Store, at: datetime) -> list[str]:
    return [m.asset for m in check_balances(store, AFTER_BUY, SYMBOLS, D(10), True, at, None)]


def test_balance_mismatch_explained_by_pending_fills_never_switches_state(store: Store) -> None:
    _filled_without_fills(store, NOW)
    for minute in range(1, 4):
        assert sorted(_check(store, NOW + timedelta(minutes=minute))) == ["BTC", "TRY"]
    assert store.trading_state() is TradingState.NORMAL
    details = [e["detail"] for e in store.events(kind=EventKind.BALANCE_MISMATCH)]
    assert all('"fills_pending": "true"' in d for d in details)


def test_balance_mismatch_pending_fills_counted_again_after_grace(store: Store) -> None:
    _filled_without_fills(store, NOW)
    late = NOW + DISCREPANCY_GRACE + timedelta(minutes=1)
    _check(store, late)
    _check(store, late + timedelta(minutes=1))
    assert store.trading_state() is TradingState.REDUCE_ONLY


def test_balance_mismatch_unexplained_twice_switches_to_reduce_only(store: Store) -> None:
    _check(store, NOW + timedelta(minutes=1))
    assert store.trading_state() is TradingState.NORMAL  # once can be a late fill
    _check(store, NOW + timedelta(minutes=2))
    assert store.trading_state() is TradingState.REDUCE_ONLY
