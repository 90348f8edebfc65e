"""Market data for the simulator: what the order book looks like at each tick.

A `MarketFeed` is asked for one symbol's market at each engine tick. Feeds are pure functions of their
inputs (and of data they were given), so the engine needs no RNG state to persist:

- `RandomWalkFeed`: seeded random walk; randomness derives from `(seed, symbol, tick)`.
- `BookSnapshotFeed`: replays books it is given (paper mode with real BTCTurk books, exact test books).
- `CandleFeed` (candles.py): replays candles for backtests; each tick carries the candle's range.

Randomness is drawn as integers and turned into Decimals, so no float ever touches a price or size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from btcbot.domain.models import BookLevel, OrderBook, Side
from btcbot.domain.money import ONE, ZERO, floor_to_scale
from btcbot.domain.symbols import SymbolRules

__all__ = [
    "DEFAULT_VOLATILITY_BPS",
    "BookShape",
    "BookSnapshotFeed",
    "MarketFeed",
    "MarketTick",
    "RandomWalkFeed",
    "gauss",
    "synthetic_book",
    "synthetic_flow",
    "uniform",
]

_UNIT = 1_000_000
_BPS = Decimal("0.0001")
_MID_EXTRA_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class MarketTick:
    """One symbol's market at one tick.

    `buy_flow`/`sell_flow`: base quantity other traders buy/sell at the touch during the tick; it fills
    our resting sells priced at or below the best ask (buy flow) and buys at or above the best bid.

    `low`/`high` (both or neither): the range the market traded through during the tick (a candle). With a
    range, resting orders fill by it instead: a buy priced above `low` from the sell flow, a sell priced
    below `high` from the buy flow, and the new book's levels are not taken (see MatchingEngine).
    """

    mid: Decimal
    book: OrderBook
    buy_flow: Decimal = ZERO
    sell_flow: Decimal = ZERO
    low: Decimal | None = None
    high: Decimal | None = None


class MarketFeed(Protocol):
    def tick(self, symbol: str, tick: int, previous_mid: Decimal, rules: SymbolRules, at: datetime) -> MarketTick:
        """The market of `symbol` at `tick`; tick 0 is the market's creation (the mid must not move)."""
        ...


DEFAULT_VOLATILITY_BPS = Decimal("15")


@dataclass(frozen=True, slots=True)
class BookShape:
    """Shape of synthetic books (see SimConfig for the meaning of each knob)."""

    spread_bps: Decimal = Decimal("8")
    depth: int = 10
    level_step_bps: Decimal = Decimal("3")
    level_notional_multiple: Decimal = Decimal("20")
    thin_level_probability: Decimal = Decimal("0.1")
    flow_probability: Decimal = Decimal("0.5")


def uniform(rng: random.Random) -> Decimal:
    """Uniform on [0, 1] in steps of 1e-6."""
    return Decimal(rng.randrange(_UNIT + 1)) / _UNIT


def gauss(rng: random.Random) -> Decimal:
    """Approximately N(0, 1) (Irwin–Hall: sum of 12 uniforms − 6), bounded by ±6."""
    total = sum(rng.randrange(_UNIT + 1) for _ in range(12))
    return Decimal(total - 6 * _UNIT) / _UNIT


def _level_notional(rules: SymbolRules, shape: BookShape, rng: random.Random) -> Decimal:
    thin = uniform(rng) < shape.thin_level_probability
    u = uniform(rng)
    if thin:
        return rules.min_notional * (Decimal("0.5") + 2 * u)
    median = rules.min_notional * shape.level_notional_multiple
    return median * (Decimal("0.3") + Decimal("1.4") * u)


def _side_levels(
    side: Side, mid: Decimal, rules: SymbolRules, shape: BookShape, rng: random.Random
) -> tuple[BookLevel, ...]:
    unit = ONE.scaleb(-rules.price_scale)
    min_size = ONE.scaleb(-rules.base_scale)
    levels: list[BookLevel] = []
    for k in range(shape.depth):
        offset = (shape.spread_bps / 2 + k * shape.level_step_bps) * _BPS
        if side is Side.BUY:
            price = rules.quantize_price(mid * (ONE - offset), Side.BUY)
            if levels and price >= levels[-1].price:
                price = levels[-1].price - unit
        else:
            price = rules.quantize_price(mid * (ONE + offset), Side.SELL)
            if levels and price <= levels[-1].price:
                price = levels[-1].price + unit
        if price <= 0:
            break
        size = max(min_size, floor_to_scale(_level_notional(rules, shape, rng) / price, rules.base_scale))
        levels.append(BookLevel(price, size))
    return tuple(levels)


def synthetic_book(
    symbol: str, mid: Decimal, rules: SymbolRules, shape: BookShape, rng: random.Random, at: datetime
) -> OrderBook:
    """A book of `shape.depth` levels per side around `mid`; bids round down, asks up to the price scale."""
    bids = _side_levels(Side.BUY, mid, rules, shape, rng)
    asks = _side_levels(Side.SELL, mid, rules, shape, rng)
    return OrderBook(symbol=symbol, bids=bids, asks=asks, timestamp=at)


def synthetic_flow(mid: Decimal, rules: SymbolRules, shape: BookShape, rng: random.Random) -> tuple[Decimal, Decimal]:
    """(buy_flow, sell_flow) in base units: each side trades with `flow_probability`, 0.5–(0.5+multiple)
    × min notional, so a flow is sometimes smaller than a small resting order."""
    flows: list[Decimal] = []
    for _ in range(2):
        active = uniform(rng) < shape.flow_probability
        notional = rules.min_notional * (Decimal("0.5") + shape.level_notional_multiple * uniform(rng))
        flows.append(floor_to_scale(notional / mid, rules.base_scale) if active else ZERO)
    return flows[0], flows[1]


class RandomWalkFeed:
    """Seeded random walk: per symbol and tick the mid moves by N(0, volatility_bps) basis points."""

    def __init__(
        self, seed: int, volatility_bps: Decimal = DEFAULT_VOLATILITY_BPS, shape: BookShape | None = None
    ) -> None:
        self.seed = seed
        self.volatility_bps = volatility_bps
        self.shape = shape if shape is not None else BookShape()

    def rng(self, symbol: str, tick: int) -> random.Random:
        return random.Random(f"{self.seed}:{symbol}:{tick}")

    def tick(self, symbol: str, tick: int, previous_mid: Decimal, rules: SymbolRules, at: datetime) -> MarketTick:
        rng = self.rng(symbol, tick)
        mid = previous_mid
        if tick > 0:
            step = gauss(rng) * self.volatility_bps * _BPS
            mid = floor_to_scale(previous_mid * (ONE + step), rules.price_scale + _MID_EXTRA_DECIMALS)
            if mid <= 0:
                mid = previous_mid
        book = synthetic_book(symbol, mid, rules, self.shape, rng, at)
        buy_flow, sell_flow = synthetic_flow(mid, rules, self.shape, rng) if tick > 0 else (ZERO, ZERO)
        return MarketTick(mid=mid, book=book, buy_flow=buy_flow, sell_flow=sell_flow)


class BookSnapshotFeed:
    """Serves the latest book pushed for each symbol (paper mode, tests with exact books).

    Until a book is pushed the symbol has an empty book at the previous mid. Flows are served once:
    they apply to the next tick only.
    """

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        self._flows: dict[str, tuple[Decimal, Decimal]] = {}

    def push(self, book: OrderBook, buy_flow: Decimal = ZERO, sell_flow: Decimal = ZERO) -> None:
        self._books[book.symbol] = book
        self._flows[book.symbol] = (buy_flow, sell_flow)

    def tick(self, symbol: str, tick: int, previous_mid: Decimal, rules: SymbolRules, at: datetime) -> MarketTick:
        book = self._books.get(symbol)
        if book is None:
            return MarketTick(mid=previous_mid, book=OrderBook(symbol, (), (), at))
        buy_flow, sell_flow = self._flows.pop(symbol, (ZERO, ZERO)) if tick > 0 else (ZERO, ZERO)
        mid = book.mid if book.mid is not None else previous_mid
        return MarketTick(mid=mid, book=book, buy_flow=buy_flow, sell_flow=sell_flow)
