"""What a backtest replays: the shipped sample or a candle CSV, cut to [--from, --to]."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from btcbot.domain.candles import Candle, parse_csv, parse_time, select
from btcbot.domain.errors import ConfigError
from btcbot.domain.symbols import SYMBOL_RE

__all__ = ["SAMPLE_FILE", "SAMPLE_SYMBOL", "CandleData", "load_candles", "parse_bound", "sample_text"]

SAMPLE_FILE = "btctry_1m_sample.csv"
SAMPLE_SYMBOL = "BTCTRY"


@dataclass(frozen=True, slots=True)
class CandleData:
    symbol: str
    candles: list[Candle]
    sha256: str  # of the file's text (the same data gives the same digest wherever it is read)


def sample_text() -> str:
    """The synthetic BTCTRY sample shipped in the package (see scripts/make_sample_candles.py)."""
    return resources.files("btcbot").joinpath("data", SAMPLE_FILE).read_text(encoding="utf-8")


def parse_bound(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, option)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--candles: file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--candles: cannot read {path} ({exc})") from None


def load_candles(sample: bool, path: Path | None, symbol: str | None, start: str | None = None,
                 end: str | None = None) -> CandleData:
    """Read and check the candles the options name; every problem is a ConfigError (exit 2)."""
    if sample == (path is not None):
        raise ConfigError("give either --sample or --candles PATH (with --symbol)")
    if sample:
        if symbol is not None and symbol.strip().upper() != SAMPLE_SYMBOL:
            raise ConfigError(f"--symbol {symbol}: the sample is {SAMPLE_SYMBOL}")
        text, source, pair = sample_text(), f"sample {SAMPLE_FILE}", SAMPLE_SYMBOL
    else:
        assert path is not None
        if symbol is None:
            raise ConfigError("--candles needs --symbol (the pair the candles are of, e.g. BTCTRY)")
        text, source, pair = _read(path), str(path), symbol.strip().upper().replace("_", "")
        if not SYMBOL_RE.match(pair):
            raise ConfigError(f"--symbol: {symbol!r} is not a pair like BTCTRY")
    first, last = parse_bound(start, "--from"), parse_bound(end, "--to")
    if first is not None and last is not None and last < first:
        raise ConfigError("--to is before --from")
    candles = select(parse_csv(text.splitlines(), source), first, last)
    if not candles:
        raise ConfigError(f"{source}: no candles between --from and --to")
    return CandleData(pair, candles, hashlib.sha256(text.encode("utf-8")).hexdigest())
