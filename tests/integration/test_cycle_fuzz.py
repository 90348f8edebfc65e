"""Fuzz at the cycle level (R-REL-3; issue 8 item 15): a whole live cycle through the real BTCTurk adapter, with
one endpoint answering unusable replies (truncated, HTML, nested too deep, garbage). The cycle never raises, and
it leaves exactly the journal it leaves when that endpoint is unreachable (a 5xx): the hostile reply changes
nothing but the events that describe the failure, and a garbled reply to a write leaves the order UNKNOWN (a
submit) or CANCEL_REQUESTED (a cancel), as a timeout would."""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from hostile import unusable_reply, valid_json
from hypothesis import given, settings
from hypothesis import strategies as st
from venue import Venue

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import stage3_config
from btcbot.config import load_settings
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import LocalOrder, OrderMethod, Side
from btcbot.domain.order_fsm import OrderStatus
from btcbot.services.cycle import Deps, Mode, run_cycle

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SYMBOLS = ["BTCTRY", "ETHTRY", "USDTTRY", "BTCUSDT"]
ENDPOINTS = ["GET /api/v2/server/exchangeinfo", "GET /api/v2/orderbook", "GET /api/v1/users/balances",
             "GET /api/v1/openOrders", "GET /api/v1/allOrders", "GET /api/v1/order/{id}",
             "GET /api/v1/users/transactions/trade", "POST /api/v1/order", "DELETE /api/v1/order"]
EXAMPLES = 20  # per endpoint
Reply = Callable[[], httpx.Response]


@dataclass
class Clock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


def _journal(store: Store, cid: str, symbol: str, status: OrderStatus, exid: int | None, at: datetime) -> None:
    order = LocalOrder(cid, exid, "btcturk", "3", symbol, Side.BUY, OrderMethod.LIMIT, Decimal(0), Decimal(0),
                       Decimal(0), Decimal(0), status, "h", False, False, 0, at, at)
    store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), at)


def _venue_order(sim: SimExchange, cid: str, symbol: str, cancel: bool) -> tuple[int, Decimal, Decimal]:
    book = sim.order_book(symbol)
    quantity = (Decimal(150) / book.bids[0].price).quantize(Decimal(1).scaleb(-sim.rules(symbol).base_scale))
    order = sim.submit_raw(symbol, "buy", "limit", book.bids[0].price, quantity + sim.rules(symbol).min_quantity_at(
        book.bids[0].price), cid)
    if cancel:
        sim.cancel_order(order.order_id)
    return order.order_id, order.price, order.quantity


def _seed(sim: SimExchange, store: Store, clock: Clock) -> None:
    """Orders that make the next cycle call every endpoint: an UNKNOWN order the venue cancelled (allOrders), a
    live order gone from openOrders (order/{id}), a stale resting order (DELETE), a pair to buy (POST); no
    cached rules (exchangeinfo); live orders (users/transactions/trade)."""
    clock.at = T0 - timedelta(hours=2)
    _venue_order(sim, "bb-unknown", "BTCTRY", cancel=True)
    _journal(store, "bb-unknown", "BTCTRY", OrderStatus.UNKNOWN, None, clock.at)
    exid, _, _ = _venue_order(sim, "bb-vanished", "ETHTRY", cancel=True)
    _journal(store, "bb-vanished", "ETHTRY", OrderStatus.OPEN, exid, clock.at)
    exid, _, _ = _venue_order(sim, "bb-stale", "USDTTRY", cancel=False)
    _journal(store, "bb-stale", "USDTTRY", OrderStatus.OPEN, exid, clock.at)
    clock.at = T0


def _run(hostile: dict[str, Reply], capture: str | None = None) -> dict[str, Any]:
    """One live cycle from the seeded state with `hostile` replies; the journal it leaves, normalised (and,
    with `capture`, the first valid reply body of that endpoint)."""
    with tempfile.TemporaryDirectory() as tmp:
        state, clock = Path(tmp), Clock()
        settings = load_settings(state_dir=state, exchange="btcturk", symbols=SYMBOLS, dry_run=False,
                                 kill_switch=False, live_trading=True, live_trading_ack="I_UNDERSTAND",
                                 api_key="fuzz-key", api_secret="c2VjcmV0")
        with SimExchange.open(None, SimConfig(seed=11, auto_advance=False), clock) as sim:
            store = Store.open(state, "btcturk")
            try:
                _seed(sim, store, clock)
                venue = Venue(sim, clock.now, hostile=hostile, capture=capture)
                exchange = venue.exchange(clock.now, block_store=store)
                report = run_cycle(Deps(settings, exchange, store, clock, Mode("btcturk", True, ())),
                                   stage3_config(settings))
                exchange.close()
                assert venue.unexpected == []
                assert set(hostile) <= set(venue.seen), (set(hostile), venue.seen)  # the endpoint was exercised
                result = {"exit_code": report.exit_code, "outcome": report.outcome, **_tables(store.db.path)}
                return {**result, "captured": venue.captured} if capture else result
            finally:
                store.close()


def _tables(path: str) -> dict[str, Any]:
    with sqlite3.connect(path) as db:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(db.execute(sql).fetchall(), key=repr)

        return {
            "orders": rows("SELECT client_order_id, exchange_order_id, symbol, side, price, quantity, status, "
                           "filled_quantity, exchange_filled, probe_count FROM orders"),
            "fills": rows("SELECT trade_id, order_id, quantity, fee, tax FROM fills"),
            "positions": rows("SELECT symbol, quantity, cost_basis, fees_paid FROM positions"),
            "balances": rows("SELECT asset, free, locked FROM balances"),
            "kv": rows("SELECT key, value FROM kv"),
            "breaker": rows("SELECT state, failures FROM breaker"),
            "events": Counter(db.execute("SELECT kind, code, symbol, client_order_id FROM events").fetchall()),
        }


def _unreachable(endpoint: str) -> Reply:
    status = 500 if endpoint.startswith(("POST", "DELETE")) else 503
    return lambda: httpx.Response(status, json={"success": False, "message": "SERVICE_UNAVAILABLE", "code": status})


@cache
def _reference(endpoint: str) -> dict[str, Any]:
    return _run({endpoint: _unreachable(endpoint)})


@cache
def _valid_body(endpoint: str) -> Any:
    """A valid reply of `endpoint` in the seeded world: what the hostile replies are made from."""
    captured = _run({}, capture=endpoint)["captured"]
    assert captured is not None
    return valid_json(captured)


def test_cycle_seeded_world_calls_every_endpoint_and_reference_runs_are_deterministic() -> None:
    clean = _run({})
    assert clean["exit_code"] == 0
    assert _run({}) == clean  # deterministic: a hostile run can be compared with a reference run
    statuses = {row[0]: row[6] for row in clean["orders"]}
    assert statuses["bb-unknown"] == "CANCELED" and statuses["bb-vanished"] == "CANCELED"
    assert statuses["bb-stale"] == "CANCEL_REQUESTED"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_cycle_unusable_reply_leaves_the_journal_an_outage_leaves(endpoint: str, data: Any) -> None:
    reply = data.draw(unusable_reply(_valid_body(endpoint)))
    assert _run({endpoint: reply}) == _reference(endpoint)


def test_cycle_nested_json_reply_to_a_submit_leaves_the_order_unknown_never_submitting() -> None:
    # issue 8 finding 2: RecursionError escaped the client, the cycle died (exit 1) with the order SUBMITTING
    nested = b'{"success": true, "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    result = _run({"POST /api/v1/order": lambda: httpx.Response(200, content=nested)})
    placed = {row[0]: row[6] for row in result["orders"] if row[0].startswith("bb3b-")}
    assert result["exit_code"] == 0 and placed and set(placed.values()) == {"UNKNOWN"}
