"""Mutable state of the simulated exchange (what the SQLite file holds) and its record types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from btcbot.domain.models import (
    BookLevel,
    ExchangeOrderStatus,
    FillReport,
    OrderBook,
    OrderMethod,
    OrderReport,
    Side,
)
from btcbot.domain.money import ZERO
from btcbot.domain.symbols import SymbolRules

__all__ = ["Changes", "EngineState", "Holding", "Level", "SimBook", "SimFill", "SimOrder"]


@dataclass(slots=True)
class Level:
    price: Decimal
    quantity: Decimal


@dataclass(slots=True)
class SimBook:
    """The current book of one pair; levels are consumed by our taker orders and maker fills."""

    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)

    @classmethod
    def from_order_book(cls, book: OrderBook, rules: SymbolRules) -> SimBook:
        """Copy a feed's book, quantized to the pair's scales (bids down, asks up; sizes down)."""
        if not book.bids and not book.asks:  # a backtest's ticks between two cycles
            return cls()
        bids = [
            Level(rules.quantize_price(lvl.price, Side.BUY), rules.quantize_quantity(lvl.quantity)) for lvl in book.bids
        ]
        asks = [
            Level(rules.quantize_price(lvl.price, Side.SELL), rules.quantize_quantity(lvl.quantity))
            for lvl in book.asks
        ]
        bids = sorted((lvl for lvl in bids if lvl.price > 0 and lvl.quantity > 0), key=lambda x: -x.price)
        asks = sorted((lvl for lvl in asks if lvl.price > 0 and lvl.quantity > 0), key=lambda x: x.price)
        return cls(bids=bids, asks=asks)

    def side(self, side: Side) -> list[Level]:
        """Levels of one side of the book (BUY = bids)."""
        return self.bids if side is Side.BUY else self.asks

    def snapshot(self, symbol: str, at: datetime, limit: int | None = None) -> OrderBook:
        bids = tuple(BookLevel(lvl.price, lvl.quantity) for lvl in self.bids[:limit])
        asks = tuple(BookLevel(lvl.price, lvl.quantity) for lvl in self.asks[:limit])
        return OrderBook(symbol=symbol, bids=bids, asks=asks, timestamp=at)


@dataclass(slots=True)
class Holding:
    free: Decimal
    locked: Decimal = ZERO


@dataclass(slots=True)
class SimOrder:
    """Full record of one simulated order.

    `quantity`/`left` are base amounts. `requested` is the submitted quantity (the quote budget of a
    market buy). `locked` is what the order currently holds (quote for buys, base for sells).
    `cancel_due` is set while a delayed cancel is pending.
    """

    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    method: OrderMethod
    price: Decimal
    quantity: Decimal
    left: Decimal
    requested: Decimal
    status: ExchangeOrderStatus
    created_at: datetime
    updated_at: datetime
    locked: Decimal = ZERO
    cancel_due: datetime | None = None

    def report(self) -> OrderReport:
        return OrderReport(
            exchange_order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            method=self.method,
            price=self.price,
            quantity=self.quantity,
            left_quantity=self.left,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


@dataclass(frozen=True, slots=True)
class SimFill:
    """One execution: the port's FillReport plus whether our order was the maker."""

    report: FillReport
    maker: bool

    @property
    def trade_id(self) -> int:
        return int(self.report.trade_id)


@dataclass(slots=True)
class EngineState:
    seed: int
    tick: int
    last_wall: datetime  # wall time up to which ticks have been generated
    last_event: datetime  # latest timestamp the engine has stamped (keeps stamps monotonic)
    next_order_id: int
    next_trade_id: int
    mids: dict[str, Decimal] = field(default_factory=dict)
    books: dict[str, SimBook] = field(default_factory=dict)
    holdings: dict[str, Holding] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    fills: list[SimFill] = field(default_factory=list)


@dataclass(slots=True)
class Changes:
    """What changed since the last drain: order ids to upsert, fills to insert, and whether the
    market/balances/counters (small tables, rewritten whole) changed."""

    orders: set[int] = field(default_factory=set)
    fills: list[SimFill] = field(default_factory=list)
    market: bool = False

    @property
    def empty(self) -> bool:
        return not (self.orders or self.fills or self.market)
