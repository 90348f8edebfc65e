"""BTCTurk wire format of the simulator's HTTP server (btcturk-api.md §1, §4, §5): JSON writing without
floats, envelopes, and the order / trade / balance / symbol / ticker / book objects.

Amounts in orders, trades, books and balances are strings (leftAmount and balances with 16 decimals, fees
and tax negative, sell amounts negative in user trades); ticker values, band prices and `preciseAmount` are
JSON numbers written from Decimals; ids are integers (trade ids exceed 2^53).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from btcbot.adapters.sim.config import PairSpec
from btcbot.adapters.sim.engine import FEE_SCALE
from btcbot.adapters.sim.state import SimFill
from btcbot.domain.models import Balance, OrderBook, OrderMethod, OrderReport, Side
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.symbols import SymbolRules

__all__ = [
    "BALANCE_DECIMALS",
    "HTML_502",
    "Json",
    "balance_json",
    "book_json",
    "currency_json",
    "dumps",
    "envelope",
    "error_body",
    "fixed",
    "garble",
    "ms",
    "order_json",
    "public_trade_json",
    "symbol_json",
    "ticker_json",
    "too_many_requests",
    "trade_json",
]

Json = object
BALANCE_DECIMALS = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_ASSET_NAMES = {"TRY": "Türk Lirası", "BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether"}
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    b"\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


# ------------------------------------------------------------------------------------------- JSON


def dumps(value: Json) -> bytes:
    """Serialise dict/list/str/int/bool/None/Decimal; Decimals become JSON numbers, floats are refused."""
    return _encode(value).encode("utf-8")


def _encode(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite number {value}")
        return dec_str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the wire (floats are never used for money)")


def ms(moment: datetime) -> int:
    """Unix milliseconds (integer arithmetic)."""
    return (moment.astimezone(UTC) - _EPOCH) // _ONE_MS


def fixed(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals (banker's rounding), never "-0"."""
    quantized = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return format(quantized.copy_abs() if quantized == 0 else quantized, "f")


def envelope(data: Json, *, message: str = "SUCCESS", http_status: int | None = None) -> dict[str, Json]:
    body: dict[str, Json] = {"success": True, "message": message, "code": 0, "data": data}
    if http_status is not None:
        body["httpStatusCode"] = http_status
    return body


def error_body(message: str, code: int, *, http_status: int | None = None) -> dict[str, Json]:
    body: dict[str, Json] = {"success": False, "message": message, "code": code, "data": None}
    if http_status is not None:
        body["httpStatusCode"] = http_status
    return body


def too_many_requests(retry_after: int, limit: int | None, period: str | None, policy: str) -> dict[str, Json]:
    """The 429 bodies of §8 (the older short shape when the endpoint has no published limit)."""
    if limit is None or period is None:
        return {"success": False, "message": "Too many requests", "code": 429}
    details = f"Quota exceeded. Maximum allowed: {limit} per {period}."
    if policy == "account":
        details += f" Please try again in {retry_after} second(s)."
    return {"message": "TOO_MANY_REQUESTS", "success": False, "code": 429, "details": details,
            "limit": str(limit), "period": period, "policy": policy}  # fmt: skip


# ----------------------------------------------------------------------------------- objects


def _normalized(spec: PairSpec) -> str:
    return f"{spec.base}_{spec.quote}"


def _price_places(spec: PairSpec) -> int:
    return max(spec.price_scale, spec.quote_scale)


def order_json(order: OrderReport, spec: PairSpec, *, zero_time: bool = False) -> dict[str, Json]:
    """One order of openOrders / allOrders / order/{id} (§5.4). A market buy lists `amount` = base
    bought and `quantity` 0 (§7.4); openOrders reports `time` 0 (`zero_time`)."""
    market_buy = order.method is OrderMethod.MARKET and order.side is Side.BUY
    places = _price_places(spec)
    return {
        "id": order.exchange_order_id,
        "price": fixed(order.price, places),
        "amount": fixed(order.quantity, spec.base_scale),
        "quantity": fixed(ZERO if market_buy else order.quantity, spec.base_scale),
        "stopPrice": fixed(ZERO, places),
        "pairSymbol": spec.symbol,
        "pairSymbolNormalized": _normalized(spec),
        "type": order.side.value,
        "method": order.method.value,
        "orderClientId": order.client_order_id,
        "time": 0 if zero_time else ms(order.created_at),
        "updateTime": ms(order.updated_at),
        "status": order.status.value,
        "leftAmount": fixed(order.left_quantity, BALANCE_DECIMALS),
    }


def trade_json(fill: SimFill, spec: PairSpec) -> dict[str, Json]:
    """One row of users/transactions/trade (§5.7): sells negative, fee and tax negative."""
    report = fill.report
    amount = -report.quantity if report.side is Side.SELL else report.quantity
    return {
        "id": fill.trade_id,
        "orderId": report.exchange_order_id,
        "orderClientId": report.client_order_id,
        "timestamp": ms(report.timestamp),
        "price": fixed(report.price, _price_places(spec)),
        "amount": fixed(amount, spec.base_scale),
        "preciseAmount": amount,
        "fee": fixed(-report.fee, FEE_SCALE),
        "tax": fixed(-report.tax, FEE_SCALE),
        "numeratorSymbol": spec.base,
        "denominatorSymbol": spec.quote,
        "orderType": report.side.value,
    }


def public_trade_json(fill: SimFill, spec: PairSpec) -> dict[str, Json]:
    """One row of /api/v2/trades (§4.5); the simulator only knows its own executions."""
    report = fill.report
    return {
        "pair": spec.symbol,
        "pairNormalized": _normalized(spec),
        "numerator": spec.base,
        "denominator": spec.quote,
        "date": ms(report.timestamp),
        "tid": report.trade_id,
        "price": fixed(report.price, _price_places(spec)),
        "amount": fixed(report.quantity, spec.base_scale),
        "side": report.side.value,
    }


def balance_json(balance: Balance, precision: int, now: datetime) -> dict[str, Json]:
    return {
        "asset": balance.asset,
        "assetname": _ASSET_NAMES.get(balance.asset, balance.asset),
        "balance": fixed(balance.free + balance.locked, BALANCE_DECIMALS),
        "locked": fixed(balance.locked, BALANCE_DECIMALS),
        "free": fixed(balance.free, BALANCE_DECIMALS),
        "orderFund": fixed(balance.locked, BALANCE_DECIMALS),
        "requestFund": fixed(ZERO, BALANCE_DECIMALS),
        "precision": precision,
        "timestamp": ms(now),
    }


def symbol_json(index: int, spec: PairSpec, rules: SymbolRules) -> dict[str, Json]:
    """One exchangeinfo `symbols[]` entry. `hasFraction` is false when limit prices must be integers
    while the quote scale is not 0 (BTCTRY 2021-22); clients then use price scale 0."""
    has_fraction = spec.price_scale == spec.quote_scale
    price_filter = {
        "filterType": "PRICE_FILTER",
        "minPrice": dec_str(rules.min_price),
        "maxPrice": dec_str(rules.max_price),
        "tickSize": dec_str(rules.tick_size),
        "minExchangeValue": dec_str(rules.min_notional),
        "minAmount": None,
        "maxAmount": None,
    }
    return {
        "id": index,
        "name": spec.symbol,
        "nameNormalized": _normalized(spec),
        "status": "TRADING" if rules.tradable else "HALT",
        "numerator": spec.base,
        "denominator": spec.quote,
        "numeratorScale": spec.base_scale,
        "denominatorScale": spec.quote_scale,
        "hasFraction": has_fraction,
        "filters": [price_filter],
        "orderMethods": ["MARKET", "LIMIT"] if spec.market_orders else ["LIMIT"],
        "displayFormat": "#,##0.00" if spec.quote_scale else "#,###",
        "commissionFromNumerator": False,
        "order": index,
        "priceRounding": False,
        "isNew": False,
        "marketPriceWarningThresholdPercentage": Decimal("0.25"),
        "maximumOrderAmount": None,
        "maximumLimitOrderPrice": rules.band_high,
        "minimumLimitOrderPrice": rules.band_low,
    }


def currency_json(index: int, asset: str, precision: int) -> dict[str, Json]:
    fiat = asset == "TRY"
    return {
        "id": index, "symbol": asset, "minWithdrawal": "0", "minDeposit": "0", "precision": precision,
        "address": {"minLen": None, "maxLen": None}, "currencyType": "FIAT" if fiat else "CRYPTO",
        "tag": {"enable": False, "name": None, "minLen": None, "maxLen": None}, "color": "#000000",
        "isAddressRenewable": False, "getAutoAddressDisabled": False, "isPartialWithdrawalEnabled": True,
        "isNew": False,
    }  # fmt: skip


def ticker_json(index: int, spec: PairSpec, book: OrderBook, mid: Decimal, volume: Decimal) -> dict[str, Json]:
    """A ticker row (JSON numbers); without 24 h history open/high/low/average are the current mid."""
    places = _price_places(spec)
    last = Decimal(fixed(mid, places))
    return {
        "pair": spec.symbol,
        "pairNormalized": _normalized(spec),
        "timestamp": ms(book.timestamp),
        "last": last,
        "high": last,
        "low": last,
        "bid": book.best_bid if book.best_bid is not None else last,
        "ask": book.best_ask if book.best_ask is not None else last,
        "open": last,
        "volume": volume,
        "average": last,
        "daily": ZERO,
        "dailyPercent": ZERO,
        "denominatorSymbol": spec.quote,
        "numeratorSymbol": spec.base,
        "order": index,
    }


def book_json(spec: PairSpec, book: OrderBook) -> dict[str, Json]:
    places = _price_places(spec)

    def levels(side: Sequence[tuple[Decimal, Decimal]]) -> list[Json]:
        return [[fixed(price, places), fixed(qty, spec.base_scale)] for price, qty in side]

    return {
        "timestamp": ms(book.timestamp),
        "bids": levels([(lvl.price, lvl.quantity) for lvl in book.bids]),
        "asks": levels([(lvl.price, lvl.quantity) for lvl in book.asks]),
    }


# ------------------------------------------------------------------------------- hostile replies (faults)

NESTED_DEPTH = 100_000


def garble(kind: str, body: bytes) -> bytes:
    """The 2xx `body` rewritten by a body fault (faults.BODY_FAULTS)."""
    if kind == "malformed":  # truncated JSON
        return body[: max(1, len(body) // 2)]
    if kind == "nested_json":  # deeper than any JSON decoder's recursion limit
        nested = b"[" * NESTED_DEPTH + b"]" * NESTED_DEPTH
        return b'{"success":true,"message":"SUCCESS","code":0,"data":' + nested + b"}"
    document = json.loads(body)
    data = document.get("data") if isinstance(document, dict) else None
    if kind == "anon_open_orders" and isinstance(data, dict):  # rows without orderClientId
        for row in (*data.get("asks", ()), *data.get("bids", ())):
            row.pop("orderClientId", None)
    elif kind == "zero_price_book" and isinstance(data, dict) and data.get("bids"):
        data["bids"][0][0] = "0"
    return json.dumps(document).encode()
