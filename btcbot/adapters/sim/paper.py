"""Paper venue: dry-run against BTCTurk. Market data (rules, books, server time) is read from the real
exchange; the account (balances, orders, fills) is the simulator's, matched against the real books.
Nothing is ever written to the real exchange from here.

Paper balances start at the simulator's defaults (see SimConfig) and persist in `state/paper.sqlite`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from btcbot.adapters.sim.config import PairSpec, SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sim.market import BookSnapshotFeed
from btcbot.domain.fees import fee_schedule
from btcbot.domain.models import Balance, FillReport, OrderBook, OrderReport, OrderRequest, SubmitAck
from btcbot.domain.symbols import SymbolRules
from btcbot.ports import Clock, Exchange

__all__ = ["PaperExchange", "open_paper"]


class PaperExchange:
    """Reads the market from `live`, trades on a simulator fed with the live books."""

    name = "paper"

    def __init__(self, live: Exchange, sim: SimExchange, feed: BookSnapshotFeed, clock: Clock) -> None:
        self.live = live
        self.sim = sim
        self.feed = feed
        self.clock = clock
        self._lock = threading.Lock()

    # market data: the real exchange
    def server_time(self) -> datetime:
        return self.live.server_time()

    def exchange_info(self) -> list[SymbolRules]:
        return self.live.exchange_info()

    def order_book(self, symbol: str, limit: int = 25) -> OrderBook:
        book = self.live.order_book(symbol, limit)
        with self._lock:  # resting paper orders match against the real book
            self.feed.push(book)
            self.sim.advance(self.clock.now(), ticks=1)
        return book

    # the account: simulated
    def balances(self) -> list[Balance]:
        return self.sim.balances()

    def open_orders(self, symbols: Sequence[str]) -> list[OrderReport]:
        return self.sim.open_orders(symbols)

    def all_orders(self, symbol: str, start: datetime | None = None, limit: int = 100) -> list[OrderReport]:
        return self.sim.all_orders(symbol, start, limit)

    def get_order(self, exchange_order_id: int) -> OrderReport:
        return self.sim.get_order(exchange_order_id)

    def fills(self, symbols: Sequence[str], since: datetime | None = None) -> list[FillReport]:
        return self.sim.fills(symbols, since)

    def submit_order(self, request: OrderRequest) -> SubmitAck:
        return self.sim.submit_order(request)

    def cancel_order(self, exchange_order_id: int) -> None:
        self.sim.cancel_order(exchange_order_id)

    def close(self) -> None:
        self.sim.close()
        close = getattr(self.live, "close", None)
        if close is not None:
            close()


def open_paper(path: Path, live: Exchange, clock: Clock, symbols: Sequence[str]) -> PaperExchange:
    """Build the paper venue for `symbols` from the live exchange's rules (one exchangeinfo request)."""
    rules = {r.symbol: r for r in live.exchange_info()}
    pairs = tuple(_pair(rules[s]) for s in symbols if s in rules)
    feed = BookSnapshotFeed()
    sim = SimExchange.open(path, SimConfig(pairs=pairs, auto_advance=False), clock, feed=feed)
    return PaperExchange(live, sim, feed, clock)


def _pair(rules: SymbolRules) -> PairSpec:
    fees = fee_schedule(rules.quote)
    start = (rules.band_low * 10) if rules.band_low else Decimal(1)  # the band is 0.1×..10× the last price
    return PairSpec(rules.symbol, rules.base_scale, rules.quote_scale, rules.price_scale, rules.tick_size,
                    rules.min_notional, start, fees.maker, fees.taker, rules.market_orders)
