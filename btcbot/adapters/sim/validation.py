"""Order validation of the simulator in BTCTurk's order and with its error names (btcturk-api.md §8, §13):
params → method/type → scales → price band → min total → balance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from btcbot.adapters.sim.config import MAX_PRICE, MIN_PRICE, PairSpec
from btcbot.adapters.sim.state import Holding
from btcbot.domain.errors import Rejected
from btcbot.domain.models import OrderMethod, Side
from btcbot.domain.money import ZERO, quantize_scale
from btcbot.domain.symbols import SymbolRules

__all__ = ["REJECT_CODES", "CheckedOrder", "check_order", "normalize_symbol", "pair_rules", "reject"]

REJECT_CODES: dict[str, int | None] = {
    "INVALID_REQUEST_ERROR": 1037,  # unknown pair ("Pair X does not exists.")
    "FAILED_ORDER_PARAMETER": None,  # numeric code never documented
    "ORDER_METHOD_NOT_SUPPORTED": 1134,
    "ORDER_TYPE_NOT_SUPPORTED": 1193,
    "FAILED_MARKET_ORDER": 1118,
    "FAILED_INVALID_QUANTITY_SCALE": 1127,
    "FAILED_INVALID_PRICE_SCALE": 1126,
    "PRICE_MUST_BE_LESS_THAN_MAXPRICE": 1226,
    "PRICE_MUST_BE_LESS_THAN_MINPRICE": 1227,
    "FAILED_MIN_TOTAL_AMOUNT": 1123,
    "BALANCE_NOT_ENOUGH": 1055,
    "FAILED_ORDER_WITH_OPEN_ORDERS": 1122,
    "ORDER_COULD_NOT_BE_CANCELED": 1050,
    "NO_ORDER_MATCHES_YOUR_REQUEST": 1051,
    "ORDER_NOT_FOUND": 1152,  # GET /order/{id} of an unknown id ("Order not found")
}


def reject(code: str, detail: str = "") -> Rejected:
    """A Rejected with BTCTurk's symbolic name and numeric code."""
    return Rejected(code, detail or code, REJECT_CODES.get(code))


def normalize_symbol(symbol: str) -> str:
    """`btc_try` / `BTC_TRY` / `BTCTRY` → `BTCTRY` (BTCTurk accepts all of them)."""
    return symbol.strip().upper().replace("_", "")


def pair_rules(spec: PairSpec, mid: Decimal, band_factor: Decimal) -> SymbolRules:
    """exchangeinfo rules of a pair; the price band is mid / band_factor .. mid × band_factor."""
    return SymbolRules(
        symbol=spec.symbol,
        base=spec.base,
        quote=spec.quote,
        base_scale=spec.base_scale,
        quote_scale=spec.quote_scale,
        price_scale=spec.price_scale,
        tick_size=spec.tick_size,
        min_notional=spec.min_notional,
        min_price=MIN_PRICE,
        max_price=MAX_PRICE,
        band_low=quantize_scale(mid / band_factor, spec.price_scale, ROUND_CEILING),
        band_high=quantize_scale(mid * band_factor, spec.price_scale, ROUND_FLOOR),
        tradable=True,
        market_orders=spec.market_orders,
    )


@dataclass(frozen=True, slots=True)
class CheckedOrder:
    spec: PairSpec
    side: Side
    method: OrderMethod


def check_order(
    spec: PairSpec,
    rules: SymbolRules,
    request: tuple[str, str, Decimal, Decimal],
    *,
    reference_price: Decimal,
    holdings: Mapping[str, Holding],
    buy_lock_factor: Decimal,
) -> CheckedOrder:
    """Validate `request` = (side, method, price, quantity); raises Rejected with the first failing rule.

    `reference_price` values a market sell for the min-total check (best bid); `buy_lock_factor` is
    what a limit buy locks per unit of notional (1 + taker fee incl. tax).
    """
    side, method, price, quantity = request
    checked = _check_params(spec, side, method, price, quantity)
    _check_scales(checked, rules, price, quantity)
    if checked.method is OrderMethod.LIMIT:
        _check_band(rules, price)
    _check_min_total(checked, rules, price, quantity, reference_price)
    _check_funds(checked, price, quantity, holdings, buy_lock_factor)
    return checked


def _check_params(spec: PairSpec, side: str, method: str, price: Decimal, quantity: Decimal) -> CheckedOrder:
    method_name, side_name = str(method).strip().lower(), str(side).strip().lower()
    if not (_finite(quantity) and _finite(price)) or quantity <= 0 or price < 0:
        raise reject("FAILED_ORDER_PARAMETER", "quantity must be positive and price non-negative")
    if method_name == "limit" and price <= 0:
        raise reject("FAILED_ORDER_PARAMETER", "a limit order needs a positive price")
    if method_name not in ("limit", "market"):
        raise reject("ORDER_METHOD_NOT_SUPPORTED", f"orderMethod {method_name!r}")
    if side_name not in ("buy", "sell"):
        raise reject("ORDER_TYPE_NOT_SUPPORTED", f"orderType {side_name!r}")
    checked = CheckedOrder(spec, Side(side_name), OrderMethod(method_name))
    if checked.method is OrderMethod.MARKET and not spec.market_orders:
        raise reject("FAILED_MARKET_ORDER", f"market orders are disabled on {spec.symbol}")
    return checked


def _check_scales(c: CheckedOrder, rules: SymbolRules, price: Decimal, quantity: Decimal) -> None:
    market_buy = c.method is OrderMethod.MARKET and c.side is Side.BUY
    if not rules.scale_ok(quantity, rules.quote_scale if market_buy else rules.base_scale):
        raise reject("FAILED_INVALID_QUANTITY_SCALE", f"quantity {quantity}")
    if price != 0 and not rules.scale_ok(price, rules.price_scale):
        raise reject("FAILED_INVALID_PRICE_SCALE", f"price {price} (scale {rules.price_scale})")


def _check_band(rules: SymbolRules, price: Decimal) -> None:
    high = MAX_PRICE if rules.band_high is None else min(MAX_PRICE, rules.band_high)
    low = MIN_PRICE if rules.band_low is None else max(MIN_PRICE, rules.band_low)
    if price > high:
        raise reject("PRICE_MUST_BE_LESS_THAN_MAXPRICE", f"price {price} > {high}")
    if price < low:
        raise reject("PRICE_MUST_BE_LESS_THAN_MINPRICE", f"price {price} < {low}")


def _check_min_total(
    c: CheckedOrder, rules: SymbolRules, price: Decimal, quantity: Decimal, reference_price: Decimal
) -> None:
    if c.method is OrderMethod.LIMIT:
        value = price * quantity
    elif c.side is Side.BUY:
        value = quantity  # a market buy's quantity is the quote amount to spend
    else:
        value = quantity * reference_price
    if value < rules.min_notional:
        raise reject("FAILED_MIN_TOTAL_AMOUNT", f"total {value} < {rules.min_notional}")


def _check_funds(
    c: CheckedOrder,
    price: Decimal,
    quantity: Decimal,
    holdings: Mapping[str, Holding],
    buy_lock_factor: Decimal,
) -> None:
    if c.side is Side.SELL:
        asset, need = c.spec.base, quantity
    elif c.method is OrderMethod.MARKET:
        asset, need = c.spec.quote, quantity
    else:
        asset, need = c.spec.quote, price * quantity * buy_lock_factor
    holding = holdings.get(asset, Holding(free=ZERO))
    if holding.free >= need:
        return
    if holding.free + holding.locked >= need:  # only our open orders' locks stand in the way
        raise reject("FAILED_ORDER_WITH_OPEN_ORDERS", f"{asset} free {holding.free} < {need}")
    raise reject("BALANCE_NOT_ENOUGH", f"{asset} free {holding.free} < {need}")


def _finite(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()
