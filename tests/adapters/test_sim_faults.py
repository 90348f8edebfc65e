"""Fault injection of `btcbot sim serve` (R-EX-7; LESSONS 1, 24, 28–30): grammar, determinism, and what the real
BTCTurk client sees for each fault."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from btcbot.adapters.btcturk import BtcTurkClient, BtcTurkExchange, RetryPolicy
from btcbot.adapters.btcturk.auth import Signer
from btcbot.adapters.sim import SimConfig, SimExchange
from btcbot.adapters.sim.faults import FaultInjector, FaultPlan, FaultRule, Limit, Scope, ServerLimiter
from btcbot.adapters.sim.server import SimServer, WallClock
from btcbot.domain.errors import BadResponse, OutcomeUnknown, RateLimited, Unavailable
from btcbot.domain.models import ExchangeOrderStatus, OrderMethod, OrderRequest, Side

D = Decimal
KEY, SECRET = "sim-key", "c2ltLXNlY3JldA=="
ONE_TRY = RetryPolicy(attempts=1)


@pytest.fixture
def server() -> Iterator[SimServer]:
    with (
        SimExchange.open(None, SimConfig(seed=11, cancel_delay_seconds=0.3), WallClock()) as sim,
        SimServer(sim, None, KEY, SECRET) as srv,
    ):
        yield srv


def client(server: SimServer, **kwargs: Any) -> BtcTurkExchange:
    kwargs.setdefault("retry", ONE_TRY)
    options = {"base_url": server.url, "api_key": SecretStr(KEY), "api_secret": SecretStr(SECRET), **kwargs}
    return BtcTurkExchange(BtcTurkClient(**options))


@pytest.fixture
def ex(server: SimServer) -> Iterator[BtcTurkExchange]:
    with client(server, read_timeout=0.4) as exchange:
        yield exchange


def inject(server: SimServer, spec: str) -> None:
    reply = httpx.post(server.url + "/__sim/faults", json={"spec": spec})
    assert reply.status_code == 200, reply.text


def raw(server: SimServer, method: str, path: str) -> httpx.Response:
    headers = Signer(SecretStr(KEY), SecretStr(SECRET)).headers(datetime.now(UTC))
    return httpx.request(method, server.url + path, headers=headers, timeout=5)


def buy(ex: BtcTurkExchange, cid: str, *, cross: bool = False) -> OrderRequest:
    book = ex.order_book("BTCTRY", 5)
    price = (book.asks[0].price * D("1.01")).quantize(D(1), ROUND_UP) if cross else book.bids[0].price - 5000
    qty = D("0.0001") if cross else D("0.001")
    return OrderRequest(cid, "BTCTRY", Side.BUY, OrderMethod.LIMIT, price, qty)


# --------------------------------------------------------------------------------------------- grammar


def test_spec_grammar_round_trips_with_defaults_and_scopes() -> None:
    spec = ("latency=50ms~20ms, 429=0.05:3s, 5xx@POST /api/v1/order=0.2, timeout_after_accept=0.1,"
            "timeout_after_accept@DELETE=0.3:close, drop_cancel_reply=0.1, late_fills=30s, html502=0.02,"
            "malformed=0.02, seed=7")  # fmt: skip
    plan = FaultPlan.parse(spec)
    assert plan.seed == 7 and plan.late_fills == 30.0 and len(plan.rules) == 9
    latency, too_many, five, timeout, timeout_close, drop = plan.rules[:6]
    assert (latency.seconds, latency.jitter) == (0.05, 0.02)
    assert (too_many.probability, too_many.seconds) == (0.05, 3.0)
    assert five.scope == Scope("POST", "/api/v1/order") and five.scope.matches("post", "/API/v1/order")
    assert not five.scope.matches("DELETE", "/api/v1/order")
    assert timeout.scope == Scope("POST", "/api/v1/order") and timeout.seconds == 20.0 and not timeout.close
    assert timeout_close.close and timeout_close.scope == Scope("DELETE", None)
    assert drop.scope == Scope("DELETE", "/api/v1/order") and plan.rules[-1].scope == Scope("GET", None)
    assert FaultPlan.parse(plan.spec) == plan
    assert FaultPlan.parse("") == FaultPlan() and FaultPlan().spec == "seed=0"
    assert FaultRule.parse("429@/api/v1/openOrders=1").scope == Scope(None, "/api/v1/openorders")


@pytest.mark.parametrize(
    "spec",
    ["boom=1", "429=2", "429=x", "latency=fast", "5xx@nowhere=0.1", "seed=x", "html502=0.1:3s", "late_fills", "5xx@=1"],
)
def test_bad_specs_are_rejected_with_a_message(spec: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        FaultPlan.parse(spec)


def test_decisions_are_deterministic_for_a_seed() -> None:
    spec = "429=0.2,5xx=0.2,html502=0.1,malformed=0.3,latency=1ms~5ms,seed=5"

    def run() -> list[tuple[Any, ...]]:
        injector = FaultInjector(FaultPlan.parse(spec))
        return [
            (d.reply, d.after, round(d.latency, 9))
            for d in (injector.decide("GET", "/api/v1/openOrders") for _ in range(200))
        ]

    first = run()
    assert first == run()
    kinds = {reply for reply, _, _ in first}
    assert {"429", "500", "503", "html502", None} <= kinds
    assert any(after == "malformed" for _, after, _ in first)
    interleaved = FaultInjector(FaultPlan.parse(spec))  # other endpoints in between do not shift a stream
    mixed = []
    for _ in range(200):
        interleaved.decide("GET", "/api/v2/orderbook")
        mixed.append(interleaved.decide("GET", "/api/v1/openOrders"))
    assert [(d.reply, d.after, round(d.latency, 9)) for d in mixed] == first
    other = FaultInjector(FaultPlan.parse(spec.replace("seed=5", "seed=6")))
    assert [(d.reply, d.after) for d in (other.decide("GET", "/x") for _ in range(200))] != [f[:2] for f in first]
    never = FaultInjector(FaultPlan.parse("5xx@POST=1"))
    assert never.decide("GET", "/api/v1/openOrders").reply is None
    assert never.decide("POST", "/api/v1/order").reply in ("500", "503")


# ---------------------------------------------------------------------------------- faults on the wire


def test_injected_429_blocks_the_endpoint_until_retry_after(server: SimServer, ex: BtcTurkExchange) -> None:
    inject(server, "429@GET /api/v1/openOrders=1:1s")
    with pytest.raises(RateLimited) as info:
        ex.open_orders(["BTCTRY"])
    assert info.value.retry_after == 1.0
    inject(server, "")  # no more injected 429s: the block alone keeps refusing
    refused = raw(server, "GET", "/api/v1/openOrders")
    assert (refused.status_code, refused.headers["Retry-After"], refused.json()["message"]) == (
        429,
        "1",
        "TOO_MANY_REQUESTS",
    )
    assert "Please try again in 1 second(s)." in refused.json()["details"]
    assert raw(server, "GET", "/api/v1/allOrders?pairSymbol=BTCTRY").status_code == 200
    blocks = httpx.get(server.url + "/__sim/faults").json()["blocks"]
    assert set(blocks) == {"GET /api/v1/openOrders"}
    log = [e for e in server.requests() if e["endpoint"] == "GET /api/v1/openOrders"]
    assert [(e["status"], e["fault"], e["blocked"]) for e in log] == [(429, "429", False), (429, None, True)]
    time.sleep(1.05)
    assert ex.open_orders(["BTCTRY"]) == []  # the client honoured Retry-After and is served again


def test_timeout_after_accept_commits_the_order_then_never_replies(server: SimServer, ex: BtcTurkExchange) -> None:
    inject(server, "timeout_after_accept=1:0.8s")
    request = buy(ex, "ambiguous-1")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        ex.submit_order(request)
    assert time.monotonic() - started < 0.8  # the client's read timeout (0.4 s), not the server's hold
    inject(server, "")
    found = [o for o in ex.all_orders("BTCTRY") if o.client_order_id == "ambiguous-1"]
    assert len(found) == 1 and found[0].status is ExchangeOrderStatus.UNTOUCHED
    [entry] = [e for e in server.requests() if e["method"] == "POST"]
    assert (entry["client_order_id"], entry["status"], entry["replied"], entry["fault"]) == (
        "ambiguous-1",
        200,
        False,
        "timeout_after_accept",
    )
    assert entry["order_id"] == found[0].exchange_order_id

    inject(server, "timeout_after_accept=1:close")
    with pytest.raises(OutcomeUnknown):
        ex.submit_order(buy(ex, "ambiguous-2"))
    assert {o.client_order_id for o in ex.all_orders("BTCTRY")} == {"ambiguous-1", "ambiguous-2"}


def test_dropped_cancel_reply_is_outcome_unknown_but_the_order_ends_canceled(
    server: SimServer, ex: BtcTurkExchange
) -> None:
    order_id = ex.submit_order(buy(ex, "drop-1")).exchange_order_id
    inject(server, "drop_cancel_reply=1")
    with pytest.raises(OutcomeUnknown):
        ex.cancel_order(order_id)
    time.sleep(0.4)
    assert ex.get_order(order_id).status is ExchangeOrderStatus.CANCELED
    assert [e["fault"] for e in server.requests() if e["method"] == "DELETE"] == ["drop_cancel_reply"]


def test_late_fills_appear_only_after_the_delay(server: SimServer, ex: BtcTurkExchange) -> None:
    inject(server, "late_fills=0.6s")
    order_id = ex.submit_order(buy(ex, "late-1", cross=True)).exchange_order_id
    assert ex.get_order(order_id).status is ExchangeOrderStatus.CLOSED  # the order already says filled
    assert ex.fills(["BTCTRY"]) == []
    time.sleep(0.65)
    fills = ex.fills(["BTCTRY"])
    assert fills and {f.exchange_order_id for f in fills} == {order_id}


def test_html_502_and_server_errors_map_to_the_clients_errors(server: SimServer, ex: BtcTurkExchange) -> None:
    inject(server, "html502@GET=1")
    with pytest.raises(Unavailable):
        ex.balances()
    page = raw(server, "GET", "/api/v1/users/balances")
    assert page.status_code == 502 and page.headers["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in page.content

    inject(server, "5xx@POST /api/v1/order=1")
    with pytest.raises(OutcomeUnknown):  # a 5xx to a write is ambiguous for the client ...
        ex.submit_order(buy(ex, "five-1"))
    assert ex.all_orders("BTCTRY") == []  # ... but the server failed before processing
    inject(server, "503=1")
    with pytest.raises(Unavailable):
        ex.order_book("BTCTRY")


@pytest.mark.parametrize("kind", ["malformed", "nested_json"])
def test_unusable_json_is_bad_response_on_reads_and_outcome_unknown_on_writes(
    server: SimServer, ex: BtcTurkExchange, kind: str
) -> None:
    inject(server, f"{kind}@GET=1")  # truncated, or nested 100,000 levels deep (issue 8)
    with pytest.raises(BadResponse):
        ex.open_orders(["BTCTRY"])
    assert raw(server, "GET", "/api/v2/server/time").status_code == 200
    inject(server, "")
    request = buy(ex, "garbled-1")
    inject(server, f"{kind}@POST /api/v1/order=1")
    with pytest.raises(OutcomeUnknown):
        ex.submit_order(request)
    inject(server, "")
    assert [o.client_order_id for o in ex.all_orders("BTCTRY")] == ["garbled-1"]  # it exists (LESSONS 30)


def test_latency_delays_replies(server: SimServer, ex: BtcTurkExchange) -> None:
    inject(server, "latency@/api/v2/server=150ms")
    started = time.monotonic()
    ex.server_time()
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    ex.balances()
    assert time.monotonic() - started < 0.15


def test_control_endpoints_and_request_log(server: SimServer, ex: BtcTurkExchange) -> None:
    bad = httpx.post(server.url + "/__sim/faults", json={"spec": "nonsense=1"})
    assert bad.status_code == 400 and "unknown kind" in bad.json()["error"]
    inject(server, "5xx@DELETE=0.5,late_fills=2s,seed=3")
    state = httpx.get(server.url + "/__sim/faults").json()
    assert state["spec"] == "5xx@DELETE=0.5,late_fills=2s,seed=3" and state["late_fills"] == "2.0"
    reset = httpx.post(server.url + "/__sim/reset-faults").json()
    assert reset["spec"] == "seed=0" and reset["blocks"] == {}

    ack = ex.submit_order(buy(ex, "logged-1"))
    ex.cancel_order(ack.exchange_order_id)
    log = httpx.get(server.url + "/__sim/requests").json()
    entries = log["requests"]
    assert all(not e["path"].startswith("/__sim") for e in entries)
    post = next(e for e in entries if e["method"] == "POST")
    assert (post["path"], post["client_order_id"], post["status"], post["order_id"]) == (
        "/api/v1/order",
        "logged-1",
        200,
        ack.exchange_order_id,
    )
    delete = next(e for e in entries if e["method"] == "DELETE")
    assert (delete["endpoint"], delete["status"], delete["blocked"]) == ("DELETE /api/v1/order", 200, False)
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert all(isinstance(e["ts_ms"], int) for e in entries)
    later = httpx.get(server.url + "/__sim/requests", params={"since": log["next"]}).json()["requests"]
    assert later == []
    httpx.post(server.url + "/__sim/reset-requests")
    assert server.requests() == []
    advanced = httpx.post(server.url + "/__sim/advance", json={"ticks": 2}).json()
    assert advanced["tick"] >= 2
    assert httpx.get(server.url + "/__sim/nothing").status_code == 404


def test_server_limiter_counts_only_requests_after_the_block_was_announced() -> None:
    now = [100.0]
    limiter = ServerLimiter({"GET /x": (Limit(1, 10.0),)}, clock=lambda: now[0], grace=0.0)
    assert limiter.admit("GET /x") is None
    first = limiter.admit("GET /x")  # over the limit: starts a 10 s block
    assert first is not None and (first.retry_after, first.blocked) == (10, False)
    racing = limiter.admit("GET /x")  # in flight before the 429 was sent: refused, not the client's fault
    assert racing is not None and not racing.blocked
    limiter.announce("GET /x")
    now[0] += 4
    ignored = limiter.admit("GET /x")  # sent after the client could know: a violation
    assert ignored is not None and (ignored.retry_after, ignored.blocked) == (6, True)
    limiter.block("GET /x", 30)  # a new (injected) block is unannounced until its own 429 is sent
    again = limiter.admit("GET /x")
    assert again is not None and not again.blocked
    now[0] += 31
    limiter.announce("GET /x")  # announcing an expired block changes nothing
    assert limiter.blocks() == {}


# ------------------------------------------------------------------------------ hostile replies (issue 8)


def test_hostile_kinds_parse_with_default_scopes_and_round_trip() -> None:
    plan = FaultPlan.parse("anon_open_orders=1,zero_price_book=0.5,nested_json@POST /api/v1/order=0.2,seed=3")
    anon, zero, nested = plan.rules
    assert anon.scope == Scope("GET", "/api/v1/openorders") and zero.scope == Scope("GET", "/api/v2/orderbook")
    assert nested.scope == Scope("POST", "/api/v1/order") and nested.probability == 0.2
    assert FaultPlan.parse(plan.spec) == plan
    assert FaultPlan.parse("nested_json=1").rules[0].scope == Scope()
    with pytest.raises(ValueError, match="takes only a probability"):
        FaultPlan.parse("zero_price_book=1:2s")


def test_anon_open_orders_lists_our_orders_without_client_ids(server: SimServer, ex: BtcTurkExchange) -> None:
    ex.submit_order(buy(ex, "anon-1"))
    inject(server, "anon_open_orders=1")
    [report] = ex.open_orders(["BTCTRY"])
    assert report.client_order_id is None
    assert [o.client_order_id for o in ex.all_orders("BTCTRY")] == ["anon-1"]  # only openOrders hides it
    assert [e["fault"] for e in server.requests() if e["path"].lower().startswith("/api/v1/openorders")] == [
        "anon_open_orders"]


def test_zero_price_book_has_a_zero_bid_and_the_client_refuses_it(server: SimServer, ex: BtcTurkExchange) -> None:
    inject(server, "zero_price_book=1")
    data = raw(server, "GET", "/api/v2/orderbook?pairSymbol=BTCTRY").json()["data"]
    assert data["bids"][0][0] == "0"
    with pytest.raises(BadResponse):
        ex.order_book("BTCTRY")


def test_nested_json_body_is_deeper_than_a_decoder_allows(server: SimServer) -> None:
    inject(server, "nested_json=1")
    body = raw(server, "GET", "/api/v1/users/balances").content
    assert body.count(b"[") == 100_000 and body.endswith(b"]}")
