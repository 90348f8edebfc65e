"""Wire -> domain conversion for BTCTurk replies (Decimal from strings, int64 ids, UTC times).

Every function takes the decoded JSON (`data` of the envelope, or the bare object) and raises
ValueError (pydantic's ValidationError is one) when the shape is unusable; the client turns that
into BadResponse for reads and OutcomeUnknown for writes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from btcbot.adapters.btcturk.schemas import (
    WireBalance,
    WireExchangeInfo,
    WireFilter,
    WireOpenOrders,
    WireOrder,
    WireOrderBook,
    WireServerTime,
    WireSubmitted,
    WireSymbol,
    WireUserTrade,
)
from btcbot.domain.models import (
    Balance,
    BookLevel,
    ExchangeOrderStatus,
    FillReport,
    OrderBook,
    OrderMethod,
    OrderReport,
    OrderRequest,
    Side,
    SubmitAck,
)
from btcbot.domain.money import ZERO
from btcbot.domain.symbols import SymbolRules

__all__ = [
    "datetime_to_ms",
    "ms_to_datetime",
    "normalize_pair",
    "parse_balances",
    "parse_exchange_info",
    "parse_open_orders",
    "parse_order",
    "parse_order_book",
    "parse_orders",
    "parse_server_time",
    "parse_submit_ack",
    "parse_user_trades",
]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_SECONDS_CUTOFF = 10**11  # a "millisecond" value below this (before 1973) was sent in seconds

_NO_MAX_PRICE = Decimal(10**18)  # finite stand-in when maxPrice is missing (caches store TEXT)

_STATUSES = {status.value.casefold(): status for status in ExchangeOrderStatus}
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_METHODS = {  # stop orders placed by hand are reported with their execution style
    "limit": OrderMethod.LIMIT,
    "stoplimit": OrderMethod.LIMIT,
    "market": OrderMethod.MARKET,
    "stopmarket": OrderMethod.MARKET,
}

_BALANCES = TypeAdapter(list[WireBalance])
_ORDERS = TypeAdapter(list[WireOrder])
_TRADES = TypeAdapter(list[WireUserTrade])


def ms_to_datetime(ms: int) -> datetime:
    """Unix milliseconds -> aware UTC datetime (integer arithmetic)."""
    if 0 < ms < _SECONDS_CUTOFF:
        return _EPOCH + timedelta(seconds=ms)
    return _EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(moment: datetime) -> int:
    """Aware (or UTC-naive) datetime -> Unix milliseconds, floored (integer arithmetic)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MS


def normalize_pair(symbol: str) -> str:
    """`btc_try` / `BTC_TRY` / `BTCTRY` -> `BTCTRY`."""
    return symbol.replace("_", "").replace("/", "").strip().upper()


def parse_server_time(raw: Any) -> datetime:
    """GET /api/v2/server/time: a bare object (tolerates an envelope around it)."""
    if isinstance(raw, dict) and "serverTime" not in raw and isinstance(raw.get("data"), dict):
        raw = raw["data"]
    return ms_to_datetime(WireServerTime.model_validate(raw).server_time)


def _price_filter(filters: list[WireFilter]) -> WireFilter | None:
    for item in filters:
        if item.filter_type.upper() == "PRICE_FILTER":
            return item
    return None


def _symbol_rules(wire: WireSymbol) -> SymbolRules:
    price_filter = _price_filter(wire.filters)
    min_notional = price_filter.min_exchange_value if price_filter else None
    tradable = wire.status.upper() == "TRADING" and min_notional is not None
    if min_notional is None:
        log.warning("%s has no PRICE_FILTER.minExchangeValue; marked not tradable", wire.name)
    return SymbolRules(
        symbol=normalize_pair(wire.name),
        base=wire.numerator.upper(),
        quote=wire.denominator.upper(),
        base_scale=wire.numerator_scale,
        quote_scale=wire.denominator_scale,
        price_scale=wire.denominator_scale if wire.has_fraction else 0,
        tick_size=(price_filter.tick_size if price_filter else None) or ZERO,
        min_notional=min_notional if min_notional is not None else ZERO,
        min_price=(price_filter.min_price if price_filter else None) or ZERO,
        max_price=(price_filter.max_price if price_filter else None) or _NO_MAX_PRICE,
        band_low=wire.minimum_limit_order_price,
        band_high=wire.maximum_limit_order_price,
        tradable=tradable,
        market_orders=any(m.upper() == "MARKET" for m in wire.order_methods),
    )


def parse_exchange_info(raw: Any) -> list[SymbolRules]:
    """`data` of GET /api/v2/server/exchangeinfo; one malformed pair is skipped, not fatal."""
    info = WireExchangeInfo.model_validate(raw)
    rules: list[SymbolRules] = []
    for entry in info.symbols:
        try:
            rules.append(_symbol_rules(WireSymbol.model_validate(entry)))
        except ValidationError as exc:
            log.warning("skipping unparseable exchangeinfo symbol %r: %s", entry.get("name"), exc)
    if info.symbols and not rules:
        raise ValueError("no symbol in exchangeinfo could be parsed")
    return rules


def parse_balances(raw: Any) -> list[Balance]:
    """`data` of GET /api/v1/users/balances; `locked` falls back to balance - free."""
    balances: list[Balance] = []
    for row in _BALANCES.validate_python(raw):
        if row.locked is not None:
            locked = row.locked
        elif row.balance is not None:
            locked = max(ZERO, row.balance - row.free)
        else:
            locked = ZERO
        balances.append(Balance(asset=row.asset.upper(), free=row.free, locked=locked))
    return balances


def parse_order_book(symbol: str, raw: Any, now: datetime) -> OrderBook:
    """`data` of GET /api/v2/orderbook; bids sorted descending, asks ascending."""
    book = WireOrderBook.model_validate(raw)
    bids = sorted((BookLevel(p, q) for p, q in book.bids), key=lambda lvl: lvl.price, reverse=True)
    asks = sorted((BookLevel(p, q) for p, q in book.asks), key=lambda lvl: lvl.price)
    stamp = ms_to_datetime(book.timestamp) if book.timestamp else now
    return OrderBook(symbol=normalize_pair(symbol), bids=tuple(bids), asks=tuple(asks), timestamp=stamp)


def _lookup(table: dict[str, Any], value: str, what: str) -> Any:
    try:
        return table[value.strip().casefold()]
    except KeyError:
        raise ValueError(f"unknown order {what} {value!r}") from None


def _order_report(wire: WireOrder) -> OrderReport:
    created_ms = wire.time or wire.update_time or 0
    updated_ms = wire.update_time or wire.time or 0
    client_id = wire.order_client_id or None
    return OrderReport(
        exchange_order_id=wire.id,
        client_order_id=client_id,
        symbol=normalize_pair(wire.pair_symbol),
        side=_lookup(_SIDES, wire.type, "type"),
        method=_lookup(_METHODS, wire.method, "method"),
        price=abs(wire.price),
        quantity=abs(wire.amount),
        left_quantity=abs(wire.left_amount),
        status=_lookup(_STATUSES, wire.status, "status"),
        created_at=ms_to_datetime(created_ms),
        updated_at=ms_to_datetime(updated_ms),
    )


def parse_order(raw: Any) -> OrderReport:
    """`data` of GET /api/v1/order/{id}."""
    return _order_report(WireOrder.model_validate(raw))


def parse_orders(raw: Any) -> list[OrderReport]:
    """`data` of GET /api/v1/allOrders (a flat array), newest first."""
    reports = [_order_report(w) for w in _ORDERS.validate_python(raw)]
    reports.sort(key=lambda r: (r.created_at, r.exchange_order_id), reverse=True)
    return reports


def parse_open_orders(raw: Any, symbols: Collection[str] | None = None) -> list[OrderReport]:
    """`data` of GET /api/v1/openOrders (`{asks, bids}`), optionally filtered by pair."""
    wire = WireOpenOrders.model_validate(raw)
    wanted = {normalize_pair(s) for s in symbols} if symbols is not None else None
    reports = [_order_report(w) for w in (*wire.bids, *wire.asks)]
    if wanted is not None:
        reports = [r for r in reports if r.symbol in wanted]
    return reports


def _fill(wire: WireUserTrade) -> FillReport:
    # Without orderType the sign of the amount tells the direction (sells are negative).
    fallback = Side.SELL if wire.amount < 0 else Side.BUY
    side = _lookup(_SIDES, wire.order_type, "type") if wire.order_type else fallback
    return FillReport(
        trade_id=wire.id,
        exchange_order_id=wire.order_id,
        client_order_id=wire.order_client_id or None,
        symbol=normalize_pair(wire.numerator_symbol + wire.denominator_symbol),
        side=side,
        price=abs(wire.price),
        quantity=abs(wire.amount),
        fee=abs(wire.fee or ZERO),
        tax=abs(wire.tax or ZERO),
        fee_asset=wire.denominator_symbol.upper(),
        timestamp=ms_to_datetime(wire.timestamp),
    )


def parse_user_trades(
    raw: Any, symbols: Collection[str] | None = None, since: datetime | None = None
) -> list[FillReport]:
    """`data` of GET /api/v1/users/transactions/trade -> positive magnitudes, oldest first."""
    fills = [_fill(w) for w in _TRADES.validate_python(raw)]
    if symbols is not None:
        wanted = {normalize_pair(s) for s in symbols}
        fills = [f for f in fills if f.symbol in wanted]
    if since is not None:
        fills = [f for f in fills if f.timestamp >= since]
    fills.sort(key=lambda f: (f.timestamp, f.trade_id.zfill(20)))
    return fills


def parse_submit_ack(raw: Any, request: OrderRequest, now: datetime) -> SubmitAck:
    """`data` of POST /api/v1/order -> SubmitAck (the id is what matters)."""
    wire = WireSubmitted.model_validate(raw)
    echoed = wire.new_order_client_id
    if echoed and echoed != request.client_order_id:
        log.warning("order %s: server echoed client id %r instead of %r", wire.id, echoed, request.client_order_id)
    stamp = ms_to_datetime(wire.created) if wire.created else now
    return SubmitAck(exchange_order_id=wire.id, client_order_id=request.client_order_id, timestamp=stamp)
