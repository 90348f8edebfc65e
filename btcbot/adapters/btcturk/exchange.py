"""`BtcTurkExchange`: the Exchange port over BTCTurk's REST API.

Implements `btcbot.ports.Exchange` structurally (no subclassing, LESSONS 32); the module-level
`_conforms` function lets mypy check the shape, the tests check the behaviour.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from btcbot.adapters.btcturk import parse
from btcbot.adapters.btcturk.client import BtcTurkClient
from btcbot.domain.errors import Rejected
from btcbot.domain.models import (
    Balance,
    FillReport,
    OrderBook,
    OrderMethod,
    OrderReport,
    OrderRequest,
    SubmitAck,
)
from btcbot.domain.money import dec_str
from btcbot.domain.symbols import SymbolRules

if TYPE_CHECKING:
    from btcbot.ports import Exchange

__all__ = ["BtcTurkExchange"]

log = logging.getLogger(__name__)

BOOK_LIMIT_MAX = 100  # live cap (§4.4)
ALL_ORDERS_LIMIT_MAX = 1000  # §5.5


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BtcTurkExchange:
    """BTCTurk spot exchange. Reads may be retried; submit and cancel are sent at most once."""

    name: str = "btcturk"

    def __init__(self, client: BtcTurkClient) -> None:
        """Wrap a configured client: `BtcTurkExchange(BtcTurkClient(base_url=..., api_key=...))`."""
        self.client = client
        self._clock = client.clock
        self._open_orders_per_symbol = False  # set once the all-pairs form was refused

    def __repr__(self) -> str:
        return f"BtcTurkExchange({self.client!r})"

    @property
    def requests_made(self) -> dict[str, int]:
        """Requests sent so far, per endpoint key."""
        return self.client.requests_made

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> BtcTurkExchange:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- public --------------------------------------------------------------------------------

    def server_time(self) -> datetime:
        return self.client.request("GET", "/api/v2/server/time", parse=parse.parse_server_time, envelope=False)

    def exchange_info(self) -> list[SymbolRules]:
        return self.client.request("GET", "/api/v2/server/exchangeinfo", parse=parse.parse_exchange_info)

    def order_book(self, symbol: str, limit: int = 25) -> OrderBook:
        now = self._clock()

        def _parse(raw: Any) -> OrderBook:
            return parse.parse_order_book(symbol, raw, now)

        params: dict[str, str | int] = {
            "pairSymbol": parse.normalize_pair(symbol),
            "limit": max(1, min(limit, BOOK_LIMIT_MAX)),
        }
        return self.client.request("GET", "/api/v2/orderbook", parse=_parse, params=params)

    # -- private reads -------------------------------------------------------------------------

    def balances(self) -> list[Balance]:
        return self.client.request("GET", "/api/v1/users/balances", parse=parse.parse_balances, signed=True)

    def open_orders(self, symbols: Sequence[str]) -> list[OrderReport]:
        wanted = [parse.normalize_pair(s) for s in symbols]
        if not wanted:
            return []
        if not self._open_orders_per_symbol:
            try:
                return self._open_orders_request(wanted, None)
            except Rejected as exc:
                log.info("openOrders without pairSymbol refused (%s); querying per symbol from now on", exc)
                self._open_orders_per_symbol = True
        reports: list[OrderReport] = []
        for symbol in dict.fromkeys(wanted):
            reports.extend(self._open_orders_request([symbol], symbol))
        return reports

    def _open_orders_request(self, wanted: list[str], pair: str | None) -> list[OrderReport]:
        def _parse(raw: Any) -> list[OrderReport]:
            return parse.parse_open_orders(raw, wanted)

        return self.client.request(
            "GET",
            "/api/v1/openOrders",
            parse=_parse,
            params={"pairSymbol": pair} if pair is not None else None,
            signed=True,
        )

    def all_orders(self, symbol: str, start: datetime | None = None, limit: int = 100) -> list[OrderReport]:
        params: dict[str, str | int] = {
            "pairSymbol": parse.normalize_pair(symbol),
            "limit": max(1, min(limit, ALL_ORDERS_LIMIT_MAX)),
        }
        if start is not None:
            # Seconds (§5.5/§14.3): if the server reads them as ms it returns more, never fewer.
            params["startTime"] = parse.datetime_to_ms(start) // 1000
        return self.client.request("GET", "/api/v1/allOrders", parse=parse.parse_orders, params=params, signed=True)

    def get_order(self, exchange_order_id: int) -> OrderReport:
        return self.client.request(
            "GET",
            f"/api/v1/order/{int(exchange_order_id)}",
            endpoint="GET /api/v1/order/{id}",
            parse=parse.parse_order,
            signed=True,
        )

    def fills(self, symbols: Sequence[str], since: datetime | None = None) -> list[FillReport]:
        wanted = [parse.normalize_pair(s) for s in symbols]
        if not wanted:
            return []
        params: dict[str, str | int] = {}
        if since is not None:
            params["startDate"] = parse.datetime_to_ms(since)
        return self.client.request(
            "GET",
            "/api/v1/users/transactions/trade",
            parse=lambda raw: parse.parse_user_trades(raw, wanted, since),
            params=params or None,
            signed=True,
        )

    # -- writes (never retried) ----------------------------------------------------------------

    def submit_order(self, request: OrderRequest) -> SubmitAck:
        price = request.price if request.method is OrderMethod.LIMIT else None
        body = {
            "quantity": dec_str(request.quantity),
            "price": dec_str(price) if price is not None else "0",
            "newOrderClientId": request.client_order_id,
            "orderMethod": request.method.value,
            "orderType": request.side.value,
            "pairSymbol": parse.normalize_pair(request.symbol),
        }
        now = self._clock()
        return self.client.request(
            "POST",
            "/api/v1/order",
            parse=lambda raw: parse.parse_submit_ack(raw, request, now),
            json_body=body,
            signed=True,
        )

    def cancel_order(self, exchange_order_id: int) -> None:
        self.client.request(
            "DELETE",
            "/api/v1/order",
            parse=lambda _raw: None,
            params={"id": int(exchange_order_id)},
            signed=True,
        )


if TYPE_CHECKING:

    def _conforms(exchange: BtcTurkExchange) -> Exchange:
        return exchange
