"""`btcbot backtest fetch`: BTCTurk klines → the candle CSV format, paging through long ranges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from btcbot.backtest.charts import write_text
from btcbot.backtest.inputs import parse_bound
from btcbot.domain.candles import Candle, format_csv
from btcbot.domain.errors import ConfigError
from btcbot.domain.symbols import SYMBOL_RE

__all__ = ["PAGE_CANDLES", "fetch_candles", "fetch_to_csv"]

PAGE_CANDLES = 1000  # candles per request (CCXT caps a request at ~11000)
Fetch = Callable[[str, int, datetime, datetime], list[Candle]]


def fetch_candles(get: Fetch, symbol: str, start: datetime, end: datetime, resolution: int,
                  page: int = PAGE_CANDLES) -> tuple[list[Candle], int]:
    """Candles opening in [start, end), one request per `page` candles; duplicates and strays dropped.
    Returns the candles (time order) and the number of requests."""
    step = timedelta(minutes=resolution * page)
    found: dict[datetime, Candle] = {}
    requests = 0
    window = start
    while window < end:
        upper = min(window + step, end)
        for candle in get(symbol, resolution, window, upper - timedelta(seconds=1)):
            if start <= candle.open_time < end:
                found.setdefault(candle.open_time, candle)
        requests += 1
        window = upper
    return [found[t] for t in sorted(found)], requests


def fetch_to_csv(symbol: str, start: str, end: str, out: Path, resolution: int,
                 config: Path | None) -> tuple[int, int]:
    """Download and write the CSV atomically; returns (candles, requests)."""
    from btcbot.adapters.btcturk.client import BtcTurkClient
    from btcbot.adapters.btcturk.klines import get_klines
    from btcbot.config import load_settings

    pair = symbol.strip().upper().replace("_", "")
    if not SYMBOL_RE.match(pair):
        raise ConfigError(f"--symbol: {symbol!r} is not a pair like BTCTRY")
    first, last = parse_bound(start, "--from"), parse_bound(end, "--to")
    assert first is not None and last is not None
    if last <= first:
        raise ConfigError("--to must be after --from")
    settings = load_settings(config)
    client = BtcTurkClient(base_url=settings.base_url, graph_url=settings.graph_url,
                           read_timeout=float(settings.http_timeout_seconds))
    with client:
        candles, requests = fetch_candles(lambda *a: get_klines(client, *a), pair, first, last, resolution)
    if not candles:
        raise ConfigError(f"no {pair} candles between --from {start} and --to {end}")
    write_text(out, "".join(format_csv(candles)))
    return len(candles), requests
