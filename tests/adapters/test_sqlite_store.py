from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from factories import make_fill

from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION, migrate
from btcbot.adapters.sqlite.store import DB_FILENAME, Store
from btcbot.domain.errors import InvalidTransition, StateError
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import FillReport, LocalOrder, OrderMethod, Side, TradingState
from btcbot.domain.order_fsm import OrderEvent, OrderStatus
from btcbot.domain.symbols import SymbolRules

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _order(cid: str = "bb3b-BTCTRY-1", side: Side = Side.BUY, quantity: str = "0.001") -> LocalOrder:
    return LocalOrder(
        client_order_id=cid, exchange_order_id=None, venue="sim", stage="3", symbol="BTCTRY", side=side,
        method=OrderMethod.LIMIT, price=Decimal("3500000"), quantity=Decimal(quantity), filled_quantity=Decimal(0),
        exchange_filled=Decimal(0), status=OrderStatus.SUBMITTING, intent_hash="h", dry_run=True, external=False,
        probe_count=0, created_at=NOW, updated_at=NOW,
    )


def _fill(trade_id: str, exid: int, side: Side, qty: str, price: str = "3500000", minute: int = 1) -> FillReport:
    return make_fill(trade_id, side, price, qty, "0.84", "0.1512", order_id=exid, at=NOW + timedelta(minutes=minute))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "st", "sim")


def test_store_open_creates_private_dir_and_db(tmp_path: Path) -> None:
    Store.open(tmp_path / "st", "sim").close()
    assert stat.S_IMODE(os.stat(tmp_path / "st").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "st" / DB_FILENAME).st_mode) == 0o600


def test_migrations_set_user_version_and_wal(store: Store) -> None:
    assert store.db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION  # type: ignore[index]
    assert store.db.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
    assert store.db.query_one("PRAGMA foreign_keys")[0] == 1  # type: ignore[index]


def test_migrations_refuse_newer_database(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite")
    db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateError, match="newer than this btcbot"):
        migrate(db)


def test_migrations_rerun_is_noop(tmp_path: Path) -> None:
    Store.open(tmp_path / "st", "sim").close()
    store = Store.open(tmp_path / "st", "sim")
    assert store.db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION  # type: ignore[index]


def test_migration_from_version_1_keeps_data_and_adds_rate_limit_windows(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.sqlite")
    with db.atomic() as conn:
        for statement in MIGRATIONS[0][1].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO rate_limit_blocks (endpoint, blocked_until) VALUES ('GET /x', '2026-11-21')")
    assert migrate(db) == SCHEMA_VERSION  # never a fixed number: parallel branches append migrations
    assert db.query_one("SELECT endpoint FROM rate_limit_blocks")[0] == "GET /x"  # type: ignore[index]
    assert db.query("SELECT * FROM rate_limit_windows") == []


def test_rate_limit_windows_round_trip_and_replace(store: Store) -> None:
    stamps = [NOW, NOW + timedelta(microseconds=1)]
    store.save_windows({"GET /x#0": stamps, "graph-api": [NOW]})
    assert store.load_windows() == {"GET /x#0": stamps, "graph-api": [NOW]}
    store.save_windows({"GET /y#0": [NOW]})
    assert store.load_windows() == {"GET /y#0": [NOW]}


def test_money_columns_are_text(store: Store) -> None:
    for table in ("orders", "fills", "positions", "balances"):
        for col in store.db.query(f"PRAGMA table_info({table})"):
            assert col["type"] != "REAL", f"{table}.{col['name']} is REAL"


def test_atomic_rolls_back_order_and_event_together(store: Store) -> None:
    with pytest.raises(RuntimeError), store.db.atomic():
        store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
        raise RuntimeError("crash between statements")
    assert store.orders() == []
    assert store.events() == []


def test_nested_atomic_inner_failure_keeps_outer(store: Store) -> None:
    with store.db.atomic():
        store.set_kv("a", "1", NOW)
        with pytest.raises(ValueError), store.db.atomic():
            store.set_kv("b", "2", NOW)
            raise ValueError
    assert store.get_kv("a") == "1"
    assert store.get_kv("b") is None


def test_apply_order_event_writes_status_and_event_together(store: Store) -> None:
    store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    order = store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.ACKED, now=NOW, cycle_id=None, exchange_order_id=77)
    assert order.status is OrderStatus.OPEN
    assert order.exchange_order_id == 77
    changed = [e for e in store.events() if e["kind"] == "ORDER_STATUS_CHANGED"]
    assert len(changed) == 1
    assert '"to": "OPEN"' in changed[0]["detail"]


def test_apply_order_event_illegal_transition_changes_nothing(store: Store) -> None:
    store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.REJECTED, now=NOW, cycle_id=None)
    with pytest.raises(InvalidTransition, match="REJECTED -> ACKED"):
        store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.ACKED, now=NOW, cycle_id=None)
    assert store.order("bb3b-BTCTRY-1").status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert len([e for e in store.events() if e["kind"] == "ORDER_STATUS_CHANGED"]) == 1


def test_client_order_id_is_unique(store: Store) -> None:
    store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)


def test_claim_action_second_claim_is_deduped(store: Store) -> None:
    cycle = store.start_cycle("3", "dry-run", NOW)
    assert store.claim_action("submit:abc:1", "submit", "abc", 1, cycle, NOW)
    assert not store.claim_action("submit:abc:1", "submit", "abc", 1, cycle, NOW)


def test_record_fills_applies_each_trade_once_and_updates_position(store: Store) -> None:
    store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.ACKED, now=NOW, cycle_id=None, exchange_order_id=5)
    fills = [_fill("1", 5, Side.BUY, "0.0004"), _fill("2", 5, Side.BUY, "0.0006", minute=2)]
    assert len(store.record_fills(fills, NOW, None)) == 2
    assert store.record_fills(fills + fills, NOW, None) == []  # replays and duplicates: nothing new
    position = store.positions()["BTCTRY"]
    assert position.quantity == Decimal("0.0010")
    assert position.fees_paid == Decimal("1.9824")  # 2 × (0.84 + 0.1512)
    assert store.order("bb3b-BTCTRY-1").filled_quantity == Decimal("0.0010")  # type: ignore[union-attr]


def test_record_fills_orphan_is_linked_when_order_gets_its_exchange_id(store: Store) -> None:
    store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    store.record_fills([_fill("9", 42, Side.BUY, "0.001")], NOW, None)
    assert "BTCTRY" not in store.positions() or store.positions()["BTCTRY"].quantity == 0
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.AMBIGUOUS, now=NOW, cycle_id=None)
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.FILLED, now=NOW, cycle_id=None, exchange_order_id=42)
    store.record_fills([], NOW, None)
    assert store.positions()["BTCTRY"].quantity == Decimal("0.001")


def test_trading_state_persists_with_event(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "st", "sim")
    assert store.trading_state() is TradingState.NORMAL
    assert store.set_trading_state(TradingState.REDUCE_ONLY, "BALANCE_MISMATCH", None, NOW)
    assert not store.set_trading_state(TradingState.REDUCE_ONLY, "again", None, NOW)
    store.close()
    again = Store.open(tmp_path / "st", "sim")
    assert again.trading_state() is TradingState.REDUCE_ONLY
    assert len(again.events(kind=EventKind.TRADING_STATE_CHANGED)) == 1


def test_rules_cache_expires_after_ttl(store: Store) -> None:
    rules = SymbolRules("BTCTRY", "BTC", "TRY", 8, 0, 0, Decimal("10"), Decimal("99.91"), Decimal("0.0000000000001"),
                        Decimal("10000000"), Decimal("350000"), Decimal("35000000"))
    store.save_rules([rules], NOW)
    assert store.cached_rules(NOW + timedelta(minutes=59), timedelta(hours=1)) == {"BTCTRY": rules}
    assert store.cached_rules(NOW + timedelta(minutes=61), timedelta(hours=1)) is None


def test_rate_limit_block_keeps_the_later_deadline(store: Store) -> None:
    store.save_block("POST /api/v1/order", NOW + timedelta(seconds=60))
    store.save_block("POST /api/v1/order", NOW + timedelta(seconds=5))
    assert store.load_blocks() == {"POST /api/v1/order": NOW + timedelta(seconds=60)}


def test_store_venues_are_isolated(tmp_path: Path) -> None:
    sim = Store.open(tmp_path / "st", "sim")
    sim.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    live = Store(sim.db, "btcturk")
    assert live.orders() == []
    assert len(sim.orders()) == 1


def test_exit_legs_are_ladder_sells_of_the_current_position_only(store: Store) -> None:
    from dataclasses import replace

    from btcbot.domain.accounting import Position
    from btcbot.services.cycle import _exit_legs

    def add(cid: str, minute: int, kind: str | None, side: Side = Side.SELL) -> None:
        order = replace(_order(cid, side=side), exit_kind=kind, created_at=NOW + timedelta(minutes=minute))
        store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)

    add("before-open", 1, "stop_loss")
    add("leg-1", 5, "stop_loss")
    add("profit", 6, "profit")
    add("buy", 7, "stop_loss", Side.BUY)
    add("leg-2", 8, "stop_loss")
    position = Position("BTCTRY", quantity=Decimal("0.001"), cost_basis=Decimal("3500"),
                        opened_at=NOW + timedelta(minutes=3))
    legs = _exit_legs(store, {"BTCTRY": position})
    assert [o.client_order_id for o in legs["BTCTRY"]] == ["leg-1", "leg-2"]


def test_fill_gap_keeps_fills_window_open_and_reports_discrepancy_once(store: Store) -> None:
    from btcbot.services.ledger import check_fill_totals, fills_since

    store.insert_order(_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.ACKED, now=NOW, cycle_id=None, exchange_order_id=5)
    store.apply_order_event("bb3b-BTCTRY-1", OrderEvent.FILLED, now=NOW, cycle_id=None,
                            exchange_filled=Decimal("0.001"))
    store.record_fills([_fill("1", 5, Side.BUY, "0.0004")], NOW, None)  # the rest of the fills is late
    assert fills_since(store, NOW + timedelta(minutes=5)) == NOW - timedelta(minutes=1)
    assert check_fill_totals(store, NOW + timedelta(minutes=5), None) == []  # within the grace period
    later = NOW + timedelta(hours=1)
    assert [o.client_order_id for o in check_fill_totals(store, later, None)] == ["bb3b-BTCTRY-1"]
    check_fill_totals(store, later + timedelta(minutes=1), None)
    assert len(store.events(kind=EventKind.FILL_DISCREPANCY)) == 1
    store.record_fills([_fill("2", 5, Side.BUY, "0.0006", minute=2)], later, None)
    assert check_fill_totals(store, later, None) == []
    assert fills_since(store, later) is None
