"""Candles of the simulated market, for `btcbot sim serve`'s GET /v1/klines/history (btcturk-api.md §4.7).

`HistoryFeed` wraps the simulator's feed and remembers, per pair, the market of each tick it generates (time,
mid, and the base volume other traders traded: the tick's buy and sell flows), up to `keep` ticks per pair,
in memory: the history starts when the server starts. `klines` aggregates it into candles of `resolution`
seconds aligned to the epoch (a tick belongs to the candle its time falls in, one exactly on a boundary to
the candle it closes): a candle opens at the mid before its first tick, high/low span that and every
mid of its ticks, closes at its last tick's mid; volume is the flows' sum. The reply has BTCTurk's shape:
parallel arrays, times in seconds, numbers as JSON numbers; `{"s": "no_data"}` when the range has no tick.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from btcbot.adapters.sim.market import MarketFeed, MarketTick
from btcbot.domain.symbols import SymbolRules

__all__ = ["HistoryFeed", "TickSample", "klines_reply"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEP = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class TickSample:
    at: datetime
    before: Decimal  # the mid before this tick
    mid: Decimal
    volume: Decimal


class HistoryFeed:
    """A MarketFeed that delegates to `inner` and records every tick it serves."""

    def __init__(self, inner: MarketFeed, keep: int = 100_000) -> None:
        self.inner = inner
        self.keep = keep
        self.samples: dict[str, deque[TickSample]] = {}

    def tick(self, symbol: str, tick: int, previous_mid: Decimal, rules: SymbolRules, at: datetime) -> MarketTick:
        market = self.inner.tick(symbol, tick, previous_mid, rules, at)
        if tick > 0:
            samples = self.samples.setdefault(symbol, deque(maxlen=self.keep))
            samples.append(TickSample(at, previous_mid, market.mid, market.buy_flow + market.sell_flow))
        return market

    def history(self, symbol: str) -> list[TickSample]:
        return list(self.samples.get(symbol, ()))


def klines_reply(samples: list[TickSample], resolution: int, start: int, end: int,
                 price_scale: int) -> dict[str, object]:
    """The klines object for candles opening in [start, end] (epoch seconds) of `resolution` seconds."""
    buckets: dict[int, list[TickSample]] = {}
    span = timedelta(seconds=resolution)
    for sample in samples:
        # a tick is the market's move over the tick before `at`: one exactly on a boundary closes that candle
        opened = ((sample.at - _EPOCH - _STEP) // span) * resolution
        if start <= opened <= end:
            buckets.setdefault(opened, []).append(sample)
    if not buckets:
        return {"s": "no_data"}
    unit = Decimal(1).scaleb(-price_scale)
    columns: dict[str, list[object]] = {name: [] for name in ("t", "o", "h", "l", "c", "v")}
    for opened in sorted(buckets):
        ticks = buckets[opened]
        prices = [ticks[0].before, *(t.mid for t in ticks)]
        row = (opened, prices[0], max(prices), min(prices), prices[-1], sum((t.volume for t in ticks), Decimal(0)))
        for name, value in zip(columns, row, strict=True):
            columns[name].append(value if name in ("t", "v") else Decimal(value).quantize(unit))  # type: ignore[arg-type]
    return {"s": "ok", **columns}
