"""A BTCTurk venue as an httpx handler, for tests that drive the real adapter without a socket: requests are
routed like `btcbot sim serve` and answered by its endpoint logic over an in-memory `SimExchange`, except the
endpoints given a `hostile` reply. Strict: a request to an unknown path is recorded in `unexpected` (a handler
that raised would be reported by the client as an unusable reply, so tests assert `unexpected == []`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, unquote

import httpx
from pydantic import SecretStr

from btcbot.adapters.btcturk import BtcTurkClient, BtcTurkExchange
from btcbot.adapters.btcturk.client import RetryPolicy
from btcbot.adapters.btcturk.limiter import RateLimitBlockStore
from btcbot.adapters.sim import wire
from btcbot.adapters.sim.endpoints import Endpoints, Request, match
from btcbot.adapters.sim.exchange import SimExchange

__all__ = ["BASE", "Venue"]

BASE = "https://venue.test"
KEY, SECRET = "fuzz-key", "c2VjcmV0"


@dataclass
class Venue:
    sim: SimExchange
    now: Callable[[], datetime]
    hostile: dict[str, Callable[[], httpx.Response]] = field(default_factory=dict)  # endpoint key -> reply
    passthrough: bool = True  # hostile writes still reach the simulator first (an accepted, garbled reply)
    capture: str | None = None  # keep the first valid reply body of this endpoint in `captured`
    unexpected: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    captured: bytes | None = None

    def __post_init__(self) -> None:
        self._endpoints = Endpoints(self.sim, self.now, lambda: 0.0)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path).rstrip("/").lower() or "/"
        found = match(request.method, path)
        if isinstance(found, int):
            self.unexpected.append(f"{request.method} {request.url}")
            return httpx.Response(found)
        route, params = found
        self.seen.append(route.key)
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.url.query.decode(), keep_blank_values=True):
            query.setdefault(name.lower(), []).append(value)
        hostile = self.hostile.get(route.key)
        if hostile is not None and not (self.passthrough and request.method != "GET"):
            return hostile()
        reply = self._endpoints.handle(route, Request(request.method, path, query, request.content,
                                                      request.headers.get("Content-Type", ""), params))
        if hostile is not None:
            return hostile()  # processed by the venue, then the reply was garbled
        body = b"" if reply.body is None else wire.dumps(reply.body)
        if route.key == self.capture and self.captured is None and reply.status == 200:
            self.captured = body
        return httpx.Response(reply.status, content=body, headers={"Content-Type": "application/json"})

    def exchange(self, clock: Callable[[], datetime], block_store: RateLimitBlockStore | None = None
                 ) -> BtcTurkExchange:
        """The real BTCTurk adapter talking to this venue (reads retried without sleeping)."""
        client = BtcTurkClient(base_url=BASE, api_key=SecretStr(KEY), api_secret=SecretStr(SECRET),
                               transport=httpx.MockTransport(self.handler), clock=clock, sleep=lambda _s: None,
                               block_store=block_store, retry=RetryPolicy(attempts=2, base_delay=0.0))
        return BtcTurkExchange(client)
