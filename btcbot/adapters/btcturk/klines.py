"""Candles from BTCTurk's graph API: GET /v1/klines/history (btcturk-api.md §4.7).

The reply is a bare object with parallel arrays, `{"s": "ok", "t": [...], "o": [...], "h": [...], "l": [...],
"c": [...], "v": [...]}`: `t` is the candle's open time in seconds, values are JSON numbers (read as Decimal,
never float). `{"s": "no_data"}` (with or without a `nextTime`) means no candles in the range. Any other
shape is a BadResponse (via the client's translation of ValueError); a candle that does not hold together
(high below low, a price not above 0) is one too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from btcbot.adapters.btcturk.client import BtcTurkClient
from btcbot.domain.candles import Candle, make_candle
from btcbot.domain.money import to_decimal

__all__ = ["KLINES_PATH", "get_klines", "parse_klines"]

KLINES_PATH = "/v1/klines/history"
_FIELDS = ("o", "h", "l", "c", "v")


def _value(raw: object, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal):
        raise ValueError(f"{what}: expected a number, got {type(raw).__name__}")
    return to_decimal(raw, field=what)


def parse_klines(payload: Any) -> list[Candle]:
    if not isinstance(payload, dict):
        raise ValueError(f"klines: expected an object, got {type(payload).__name__}")
    status = payload.get("s")
    if status == "no_data":
        return []
    if status != "ok":
        raise ValueError(f"klines: status {status!r} ({payload.get('errmsg', '')})")
    stamps = payload.get("t")
    columns: list[list[Any]] = [payload.get(name) or [] for name in _FIELDS]
    if not isinstance(stamps, list) or not all(isinstance(c, list) and len(c) == len(stamps) for c in columns):
        raise ValueError("klines: t, o, h, l, c, v must be arrays of the same length")
    candles = []
    for index, stamp in enumerate(stamps):
        if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0:
            raise ValueError(f"klines: t[{index}] is not an epoch second")
        values = [_value(column[index], f"klines {name}[{index}]") for name, column in zip(_FIELDS, columns,
                                                                                          strict=True)]
        try:
            candles.append(make_candle(datetime.fromtimestamp(stamp, UTC), *values))
        except ValueError as exc:
            raise ValueError(f"klines: candle at t={stamp}: {exc}") from None
    return candles


def get_klines(client: BtcTurkClient, symbol: str, resolution_minutes: int, start: datetime,
               end: datetime) -> list[Candle]:
    """Candles of `symbol` opening in [start, end] (seconds resolution; one request, a read: retried)."""
    params: dict[str, str | int] = {"symbol": symbol, "resolution": resolution_minutes,
                                    "from": int(start.timestamp()), "to": int(end.timestamp())}
    return client.request("GET", KLINES_PATH, parse=parse_klines, params=params, envelope=False, host="graph")
