"""The limiter's stamps are written before each request is sent, and concurrent admissions share the write
(group commit): a cycle's parallel reads cost one or two commits, not one each (issue 10)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from btcbot.adapters.btcturk.limiter import InMemoryBlockStore, RateLimiter

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ENDPOINTS = ("GET /api/v2/orderbook", "GET /api/v1/users/balances", "GET /api/v1/openOrders",
             "GET /api/v1/users/transactions/trade", "GET /api/v1/allOrders", "GET /api/v2/ticker")


class SlowFirstWrite(InMemoryBlockStore):
    """The first write waits for `gate`: the other admissions queue up behind it meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.gate = threading.Event()

    def save_windows(self, windows: Mapping[str, Sequence[datetime]]) -> None:
        self.writes += 1
        if self.writes == 1:
            self.gate.wait(timeout=10)
        super().save_windows(windows)


def test_limiter_concurrent_admissions_share_writes_and_each_is_stored_before_it_returns() -> None:
    store = SlowFirstWrite()
    limiter = RateLimiter(clock=lambda: T0, sleep=time.sleep, store=store)
    recorded = threading.Semaphore(0)
    original = limiter._record

    def record(endpoint: str, now: datetime) -> int:
        ticket = original(endpoint, now)
        recorded.release()
        return ticket

    limiter._record = record  # type: ignore[method-assign]

    def admit(endpoint: str) -> bool:
        limiter.acquire(endpoint)
        return f"{endpoint}#0" in store.load_windows()  # in the store by the time the request may go out

    with ThreadPoolExecutor(max_workers=len(ENDPOINTS)) as pool:
        results = [pool.submit(admit, endpoint) for endpoint in ENDPOINTS]
        for _ in ENDPOINTS:  # every admission recorded while the first write is still in progress
            assert recorded.acquire(timeout=10)
        store.gate.set()
        assert all(r.result(timeout=10) for r in results)
    assert store.writes <= 2  # the first write (maybe with others), then one for all that queued behind it
    assert {key: len(stamps) for key, stamps in store.windows.items()} == {f"{e}#0": 1 for e in ENDPOINTS}
