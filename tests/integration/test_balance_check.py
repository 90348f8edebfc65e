"""Balance check (R-ACC-4) on a real store: a mismatch explained by fills the venue has not listed yet does not
count towards REDUCE_ONLY; an unexplained one seen twice does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from factories import D, PortClock, make_balances, make_order

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import search_budget, select_mode, stage3_config
from btcbot.config import load_settings
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Side, TradingState
from btcbot.domain.order_fsm import OrderStatus
from btcbot.services.balance_check import check_balances
from btcbot.services.cycle import Deps, run_cycle
from btcbot.services.ledger import DISCREPANCY_GRACE
from btcbot.services.recovery import run_reconcile

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


def test_reconcile_apply_keeps_baseline_while_fills_unlisted_then_clean(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`reconcile --apply` does not accept the venue's totals as a baseline while a fill of ours is reported but not
    listed yet (its effect is in the totals already: recording it later would count it twice)."""
    monkeypatch.setenv("BTCBOT_SYMBOLS", "BTCTRY")
    settings = load_settings(state_dir=tmp_path / "state")
    clock = PortClock(NOW)
    config = SimConfig(seed=11, auto_advance=False, flow_probability=Decimal(1), fill_delay_seconds=60,
                       initial_balances={"TRY": Decimal(20000)})
    sim = SimExchange.open(None, config, clock)
    store = Store.open(settings.state_dir, "sim")
    deps = Deps(settings, sim, store, clock, select_mode(settings))  # type: ignore[arg-type]
    try:
        assert run_cycle(deps, stage3_config(settings)).exit_code == 0  # baseline, and a buy at the touch
        for _ in range(30):  # sell flow fills it within a few ticks; the fill stays unlisted for 60 s
            clock.at += timedelta(seconds=1)
            sim.advance(clock.at, ticks=1)
            if not sim.open_orders(["BTCTRY"]):
                break
        first = run_reconcile(deps, True, search_budget(settings))
        assert {d.kind for d in first.differences} >= {"SETTLE", "BALANCE"}
        assert {d.kind for d in first.remaining} == {"BALANCE"} and first.exit_code == 4  # not accepted yet
        clock.at += timedelta(seconds=61)  # the fill is listed now
        second = run_reconcile(deps, True, search_budget(settings))
        assert {d.kind for d in second.differences} == {"FILL"} and second.exit_code == 0
        assert run_reconcile(deps, False, search_budget(settings)).differences == []
    finally:
        store.close()
        sim.close()
