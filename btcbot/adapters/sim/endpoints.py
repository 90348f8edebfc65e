"""BTCTurk REST endpoints of `btcbot sim serve` over a `SimExchange` (btcturk-api.md §4–§5).

Routing (paths case-insensitive, trailing slash ignored) and the request → reply logic of every endpoint;
HTTP plumbing, authentication, rate limits and faults live in server.py. Decisions on the open questions
of §14: `newClientOrderId` is accepted as an alias of `newOrderClientId`; duplicate client ids are
accepted; allOrders `startTime`/`endTime` below 10^12 are seconds, else ms, `page` is 1-based, newest
first; `FAILED_ORDER_PARAMETER` carries code 1000 (undocumented upstream); `NO_ORDER_MATCHES_YOUR_REQUEST`
is 1051; openOrders without `pairSymbol` returns every pair; users/transactions/trade with `orderId`
ignores the other filters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from btcbot.adapters.sim import wire
from btcbot.adapters.sim.config import PairSpec
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sim.klines import klines_reply
from btcbot.adapters.sim.state import SimFill
from btcbot.adapters.sim.validation import normalize_symbol
from btcbot.domain.errors import OrderNotFound, Rejected
from btcbot.domain.models import OrderReport, Side
from btcbot.domain.money import to_decimal

__all__ = ["ROUTES", "Endpoints", "Reply", "Request", "Route", "WireError", "client_id_of", "match", "order_fields"]

Query = Mapping[str, list[str]]
PARAMETER_CODE = 1000  # FAILED_ORDER_PARAMETER: no numeric code documented (§14.6)
_METHODS = {"0": "limit", "1": "market", "2": "stoplimit", "3": "stopmarket"}  # C# client enums
_SIDES = {"0": "buy", "1": "sell"}
_SECONDS_CUTOFF = 10**12
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # lower case, no trailing slash
    query: Query  # lower-case keys, repeated keys kept in order
    body: bytes
    content_type: str
    params: Mapping[str, str]  # path parameters


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: wire.Json = None  # None → empty body
    order_id: int | None = None  # for the request log


class WireError(Exception):
    """A 4xx reply with BTCTurk's error envelope."""

    def __init__(self, status: int, message: str, code: int, *, http_status_field: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.http_status_field = status, message, code, http_status_field

    def reply(self) -> Reply:
        status_field = self.status if self.http_status_field else None
        return Reply(self.status, wire.error_body(self.message, self.code, http_status=status_field))


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    key: str  # endpoint key, as the client's limiter names it
    private: bool
    handler: str


def _route(method: str, path: str, key: str, handler: str) -> Route:
    return Route(method, re.compile(f"^{path}$"), key, path.startswith("/api/v1/"), handler)


ROUTES: tuple[Route, ...] = (
    _route("GET", "/api/v2/server/time", "GET /api/v2/server/time", "server_time"),
    _route("GET", "/api/v2/server/ping", "GET /api/v2/server/ping", "ping"),
    _route("GET", "/api/v2/server/exchangeinfo", "GET /api/v2/server/exchangeinfo", "exchange_info"),
    _route("GET", "/api/v2/ticker", "GET /api/v2/ticker", "ticker"),
    _route("GET", "/api/v2/ticker/currency", "GET /api/v2/ticker", "ticker_currency"),
    _route("GET", "/api/v2/orderbook", "GET /api/v2/orderbook", "order_book"),
    _route("GET", "/api/v2/trades", "GET /api/v2/trades", "public_trades"),
    _route("GET", "/api/v1/users/balances", "GET /api/v1/users/balances", "balances"),
    _route("POST", "/api/v1/order", "POST /api/v1/order", "submit"),
    _route("DELETE", "/api/v1/order", "DELETE /api/v1/order", "cancel"),
    _route("GET", "/api/v1/order/(?P<id>[^/]+)", "GET /api/v1/order/{id}", "get_order"),
    _route("GET", "/api/v1/openorders", "GET /api/v1/openOrders", "open_orders"),
    _route("GET", "/api/v1/allorders", "GET /api/v1/allOrders", "all_orders"),
    _route("GET", "/api/v1/users/transactions/trade", "GET /api/v1/users/transactions/trade", "user_trades"),
    _route("GET", "/v1/klines/history", "GET graph:/v1/klines/history", "klines"),  # graph-api (§4.7)
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | int:
    """The route and its path parameters, or 404 (unknown path) / 405 (known path, wrong verb)."""
    status = 404
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict()
            status = 405
    return status


def order_fields(body: bytes) -> dict[str, Any] | None:
    """The JSON object of an order POST with lower-case keys (None if it is not one)."""
    try:
        document = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None
    return {str(k).lower(): v for k, v in document.items()} if isinstance(document, dict) else None


def client_id_of(fields: Mapping[str, Any] | None) -> str | None:
    if not fields:
        return None
    value = fields.get("neworderclientid", fields.get("newclientorderid"))
    return None if value is None or value == "" else _text(value)


def _text(value: object) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value).strip()


def _param(query: Query, name: str) -> str | None:
    values = query.get(name.lower())
    return values[0] if values else None


def _int_param(query: Query, name: str, default: int | None = None) -> int | None:
    text = _param(query, name)
    if text is None or text.strip() == "":
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise WireError(400, "INVALID_REQUEST_ERROR", 1037) from None


def _ms_param(query: Query, name: str) -> int | None:
    value = _int_param(query, name)
    return None if value is None else (value * 1000 if 0 <= value < _SECONDS_CUTOFF else value)


def _parameter_error() -> WireError:
    return WireError(400, "FAILED_ORDER_PARAMETER", PARAMETER_CODE, http_status_field=True)


class Endpoints:
    """Request handlers over one SimExchange; `late_fills()` is the current late-fill delay in seconds."""

    def __init__(self, sim: SimExchange, now: Callable[[], datetime], late_fills: Callable[[], float]) -> None:
        self.sim = sim
        self._now = now
        self._late_fills = late_fills
        self._specs = {spec.symbol: spec for spec in sim.config.pairs}
        self._precision: dict[str, int] = {}
        for spec in sim.config.pairs:
            for asset, scale in ((spec.base, spec.base_scale), (spec.quote, spec.quote_scale)):
                self._precision[asset] = max(scale, self._precision.get(asset, 0))

    def handle(self, route: Route, request: Request) -> Reply:
        try:
            handler: Callable[[Request], Reply] = getattr(self, route.handler)
            return handler(request)
        except WireError as exc:
            return exc.reply()

    def _known(self, raw: str | None) -> PairSpec:
        """The pair named by a required parameter (400 INVALID_REQUEST_ERROR / "Pair X does not exists.")."""
        if raw is None or not raw.strip():
            raise WireError(400, "INVALID_REQUEST_ERROR", 1037)
        spec = self._specs.get(normalize_symbol(raw))
        if spec is None:
            raise WireError(400, f"Pair {raw.strip()} does not exists.", 1037)
        return spec

    def _optional(self, raw: str | None) -> PairSpec | None:
        return None if raw is None or not raw.strip() else self._known(raw)

    # ------------------------------------------------------------------------------------ public

    def server_time(self, request: Request) -> Reply:
        now = self._now()
        return Reply(200, {"serverTime": wire.ms(now), "serverTime2": now.isoformat(timespec="milliseconds")})

    def ping(self, request: Request) -> Reply:
        return Reply(200, {"pong": True})

    def exchange_info(self, request: Request) -> Reply:
        rules = {r.symbol: r for r in self.sim.exchange_info()}
        symbols = [wire.symbol_json(i, spec, rules[s]) for i, (s, spec) in enumerate(self._specs.items(), 1)]
        assets = self.sim.config.assets
        currencies = [wire.currency_json(i, a, self._precision.get(a, 8)) for i, a in enumerate(assets, 1)]
        data = {"timeZone": "UTC", "serverTime": wire.ms(self._now()), "symbols": symbols,
                "currencies": currencies, "currencyOperationBlocks": []}  # fmt: skip
        return Reply(200, wire.envelope(data))

    def _tickers(self, specs: list[PairSpec]) -> Reply:
        since = self._now() - _DAY
        rows: list[wire.Json] = []
        for index, spec in enumerate(self._specs.values(), 1):
            if spec in specs:
                book = self.sim.order_book(spec.symbol, 1)
                volume = sum((f.report.quantity for f in self.sim.fill_records([spec.symbol], since)), Decimal(0))
                rows.append(wire.ticker_json(index, spec, book, self.sim.mid(spec.symbol), volume))
        return Reply(200, wire.envelope(rows))

    def ticker(self, request: Request) -> Reply:
        raw = _param(request.query, "pairSymbol")
        if raw is None or not raw.strip():
            return self._tickers(list(self._specs.values()))
        spec = self._specs.get(normalize_symbol(raw))
        return self._tickers([spec] if spec else [])  # unknown pair: 200 with data []

    def ticker_currency(self, request: Request) -> Reply:
        symbol = (_param(request.query, "symbol") or "").strip().upper()
        if not symbol:
            raise WireError(400, "INVALID_REQUEST_ERROR", 1037)
        return self._tickers([s for s in self._specs.values() if s.quote == symbol])

    def order_book(self, request: Request) -> Reply:
        spec = self._known(_param(request.query, "pairSymbol"))
        limit = max(1, min(_int_param(request.query, "limit", 100) or 100, 100))
        return Reply(200, wire.envelope(wire.book_json(spec, self.sim.order_book(spec.symbol, limit))))

    def public_trades(self, request: Request) -> Reply:
        spec = self._known(_param(request.query, "pairSymbol"))
        last = max(1, min(_int_param(request.query, "last", 50) or 50, 1000))
        fills = self._visible_fills([spec.symbol])[-last:]
        return Reply(200, wire.envelope([wire.public_trade_json(f, spec) for f in reversed(fills)]))

    def klines(self, request: Request) -> Reply:
        """Candles of the simulated market since the server started (adapters/sim/klines.py)."""
        spec = self._known(_param(request.query, "symbol"))
        resolution = _int_param(request.query, "resolution", 1) or 1
        now = int(self._now().timestamp())
        start, end = _int_param(request.query, "from", 0) or 0, _int_param(request.query, "to", now) or now
        if resolution <= 0:
            raise WireError(400, "INVALID_REQUEST_ERROR", 1037)
        return Reply(200, klines_reply(self.sim.history(spec.symbol), resolution * 60, start, end, spec.price_scale))

    # ----------------------------------------------------------------------------------- private

    def balances(self, request: Request) -> Reply:
        now = self._now()
        rows = [wire.balance_json(b, self._precision.get(b.asset, 8), now) for b in self.sim.balances()]
        return Reply(200, wire.envelope(rows))

    def submit(self, request: Request) -> Reply:
        if "json" not in request.content_type.lower():
            return Reply(415)
        fields = order_fields(request.body)
        if fields is None:
            raise _parameter_error()
        raw_pair = fields.get("pairsymbol")
        if raw_pair is None or not _text(raw_pair):
            raise _parameter_error()
        spec = self._known(_text(raw_pair))
        raw_price = fields.get("price")
        quantity = _amount(fields.get("quantity"))
        price = Decimal(0) if raw_price is None or raw_price == "" else _amount(raw_price)
        method = _enum(fields.get("ordermethod"), _METHODS)
        side = _enum(fields.get("ordertype"), _SIDES)
        try:
            order = self.sim.submit_raw(spec.symbol, side, method, price, quantity, client_id_of(fields))
        except Rejected as exc:
            code = exc.numeric_code if exc.numeric_code is not None else PARAMETER_CODE
            return Reply(400, wire.error_body(exc.code, code, http_status=400))
        market = order.method.value == "market"
        data = {
            "id": order.order_id,
            "quantity": _text(fields.get("quantity")),
            "price": "0" if market else _text(raw_price),
            "stopPrice": None,
            "newOrderClientId": order.client_order_id,
            "type": order.side.value,
            "method": order.method.value,
            "pairSymbol": spec.symbol,
            "pairSymbolNormalized": f"{spec.base}_{spec.quote}",
            "datetime": wire.ms(order.created_at),
        }
        return Reply(200, wire.envelope(data, http_status=200), order_id=order.order_id)

    def cancel(self, request: Request) -> Reply:
        try:
            order_id = int((_param(request.query, "id") or "").strip())
        except ValueError:
            raise WireError(400, "NO_ORDER_MATCHES_YOUR_REQUEST", 1051) from None
        try:
            self.sim.cancel_order(order_id)
        except OrderNotFound:
            raise WireError(400, "NO_ORDER_MATCHES_YOUR_REQUEST", 1051) from None
        except Rejected as exc:
            raise WireError(400, exc.code, exc.numeric_code or PARAMETER_CODE) from None
        return Reply(200, {"success": True, "message": "SUCCESS", "code": 0}, order_id=order_id)

    def get_order(self, request: Request) -> Reply:
        try:
            report = self.sim.get_order(int(request.params["id"]))
        except (ValueError, OrderNotFound):
            raise WireError(400, "Order not found", 1152) from None
        return Reply(200, wire.envelope(self._order(report)), order_id=report.exchange_order_id)

    def _order(self, report: OrderReport, *, zero_time: bool = False) -> wire.Json:
        return wire.order_json(report, self._specs[report.symbol], zero_time=zero_time)

    def open_orders(self, request: Request) -> Reply:
        spec = self._optional(_param(request.query, "pairSymbol"))
        symbols = [spec.symbol] if spec else list(self._specs)
        reports = sorted(self.sim.open_orders(symbols), key=lambda r: r.exchange_order_id, reverse=True)
        asks = [self._order(r, zero_time=True) for r in reports if r.side is Side.SELL]
        bids = [self._order(r, zero_time=True) for r in reports if r.side is Side.BUY]
        return Reply(200, wire.envelope({"asks": asks, "bids": bids}))

    def all_orders(self, request: Request) -> Reply:
        query = request.query
        spec = self._known(_param(query, "pairSymbol"))
        start, end = _ms_param(query, "startTime"), _ms_param(query, "endTime")
        min_id = _int_param(query, "orderId")
        limit = _int_param(query, "limit") or _int_param(query, "last") or 100
        limit = max(1, min(limit, 1000))
        page = max(1, _int_param(query, "page", 1) or 1)
        reports = [
            r
            for r in self.sim.all_orders(spec.symbol, limit=10**9)
            if (min_id is None or r.exchange_order_id >= min_id)
            and (start is None or wire.ms(r.created_at) >= start)
            and (end is None or wire.ms(r.created_at) <= end)
        ]
        chosen = reports[(page - 1) * limit : page * limit]
        return Reply(200, wire.envelope([self._order(r) for r in chosen]))

    def user_trades(self, request: Request) -> Reply:
        query = request.query
        order_id = _int_param(query, "orderId")
        fills = self._visible_fills(list(self._specs))
        if order_id is not None:
            fills = [f for f in fills if f.report.exchange_order_id == order_id]
        else:
            now_ms = wire.ms(self._now())
            start = _ms_param(query, "startDate")
            end = _ms_param(query, "endDate")
            start = now_ms - 30 * 86_400_000 if start is None and end is None else start
            types = {t.strip().lower() for t in query.get("type", []) if t.strip()}
            assets = {s.strip().upper() for s in query.get("symbol", []) if s.strip()}
            pair = _param(query, "pairSymbol")
            pair_symbol = normalize_symbol(pair) if pair and pair.strip() else None
            fills = [
                f
                for f in fills
                if (start is None or wire.ms(f.report.timestamp) >= start)
                and (end is None or wire.ms(f.report.timestamp) <= end)
                and (not types or f.report.side.value in types)
                and (pair_symbol is None or f.report.symbol == pair_symbol)
                and (not assets or {self._specs[f.report.symbol].base, self._specs[f.report.symbol].quote} & assets)
            ]
        rows = [wire.trade_json(f, self._specs[f.report.symbol]) for f in reversed(fills)]
        return Reply(200, wire.envelope(rows))

    def _visible_fills(self, symbols: list[str]) -> list[SimFill]:
        """Fills oldest first, without those still hidden by `late_fills` (and the sim's fill delay)."""
        cutoff = self._now() - timedelta(seconds=self._late_fills())
        return [f for f in self.sim.fill_records(symbols) if f.report.timestamp <= cutoff]


def _amount(value: object) -> Decimal:
    if isinstance(value, Decimal | str | int) and not isinstance(value, bool):
        try:
            return to_decimal(value, field="order amount")
        except (ValueError, TypeError):
            pass
    raise _parameter_error()


def _enum(value: object, numeric: Mapping[str, str]) -> str:
    if value is None:
        raise _parameter_error()
    text = _text(value).lower()
    return numeric.get(text, text)
