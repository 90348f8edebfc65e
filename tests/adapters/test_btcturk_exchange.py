"""BtcTurkExchange against BTCTurk-shaped replies (btcturk-api.md §4-§6), through respx."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from factories import FakeClock
from pydantic import SecretStr

from btcbot.adapters.btcturk import BtcTurkClient, BtcTurkExchange, InMemoryBlockStore
from btcbot.domain.errors import BadResponse, OrderNotFound, OutcomeUnknown, RateLimited, Rejected
from btcbot.domain.models import (
    Balance,
    ExchangeOrderStatus,
    OrderMethod,
    OrderRequest,
    Side,
    SubmitAck,
)
from btcbot.ports import Exchange

BASE = "https://api.btcturk.test"
KEY = "demo-public-key"
SECRET = "c2VjcmV0"
T0 = datetime(2024, 1, 22, 7, 13, 50, tzinfo=UTC)
OPEN_ORDERS = f"{BASE}/api/v1/openOrders"
ORDER = f"{BASE}/api/v1/order"
TRADES = f"{BASE}/api/v1/users/transactions/trade"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def exchange(router: respx.MockRouter, clock: FakeClock) -> Iterator[BtcTurkExchange]:
    with BtcTurkExchange(BtcTurkClient(
        base_url=BASE,
        api_key=SecretStr(KEY),
        api_secret=SecretStr(SECRET),
        transport=httpx.MockTransport(router.handler),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(3),
        block_store=InMemoryBlockStore(),
    )) as ex:
        yield ex


def ok(data: Any = None, **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "message": "", "code": 0, "data": data, **extra})


def fail(status: int, message: str, code: int) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "message": message, "code": code})


def wire_order(order_id: int, pair: str = "BTCTRY", status: str = "Untouched", **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": order_id,
        "price": "1000000.00",
        "amount": "0.0100000000000000",
        "quantity": "0.0100000000000000",
        "stopPrice": "0.00",
        "pairSymbol": pair,
        "pairSymbolNormalized": pair[:-3] + "_" + pair[-3:],
        "type": "buy",
        "method": "limit",
        "orderClientId": f"cid-{order_id}",
        "time": 0,
        "updateTime": 1705907630294,
        "status": status,
        "leftAmount": "0.0040000000000000",
    }
    row.update(over)
    return row


# -- shape ---------------------------------------------------------------------------------------


def test_exchange_is_structural_not_protocol_subclass(exchange: BtcTurkExchange) -> None:
    assert exchange.name == "btcturk"
    assert SECRET not in repr(exchange)
    assert KEY not in repr(exchange)
    assert Exchange not in type(exchange).__mro__
    for method in ("server_time", "exchange_info", "balances", "order_book", "open_orders", "all_orders"):
        assert callable(getattr(exchange, method))


def test_server_time_bare_object_parsed_to_utc(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    body = {"serverTime": 1705907630294, "serverTime2": "2024-01-22T07:13:50.294+00:00"}
    router.get(f"{BASE}/api/v2/server/time").mock(return_value=httpx.Response(200, json=body))
    assert exchange.server_time() == datetime(2024, 1, 22, 7, 13, 50, 294_000, tzinfo=UTC)


# -- exchangeinfo --------------------------------------------------------------------------------


def _symbol(name: str, num: str, den: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 1,
        "name": name,
        "nameNormalized": f"{num}_{den}",
        "status": "TRADING",
        "numerator": num,
        "denominator": den,
        "numeratorScale": 8,
        "denominatorScale": 2,
        "hasFraction": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.0000000000001",
                "maxPrice": "10000000",
                "tickSize": "10",
                "minExchangeValue": "99.91",
                "minAmount": None,
                "maxAmount": None,
            }
        ],
        "orderMethods": ["MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT"],
        "maximumOrderAmount": None,
        "minimumLimitOrderPrice": 460.5,
        "maximumLimitOrderPrice": 4605000.0,
    }
    row.update(over)
    return row


def test_exchange_info_rules_parsed(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    data = {
        "timeZone": "UTC",
        "serverTime": 1705907630294,
        "symbols": [
            _symbol("BTCTRY", "BTC", "TRY", hasFraction=False, orderMethods=["LIMIT"]),
            _symbol("USDTTRY", "USDT", "TRY", numeratorScale=2, denominatorScale=3),
            _symbol("ETHTRY", "ETH", "TRY", status="MAINTENANCE"),
            _symbol("XRPTRY", "XRP", "TRY", filters=[]),
            {"name": "BROKEN", "status": "TRADING"},
        ],
        "currencies": [],
    }
    router.get(f"{BASE}/api/v2/server/exchangeinfo").mock(return_value=ok(data))
    rules = {r.symbol: r for r in exchange.exchange_info()}
    assert set(rules) == {"BTCTRY", "USDTTRY", "ETHTRY", "XRPTRY"}  # the broken entry is skipped

    btc = rules["BTCTRY"]
    assert (btc.base, btc.quote, btc.base_scale, btc.quote_scale) == ("BTC", "TRY", 8, 2)
    assert btc.price_scale == 0  # hasFraction=false -> integer prices
    assert btc.min_notional == Decimal("99.91")  # PRICE_FILTER.minExchangeValue (LESSONS 27)
    assert btc.tick_size == Decimal("10")
    assert (btc.min_price, btc.max_price) == (Decimal("0.0000000000001"), Decimal("10000000"))
    assert (btc.band_low, btc.band_high) == (Decimal("460.5"), Decimal("4605000.0"))
    assert isinstance(btc.band_low, Decimal)
    assert btc.tradable is True
    assert btc.market_orders is False

    usdt = rules["USDTTRY"]
    assert (usdt.price_scale, usdt.base_scale, usdt.market_orders) == (3, 2, True)
    assert rules["ETHTRY"].tradable is False  # status != TRADING
    assert rules["XRPTRY"].tradable is False  # no minExchangeValue: never trade on a guessed minimum


# -- balances and book ---------------------------------------------------------------------------


def test_balances_comma_and_dot_decimals_parsed(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    rows = [
        {"asset": "TRY", "assetname": "Türk Lirası", "balance": "27223,72", "locked": "223,72", "free": "27000"},
        {"asset": "BTC", "balance": "0.0010000000000000", "locked": "0", "free": "0.0010000000000000"},
        {"asset": "ETH", "balance": "2.5", "free": "2"},
    ]
    route = router.get(f"{BASE}/api/v1/users/balances").mock(return_value=ok(rows))
    assert exchange.balances() == [
        Balance("TRY", Decimal("27000"), Decimal("223.72")),
        Balance("BTC", Decimal("0.001"), Decimal("0")),
        Balance("ETH", Decimal("2"), Decimal("0.5")),
    ]
    assert route.calls.last.request.headers["X-PCK"] == KEY


def test_order_book_float_timestamp_and_string_levels_parsed(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    data = {
        "timestamp": 1647501159759.0,
        "bids": [["460263.00", "0.04244000"], ["460100.00", "1.5"]],
        "asks": [["460300.00", "0.1"]],
    }
    body = {"success": True, "message": None, "code": "SUCCESS", "data": data}
    route = router.get(f"{BASE}/api/v2/orderbook").mock(return_value=httpx.Response(200, json=body))
    book = exchange.order_book("btc_try", limit=500)
    assert book.symbol == "BTCTRY"
    assert book.timestamp == datetime(2022, 3, 17, 7, 12, 39, 759_000, tzinfo=UTC)
    assert book.best_bid == Decimal("460263.00")
    assert book.best_ask == Decimal("460300.00")
    assert book.bids[0].quantity == Decimal("0.04244000")
    params = route.calls.last.request.url.params
    assert (params["pairSymbol"], params["limit"]) == ("BTCTRY", "100")  # live hard cap
    assert "X-PCK" not in route.calls.last.request.headers  # public endpoint is not signed


@pytest.mark.parametrize(("bids", "asks"), [
    ([["0", "1"]], [["460300", "0.1"]]),  # zero price (issue 8: DivisionByZero in the strategy)
    ([["460263", "1"]], [["-460300", "0.1"]]),  # negative price
    ([["460263", "-1"]], [["460300", "0.1"]]),  # negative size
    ([["1e20", "1"]], [["460300", "0.1"]]),  # absurd price
    ([["460263", "1e30"]], [["460300", "0.1"]]),  # absurd size
    ([["NaN", "1"]], [["460300", "0.1"]]),  # not finite
    ([["460263"]], [["460300", "0.1"]]),  # a level without a size
    ([[True, "1"]], [["460300", "0.1"]]),  # wrong type
])
def test_order_book_invalid_level_raises_bad_response(
    router: respx.MockRouter, exchange: BtcTurkExchange, bids: list[list[Any]], asks: list[list[Any]]
) -> None:
    router.get(f"{BASE}/api/v2/orderbook").mock(return_value=ok({"timestamp": 1647501159759, "bids": bids,
                                                                  "asks": asks}))
    with pytest.raises(BadResponse):
        exchange.order_book("BTCTRY")


# -- orders --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire_status", "expected"),
    [
        ("Untouched", ExchangeOrderStatus.UNTOUCHED),
        ("Partial", ExchangeOrderStatus.PARTIAL),
        ("Closed", ExchangeOrderStatus.CLOSED),  # fully filled (LESSONS 26)
        ("Canceled", ExchangeOrderStatus.CANCELED),
    ],
)
def test_get_order_each_status_string_mapped(
    router: respx.MockRouter, exchange: BtcTurkExchange, wire_status: str, expected: ExchangeOrderStatus
) -> None:
    big_id = 9_123_456_789_012_345_678  # beyond 2**53: must survive as an exact int64
    router.get(f"{ORDER}/{big_id}").mock(return_value=ok(wire_order(big_id, status=wire_status)))
    report = exchange.get_order(big_id)
    assert report.status is expected
    assert report.exchange_order_id == big_id
    assert (report.quantity, report.left_quantity) == (Decimal("0.01"), Decimal("0.004"))
    assert report.filled_quantity == Decimal("0.006")
    assert report.created_at == report.updated_at == datetime(2024, 1, 22, 7, 13, 50, 294_000, tzinfo=UTC)
    assert (report.side, report.method, report.client_order_id) == (Side.BUY, OrderMethod.LIMIT, f"cid-{big_id}")
    assert exchange.requests_made == {"GET /api/v1/order/{id}": 1}


def test_get_order_unknown_status_raises_bad_response(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    router.get(f"{ORDER}/5").mock(return_value=ok(wire_order(5, status="Filled")))
    with pytest.raises(BadResponse):
        exchange.get_order(5)


def test_get_order_not_found_raises_order_not_found(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    route = router.get(f"{ORDER}/5").mock(return_value=fail(400, "Order not found", 1152))
    with pytest.raises(OrderNotFound):
        exchange.get_order(5)
    assert route.call_count == 1


def test_open_orders_single_request_filtered_by_symbol(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    data = {
        "asks": [wire_order(2, type="sell", status="Partial")],
        "bids": [wire_order(1), wire_order(3, pair="ETHTRY")],
    }
    route = router.get(OPEN_ORDERS).mock(return_value=ok(data))
    reports = exchange.open_orders(["BTCTRY", "USDTTRY"])
    assert sorted(r.exchange_order_id for r in reports) == [1, 2]
    assert {r.side for r in reports} == {Side.BUY, Side.SELL}
    assert route.call_count == 1
    assert "pairSymbol" not in route.calls.last.request.url.params


def test_open_orders_all_pairs_refused_falls_back_per_symbol_and_remembers(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        pair = request.url.params.get("pairSymbol")
        if pair is None:
            return fail(400, "pairSymbol is required", 1037)
        return ok({"asks": [], "bids": [wire_order(len(pair), pair=pair)]})

    route = router.get(OPEN_ORDERS).mock(side_effect=reply)
    first = exchange.open_orders(["BTCTRY", "ETHTRY"])
    assert [r.symbol for r in first] == ["BTCTRY", "ETHTRY"]
    assert route.call_count == 3  # refused all-pairs + one per symbol
    exchange.open_orders(["BTCTRY"])
    assert route.call_count == 4  # the all-pairs form is not tried again
    assert [c.request.url.params.get("pairSymbol") for c in route.calls] == [None, "BTCTRY", "ETHTRY", "BTCTRY"]


def test_open_orders_no_symbols_sends_nothing(exchange: BtcTurkExchange) -> None:
    assert exchange.open_orders([]) == []
    assert exchange.requests_made == {}


def test_all_orders_start_sent_in_seconds_and_sorted_newest_first(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    rows = [
        wire_order(10, status="Closed", time=1705900000000, leftAmount="0.0000000000000000"),
        wire_order(11, status="Canceled", time=1705900001000),
        wire_order(12, method="market", status="Closed", quantity="0", time=1705900002000, leftAmount="0"),
    ]
    route = router.get(f"{BASE}/api/v1/allOrders").mock(return_value=ok(rows))
    start = datetime(2024, 1, 22, 0, 0, 0, 999_000, tzinfo=UTC)
    reports = exchange.all_orders("BTCTRY", start=start, limit=5000)
    assert [r.exchange_order_id for r in reports] == [12, 11, 10]
    assert reports[0].method is OrderMethod.MARKET
    assert reports[0].quantity == Decimal("0.01")  # market buy: `amount` is the base bought
    params = route.calls.last.request.url.params
    assert params["startTime"] == "1705881600"  # seconds, floored
    assert (params["pairSymbol"], params["limit"]) == ("BTCTRY", "1000")


# -- fills ---------------------------------------------------------------------------------------


def _trade(trade_id: int, ts: int, order_type: str, amount: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": trade_id,
        "orderId": 77,
        "orderClientId": "cid-77",
        "timestamp": ts,
        "price": "1000000.00",
        "amount": amount,
        "fee": "-24.0000",
        "tax": "-4.3200",
        "numeratorSymbol": "BTC",
        "denominatorSymbol": "TRY",
        "orderType": order_type,
    }
    row.update(over)
    return row


def test_fills_negative_amounts_and_fees_become_positive_oldest_first(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    rows = [
        _trade(1181163798924649598, 1705907600000, "sell", "-0.0100000000000000"),
        _trade(1181163798924649500, 1705907500000, "buy", "0.0200000000000000"),
        _trade(5, 1705907550000, "buy", "1", numeratorSymbol="ETH"),
    ]
    route = router.get(TRADES).mock(return_value=ok(rows))
    fills = exchange.fills(["BTCTRY"], since=datetime(2024, 1, 22, 7, 0, tzinfo=UTC))
    assert [f.trade_id for f in fills] == ["1181163798924649500", "1181163798924649598"]
    buy, sell = fills
    assert (buy.side, buy.quantity) == (Side.BUY, Decimal("0.02"))
    assert (sell.side, sell.quantity) == (Side.SELL, Decimal("0.01"))
    assert (sell.fee, sell.tax, sell.total_fee) == (Decimal("24"), Decimal("4.32"), Decimal("28.32"))
    assert (sell.fee_asset, sell.symbol, sell.exchange_order_id) == ("TRY", "BTCTRY", 77)
    assert sell.client_order_id == "cid-77"
    assert sell.timestamp == datetime(2024, 1, 22, 7, 13, 20, tzinfo=UTC)
    assert route.calls.last.request.url.params["startDate"] == "1705906800000"  # ms


def test_fills_without_since_sends_no_start_date(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    route = router.get(TRADES).mock(return_value=ok([]))
    assert exchange.fills(["BTCTRY"]) == []
    assert "startDate" not in route.calls.last.request.url.params


def test_fills_malformed_row_raises_bad_response(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    router.get(TRADES).mock(return_value=ok([{"id": 1, "price": "x"}]))
    with pytest.raises(BadResponse):
        exchange.fills(["BTCTRY"])


# -- writes --------------------------------------------------------------------------------------


def _request(method: OrderMethod = OrderMethod.LIMIT, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        client_order_id="bb1b-BTCTRY-0123456789abcdef",
        symbol="BTCTRY",
        side=side,
        method=method,
        price=Decimal("1000000"),
        quantity=Decimal("0.00100000"),
    )


def test_submit_order_sends_json_strings_and_returns_ack(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    reply = {
        "id": 9_223_372_036_854_775_000,
        "quantity": "0.001",
        "price": "1000000",
        "newOrderClientId": "bb1b-BTCTRY-0123456789abcdef",
        "type": "buy",
        "method": "limit",
        "pairSymbol": "BTCTRY",
        "datetime": 1705907630294,
    }
    route = router.post(ORDER).mock(return_value=ok(reply, message="SUCCESS", httpStatusCode=200))
    ack = exchange.submit_order(_request())
    assert ack == SubmitAck(
        exchange_order_id=9_223_372_036_854_775_000,
        client_order_id="bb1b-BTCTRY-0123456789abcdef",
        timestamp=datetime(2024, 1, 22, 7, 13, 50, 294_000, tzinfo=UTC),
    )
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "quantity": "0.001",
        "price": "1000000",
        "newOrderClientId": "bb1b-BTCTRY-0123456789abcdef",
        "orderMethod": "limit",
        "orderType": "buy",
        "pairSymbol": "BTCTRY",
    }
    assert request.headers["Content-Type"] == "application/json"
    assert all(name in request.headers for name in ("X-PCK", "X-Stamp", "X-Signature"))


def test_submit_market_order_sends_zero_price(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    route = router.post(ORDER).mock(return_value=ok({"id": 1}))
    exchange.submit_order(_request(OrderMethod.MARKET, Side.SELL))
    body = json.loads(route.calls.last.request.content)
    assert (body["price"], body["orderMethod"], body["orderType"]) == ("0", "market", "sell")


def test_submit_order_read_timeout_raises_outcome_unknown_once(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    route = router.post(ORDER).mock(side_effect=[httpx.ReadTimeout("accepted, reply lost"), ok({"id": 1})])
    with pytest.raises(OutcomeUnknown):
        exchange.submit_order(_request())
    assert route.call_count == 1
    assert exchange.requests_made == {"POST /api/v1/order": 1}


def test_submit_order_200_without_id_raises_outcome_unknown(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    router.post(ORDER).mock(return_value=ok(None))
    with pytest.raises(OutcomeUnknown):
        exchange.submit_order(_request())


def test_submit_order_rejection_keeps_symbolic_code(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    router.post(ORDER).mock(return_value=fail(400, "BALANCE_NOT_ENOUGH", 1055))
    with pytest.raises(Rejected) as info:
        exchange.submit_order(_request())
    assert (info.value.code, info.value.numeric_code) == ("BALANCE_NOT_ENOUGH", 1055)


def test_cancel_order_200_with_empty_code_accepted(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    route = router.delete(ORDER).mock(
        return_value=httpx.Response(200, json={"success": True, "message": "SUCCESS", "code": ""})
    )
    exchange.cancel_order(9_123_456_789_012_345_678)
    request = route.calls.last.request
    assert request.url.params["id"] == "9123456789012345678"  # in the query string, not a body
    assert request.content == b""


def test_cancel_order_no_match_raises_order_not_found(router: respx.MockRouter, exchange: BtcTurkExchange) -> None:
    route = router.delete(ORDER).mock(return_value=fail(400, "NO_ORDER_MATCHES_YOUR_REQUEST", 1051))
    with pytest.raises(OrderNotFound) as info:
        exchange.cancel_order(5)
    assert info.value.code == "NO_ORDER_MATCHES_YOUR_REQUEST"
    assert route.call_count == 1


def test_cancel_order_could_not_be_canceled_raises_rejected(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    router.delete(ORDER).mock(return_value=fail(400, "ORDER_COULD_NOT_BE_CANCELED", 1050))
    with pytest.raises(Rejected) as info:
        exchange.cancel_order(5)
    assert not isinstance(info.value, OrderNotFound)


def test_cancel_order_dropped_reply_raises_outcome_unknown_once(
    router: respx.MockRouter, exchange: BtcTurkExchange
) -> None:
    route = router.delete(ORDER).mock(side_effect=httpx.RemoteProtocolError("server disconnected"))
    with pytest.raises(OutcomeUnknown):
        exchange.cancel_order(5)
    assert route.call_count == 1


def test_rate_limited_endpoint_sends_nothing_until_block_expires(
    router: respx.MockRouter, exchange: BtcTurkExchange, clock: FakeClock
) -> None:
    route = router.get(TRADES).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "30"}), ok([])])
    with pytest.raises(RateLimited):
        exchange.fills(["BTCTRY"])
    with pytest.raises(RateLimited):
        exchange.fills(["BTCTRY"])
    assert route.call_count == 1
    clock.now += timedelta(seconds=30)
    assert exchange.fills(["BTCTRY"]) == []
    assert route.call_count == 2
