"""Preflight at the last moment before a submit (R-EXEC-6, LESSONS 8, 27).

Quantize the price side-aware and the quantity down, check the price band, make the quantized order clear
the minimum order value (bumping the quantity only while the caps still hold), and check free balance
including fee headroom for buys.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from btcbot.domain.fees import fee_schedule
from btcbot.domain.models import Denial, Intent, OrderMethod, Side
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.symbols import SymbolRules

__all__ = ["Preflighted", "preflight"]


@dataclass(frozen=True, slots=True)
class Preflighted:
    intent: Intent
    price: Decimal
    quantity: Decimal
    bumped: bool

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


def preflight(
    intent: Intent,
    rules: SymbolRules,
    free_quote: Decimal,
    free_base: Decimal,
    max_notional_quote: Decimal,
) -> Preflighted | Denial:
    """Return the quantized order, or a Denial whose code says which rule failed."""

    def deny(code: str, **detail: object) -> Denial:
        return Denial(intent, code, {k: dec_str(v) if isinstance(v, Decimal) else str(v) for k, v in detail.items()})

    if not rules.tradable:
        return deny("RULES_NOT_TRADABLE", symbol=intent.symbol)
    if intent.method is not OrderMethod.LIMIT:
        return deny("RULES_METHOD_UNSUPPORTED", method=intent.method.value)
    if intent.price <= 0 or intent.quantity <= 0:
        return deny("PREFLIGHT_NON_POSITIVE", price=intent.price, quantity=intent.quantity)
    price = rules.quantize_price(intent.price, intent.side)
    if price <= 0:
        return deny("PREFLIGHT_PRICE_ROUNDS_TO_ZERO", price=intent.price, scale=rules.price_scale)
    if not rules.price_in_band(price):
        return deny("PRICE_OUT_OF_BAND", price=price, low=rules.band_low or rules.min_price,
                    high=rules.band_high or rules.max_price)
    quantity = rules.quantize_quantity(intent.quantity)
    bumped = False
    if price * quantity < rules.min_notional:
        minimum = rules.min_quantity_at(price)
        # a sell cannot be bumped beyond what is held; a buy only while the caps still hold
        cap_ok = intent.side is Side.BUY and price * minimum <= max_notional_quote
        if not cap_ok:
            return deny("PREFLIGHT_MIN_NOTIONAL", notional=price * quantity, min_notional=rules.min_notional,
                        bump_to=minimum)
        quantity, bumped = minimum, True
    if quantity <= ZERO:
        return deny("PREFLIGHT_QUANTITY_ROUNDS_TO_ZERO", quantity=intent.quantity, scale=rules.base_scale)
    if intent.side is Side.BUY:
        needed = price * quantity * (1 + fee_schedule(rules.quote).headroom)
        if needed > free_quote:
            return deny("BALANCE_INSUFFICIENT", asset=rules.quote, needed=needed, free=free_quote)
    elif quantity > free_base:
        return deny("BALANCE_INSUFFICIENT", asset=rules.base, needed=quantity, free=free_base)
    return Preflighted(intent, price, quantity, bumped)
