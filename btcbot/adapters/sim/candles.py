"""A market feed that replays candles (backtests): the simulator's market at each tick is one candle.

Tick 0 (the market's creation) sits at the first candle's open price; tick i (i >= 1) is candle i-1:

- the **book** is synthetic around the candle's close: `depth` levels per side, the best bid and ask
  `spread_bps`/2 from the close, then `level_step_bps` apart (bids round down, asks up to the price scale);
  each level holds `volume_share` of the candle's volume (at least the pair's minimum order), so an order
  that crosses at submission fills as taker against it, level by level, at the levels' prices;
- the tick's **range** is the candle's low and high, and its **flows** are the volume our resting orders can
  trade against: for each side, `volume_share` × volume × 2u with u uniform on [0, 1] (mean: `volume_share`
  of the volume), u drawn from (seed, tick, side) by integer hashing, so a run is a pure function of the
  candles and the seed. The matching engine fills a resting buy at its price when low < price, a resting
  sell when high > price, within the flow (see `MatchingEngine`).

Candle times are not used here: the backtest runner advances the simulator one tick per candle, at the
candle's close time, so a cycle only ever sees candles that have closed.

Pairs in `flat` stand still at a fixed price (a book of minimum-size levels, no range, no flows): a backtest of a
USDT pair carries USDTTRY this way, so the strategy's TRY amounts convert at a fixed rate.

Books are built only where a cycle reads them: with `book_every=N`, at ticks 0, N, 2N, ... and the last
candle's tick (the runner runs a cycle after those); the ticks in between carry an empty book (nobody reads
it, and resting orders fill by the range and flows, which every tick carries). The default builds every book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from btcbot.adapters.sim.config import DEFAULT_PAIRS, PairSpec
from btcbot.adapters.sim.market import BookShape, MarketTick
from btcbot.domain.candles import Candle
from btcbot.domain.fees import fee_schedule
from btcbot.domain.models import BookLevel, OrderBook, Side
from btcbot.domain.money import ONE, ZERO
from btcbot.domain.symbols import SymbolRules, split_symbol

__all__ = ["CANDLE_BOOK", "VOLUME_SHARE", "CandleFeed", "candle_pair"]

VOLUME_SHARE = Decimal("0.1")
_BPS = Decimal("0.0001")
_UNIT = 1_000_000  # u has 6 decimals
_MASK = (1 << 64) - 1
CANDLE_BOOK = BookShape(depth=5)  # the random walk's spread and level step, fewer levels (sizes: volume share)


def _mix(value: int) -> int:
    """splitmix64: a well-spread 64-bit hash of an integer (deterministic on every platform)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


class CandleFeed:
    """Replays `candles` as ticks (see the module docstring); one feed serves one symbol."""

    def __init__(self, candles: Sequence[Candle], seed: int, volume_share: Decimal = VOLUME_SHARE,
                 shape: BookShape = CANDLE_BOOK, book_every: int = 1,
                 flat: Mapping[str, Decimal] | None = None) -> None:
        if not candles or book_every < 1:
            raise ValueError("a candle feed needs at least one candle and book_every >= 1")
        self.candles = candles
        self.seed = seed
        self.volume_share = volume_share
        self.shape = shape
        self.book_every = book_every
        self.flat = dict(flat or {})  # other pairs at a fixed price (USDTTRY for a USDT pair's TRY caps)
        self._seed_hash = _mix(seed & _MASK)
        # each level's price factors (1 − offset, 1 + offset) and the deepest bid's: exact, computed once
        offsets = [(shape.spread_bps / 2 + k * shape.level_step_bps) * _BPS for k in range(shape.depth)]
        self._factors = tuple((ONE - offset, ONE + offset) for offset in offsets)
        self._deepest = ONE - (shape.spread_bps / 2 + (shape.depth - 1) * shape.level_step_bps) * _BPS

    def uniform(self, tick: int, side: int) -> Decimal:
        """u in [0, 1] in steps of 1e-6 from (seed, tick, side)."""
        mixed = _mix(self._seed_hash ^ (tick << 1 | side))
        return Decimal(mixed % (_UNIT + 1)).scaleb(-6)

    def tick(self, symbol: str, tick: int, previous_mid: Decimal, rules: SymbolRules, at: datetime) -> MarketTick:
        if symbol in self.flat:
            price = self.flat[symbol]
            wanted = tick % self.book_every == 0 or tick >= len(self.candles)
            return MarketTick(mid=price, book=self.book(symbol, price, ZERO, rules, at) if wanted
                              else OrderBook(symbol, (), (), at))
        if tick == 0:
            first = self.candles[0]
            return MarketTick(mid=first.open, book=self.book(symbol, first.open, first.volume, rules, at))
        if tick > len(self.candles):  # past the data: the market stands still
            last = self.candles[-1]
            return MarketTick(mid=last.close, book=self.book(symbol, last.close, last.volume, rules, at))
        candle = self.candles[tick - 1]
        share = self.volume_share * candle.volume * 2
        wanted = tick % self.book_every == 0 or tick == len(self.candles)
        return MarketTick(
            mid=candle.close,
            book=self.book(symbol, candle.close, candle.volume, rules, at) if wanted else OrderBook(symbol, (), (), at),
            buy_flow=share * self.uniform(tick, 0),
            sell_flow=share * self.uniform(tick, 1),
            low=candle.low,
            high=candle.high,
        )

    def book(self, symbol: str, price: Decimal, volume: Decimal, rules: SymbolRules, at: datetime) -> OrderBook:
        """`depth` levels per side around `price`, each `volume_share` × volume (at least the minimum order)."""
        bids: list[BookLevel] = []
        asks: list[BookLevel] = []
        unit = ONE.scaleb(-rules.price_scale)
        lowest = rules.quantize_price(price * self._deepest, Side.BUY)
        # every level holds at least the minimum order at the book's lowest price (so at its own price too)
        size = max(rules.quantize_quantity(volume * self.volume_share), rules.min_quantity_at(max(lowest, unit)))
        for below, above in self._factors:
            bid = rules.quantize_price(price * below, Side.BUY)
            ask = rules.quantize_price(price * above, Side.SELL)
            if bids and bid >= bids[-1].price:
                bid = bids[-1].price - unit
            if asks and ask <= asks[-1].price:
                ask = asks[-1].price + unit
            if bid > 0:
                bids.append(BookLevel(bid, size))
            asks.append(BookLevel(ask, size))
        return OrderBook(symbol=symbol, bids=tuple(bids), asks=tuple(asks), timestamp=at)


def candle_pair(symbol: str, price: Decimal) -> PairSpec:
    """The simulated pair for a backtest of `symbol` starting at `price`.

    A pair the simulator knows keeps its scales, minimum and fees; another TRY pair gets BTCTurk's TRY fees
    (domain.fees), the simulator's TRY minimum order value (99.91), 8 base decimals and a price scale that
    keeps one price step near one basis point of `price` (0 decimals at 10,000 and above, 3 around 40).
    """
    for spec in DEFAULT_PAIRS:
        if spec.symbol == symbol:
            return PairSpec(spec.symbol, spec.base_scale, spec.quote_scale, spec.price_scale, spec.tick_size,
                            spec.min_notional, price, spec.maker_fee, spec.taker_fee, spec.market_orders)
    _, quote = split_symbol(symbol)
    fees = fee_schedule(quote)
    minimum = next(spec.min_notional for spec in DEFAULT_PAIRS if spec.quote == quote)
    price_scale = max(0, 4 - price.adjusted())
    return PairSpec(symbol, 8, max(2, price_scale), price_scale, ONE.scaleb(-price_scale), minimum, price,
                    fees.maker, fees.taker)

