#!/usr/bin/env python3
"""Generate synthetic 1-minute candles in btcbot's candle CSV format (deterministic for a seed).

The price is a random walk in basis points with a slowly changing drift (regimes of a few hours: up, down,
sideways), a per-minute volatility that itself wanders between calm and busy, and a daily rhythm; high and
low add seeded excursions beyond open/close. Volume (base asset) is log-uniform and follows the volatility,
and about 1% of the minutes are very thin (a few ten-thousandths of a BTC), so that resting orders
sometimes fill only partly. Only integers are drawn; prices and volumes are Decimals (no float touches them).

The sample shipped with btcbot (`btcbot/data/btctry_1m_sample.csv`, used by `btcbot backtest --sample`) is:

    .venv/bin/python scripts/make_sample_candles.py --out btcbot/data/btctry_1m_sample.csv

(the defaults: BTCTRY from 3,500,000 TRY, 4,320 candles = 3 days from 2025-01-06T00:00Z, seed 20250106).
The throughput benchmark calls `generate()` for a year of candles instead of shipping them.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

ONE = Decimal(1)
BPS = Decimal("0.0001")
_UNIT = 1_000_000


def _uniform(rng: random.Random) -> Decimal:
    return Decimal(rng.randrange(_UNIT + 1)) / _UNIT


def _gauss(rng: random.Random) -> Decimal:
    """≈ N(0, 1): Irwin–Hall sum of 12 uniforms − 6."""
    return Decimal(sum(rng.randrange(_UNIT + 1) for _ in range(12)) - 6 * _UNIT) / _UNIT


_VOLUME_FACTORS = [Decimal(40) ** (Decimal(k) / 1000) for k in range(1001)]  # 40^u on a grid of u


def generate(count: int, *, start: datetime, price: Decimal, seed: int, price_scale: int = 0,
             base_scale: int = 8) -> Iterator[str]:
    """CSV lines (header first) of `count` 1-minute candles."""
    rng = random.Random(seed)
    price_step = ONE.scaleb(-price_scale)
    size_step = ONE.scaleb(-base_scale)
    drift = Decimal(0)
    vol = Decimal(8)  # bps per minute
    yield "timestamp,open,high,low,close,volume\n"
    for minute in range(count):
        if minute % 180 == 0:  # a new regime every three hours: drift in [-1.5, +1.5] bps/minute
            drift = (_uniform(rng) * 3 - Decimal("1.5"))
        vol = min(Decimal(25), max(Decimal(3), vol + _gauss(rng) * Decimal("0.6")))
        rhythm = ONE + Decimal("0.3") * (ONE if (minute // 60) % 24 in range(9, 18) else Decimal(-1))
        step = (drift + _gauss(rng) * vol * rhythm) * BPS
        open_ = price
        close = max(price_step, (price * (ONE + step)).quantize(price_step, ROUND_HALF_EVEN))
        wick_up = _uniform(rng) * vol * rhythm * BPS
        wick_down = _uniform(rng) * vol * rhythm * BPS
        high = (max(open_, close) * (ONE + wick_up)).quantize(price_step, ROUND_HALF_EVEN)
        low = max(price_step, (min(open_, close) * (ONE - wick_down)).quantize(price_step, ROUND_HALF_EVEN))
        if _uniform(rng) < Decimal("0.01"):
            volume = Decimal("0.0001") + _uniform(rng) * Decimal("0.0009")
        else:
            volume = Decimal("0.05") * _VOLUME_FACTORS[rng.randrange(1001)] * vol / 8
        volume = max(size_step, volume.quantize(size_step, ROUND_DOWN))
        stamp = int((start + timedelta(minutes=minute)).timestamp())
        yield f"{stamp},{open_},{high},{low},{close},{volume.normalize():f}\n"
        price = close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    parser.add_argument("--count", type=int, default=3 * 1440, help="number of 1-minute candles")
    parser.add_argument("--start", default="2025-01-06T00:00:00+00:00", help="open time of the first candle")
    parser.add_argument("--price", default="3500000", help="first open price")
    parser.add_argument("--seed", type=int, default=20250106)
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start).astimezone(UTC)
    lines = generate(args.count, start=start, price=Decimal(args.price), seed=args.seed)
    if args.out is None:
        sys.stdout.writelines(lines)
        return
    with args.out.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(lines)


if __name__ == "__main__":
    main()
