"""`btcbot sim serve` (R-EX-7): the simulator over HTTP, driven by the real BTCTurk client (btcturk-api.md §1–§9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from btcbot.adapters.btcturk import BtcTurkClient, BtcTurkExchange
from btcbot.adapters.btcturk.auth import Signer
from btcbot.adapters.sim import SimConfig, SimExchange
from btcbot.adapters.sim.faults import Limit
from btcbot.adapters.sim.server import SimServer, WallClock, is_loopback, open_server_sim
from btcbot.cli import app
from btcbot.domain.errors import AuthFailed, OrderNotFound, Rejected
from btcbot.domain.models import ExchangeOrderStatus, OrderMethod, OrderRequest, Side

D = Decimal
KEY, SECRET = "sim-key", "c2ltLXNlY3JldA=="
Status = ExchangeOrderStatus


@pytest.fixture
def sim() -> Iterator[SimExchange]:
    with SimExchange.open(None, SimConfig(seed=7, cancel_delay_seconds=0.3), WallClock()) as exchange:
        yield exchange


@pytest.fixture
def server(sim: SimExchange) -> Iterator[SimServer]:
    with SimServer(sim, None, KEY, SECRET) as srv:
        yield srv


def client(server: SimServer, key: str = KEY, secret: str = SECRET, **kwargs: Any) -> BtcTurkExchange:
    options = {"base_url": server.url, "api_key": SecretStr(key), "api_secret": SecretStr(secret), **kwargs}
    return BtcTurkExchange(BtcTurkClient(**options))


@pytest.fixture
def ex(server: SimServer) -> Iterator[BtcTurkExchange]:
    with client(server) as exchange:
        yield exchange


def raw(server: SimServer, method: str, path: str, *, signed: bool = True, **kwargs: Any) -> httpx.Response:
    headers = Signer(SecretStr(KEY), SecretStr(SECRET)).headers(datetime.now(UTC)) if signed else {}
    return httpx.request(method, server.url + path, headers=headers, timeout=5, **kwargs)


def body(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=D)


def limit_order(cid: str, price: Decimal, qty: Decimal, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(cid, "BTCTRY", side, OrderMethod.LIMIT, price, qty)


def resting_buy(ex: BtcTurkExchange, cid: str) -> int:
    bid = ex.order_book("BTCTRY", 5).bids[0].price
    return ex.submit_order(limit_order(cid, bid - 5000, D("0.001"))).exchange_order_id


def crossing_buy(ex: BtcTurkExchange, cid: str, notional: str = "150") -> int:
    ask = ex.order_book("BTCTRY", 5).asks[0].price
    price = (ask * D("1.01")).quantize(D(1), rounding=ROUND_UP)
    qty = (D(notional) / ask).quantize(D("0.00000001"), rounding=ROUND_UP)
    return ex.submit_order(limit_order(cid, price, qty)).exchange_order_id


# ------------------------------------------------------------------------------------------ public


def test_public_endpoints_have_btcturk_shapes(server: SimServer) -> None:
    now_ms = time.time_ns() // 1_000_000
    clock = raw(server, "GET", "/api/v2/server/time", signed=False).json()
    assert set(clock) == {"serverTime", "serverTime2"} and abs(clock["serverTime"] - now_ms) < 5000

    info = body(raw(server, "GET", "/api/v2/server/exchangeInfo/", signed=False))  # case and slash tolerated
    btc = next(s for s in info["data"]["symbols"] if s["name"] == "BTCTRY")
    assert (btc["status"], btc["nameNormalized"], btc["numeratorScale"], btc["hasFraction"]) == (
        "TRADING",
        "BTC_TRY",
        8,
        False,
    )
    price_filter = btc["filters"][0]
    assert price_filter["filterType"] == "PRICE_FILTER" and price_filter["minExchangeValue"] == "99.91"
    assert all(isinstance(price_filter[k], str) for k in ("minPrice", "maxPrice", "tickSize"))
    assert isinstance(btc["maximumLimitOrderPrice"], int | Decimal) and "LIMIT" in btc["orderMethods"]

    tickers = body(raw(server, "GET", "/api/v2/ticker", signed=False))["data"]
    assert {t["pair"] for t in tickers} == {"BTCTRY", "ETHTRY", "USDTTRY", "BTCUSDT"}
    assert all(isinstance(t["last"], int | Decimal) and t["bid"] < t["ask"] for t in tickers)
    assert raw(server, "GET", "/api/v2/ticker?pairSymbol=NOPE", signed=False).json()["data"] == []
    usdt = body(raw(server, "GET", "/api/v2/ticker/currency?symbol=USDT", signed=False))["data"]
    assert [t["pair"] for t in usdt] == ["BTCUSDT"]

    book = raw(server, "GET", "/api/v2/orderbook?pairSymbol=btc_try&limit=500", signed=False).json()["data"]
    assert isinstance(book["timestamp"], int) and 0 < len(book["bids"]) <= 100
    assert all(isinstance(x, str) for level in book["bids"] + book["asks"] for x in level)
    assert D(book["bids"][0][0]) < D(book["asks"][0][0])

    missing = raw(server, "GET", "/api/v2/orderbook", signed=False)
    assert (missing.status_code, missing.json()["message"], missing.json()["code"]) == (
        400,
        "INVALID_REQUEST_ERROR",
        1037,
    )
    unknown = raw(server, "GET", "/api/v2/orderbook?pairSymbol=XYZ", signed=False)
    assert (unknown.status_code, unknown.json()["message"]) == (400, "Pair XYZ does not exists.")
    assert raw(server, "GET", "/api/v2/server/ping", signed=False).json() == {"pong": True}


def test_unknown_path_is_404_and_wrong_verb_405_with_empty_bodies(server: SimServer) -> None:
    assert (raw(server, "GET", "/api/v9/nothing").status_code, raw(server, "GET", "/api/v9/nothing").content) == (
        404,
        b"",
    )
    assert raw(server, "PUT", "/api/v1/order").status_code == 405


def test_client_parses_exchange_info_book_and_balances(ex: BtcTurkExchange, server: SimServer) -> None:
    rules = {r.symbol: r for r in ex.exchange_info()}
    assert set(rules) == {"BTCTRY", "ETHTRY", "USDTTRY", "BTCUSDT"}
    btc = rules["BTCTRY"]
    assert (btc.price_scale, btc.base_scale, btc.min_notional, btc.tradable) == (0, 8, D("99.91"), True)
    assert rules["USDTTRY"].price_scale == 3 and btc.band_low is not None and btc.band_high is not None
    book = ex.order_book("BTCTRY", 5)
    assert len(book.bids) == 5 and book.bids[0].price < book.asks[0].price

    balances = {b.asset: b for b in ex.balances()}
    assert balances["TRY"].free == D("20000") and balances["BTC"].total == 0
    rows = body(raw(server, "GET", "/api/v1/users/balances"))["data"]
    try_row = next(r for r in rows if r["asset"] == "TRY")
    assert try_row["free"] == "20000.0000000000000000" and try_row["balance"] == try_row["free"]
    assert try_row["locked"] == "0.0000000000000000" and isinstance(try_row["precision"], int)


# ------------------------------------------------------------------------------------------ orders


def test_submitted_order_rests_untouched_and_is_listed(ex: BtcTurkExchange, server: SimServer) -> None:
    order_id = resting_buy(ex, "rest-1")
    [report] = ex.open_orders(["BTCTRY"])
    assert (report.exchange_order_id, report.client_order_id, report.status) == (order_id, "rest-1", Status.UNTOUCHED)
    assert report.left_quantity == D("0.001")

    data = body(raw(server, "GET", "/api/v1/openOrders"))["data"]  # without pairSymbol: every pair
    assert data["asks"] == [] and [o["id"] for o in data["bids"]] == [order_id]
    wire_order = data["bids"][0]
    assert wire_order["status"] == "Untouched" and wire_order["leftAmount"] == "0.0010000000000000"
    assert wire_order["orderClientId"] == "rest-1" and wire_order["time"] == 0 and wire_order["updateTime"] > 0
    assert raw(server, "GET", "/api/v1/openOrders?pairSymbol=ETHTRY").json()["data"] == {"asks": [], "bids": []}

    assert [o.client_order_id for o in ex.all_orders("BTCTRY")] == ["rest-1"]
    assert ex.get_order(order_id).status is Status.UNTOUCHED
    locked = {b.asset: b for b in ex.balances()}["TRY"].locked
    assert locked > 0


def test_crossing_order_fills_and_fills_are_positive_while_the_wire_is_negative(
    ex: BtcTurkExchange, server: SimServer
) -> None:
    buy_id = crossing_buy(ex, "take-1")
    bought = ex.get_order(buy_id)
    assert bought.status is Status.CLOSED and bought.left_quantity == 0
    bid = ex.order_book("BTCTRY", 5).bids[0].price
    sell = limit_order("take-2", (bid * D("0.99")).quantize(D(1)), bought.quantity, Side.SELL)
    sell_id = ex.submit_order(sell).exchange_order_id

    fills = ex.fills(["BTCTRY"])
    assert {f.side for f in fills} == {Side.BUY, Side.SELL}
    assert all(f.quantity > 0 and f.fee > 0 and f.tax > 0 and f.fee_asset == "TRY" for f in fills)
    assert sum(f.quantity for f in fills if f.side is Side.SELL) == bought.quantity
    assert {f.client_order_id for f in fills} == {"take-1", "take-2"}

    rows = body(raw(server, "GET", "/api/v1/users/transactions/trade"))["data"]
    sells = [r for r in rows if r["orderId"] == sell_id]
    assert sells and all(r["amount"].startswith("-") and r["orderType"] == "sell" for r in sells)
    assert all(r["fee"].startswith("-") and r["tax"].startswith("-") for r in rows)
    assert all(isinstance(r["id"], int) and r["id"] > 2**53 for r in rows)
    assert all(r["orderClientId"] in ("take-1", "take-2") for r in rows)
    only = body(raw(server, "GET", f"/api/v1/users/transactions/trade?orderId={sell_id}"))["data"]
    assert {r["orderId"] for r in only} == {sell_id}
    buys = body(raw(server, "GET", "/api/v1/users/transactions/trade?type=buy&symbol=btc&symbol=try"))["data"]
    assert buys and {r["orderType"] for r in buys} == {"buy"}
    future = int(time.time() + 3600) * 1000
    assert raw(server, "GET", f"/api/v1/users/transactions/trade?startDate={future}").json()["data"] == []


def test_cancel_is_asynchronous(ex: BtcTurkExchange, server: SimServer) -> None:
    order_id = resting_buy(ex, "cancel-1")
    reply = raw(server, "DELETE", f"/api/v1/order?id={order_id}")
    assert reply.json() == {"success": True, "message": "SUCCESS", "code": 0}
    assert ex.get_order(order_id).status is Status.UNTOUCHED  # still open right after the 200
    assert [o.exchange_order_id for o in ex.open_orders(["BTCTRY"])] == [order_id]
    time.sleep(0.4)
    assert ex.get_order(order_id).status is Status.CANCELED
    assert ex.open_orders(["BTCTRY"]) == []
    ex.cancel_order(order_id)  # cancelling a cancelled order succeeds (§5.3, since 2024)

    with pytest.raises(OrderNotFound):
        ex.cancel_order(123)
    missing_id = raw(server, "DELETE", "/api/v1/order", json={"id": order_id})  # id only in the body
    assert (missing_id.status_code, missing_id.json()["message"]) == (400, "NO_ORDER_MATCHES_YOUR_REQUEST")
    closed = crossing_buy(ex, "cancel-2")
    with pytest.raises(Rejected) as info:
        ex.cancel_order(closed)
    assert info.value.code == "ORDER_COULD_NOT_BE_CANCELED"


def test_business_rejections_carry_symbolic_message_and_code(ex: BtcTurkExchange, server: SimServer) -> None:
    bid = ex.order_book("BTCTRY", 5).bids[0].price
    with pytest.raises(Rejected) as info:
        ex.submit_order(limit_order("small", bid, D("0.00001")))
    assert (info.value.code, info.value.numeric_code) == ("FAILED_MIN_TOTAL_AMOUNT", 1123)
    with pytest.raises(Rejected) as info:
        ex.submit_order(limit_order("scale", bid + D("0.5"), D("0.001")))
    assert info.value.code == "FAILED_INVALID_PRICE_SCALE"
    with pytest.raises(Rejected) as info:
        ex.submit_order(limit_order("rich", bid, D("1")))
    assert info.value.code == "BALANCE_NOT_ENOUGH"
    order = {"quantity": "1", "price": str(bid), "orderMethod": "limit", "orderType": "buy", "pairSymbol": "BTCTRY"}
    reply = raw(server, "POST", "/api/v1/order", json=order)
    assert reply.status_code == 400
    assert reply.json() == {"success": False, "message": "BALANCE_NOT_ENOUGH", "code": 1055, "data": None,
                            "httpStatusCode": 400}  # fmt: skip

    with pytest.raises(OrderNotFound):
        ex.get_order(42)
    unknown = raw(server, "GET", "/api/v1/order/42")
    assert (unknown.status_code, unknown.json()["message"], unknown.json()["code"]) == (400, "Order not found", 1152)
    assert ex.all_orders("BTCTRY") == []  # rejected orders never get an id


def test_submit_accepts_alias_case_insensitive_keys_numbers_and_numeric_enums(
    ex: BtcTurkExchange, server: SimServer
) -> None:
    bid = ex.order_book("BTCTRY", 5).bids[0].price - 5000
    body_text = (
        '{"Quantity": 0.0010, "Price": ' + str(bid) + ', "newClientOrderId": "alias-1", '
        '"OrderMethod": 0, "OrderType": "BUY", "PairSymbol": "btc_try"}'
    )
    headers = {
        **Signer(SecretStr(KEY), SecretStr(SECRET)).headers(datetime.now(UTC)),
        "Content-Type": "application/json",
    }
    reply = httpx.post(server.url + "/API/V1/ORDER", content=body_text, headers=headers)
    assert reply.status_code == 200
    envelope = reply.json()
    data = envelope["data"]
    assert envelope["success"] is True and envelope["httpStatusCode"] == 200
    assert (data["newOrderClientId"], data["quantity"], data["type"], data["method"]) == (
        "alias-1",
        "0.0010",
        "buy",
        "limit",
    )
    assert (data["pairSymbol"], data["pairSymbolNormalized"]) == ("BTCTRY", "BTC_TRY")
    assert ex.get_order(data["id"]).client_order_id == "alias-1"

    form = httpx.post(server.url + "/api/v1/order?quantity=1", headers={**headers, "Content-Type": "text/plain"},
                      content=b"x")  # fmt: skip
    assert form.status_code == 415
    bad = raw(server, "POST", "/api/v1/order", json={"quantity": "abc", "pairSymbol": "BTCTRY"})
    assert (bad.status_code, bad.json()["message"]) == (400, "FAILED_ORDER_PARAMETER")


def test_all_orders_filters_pages_and_time_units(ex: BtcTurkExchange, server: SimServer) -> None:
    ids = [resting_buy(ex, f"page-{i}") for i in range(3)]
    listed = body(raw(server, "GET", "/api/v1/allOrders?pairSymbol=BTCTRY"))["data"]
    assert [o["id"] for o in listed] == ids[::-1]  # newest first
    page2 = body(raw(server, "GET", "/api/v1/allOrders?pairSymbol=BTCTRY&limit=2&page=2"))["data"]
    assert [o["id"] for o in page2] == [ids[0]]
    assert len(body(raw(server, "GET", "/api/v1/allOrders?pairSymbol=BTCTRY&last=1"))["data"]) == 1
    since_id = body(raw(server, "GET", f"/api/v1/allOrders?pairSymbol=BTCTRY&orderId={ids[1]}"))["data"]
    assert {o["id"] for o in since_id} == set(ids[1:])
    future_s, past_s = int(time.time()) + 3600, int(time.time()) - 3600
    for start in (future_s, future_s * 1000):  # seconds or milliseconds
        assert raw(server, "GET", f"/api/v1/allOrders?pairSymbol=BTCTRY&startTime={start}").json()["data"] == []
    for start in (past_s, past_s * 1000):
        assert len(raw(server, "GET", f"/api/v1/allOrders?pairSymbol=BTCTRY&startTime={start}").json()["data"]) == 3
    ended = raw(server, "GET", f"/api/v1/allOrders?pairSymbol=BTCTRY&endTime={past_s}").json()["data"]
    assert ended == []
    assert raw(server, "GET", "/api/v1/allOrders").status_code == 400
    assert len(ex.all_orders("BTCTRY", start=datetime.now(UTC) - timedelta(minutes=1))) == 3


# -------------------------------------------------------------------------------------------- auth


def test_wrong_signature_and_stale_stamp_are_auth_failures(server: SimServer) -> None:
    with client(server, secret="d3Jvbmc=") as wrong, pytest.raises(AuthFailed):
        wrong.balances()
    stale_clock = lambda: datetime.now(UTC) - timedelta(seconds=10)  # noqa: E731
    with client(server, clock=stale_clock) as stale, pytest.raises(AuthFailed):
        stale.open_orders(["BTCTRY"])
    with client(server, key="other-key") as other, pytest.raises(AuthFailed):
        other.balances()

    missing = raw(server, "GET", "/api/v1/users/balances", signed=False)
    assert missing.status_code == 401
    assert missing.json() == {"success": False, "message": "Unauthorized - Headers are missing", "code": 1037}
    headers = Signer(SecretStr(KEY), SecretStr(SECRET)).headers(datetime.now(UTC) + timedelta(seconds=6))
    future = httpx.get(server.url + "/api/v1/users/balances", headers=headers)
    assert (future.status_code, future.json()["message"]) == (401, "Unauthorized - Invalid Nonce")
    headers = Signer(SecretStr(KEY), SecretStr(SECRET)).headers(datetime.now(UTC) - timedelta(seconds=4))
    assert httpx.get(server.url + "/api/v1/users/balances", headers=headers).status_code == 200


def test_published_rate_limits_are_enforced_server_side(sim: SimExchange) -> None:
    limits = {"GET /api/v1/openOrders": (Limit(3, 1.0),)}
    with SimServer(sim, None, KEY, SECRET, limits=limits) as server:
        assert [raw(server, "GET", "/api/v1/openOrders").status_code for _ in range(3)] == [200] * 3
        refused = raw(server, "GET", "/api/v1/openOrders")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
        assert refused.json() == {"message": "TOO_MANY_REQUESTS", "success": False, "code": 429,
                                  "details": "Quota exceeded. Maximum allowed: 3 per 1s.", "limit": "3",
                                  "period": "1s", "policy": "ip"}  # fmt: skip
        assert raw(server, "GET", "/api/v1/openOrders").status_code == 429
        assert raw(server, "GET", "/api/v1/users/balances").status_code == 200  # other endpoints unaffected
        log = [e for e in server.requests() if e["endpoint"] == "GET /api/v1/openOrders"]
        assert [(e["status"], e["blocked"]) for e in log[-2:]] == [(429, False), (429, True)]
        time.sleep(1.05)
        assert raw(server, "GET", "/api/v1/openOrders").status_code == 200


# ------------------------------------------------------------------------------------ persistence / CLI


def test_state_persists_across_server_restarts(tmp_path: Path) -> None:
    with open_server_sim(tmp_path, seed=3) as sim, SimServer(sim) as server, client(server) as ex:
        order_id = resting_buy(ex, "persist-1")
    assert (tmp_path / "sim-server.sqlite").exists()
    with open_server_sim(tmp_path, seed=3) as sim, SimServer(sim) as server, client(server) as ex:
        assert ex.get_order(order_id).client_order_id == "persist-1"


def test_cli_serve_prints_url_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "btcbot", "sim", "serve", "--port", "0", "--state-dir", str(tmp_path / "st")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("btcbot sim serve listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(url + "/api/v2/server/time", timeout=5).json()["serverTime"] > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "st" / "sim-server.sqlite").exists()


def test_cli_help_documents_the_fault_grammar_and_rejects_bad_specs(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["sim", "serve", "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    for word in ("timeout_after_accept", "drop_cancel_reply", "late_fills", "html502", "malformed", "/__sim/faults"):
        assert word in result.output
    bad = runner.invoke(app, ["sim", "serve", "--port", "0", "--state-dir", str(tmp_path), "--faults", "boom=1"])
    assert bad.exit_code == 2 and "--faults" in bad.output


@pytest.mark.parametrize("ticks", [10**12, 1441, -1, "5", 2.5, None])
def test_control_advance_absurd_ticks_refused_with_400(server: SimServer, ticks: object) -> None:
    started = time.monotonic()
    reply = httpx.post(server.url + "/__sim/advance", json={"ticks": ticks}, timeout=10)
    assert reply.status_code == 400
    assert "ticks" in reply.json()["error"] and "1440" in reply.json()["error"]
    assert time.monotonic() - started < 5  # refused, not run


def test_control_advance_at_the_bound_runs(server: SimServer) -> None:
    before = server.sim.tick
    assert httpx.post(server.url + "/__sim/advance", json={"ticks": 3}, timeout=10).json()["tick"] == before + 3


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.org"])
def test_cli_serve_non_loopback_host_without_allow_remote_exits_2(tmp_path: Path, host: str) -> None:
    result = CliRunner().invoke(app, ["sim", "serve", "--host", host, "--port", "0", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--allow-remote" in result.output and host in result.output
    assert not (tmp_path / "sim-server.sqlite").exists()  # refused before anything was created


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_sim_serve_loopback_host_is_local(host: str) -> None:
    assert is_loopback(host)


def test_sim_serve_other_hosts_are_not_local() -> None:
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org", ""))
