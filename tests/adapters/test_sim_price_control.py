"""`POST /__sim/price` and `SimExchange.set_mid`: tests steer the simulated price (trailing-stop e2e tests)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from btcbot.adapters.sim import SimConfig, SimExchange
from btcbot.adapters.sim.server import SimServer, WallClock
from btcbot.domain.models import OrderMethod, OrderRequest, Side

D = Decimal


@pytest.fixture
def sim() -> Iterator[SimExchange]:
    with SimExchange.open(None, SimConfig(seed=7), WallClock()) as exchange:
        yield exchange


@pytest.fixture
def server(sim: SimExchange) -> Iterator[SimServer]:
    with SimServer(sim) as srv:
        yield srv


def _price(server: SimServer, payload: object) -> httpx.Response:
    return httpx.post(server.url + "/__sim/price", json=payload, timeout=5)


def test_sim_price_control_moves_the_book_around_the_new_mid(server: SimServer, sim: SimExchange) -> None:
    reply = _price(server, {"symbol": "BTCTRY", "mid": "4000000"})
    assert reply.status_code == 200, reply.text
    book = sim.order_book("BTCTRY")
    assert sim.mid("BTCTRY") == D(4000000)
    assert book.best_bid is not None and book.best_ask is not None
    assert book.best_bid < D(4000000) < book.best_ask
    assert (book.best_ask - book.best_bid) / D(4000000) < D("0.001")
    assert reply.json() == {"symbol": "BTCTRY", "mid": "4000000", "best_bid": str(book.best_bid)}


def test_sim_set_mid_fills_resting_orders_the_new_book_crosses(sim: SimExchange) -> None:
    bid = sim.order_book("BTCTRY").best_bid
    assert bid is not None
    ack = sim.submit_order(OrderRequest("bb-buy", "BTCTRY", Side.BUY, OrderMethod.LIMIT, bid - 20000, D("0.0001")))
    assert sim.get_order(ack.exchange_order_id).left_quantity == D("0.0001")
    sim.set_mid("BTCTRY", bid * D("0.98"))  # the new asks are below the resting buy: it fills at its price
    assert sim.get_order(ack.exchange_order_id).left_quantity == 0
    assert {f.price for f in sim.fills(["BTCTRY"])} == {bid - 20000}


@pytest.mark.parametrize("payload", [
    {"symbol": "BTCTRY", "mid": 4000000.5},  # a float is refused: money is a string
    {"symbol": "BTCTRY", "mid": "-1"},
    {"symbol": "BTCTRY", "mid": "abc"},
    {"symbol": "NOPETRY", "mid": "1"},
    {"mid": "1"},
])
def test_sim_price_control_bad_body_is_400(server: SimServer, sim: SimExchange, payload: object) -> None:
    before = sim.mid("BTCTRY")
    reply = _price(server, payload)
    assert reply.status_code == 400 and "error" in reply.json()
    assert sim.mid("BTCTRY") == before
