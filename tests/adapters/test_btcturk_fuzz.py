"""Fuzz at the boundary (R-REL-3; issue 8 item 15): hypothesis feeds the BTCTurk adapter malformed, truncated,
wrong-typed, negative, huge, deeply nested and HTML replies on every endpoint the bot uses. Each call returns a
value that respects the boundary's bounds or raises a classified ExchangeError, never anything else; a write that
got a reply is never "not sent", and an unparseable 2xx reply to a write is OutcomeUnknown."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hostile import STATUSES, hostile_body, valid_json
from hypothesis import given, settings
from hypothesis import strategies as st
from venue import BASE, Venue

from btcbot.adapters.btcturk import BtcTurkExchange, InMemoryBlockStore
from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.domain.errors import ExchangeError, OutcomeUnknown, RateLimited, Rejected, Unavailable
from btcbot.domain.models import (
    Balance,
    FillReport,
    OrderBook,
    OrderMethod,
    OrderReport,
    OrderRequest,
    Side,
    SubmitAck,
)
from btcbot.domain.symbols import SymbolRules

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
EXAMPLES = 60  # per endpoint


@dataclass(frozen=True)
class Call:
    key: str  # the endpoint key (as the limiter and the sim server name it)
    request: tuple[str, str]  # method and URL of a valid request, to capture a valid body to mutate
    call: Callable[[BtcTurkExchange, int], Any]  # (exchange, an order id of ours) -> value

    @property
    def write(self) -> bool:
        return self.request[0] != "GET"


REQUEST = OrderRequest("bb-fuzz-1", "BTCTRY", Side.BUY, OrderMethod.LIMIT, Decimal("3400000"), Decimal("0.0001"))
CALLS = {
    "server_time": Call("GET /api/v2/server/time", ("GET", "/api/v2/server/time"), lambda ex, _: ex.server_time()),
    "exchange_info": Call("GET /api/v2/server/exchangeinfo", ("GET", "/api/v2/server/exchangeinfo"),
                          lambda ex, _: ex.exchange_info()),
    "order_book": Call("GET /api/v2/orderbook", ("GET", "/api/v2/orderbook?pairSymbol=BTCTRY&limit=25"),
                       lambda ex, _: ex.order_book("BTCTRY")),
    "balances": Call("GET /api/v1/users/balances", ("GET", "/api/v1/users/balances"), lambda ex, _: ex.balances()),
    "open_orders": Call("GET /api/v1/openOrders", ("GET", "/api/v1/openOrders"),
                        lambda ex, _: ex.open_orders(["BTCTRY"])),
    "all_orders": Call("GET /api/v1/allOrders", ("GET", "/api/v1/allOrders?pairSymbol=BTCTRY&limit=100"),
                       lambda ex, _: ex.all_orders("BTCTRY", start=T0)),
    "get_order": Call("GET /api/v1/order/{id}", ("GET", "/api/v1/order/{id}"), lambda ex, oid: ex.get_order(oid)),
    "fills": Call("GET /api/v1/users/transactions/trade", ("GET", "/api/v1/users/transactions/trade"),
                  lambda ex, _: ex.fills(["BTCTRY"], since=None)),
    "submit_order": Call("POST /api/v1/order", ("POST", "/api/v1/order"), lambda ex, _: ex.submit_order(REQUEST)),
    "cancel_order": Call("DELETE /api/v1/order", ("DELETE", "/api/v1/order?id={id}"),
                         lambda ex, oid: ex.cancel_order(oid)),
}


@dataclass(frozen=True)
class World:
    venue: Venue
    order_id: int  # a resting order of ours
    valid: dict[str, Any]  # endpoint name -> a valid reply body (decoded)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A venue with a resting order, a filled order and its fills, and a valid body of every endpoint."""
    clock = lambda: T0  # noqa: E731
    with SimExchange.open(None, SimConfig(seed=3, auto_advance=False), type("C", (), {"now": staticmethod(clock)})()
                          ) as sim:
        book = sim.order_book("BTCTRY")
        resting = sim.submit_raw("BTCTRY", "buy", "limit", book.bids[0].price, Decimal("0.0001"), "bb-rest")
        sim.submit_raw("BTCTRY", "buy", "limit", book.asks[0].price * 2, Decimal("0.0001"), "bb-fill")
        venue = Venue(sim, clock)
        valid = {}
        for name, call in CALLS.items():
            method, url = call.request
            order = {"newOrderClientId": "x", "pairSymbol": "BTCTRY", "quantity": "0.0001",
                     "price": str(book.bids[0].price), "orderMethod": "limit", "orderType": "buy"}
            body = json.dumps(order).encode() if method == "POST" else b""
            reply = venue.handler(httpx.Request(method, BASE + url.format(id=resting.order_id), content=body,
                                                headers={"Content-Type": "application/json"}))
            assert reply.status_code == 200 and not venue.unexpected, (name, reply.content)
            valid[name] = valid_json(reply.content)
        yield World(venue, resting.order_id, valid)


def _parses(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def _check_value(value: Any) -> None:
    """What the adapter returns respects the boundary's rules (R-REL-3)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, OrderBook):
            assert all(lvl.price > 0 and lvl.quantity >= 0 for lvl in (*item.bids, *item.asks))
            assert list(item.bids) == sorted(item.bids, key=lambda lvl: lvl.price, reverse=True)
        elif isinstance(item, Balance):
            assert item.free >= 0 and item.locked >= 0
        elif isinstance(item, OrderReport):
            assert item.price >= 0 and item.quantity >= 0 and item.left_quantity >= 0 and item.exchange_order_id >= 0
        elif isinstance(item, FillReport):
            assert item.price > 0 and item.quantity >= 0 and item.fee >= 0 and item.tax >= 0
        elif isinstance(item, SymbolRules):
            assert 0 <= item.base_scale <= 18 and 0 <= item.quote_scale <= 18 and item.min_notional >= 0
        elif isinstance(item, SubmitAck):
            assert item.exchange_order_id >= 0
        elif isinstance(item, datetime):
            assert item.tzinfo is not None
        else:
            assert item is None, type(item)


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_adapter_any_hostile_reply_is_a_value_or_a_classified_error(world: World, name: str, data: Any) -> None:
    call = CALLS[name]
    _family, body = data.draw(hostile_body(world.valid[name], usable_possible=True))
    status = data.draw(STATUSES)
    headers = {"Content-Type": "application/json", "Retry-After": data.draw(st.sampled_from(["1", "1e400", "x"]))}
    world.venue.hostile = {call.key: lambda: httpx.Response(status, content=body, headers=headers)}
    world.venue.passthrough = False
    world.venue.unexpected.clear()
    exchange = world.venue.exchange(lambda: T0, InMemoryBlockStore())
    try:
        _check_value(call.call(exchange, world.order_id))
    except ExchangeError as exc:
        if call.write and status != 429:
            assert not isinstance(exc, Unavailable), exc  # a reply came back: it was sent, never "not sent"
        if call.write and 200 <= status < 300:
            assert isinstance(exc, OutcomeUnknown | Rejected), exc
            if not _parses(body):
                assert isinstance(exc, OutcomeUnknown), exc
        if status == 429:
            assert isinstance(exc, RateLimited | Rejected), exc
    finally:
        exchange.close()
    assert world.venue.unexpected == []
