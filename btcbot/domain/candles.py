"""Candles and the candle CSV format (SPEC §13). Pure: text in, candles out; no file or clock access.

CSV format: the header `timestamp,open,high,low,close,volume`, then one candle per line in time order.
`timestamp` is the candle's open time, as integer epoch seconds or ISO-8601 (a time without an offset is UTC);
prices and volume are plain decimals (`3500000`, `0.0125`: no sign, no exponent, no NaN or infinity).
Gaps between candles are allowed; a repeated or earlier timestamp is not. Every problem is a `CandleError`
(a ConfigError, exit 2) naming the source and the line.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from btcbot.domain.errors import ConfigError
from btcbot.domain.money import dec_str

__all__ = [
    "HEADER",
    "Candle",
    "CandleError",
    "candle_interval",
    "format_csv",
    "make_candle",
    "parse_csv",
    "parse_time",
    "select",
]

HEADER = ("timestamp", "open", "high", "low", "close", "volume")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_EPOCH = re.compile(r"[0-9]+")
_MAX_EPOCH = 10**11  # beyond year 5000: almost certainly milliseconds
_DEFAULT_INTERVAL = timedelta(minutes=1)


class CandleError(ConfigError):
    """Malformed candle data (exit 2); the message names the source and the line."""


@dataclass(frozen=True, slots=True)
class Candle:
    """One bar: `open_time` is the start of the interval (UTC); volume is in the base asset."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def row(self) -> str:
        """The candle as one CSV line (epoch seconds, canonical decimals)."""
        values = (self.open, self.high, self.low, self.close, self.volume)
        return ",".join([str(int(self.open_time.timestamp())), *(dec_str(v) for v in values)])


def parse_time(text: str, what: str = "time") -> datetime:
    """Epoch seconds or ISO-8601 (date, or date and time; no offset = UTC) → aware UTC datetime."""
    value = text.strip()
    if _EPOCH.fullmatch(value):
        seconds = int(value)
        if seconds >= _MAX_EPOCH:
            raise ValueError(f"{what} {value!r} is too large for epoch seconds (milliseconds?)")
        return datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is neither epoch seconds nor ISO-8601") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _number(text: str, name: str) -> Decimal:
    value = text.strip()
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"{name} {value!r} is not a plain decimal number")
    return Decimal(value)


def make_candle(open_time: datetime, open_: Decimal, high: Decimal, low: Decimal, close: Decimal,
                volume: Decimal) -> Candle:
    """A checked candle: finite non-negative decimals, prices > 0, low <= open, close <= high (ValueError)."""
    values = (open_, high, low, close, volume)
    if not all(isinstance(v, Decimal) and v.is_finite() for v in values):
        raise ValueError("prices and volume must be finite decimals")
    if min(open_, high, low, close) <= 0:
        raise ValueError("prices must be greater than 0")
    if volume < 0:
        raise ValueError("volume must not be negative")
    if high < low:
        raise ValueError(f"high {high} is below low {low}")
    if not (low <= open_ <= high and low <= close <= high):
        raise ValueError("open and close must lie between low and high")
    return Candle(open_time, open_, high, low, close, volume)


def _candle(fields: Sequence[str]) -> Candle:
    if len(fields) != len(HEADER):
        raise ValueError(f"expected {len(HEADER)} fields, found {len(fields)}")
    stamp = parse_time(fields[0], "timestamp")
    open_, high, low, close, volume = (_number(f, n) for f, n in zip(fields[1:], HEADER[1:], strict=True))
    return make_candle(stamp, open_, high, low, close, volume)


def parse_csv(lines: Iterable[str], source: str = "candles") -> list[Candle]:
    """Parse the candle CSV; raises CandleError naming `source` and the line of the first problem."""
    candles: list[Candle] = []
    seen_header = False
    previous_line = 0
    number = 0
    for number, raw in enumerate(lines, 1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        try:
            fields = [f.strip() for f in next(csv.reader([line]))]  # plain commas; quoted fields allowed
        except csv.Error as exc:
            raise CandleError(f"{source} line {number}: not a CSV row ({exc})") from None
        if not seen_header:
            if tuple(f.lower() for f in fields) != HEADER:
                raise CandleError(f"{source} line {number}: the header must be {','.join(HEADER)}, got {line!r}")
            seen_header = True
            continue
        try:
            candle = _candle(fields)
        except ValueError as exc:
            raise CandleError(f"{source} line {number}: {exc}") from None
        if candles and candle.open_time <= candles[-1].open_time:
            problem = "repeats the timestamp of" if candle.open_time == candles[-1].open_time else "is earlier than"
            raise CandleError(f"{source} line {number}: timestamp {fields[0]} {problem} line {previous_line} "
                              "(rows must be in time order)")
        candles.append(candle)
        previous_line = number
    if not seen_header:
        raise CandleError(f"{source}: empty file (expected the header {','.join(HEADER)})")
    if not candles:
        raise CandleError(f"{source} line {number}: no candles after the header")
    return candles


def format_csv(candles: Iterable[Candle]) -> Iterator[str]:
    """The CSV lines (with newlines) of `candles`, header first."""
    yield ",".join(HEADER) + "\n"
    for candle in candles:
        yield candle.row() + "\n"


def candle_interval(candles: Sequence[Candle]) -> timedelta:
    """The bar length: the smallest gap between consecutive open times (one minute for a single candle)."""
    gaps = (b.open_time - a.open_time for a, b in itertools.pairwise(candles))
    return min(gaps, default=_DEFAULT_INTERVAL)


def select(candles: Sequence[Candle], start: datetime | None, end: datetime | None) -> list[Candle]:
    """Candles whose open time lies in [start, end] (either bound optional)."""
    return [c for c in candles if (start is None or c.open_time >= start) and (end is None or c.open_time <= end)]
