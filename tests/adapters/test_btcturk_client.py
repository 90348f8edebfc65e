"""BtcTurkClient: envelope quirks, error translation, read retries, write safety, rate limits."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from factories import FakeClock
from pydantic import SecretStr

from btcbot.adapters.btcturk.auth import sign
from btcbot.adapters.btcturk.client import BtcTurkClient, RetryPolicy
from btcbot.adapters.btcturk.limiter import InMemoryBlockStore, RateLimiter, Window
from btcbot.domain.errors import (
    AuthFailed,
    BadResponse,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Unavailable,
)

BASE = "https://api.btcturk.test"
GRAPH = "https://graph.btcturk.test"
KEY = "00000000-1111-2222-3333-444444444444"
SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
T0 = datetime(2024, 1, 22, 7, 13, 50, 294_000, tzinfo=UTC)
BALANCES = f"{BASE}/api/v1/users/balances"
ORDER = f"{BASE}/api/v1/order"
BOOK = f"{BASE}/api/v2/orderbook"
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def make_client(
    router: respx.MockRouter,
    clock: FakeClock,
    *,
    store: InMemoryBlockStore | None = None,
    keys: bool = True,
) -> BtcTurkClient:
    return BtcTurkClient(
        base_url=BASE,
        graph_url=GRAPH,
        api_key=SecretStr(KEY) if keys else None,
        api_secret=SecretStr(SECRET) if keys else None,
        transport=httpx.MockTransport(router.handler),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(7),
        block_store=store,
    )


def ok(data: Any = None, **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "message": "", "code": 0, "data": data, **extra})


def identity(payload: Any) -> Any:
    return payload


def get_balances(client: BtcTurkClient) -> Any:
    return client.request("GET", "/api/v1/users/balances", parse=identity, signed=True)


def post_order(client: BtcTurkClient) -> Any:
    body = {"quantity": "0.001", "price": "1000000", "newOrderClientId": "cid-1", "orderMethod": "limit"}
    return client.request("POST", "/api/v1/order", parse=identity, json_body=body, signed=True)


# -- envelope -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "message": "", "code": 0, "data": {"x": "1"}},
        {"success": True, "message": None, "code": "0", "data": {"x": "1"}},
        {"success": True, "message": "OK", "code": "", "data": {"x": "1"}},
        {"success": True, "message": "SUCCESS", "code": "SUCCESS", "data": {"x": "1"}},
        {"success": True, "message": "SUCCESS", "code": 0, "data": {"x": "1"}, "httpStatusCode": 200},
        {"success": "true", "code": 0, "data": {"x": "1"}},
    ],
)
def test_envelope_success_quirks_return_data(router: respx.MockRouter, clock: FakeClock, body: dict[str, Any]) -> None:
    router.get(BALANCES).mock(return_value=httpx.Response(200, json=body))
    assert get_balances(make_client(router, clock)) == {"x": "1"}


@pytest.mark.parametrize(
    "body",
    [{"success": True, "message": "SUCCESS", "code": ""}, {"success": True, "code": 0, "data": None}],
)
def test_envelope_data_absent_or_null_returns_none(
    router: respx.MockRouter, clock: FakeClock, body: dict[str, Any]
) -> None:
    router.get(BALANCES).mock(return_value=httpx.Response(200, json=body))
    assert get_balances(make_client(router, clock)) is None


def test_envelope_decimals_never_become_floats(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BOOK).mock(return_value=httpx.Response(200, text='{"success":true,"code":0,"data":0.1}'))
    data = make_client(router, clock).request("GET", "/api/v2/orderbook", parse=identity)
    assert str(data) == "0.1"
    assert not isinstance(data, float)


def test_bare_object_without_envelope_returned_as_is(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(f"{BASE}/api/v2/server/time").mock(return_value=httpx.Response(200, json={"serverTime": 1705907630294}))
    client = make_client(router, clock)
    data = client.request("GET", "/api/v2/server/time", parse=identity, envelope=False)
    assert data == {"serverTime": 1705907630294}


def test_graph_host_request_uses_graph_url(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.get(f"{GRAPH}/v1/ohlcs").mock(return_value=httpx.Response(200, json=[]))
    client = make_client(router, clock)
    assert client.request("GET", "/v1/ohlcs", parse=identity, envelope=False, host="graph") == []
    assert route.call_count == 1
    assert client.requests_made == {"GET graph:/v1/ohlcs": 1}


def test_envelope_success_false_on_200_raises_rejected(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(
        return_value=httpx.Response(200, json={"success": False, "message": "SOMETHING_WRONG", "code": 1})
    )
    with pytest.raises(Rejected) as info:
        get_balances(make_client(router, clock))
    assert info.value.code == "SOMETHING_WRONG"


# -- reads: error translation --------------------------------------------------------------------


def test_read_401_with_success_true_raises_auth_failed(router: respx.MockRouter, clock: FakeClock) -> None:
    body = {"success": True, "message": "Unauthorized - Invalid Nonce", "code": 1037, "data": {}}
    route = router.get(BALANCES).mock(return_value=httpx.Response(401, json=body))
    client = make_client(router, clock)
    with pytest.raises(AuthFailed) as info:
        get_balances(client)
    assert "Invalid Nonce" in str(info.value)
    for text in (str(info.value), repr(info.value), repr(client)):
        assert SECRET not in text
        assert KEY not in text
    assert route.call_count == 1  # auth failures are not retried


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text=HTML, headers={"Content-Type": "text/html"}),
        httpx.Response(200, text='{"success": true, "data": [1, 2'),
        httpx.Response(200, text=""),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(302, headers={"Location": "https://elsewhere"}),
    ],
)
def test_read_unusable_2xx_body_raises_bad_response_without_retry(
    router: respx.MockRouter, clock: FakeClock, response: httpx.Response
) -> None:
    route = router.get(BALANCES).mock(return_value=response)
    with pytest.raises(BadResponse):
        get_balances(make_client(router, clock))
    assert route.call_count == 1


def test_read_parse_failure_raises_bad_response(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(return_value=ok([{"asset": "TRY"}]))

    def parse(payload: Any) -> Any:
        return payload[0]["free"]  # KeyError: the reply lacks a field

    with pytest.raises(BadResponse):
        make_client(router, clock).request("GET", "/api/v1/users/balances", parse=parse, signed=True)


def _nested(depth: int) -> str:
    return '{"success": true, "data": ' + "[" * depth + "]" * depth + "}"


def test_read_deeply_nested_json_raises_bad_response(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(return_value=httpx.Response(200, text=_nested(100_000)))
    with pytest.raises(BadResponse):
        get_balances(make_client(router, clock))


def test_write_deeply_nested_json_reply_raises_outcome_unknown(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.post(ORDER).mock(return_value=httpx.Response(200, text=_nested(100_000)))
    with pytest.raises(OutcomeUnknown):
        post_order(make_client(router, clock))
    assert route.call_count == 1


def test_write_deeply_nested_json_error_body_raises_rejected(router: respx.MockRouter, clock: FakeClock) -> None:
    router.post(ORDER).mock(return_value=httpx.Response(400, text=_nested(100_000)))
    with pytest.raises(Rejected):
        post_order(make_client(router, clock))


def test_read_400_business_error_raises_rejected_with_symbolic_code(router: respx.MockRouter, clock: FakeClock) -> None:
    body = {"success": False, "message": "INVALID_REQUEST_ERROR", "code": 1037}
    route = router.get(BOOK).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(Rejected) as info:
        make_client(router, clock).request("GET", "/api/v2/orderbook", parse=identity)
    assert (info.value.code, info.value.numeric_code) == ("INVALID_REQUEST_ERROR", 1037)
    assert not isinstance(info.value, OrderNotFound)
    assert route.call_count == 1


def test_read_400_order_not_found_raises_order_not_found(router: respx.MockRouter, clock: FakeClock) -> None:
    body = {"success": False, "message": "Order not found", "code": 1152}
    router.get(f"{ORDER}/42").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(OrderNotFound) as info:
        make_client(router, clock).request("GET", "/api/v1/order/42", parse=identity, signed=True)
    assert info.value.numeric_code == 1152


def test_read_404_empty_body_raises_rejected_http_code(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(return_value=httpx.Response(404))
    with pytest.raises(Rejected) as info:
        get_balances(make_client(router, clock))
    assert info.value.code == "HTTP_404"


# -- reads: retries ------------------------------------------------------------------------------


def test_read_transient_failures_retried_with_backoff_then_success(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.get(BALANCES).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(503, text=HTML), ok([])]
    )
    client = make_client(router, clock)
    assert get_balances(client) == []
    assert route.call_count == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.25  # full jitter: uniform(0, base * 2**n)
    assert 0 <= clock.sleeps[1] <= 0.5
    assert client.requests_made == {"GET /api/v1/users/balances": 3}


def test_read_timeouts_exhausted_raise_unavailable(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.get(BALANCES).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(Unavailable) as info:
        get_balances(make_client(router, clock))
    assert not isinstance(info.value, RateLimited)
    assert route.call_count == RetryPolicy().attempts


def test_read_429_long_retry_after_blocks_and_next_call_sends_nothing(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    store = InMemoryBlockStore()
    body = {"message": "TOO_MANY_REQUESTS", "success": False, "code": 429, "policy": "ip"}
    route = router.get(BALANCES).mock(return_value=httpx.Response(429, json=body, headers={"Retry-After": "120"}))
    client = make_client(router, clock, store=store)
    with pytest.raises(RateLimited) as info:
        get_balances(client)
    assert info.value.retry_after == 120
    assert info.value.endpoint == "GET /api/v1/users/balances"
    assert store.blocks == {"GET /api/v1/users/balances": T0 + timedelta(seconds=120)}
    assert clock.sleeps == []  # beyond the cap: raised, not slept through

    clock.now += timedelta(seconds=30)
    with pytest.raises(RateLimited) as again:
        get_balances(client)
    assert again.value.retry_after == 90
    # The next cron process shares the store: it must not send either.
    with pytest.raises(RateLimited):
        get_balances(make_client(router, clock, store=store))
    assert route.call_count == 1


def test_read_blocked_endpoint_does_not_block_others(router: respx.MockRouter, clock: FakeClock) -> None:
    store = InMemoryBlockStore({"GET /api/v1/users/balances": T0 + timedelta(seconds=60)})
    book = router.get(BOOK).mock(return_value=ok({"bids": [], "asks": []}))
    client = make_client(router, clock, store=store)
    with pytest.raises(RateLimited):
        get_balances(client)
    client.request("GET", "/api/v2/orderbook", parse=identity)
    assert book.call_count == 1
    assert client.requests_made == {"GET /api/v2/orderbook": 1}


def test_read_429_short_retry_after_sleeps_then_succeeds(router: respx.MockRouter, clock: FakeClock) -> None:
    store = InMemoryBlockStore()
    route = router.get(BALANCES).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), ok(["done"])])
    assert get_balances(make_client(router, clock, store=store)) == ["done"]
    assert clock.sleeps == [2.0]
    assert route.call_count == 2
    assert store.blocks["GET /api/v1/users/balances"] == T0 + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(429, json={"message": "Too many requests", "success": False, "code": 429}), 60.0),
        (
            httpx.Response(
                429,
                json={
                    "message": "TOO_MANY_REQUESTS",
                    "details": "Quota exceeded. Please try again in 53 second(s).",
                    "policy": "account",
                },
            ),
            53.0,
        ),
        (httpx.Response(429, text=HTML, headers={"Retry-After": "Mon, 22 Jan 2024 07:15:00 GMT"}), 69.706),
    ],
)
def test_read_429_retry_after_sources_parsed(
    router: respx.MockRouter, clock: FakeClock, response: httpx.Response, expected: float
) -> None:
    router.get(BALANCES).mock(return_value=response)
    with pytest.raises(RateLimited) as info:
        get_balances(make_client(router, clock))
    assert info.value.retry_after == pytest.approx(expected)


def test_private_call_without_keys_raises_auth_failed_and_sends_nothing(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    client = make_client(router, clock, keys=False)
    with pytest.raises(AuthFailed):
        get_balances(client)
    assert client.requests_made == {}
    assert router.calls.call_count == 0


# -- writes --------------------------------------------------------------------------------------


def test_write_signed_json_request_has_auth_headers_and_body(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.post(ORDER).mock(return_value=ok({"id": 1}, httpStatusCode=200))
    assert post_order(make_client(router, clock)) == {"id": 1}
    request = route.calls.last.request
    assert request.headers["X-PCK"] == KEY
    assert request.headers["X-Stamp"] == "1705907630294"
    assert request.headers["X-Signature"] == sign(KEY, SECRET, "1705907630294")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content)["newOrderClientId"] == "cid-1"


def test_write_read_timeout_raises_outcome_unknown_after_one_request(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    # A second scripted reply exists: a retry would have consumed it and returned an ack.
    route = router.post(ORDER).mock(side_effect=[httpx.ReadTimeout("no reply"), ok({"id": 2})])
    client = make_client(router, clock)
    with pytest.raises(OutcomeUnknown) as info:
        post_order(client)
    assert "may have been executed" in str(info.value)
    assert route.call_count == 1
    assert client.requests_made == {"POST /api/v1/order": 1}
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(500, json={"success": False, "message": "Internal error", "code": 500}),
        httpx.Response(502, text=HTML, headers={"Content-Type": "text/html"}),
        httpx.Response(503, text="maintenance"),
        httpx.Response(200, text='{"success": true, "data": {"id": 12'),
        httpx.Response(200, text=HTML),
        httpx.Response(200, json={"success": True, "code": 0, "data": {"no_id": True}}),
        httpx.Response(408),
    ],
)
def test_write_ambiguous_reply_raises_outcome_unknown_once(
    router: respx.MockRouter, clock: FakeClock, reply: httpx.Response
) -> None:
    route = router.post(ORDER).mock(return_value=reply)

    def parse(payload: Any) -> int:
        return int(payload["id"])

    body = {"quantity": "1"}
    with pytest.raises(OutcomeUnknown):
        make_client(router, clock).request("POST", "/api/v1/order", parse=parse, json_body=body, signed=True)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "error", [httpx.RemoteProtocolError("peer closed"), httpx.WriteTimeout("w"), httpx.ReadError("reset")]
)
def test_write_dropped_connection_raises_outcome_unknown(
    router: respx.MockRouter, clock: FakeClock, error: Exception
) -> None:
    route = router.post(ORDER).mock(side_effect=error)
    with pytest.raises(OutcomeUnknown):
        post_order(make_client(router, clock))
    assert route.call_count == 1


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("dns")])
def test_write_connect_failure_raises_unavailable_without_retry(
    router: respx.MockRouter, clock: FakeClock, error: Exception
) -> None:
    route = router.post(ORDER).mock(side_effect=error)
    with pytest.raises(Unavailable) as info:
        post_order(make_client(router, clock))
    assert not isinstance(info.value, OutcomeUnknown)
    assert route.call_count == 1
    assert clock.sleeps == []


def test_write_429_short_retry_after_raises_rate_limited_without_retry(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    store = InMemoryBlockStore()
    route = router.post(ORDER).mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimited) as info:
        post_order(make_client(router, clock, store=store))
    assert info.value.retry_after == 1
    assert route.call_count == 1
    assert "POST /api/v1/order" in store.blocks


def test_write_400_business_error_raises_rejected(router: respx.MockRouter, clock: FakeClock) -> None:
    body = {"success": False, "message": "FAILED_MIN_TOTAL_AMOUNT", "code": 1123, "httpStatusCode": 400}
    router.post(ORDER).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(Rejected) as info:
        post_order(make_client(router, clock))
    assert (info.value.code, info.value.numeric_code) == ("FAILED_MIN_TOTAL_AMOUNT", 1123)


# -- counters, threads, limiter ------------------------------------------------------------------


def test_requests_made_counts_per_endpoint_and_resets(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(return_value=ok([]))
    router.get(f"{ORDER}/7").mock(return_value=ok({}))
    router.get(f"{ORDER}/8").mock(return_value=ok({}))
    client = make_client(router, clock)
    get_balances(client)
    for order_id in (7, 8):
        client.request(
            "GET", f"/api/v1/order/{order_id}", endpoint="GET /api/v1/order/{id}", parse=identity, signed=True
        )
    assert client.requests_made == {"GET /api/v1/users/balances": 1, "GET /api/v1/order/{id}": 2}
    assert client.total_requests == 3
    client.reset_request_counts()
    assert client.requests_made == {}


def test_client_shared_between_threads_counts_every_request(router: respx.MockRouter) -> None:
    router.get(BOOK).mock(return_value=ok({"bids": [], "asks": []}))
    client = BtcTurkClient(base_url=BASE, transport=httpx.MockTransport(router.handler), sleep=lambda _s: None)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _i: client.request("GET", "/api/v2/orderbook", parse=identity), range(40)))
    assert len(results) == 40
    assert client.requests_made == {"GET /api/v2/orderbook": 40}


def test_limiter_full_short_window_sleeps_until_slot_frees(clock: FakeClock) -> None:
    limiter = RateLimiter({"GET /x": (Window(2, 1.0),)}, clock=clock, sleep=clock.sleep)
    limiter.acquire("GET /x")
    limiter.acquire("GET /x")
    limiter.acquire("GET /x")
    assert clock.sleeps == [pytest.approx(1.0)]


def test_limiter_full_long_window_raises_rate_limited_without_sleeping(clock: FakeClock) -> None:
    limiter = RateLimiter({"GET /x": (Window(2, 60.0),)}, clock=clock, sleep=clock.sleep, max_wait=5.0)
    limiter.acquire("GET /x")
    clock.now += timedelta(seconds=10)
    limiter.acquire("GET /x")
    with pytest.raises(RateLimited) as info:
        limiter.acquire("GET /x")
    assert info.value.retry_after == pytest.approx(50.0)
    assert clock.sleeps == []


def test_limiter_published_limit_allows_full_quota_without_waiting(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(180):
        limiter.acquire("GET /api/v2/orderbook")
    assert clock.sleeps == []
    with pytest.raises(RateLimited):
        limiter.acquire("GET /api/v2/orderbook")


def test_limiter_expired_persisted_block_ignored(clock: FakeClock) -> None:
    store = InMemoryBlockStore({"GET /x": T0 - timedelta(seconds=1)})
    limiter = RateLimiter({}, clock=clock, sleep=clock.sleep, store=store)
    limiter.acquire("GET /x")
    assert limiter.blocked_until("GET /x") is None


def test_limiter_unreadable_store_does_not_stop_requests(clock: FakeClock) -> None:
    class BrokenStore:
        def load_blocks(self) -> dict[str, datetime]:
            raise OSError("database is locked")

        def save_block(self, endpoint: str, until: datetime) -> None:
            raise OSError("database is locked")

        def load_windows(self) -> dict[str, list[datetime]]:
            raise OSError("database is locked")

        def save_windows(self, windows: object) -> None:
            raise OSError("database is locked")

    limiter = RateLimiter({}, clock=clock, sleep=clock.sleep, store=BrokenStore())
    limiter.acquire("GET /x")
    until = limiter.block("GET /x", 30)
    assert limiter.blocked_until("GET /x") == until
    limiter.flush()  # logged, not raised: the venue's own 429 still protects the next process


def test_limiter_windows_carry_over_to_the_next_process(clock: FakeClock) -> None:
    store = InMemoryBlockStore()
    first = RateLimiter(clock=clock, sleep=clock.sleep, store=store)
    for _ in range(180):
        first.acquire("GET /api/v2/orderbook")
    first.flush()
    clock.now += timedelta(seconds=30)
    second = RateLimiter(clock=clock, sleep=clock.sleep, store=store)  # a new cron process, same journal
    with pytest.raises(RateLimited) as info:
        second.acquire("GET /api/v2/orderbook")
    assert info.value.retry_after == pytest.approx(30.0)
    clock.now += timedelta(seconds=30)
    second.acquire("GET /api/v2/orderbook")  # the first process's window has passed


def test_limiter_admission_persists_its_stamps_before_returning(clock: FakeClock) -> None:
    # issue 8 finding 10: a run killed before the client closes must still hand on every admission
    store = InMemoryBlockStore()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, store=store)
    limiter.acquire("POST /api/v1/order")
    assert store.windows == {"POST /api/v1/order#0": [T0], "POST /api/v1/order#1": [T0]}
    clock.now += timedelta(seconds=2)
    limiter.acquire("POST /api/v1/order")
    later = T0 + timedelta(seconds=2)
    assert store.windows == {"POST /api/v1/order#0": [T0, later], "POST /api/v1/order#1": [later]}


def test_limiter_killed_process_stamps_still_limit_the_next(clock: FakeClock) -> None:
    store = InMemoryBlockStore()
    first = RateLimiter(clock=clock, sleep=clock.sleep, store=store)
    for _ in range(180):
        first.acquire("GET /api/v2/orderbook")  # never flushed: the process was killed
    second = RateLimiter(clock=clock, sleep=clock.sleep, store=store)
    with pytest.raises(RateLimited):
        second.acquire("GET /api/v2/orderbook")


def test_limiter_concurrent_admissions_all_persisted(clock: FakeClock) -> None:
    store = InMemoryBlockStore()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, store=store)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: limiter.acquire("GET /api/v2/orderbook"), range(64)))
    assert len(store.windows["GET /api/v2/orderbook#0"]) == 64


def test_limiter_run_that_sends_nothing_hands_on_the_stamps(clock: FakeClock) -> None:
    store = InMemoryBlockStore()
    first = RateLimiter(clock=clock, sleep=clock.sleep, store=store)
    first.acquire("GET /api/v1/users/balances")
    first.flush()
    RateLimiter(clock=clock, sleep=clock.sleep, store=store).flush()  # e.g. a run that failed before any request
    assert store.windows == {"GET /api/v1/users/balances#0": [T0]}


def test_limiter_flush_keeps_only_stamps_inside_their_window(clock: FakeClock) -> None:
    store = InMemoryBlockStore()
    limiter = RateLimiter({"GET /x": (Window(5, 60.0), Window(2, 1.0))}, clock=clock, sleep=clock.sleep, store=store)
    limiter.acquire("GET /x")
    clock.now += timedelta(seconds=2)
    limiter.acquire("GET /x")
    limiter.flush()
    assert store.windows == {"GET /x#0": [T0, T0 + timedelta(seconds=2)], "GET /x#1": [T0 + timedelta(seconds=2)]}


def test_client_close_persists_windows(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(return_value=ok([]))
    store = InMemoryBlockStore()
    client = make_client(router, clock, store=store)
    get_balances(client)
    client.close()
    assert store.windows == {"GET /api/v1/users/balances#0": [T0]}


def test_limiter_scoped_windows_share_one_budget_across_endpoints(clock: FakeClock) -> None:
    shared = Window(2, 600.0, scope="host")
    limiter = RateLimiter({"GET /a": (shared,), "GET /b": (shared,)}, clock=clock, sleep=clock.sleep)
    limiter.acquire("GET /a")
    limiter.acquire("GET /b")
    with pytest.raises(RateLimited):
        limiter.acquire("GET /a")


def test_read_undecodable_body_raises_bad_response(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get(BALANCES).mock(side_effect=httpx.DecodingError("bad gzip"))
    with pytest.raises(BadResponse):
        get_balances(make_client(router, clock))


def test_write_unsupported_protocol_raises_unavailable_not_httpx_error(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    router.post(ORDER).mock(side_effect=httpx.UnsupportedProtocol("ftp"))
    with pytest.raises(Unavailable) as info:
        post_order(make_client(router, clock))
    assert not isinstance(info.value, OutcomeUnknown)
