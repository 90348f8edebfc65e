"""Trailing-stop marks in SQLite: exact Decimal round trip as TEXT, venue scope, row and events in one tx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from factories import make_order, make_trail

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Side

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ARMED = Event(EventKind.TRAIL_ARMED, "ARMED_AT_ONCE", "BTCTRY", detail={"mark": "3512345.67"})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "st", "btcturk")


def test_trail_round_trip_keeps_exact_decimals_as_text(store: Store) -> None:
    trail = make_trail(mark="3512345.123456789012345678", stop_bps="12.5", triggered_at=NOW)
    cycle = store.start_cycle("3", "live", NOW)
    store.save_trail("BTCTRY", trail, [ARMED], cycle, NOW)
    assert store.trails() == {"BTCTRY": trail}
    row = store.db.query_one("SELECT typeof(mark) AS t, mark FROM trailing_marks")
    assert row is not None and row["t"] == "text" and row["mark"] == "3512345.123456789012345678"
    [event] = store.events(kind=EventKind.TRAIL_ARMED)
    assert event["cycle_id"] == cycle and event["symbol"] == "BTCTRY"


def test_trail_update_replaces_the_row_and_none_deletes_it(store: Store) -> None:
    store.save_trail("BTCTRY", make_trail(mark="100"), [], None, NOW)
    store.save_trail("BTCTRY", make_trail(mark="105"), [], None, NOW)
    assert store.trails()["BTCTRY"].mark == Decimal(105)
    store.save_trail("BTCTRY", None, [Event(EventKind.TRAIL_RESET, "POSITION_FLAT", "BTCTRY")], None, NOW)
    assert store.trails() == {}
    assert [e["code"] for e in store.events(kind=EventKind.TRAIL_RESET)] == ["POSITION_FLAT"]


def test_trails_are_scoped_to_the_venue(tmp_path: Path) -> None:
    live = Store.open(tmp_path / "st", "btcturk")
    live.save_trail("BTCTRY", make_trail(), [], None, NOW)
    sim = Store.open(tmp_path / "st", "sim")
    assert sim.trails() == {} and set(live.trails()) == {"BTCTRY"}


def test_trail_row_and_its_events_commit_together(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert_event", broken)
    with pytest.raises(RuntimeError):
        store.save_trail("BTCTRY", make_trail(), [ARMED], None, NOW)
    assert store.trails() == {}


def test_last_filled_buy_is_the_newest_buy_with_fills_since(store: Store) -> None:
    opened = NOW
    rows = [
        ("bb-entry", Side.BUY, "0.001", opened - timedelta(minutes=5)),  # before the position opened
        ("bb-leg", Side.SELL, "0.001", opened + timedelta(minutes=1)),
        ("bb-rebuy", Side.BUY, "0.0005", opened + timedelta(minutes=2)),
        ("bb-unfilled", Side.BUY, "0", opened + timedelta(minutes=3)),
    ]
    for i, (cid, side, filled, at) in enumerate(rows):
        order = make_order(cid, side=side, filled_quantity=filled, created_at=at, exchange_order_id=i)
        store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
    assert store.last_filled_buy_created_at("BTCTRY", opened) == opened + timedelta(minutes=2)
    assert store.last_filled_buy_created_at("BTCTRY", opened + timedelta(minutes=3)) is None
    assert store.last_filled_buy_created_at("ETHTRY", opened - timedelta(hours=1)) is None
