"""The backtest journal (ScratchStore): the same Store, with reads it may answer from memory answered right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from factories import make_rules

from btcbot.adapters.sim.candles import CandleFeed, candle_pair
from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.scratch import ScratchStore
from btcbot.domain.errors import StateError
from btcbot.domain.models import TradingState

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_scratch_store_kv_and_trading_state_read_back_what_was_written() -> None:
    store = ScratchStore.create("sim")
    assert store.get_kv("marks") is None and store.trading_state() is TradingState.NORMAL
    store.set_kv("marks", '{"BTCTRY": "1"}', NOW)
    assert store.set_trading_state(TradingState.REDUCE_ONLY, "TEST", None, NOW)
    assert store.get_kv("marks") == '{"BTCTRY": "1"}'
    assert store.trading_state() is TradingState.REDUCE_ONLY
    assert store.db.query_one("SELECT value FROM kv WHERE key = 'trading_state'")["value"] == "REDUCE_ONLY"  # type: ignore[index]
    store.close()


def test_scratch_store_rules_cache_keeps_the_ttl() -> None:
    store = ScratchStore.create("sim")
    assert store.cached_rules(NOW, HOUR) is None
    store.save_rules([make_rules("BTCTRY"), make_rules("ETHTRY")], NOW)
    cached = store.cached_rules(NOW + HOUR, HOUR)
    assert cached is not None and sorted(cached) == ["BTCTRY", "ETHTRY"]
    assert store.cached_rules(NOW + HOUR + timedelta(seconds=1), HOUR) is None
    store.close()


def test_scratch_database_must_be_in_memory(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite")
    with pytest.raises(StateError, match="in-memory"):
        db.make_scratch()
    db.close()


def test_sim_advance_at_ticks_at_the_given_times_and_refuses_going_back() -> None:
    class Clock:
        def now(self) -> datetime:
            return NOW

    from factories import make_candles

    candles = make_candles([3500000, 3501000, 3499000], start=NOW)
    config = SimConfig(pairs=(candle_pair("BTCTRY", candles[0].open),), auto_advance=False)
    with SimExchange.ephemeral(config, Clock(), CandleFeed(candles, seed=1)) as sim:
        times = [NOW + timedelta(minutes=1), NOW + timedelta(minutes=5)]  # a gap
        assert sim.advance_at(times) == 2
        assert sim.mid("BTCTRY") == candles[1].close
        with pytest.raises(ValueError, match="increase"):
            sim.advance_at([NOW + timedelta(minutes=4)])
        assert sim.advance_at([]) == 0


def test_scratch_store_order_reads_equal_a_plain_store_across_windows_and_writes() -> None:
    from factories import make_order

    from btcbot.adapters.sqlite.store import Store
    from btcbot.domain.events import Event, EventKind
    from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, OrderEvent, OrderStatus

    stores = [ScratchStore.create("sim"), Store.in_memory("sim")]
    gaps = [("1", OrderStatus.FILLED, "0.0001", "0.00005"), ("2", OrderStatus.CANCELED, "0.00002", "0"),
            ("3", OrderStatus.FILLED, "0.0001", "0.0001"), ("4", OrderStatus.OPEN, "0", "0")]
    for store in stores:
        for n, (seq, status, venue_filled, ours) in enumerate(gaps):
            order = make_order(f"bb3b-BTCTRY-000000000000000{seq}", status=status, exchange_order_id=1000 + n,
                               exchange_filled=venue_filled, filled_quantity=ours, created_at=NOW + n * HOUR)
            store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "TEST"), NOW)

    def reads(store: Store, at: datetime) -> list[object]:
        return [store.orders_with_fill_gap(at - timedelta(days=2)), store.orders_with_fill_gap(at),
                store.orders_with_fill_gap(at - HOUR), store.orders(IN_FLIGHT | LIVE),
                store.orders(symbol="BTCTRY", include_external=False), store.positions(), store.breaker()]

    scratch, plain = stores
    for at in (NOW, NOW + HOUR, NOW + 2 * HOUR, NOW + 5 * HOUR):
        assert reads(scratch, at) == reads(plain, at)
    for store in stores:  # a write between two reads of the same window is seen
        store.apply_order_event("bb3b-BTCTRY-0000000000000004", OrderEvent.CANCELED, now=NOW + 6 * HOUR,
                                cycle_id=None, exchange_filled=Decimal("0.00003"))
    assert reads(scratch, NOW + 6 * HOUR) == reads(plain, NOW + 6 * HOUR)
    assert len(scratch.orders_with_fill_gap(NOW)) == 3
    for store in stores:
        store.close()


@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(hours=3))])
def test_scratch_store_breaker_reads_back_what_the_table_holds(zone: timezone) -> None:
    from btcbot.adapters.sqlite.breaker import BreakerMixin
    from btcbot.domain.breaker import Breaker, BreakerEvent, BreakerState, Step

    store = ScratchStore.create("sim")
    at = NOW.astimezone(zone)
    after = Breaker(BreakerState.OPEN, ((at, True), (at + HOUR, False)), at + HOUR, at + 2 * HOUR)
    store.save_breaker(Step(Breaker(), after, BreakerEvent.TRIP), None, NOW)
    remembered, stored = store.breaker(), BreakerMixin.breaker(store)
    assert remembered == stored == after
    assert repr(remembered) == repr(stored)  # the same objects down to the time zones
    store.close()
