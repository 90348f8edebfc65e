"""Symbol trading rules and side-aware quantization (the instrument owns rounding)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from btcbot.domain.models import Side
from btcbot.domain.money import ceil_to_scale, floor_to_scale, quantize_scale

__all__ = ["SYMBOL_RE", "SymbolRules", "split_symbol"]

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,10}(TRY|USDT)$")
_QUOTES = ("USDT", "TRY")


@functools.lru_cache(maxsize=1024)  # pure, and called for every order, fill, book and balance
def split_symbol(symbol: str) -> tuple[str, str]:
    """Split `BTCTRY` into (`BTC`, `TRY`); only TRY and USDT quotes are supported."""
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote) + 1:
            return symbol[: -len(quote)], quote
    raise ValueError(f"{symbol!r} is not a TRY or USDT pair")


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Rules of one pair from exchangeinfo.

    `price_scale` is `denominatorScale` when `hasFraction` is true, else 0 (integer prices).
    `tick_size` is kept for display: BTCTurk does not enforce it as an increment (btcturk-api.md §7.1),
    so prices are quantized to the scale only. `min_notional` is PRICE_FILTER.minExchangeValue.
    """

    symbol: str
    base: str
    quote: str
    base_scale: int
    quote_scale: int
    price_scale: int
    tick_size: Decimal
    min_notional: Decimal
    min_price: Decimal
    max_price: Decimal
    band_low: Decimal | None = None
    band_high: Decimal | None = None
    tradable: bool = True
    market_orders: bool = True

    def quantize_price(self, price: Decimal, side: Side) -> Decimal:
        """Buy prices round down (never pay more), sell prices round up (never sell cheaper)."""
        rounding = ROUND_DOWN if side is Side.BUY else ROUND_UP
        return quantize_scale(price, self.price_scale, rounding)

    def quantize_quantity(self, quantity: Decimal) -> Decimal:
        """Quantities always round down to the base scale."""
        return floor_to_scale(quantity, self.base_scale)

    def quantize_quote(self, amount: Decimal) -> Decimal:
        """Quote amounts (market-buy budgets) round down to the quote scale."""
        return floor_to_scale(amount, self.quote_scale)

    def min_quantity_at(self, price: Decimal) -> Decimal:
        """Smallest quantized base quantity whose notional at `price` clears `min_notional`."""
        if price <= 0:
            raise ValueError("price must be positive")
        return ceil_to_scale(self.min_notional / price, self.base_scale)

    def price_in_band(self, price: Decimal) -> bool:
        if price < self.min_price or price > self.max_price:
            return False
        if self.band_low is not None and price < self.band_low:
            return False
        return not (self.band_high is not None and price > self.band_high)

    def scale_ok(self, value: Decimal, scale: int) -> bool:
        exponent = value.normalize().as_tuple().exponent
        return isinstance(exponent, int) and -exponent <= scale
