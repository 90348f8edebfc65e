"""How amounts are shown: rounded to what their asset allows, exact in the journal.

Tables and messages: TRY amounts with 2 decimals, a pair's prices with its price scale, base quantities with the
pair's base scale (`numeratorScale`), thousands separated. JSON: recorded money stays exact (it never has more
decimals than the venue allows); a derived figure (an average, a ratio, a value at a mark) is rounded to
`JSON_SCALE` decimals, so no output carries division artefacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from btcbot.domain.models import Side
from btcbot.domain.money import dec_str, floor_to_scale, quantize_scale
from btcbot.domain.symbols import SymbolRules, split_symbol

__all__ = ["FIAT_SCALE", "JSON_SCALE", "SPARK", "Scales", "age", "amount", "asset_scales", "json_amount",
           "money", "pair_scales", "scales_of", "sparkline"]

FIAT_SCALE = 2  # TRY in tables and messages
JSON_SCALE = 8  # the venue's amount precision: the most decimals a derived JSON figure carries
DEFAULT_BASE_SCALE = 8  # a pair whose rules are not cached (never traded)
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Scales:
    """Display scales of one pair."""

    base: str
    quote: str
    price: int
    quantity: int
    quote_amount: int

    def price_text(self, value: Decimal, unit: bool = False) -> str:
        return amount(value, self.price) + (f" {self.quote}" if unit else "")

    def quantity_text(self, value: Decimal, unit: bool = True) -> str:
        """Quantities round down (never show more than there is) and drop trailing zeros."""
        return amount(floor_to_scale(value, self.quantity), self.quantity, strip=True) + (f" {self.base}" if unit
                                                                                          else "")

    def quote_text(self, value: Decimal, unit: bool = True, sign: bool = False) -> str:
        return amount(value, self.quote_amount, sign=sign) + (f" {self.quote}" if unit else "")

    def place(self, price: Decimal, quantity: Decimal, side: Side,
              rules: SymbolRules | None) -> tuple[Decimal, Decimal]:
        """What preflight would place: the price rounded side-aware, the quantity down (no rules: display
        scales)."""
        if rules is not None:
            return rules.quantize_price(price, side), rules.quantize_quantity(quantity)
        return quantize_scale(price, self.price, ROUND_HALF_EVEN), floor_to_scale(quantity, self.quantity)


def scales_of(symbol: str, rules: SymbolRules | None) -> Scales:
    """The pair's display scales (its rules; without them the defaults for a TRY or USDT pair)."""
    base, quote = split_symbol(symbol)
    if rules is None:
        return Scales(base, quote, FIAT_SCALE, DEFAULT_BASE_SCALE, FIAT_SCALE)
    return pair_scales(base, quote, rules.price_scale, rules.base_scale, rules.quote_scale)


def pair_scales(base: str, quote: str, price_scale: int, base_scale: int, quote_scale: int) -> Scales:
    """Display scales from a pair's rule scales: quote amounts in TRY with 2 decimals, in USDT at least 2."""
    quote_amount = FIAT_SCALE if quote == "TRY" else max(FIAT_SCALE, quote_scale)
    return Scales(base, quote, price_scale, base_scale, quote_amount)


def asset_scales(rules: Iterable[SymbolRules]) -> dict[str, int]:
    """Display scale of each asset: TRY 2, a base its pair's base scale, another quote its quote scale."""
    scales = {"TRY": FIAT_SCALE}
    for r in rules:
        scales.setdefault(r.base, r.base_scale)
        scales.setdefault(r.quote, max(FIAT_SCALE, r.quote_scale))
    return scales


def amount(value: Decimal, scale: int, strip: bool = False, sign: bool = False) -> str:
    """`value` rounded half-even to `scale` decimals with thousands separators; `strip` drops trailing zeros
    (quantities), `sign` shows + on positive values (PnL)."""
    rounded = quantize_scale(value, max(scale, 0), ROUND_HALF_EVEN)
    if rounded == 0:
        rounded = abs(rounded)  # never "-0.00"
    text = f"{rounded:{'+' if sign else ''},f}"
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def money(value: Decimal, currency: str = "TRY", sign: bool = False) -> str:
    """A fiat amount for a person: `1,234.57 TRY`."""
    return f"{amount(value, FIAT_SCALE, sign=sign)} {currency}"


def json_amount(value: Decimal | None) -> str | None:
    """A derived figure for JSON: at most JSON_SCALE decimals (recorded money is given exact, with dec_str)."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -JSON_SCALE:
        value = quantize_scale(value, JSON_SCALE, ROUND_HALF_EVEN)
    return dec_str(value)


def sparkline(values: list[Decimal]) -> str:
    """One block character per value, scaled between their minimum and maximum (flat: the middle)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARK[3] * len(values)
    top = len(SPARK) - 1
    return "".join(SPARK[int(((v - low) / (high - low) * top).to_integral_value(ROUND_HALF_EVEN))] for v in values)


def age(since: datetime, now: datetime) -> str:
    """A short age: `45s`, `12m`, `3h05`, `2d04`."""
    seconds = max(int((now - since) / timedelta(seconds=1)), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}"
