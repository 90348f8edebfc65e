"""The journal at scale (issue 10): counters kept by triggers, the bounded reads of reconcile."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import make_fill, make_order

from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.migrations import MIGRATIONS, _statements, migrate
from btcbot.adapters.sqlite.store import Store
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import LocalOrder, Side
from btcbot.domain.order_fsm import OrderEvent, OrderStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _insert(store: Store, order: LocalOrder) -> None:
    store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "TEST", order.symbol, order.client_order_id),
                       NOW)


def _table_rows(store: Store) -> dict[str, int]:
    return {t: int(store.db.query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in ("orders", "fills", "events", "cycles")}


def test_counts_follow_inserts_and_the_external_row_merge_delete(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "st", "sim")
    cycle = store.start_cycle("3", "dry-run", NOW)
    _insert(store, make_order("ext-77", exchange_order_id=77, external=True))
    _insert(store, make_order("bb3b-BTCTRY-1", exchange_order_id=None, status=OrderStatus.SUBMITTING))
    store.record_fills([make_fill("t1", Side.BUY, "2000000", "0.0001", order_id=77, at=NOW)], NOW, cycle)
    assert store.counts() == _table_rows(store) == {"orders": 2, "fills": 1, "events": 4, "cycles": 1}
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.ACKED, now=NOW, cycle_id=cycle, exchange_order_id=77)
    assert store.counts() == _table_rows(store)  # the external row merged into ours is gone
    assert store.counts()["orders"] == 1


def test_migration_of_a_journal_with_history_starts_the_counters_at_its_rows(tmp_path: Path) -> None:
    db = Database(tmp_path / "journal.sqlite")
    before = next(i for i, (name, _) in enumerate(MIGRATIONS) if name.startswith("m006"))
    with db.atomic() as conn:  # the journal as the previous release left it
        for _, sql in MIGRATIONS[:before]:
            for statement in _statements(sql):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {before}")
    old = Store(db, "sim")
    for n in range(3):
        cycle = old.start_cycle("3", "dry-run", NOW + timedelta(minutes=n))
        _insert(old, make_order(f"bb3b-BTCTRY-{n}", exchange_order_id=100 + n))
        old.record_fills([make_fill(f"t{n}", Side.BUY, "2000000", "0.0001", order_id=100 + n, at=NOW)], NOW, cycle)
    migrate(db)
    assert Store(db, "sim").counts() == _table_rows(old) == {"orders": 3, "fills": 3, "events": 9, "cycles": 3}


def test_orders_to_reconcile_reads_live_orders_and_recent_terminal_ones_the_venue_mentions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "st", "sim")
    old, recent = NOW - timedelta(days=30), NOW - timedelta(days=1)
    rows = [make_order("live", exchange_order_id=1),
            replace(make_order("by-exid", exchange_order_id=2, status=OrderStatus.FILLED), updated_at=recent),
            replace(make_order("by-cid", exchange_order_id=3, status=OrderStatus.CANCELED), updated_at=recent),
            replace(make_order("unmentioned", exchange_order_id=4, status=OrderStatus.FILLED), updated_at=recent),
            replace(make_order("too-old", exchange_order_id=5, status=OrderStatus.FILLED), updated_at=old),
            replace(make_order("other-venue", exchange_order_id=6, status=OrderStatus.FILLED), updated_at=recent)]
    for order in rows:
        _insert(store, order)
    store.db.conn.execute("UPDATE orders SET venue = 'btcturk' WHERE client_order_id = 'other-venue'")
    found = store.orders_to_reconcile(NOW - timedelta(days=7), {2, 5, 6}, {"by-cid", "too-old", "other-venue"})
    assert [o.client_order_id for o in found] == ["live", "by-exid", "by-cid"]
    assert store.order_symbols_since(NOW - timedelta(days=7)) == {"BTCTRY"}


def test_known_trade_ids_are_the_recorded_ones_of_this_venue(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "st", "sim")
    _insert(store, make_order("a", exchange_order_id=9))
    store.record_fills([make_fill(f"t{n}", Side.BUY, "2000000", "0.0001", order_id=9, at=NOW) for n in range(3)],
                       NOW, None)
    assert store.known_trade_ids([f"t{n}" for n in range(1200)]) == {"t0", "t1", "t2"}  # chunked IN lists
    assert Store(store.db, "btcturk").known_trade_ids(["t0"]) == set()


def test_foreign_keys_cannot_be_switched_off_inside_a_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "st", "sim")
    with store.db.atomic(), pytest.raises(Exception, match="outside a transaction"), store.db.foreign_keys_off():
        pass
    with store.db.foreign_keys_off():
        assert store.db.query("PRAGMA foreign_keys")[0][0] == 0
    assert store.db.query("PRAGMA foreign_keys")[0][0] == 1
