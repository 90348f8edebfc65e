"""Client-side rate limiting per endpoint (R-EX-4, btcturk-api.md §9).

Each endpoint key (e.g. "GET /api/v1/openOrders") has one or more sliding windows set to the
published limits -- never tighter (LESSONS 33). A sliding log never allows more than `limit`
requests in any `period`-long interval, so it also satisfies BTCTurk's fixed windows.

A 429 blocks its endpoint for Retry-After seconds. Blocks are written to a `RateLimitBlockStore`
so the next cron process honours them; while blocked, `acquire` raises `RateLimited` at once and
no request is sent.

The windows' request stamps are persisted too and loaded by the next process: each `btcbot run` is a
new process, and runs closer together than a window (a tight loop, or cron plus a manual `btcbot
reconcile`) must still keep the published limits together. The stamps of an endpoint's windows are
written on every admission, before the request is sent (one small upsert), so a run killed at any point
hands on every request it may have sent; `flush` (when the client closes) prunes what expired.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from btcbot.domain.errors import RateLimited

__all__ = [
    "DEFAULT_LIMITS",
    "InMemoryBlockStore",
    "RateLimitBlockStore",
    "RateLimiter",
    "Window",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` requests in any `period` seconds.

    Windows with the same `scope` share one budget across endpoints (graph-api's host-wide limit).
    """

    limit: int
    period: float
    scope: str | None = None


_MIN = 60.0
_GRAPH_HOST = Window(600, 600.0, scope="graph-api")

# Published limits (§9). Endpoints not listed (server/time, server/exchangeinfo) are unlimited.
DEFAULT_LIMITS: Mapping[str, tuple[Window, ...]] = {
    "GET /api/v1/users/balances": (Window(120, _MIN),),
    "POST /api/v1/order": (Window(300, _MIN), Window(10, 1.0)),
    "DELETE /api/v1/order": (Window(300, _MIN), Window(10, 1.0)),
    "GET /api/v1/order/{id}": (Window(900, _MIN), Window(30, 1.0)),
    "GET /api/v1/openOrders": (Window(300, _MIN),),
    "GET /api/v1/allOrders": (Window(300, _MIN),),
    "GET /api/v1/users/transactions/trade": (Window(120, _MIN),),
    "GET /api/v2/ticker": (Window(600, _MIN),),
    "GET /api/v2/orderbook": (Window(180, _MIN),),
    "GET graph:/v1/ohlcs": (Window(120, _MIN), _GRAPH_HOST),
    "GET graph:/v1/klines/history": (_GRAPH_HOST,),
}


class RateLimitBlockStore(Protocol):
    """Persists 429 blocks and window stamps across processes (the SQLite `Store` implements it)."""

    def load_blocks(self) -> dict[str, datetime]:
        """Endpoint key -> blocked-until (aware UTC). Expired entries may be included."""
        ...

    def save_block(self, endpoint: str, until: datetime) -> None:
        """Record that `endpoint` must not be called before `until`."""
        ...

    def load_windows(self) -> dict[str, list[datetime]]:
        """Window key -> send stamps (aware UTC, ascending) saved by an earlier process."""
        ...

    def save_windows(self, windows: Mapping[str, Sequence[datetime]]) -> None:
        """Replace the saved stamps of the given window keys (an empty list removes the key); keys not
        given keep what was saved."""
        ...


class InMemoryBlockStore:
    """A `RateLimitBlockStore` kept in a dict (tests, or one-process use)."""

    def __init__(self, blocks: Mapping[str, datetime] | None = None) -> None:
        self.blocks: dict[str, datetime] = dict(blocks or {})
        self.windows: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def load_windows(self) -> dict[str, list[datetime]]:
        with self._lock:
            return {key: list(stamps) for key, stamps in self.windows.items()}

    def save_windows(self, windows: Mapping[str, Sequence[datetime]]) -> None:
        with self._lock:
            for key, stamps in windows.items():
                if stamps:
                    self.windows[key] = list(stamps)
                else:
                    self.windows.pop(key, None)

    def load_blocks(self) -> dict[str, datetime]:
        with self._lock:
            return dict(self.blocks)

    def save_block(self, endpoint: str, until: datetime) -> None:
        with self._lock:
            current = self.blocks.get(endpoint)
            if current is None or until > current:
                self.blocks[endpoint] = until


def _window_key(endpoint: str, index: int, window: Window) -> str:
    """Shared windows are keyed by scope, the others by endpoint and position."""
    return window.scope or f"{endpoint}#{index}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class RateLimiter:
    """Thread-safe sliding-window limiter with persisted 429 blocks.

    `acquire` waits (through the injected `sleep`) when a window is full and the wait is at most
    `max_wait` seconds; a longer wait raises `RateLimited` instead of sleeping.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[Window, ...]] = DEFAULT_LIMITS,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        store: RateLimitBlockStore | None = None,
        max_wait: float = 5.0,
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._sleep = sleep
        self._store = store
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._persist_lock = threading.Lock()  # one writer at a time, each writing the latest stamps
        self._log: dict[str, deque[datetime]] = {}
        self._blocks: dict[str, datetime] = {}
        self._loaded = store is None

    def _now(self) -> datetime:
        return _aware(self._clock())

    def _load_once(self) -> None:
        # Called with the lock held; the store is read lazily so construction never touches it.
        if self._loaded or self._store is None:
            return
        self._loaded = True
        try:
            stored = self._store.load_blocks()
        except Exception:  # a broken store must not stop reads; the venue will 429 again if needed
            log.warning("rate-limit block store could not be read; starting without persisted blocks")
            return
        for endpoint, until in stored.items():
            until = _aware(until)
            current = self._blocks.get(endpoint)
            if current is None or until > current:
                self._blocks[endpoint] = until
        try:
            saved = self._store.load_windows()
        except Exception:
            log.warning("rate-limit windows could not be read; counting from zero in this process")
            return
        for key, stamps in saved.items():  # loaded before this process records anything
            self._log[key] = deque(sorted(_aware(s) for s in stamps))

    def _windows(self) -> dict[str, float]:
        """Window key -> period, for every configured window."""
        return {
            _window_key(endpoint, index, window): window.period
            for endpoint, windows in self._limits.items()
            for index, window in enumerate(windows)
        }

    def flush(self) -> None:
        """Persist the stamps still inside their windows (expired ones and empty windows are dropped)."""
        if self._store is None:
            return
        with self._lock:
            self._load_once()  # a run that sent nothing must still hand on the stamps it was given
        self._persist(None)

    def _persist(self, endpoint: str | None) -> None:
        """Write the live stamps of `endpoint`'s windows (None: of every window; windows that are no longer
        configured are removed) to the store."""
        if self._store is None:
            return
        with self._persist_lock:  # snapshot inside: the last writer always writes the newest stamps
            with self._lock:
                now, periods = self._now(), self._windows()
                if endpoint is None:
                    keys = list(self._log)
                else:
                    keys = [_window_key(endpoint, i, w) for i, w in enumerate(self._limits.get(endpoint, ()))]
                live = {key: [s for s in self._log.get(key, ()) if key in periods
                              and s > now - timedelta(seconds=periods[key])] for key in keys}
            if not live:
                return
            try:
                self._store.save_windows(live)
            except Exception:  # the next process then counts fewer; the venue's 429 still protects
                log.warning("rate-limit windows could not be persisted")

    def blocked_until(self, endpoint: str) -> datetime | None:
        """When a current 429 block on `endpoint` ends, or None if it is not blocked."""
        with self._lock:
            self._load_once()
            until = self._blocks.get(endpoint)
            return until if until is not None and self._now() < until else None

    def acquire(self, endpoint: str) -> None:
        """Take one request slot for `endpoint`, or raise RateLimited (nothing must be sent)."""
        while True:
            with self._lock:
                self._load_once()
                now = self._now()
                until = self._blocks.get(endpoint)
                if until is not None and now < until:
                    wait = (until - now).total_seconds()
                    raise RateLimited(
                        f"{endpoint} is blocked after a 429 until {until.isoformat()}",
                        retry_after=wait,
                        endpoint=endpoint,
                    )
                wait = self._window_wait(endpoint, now)
                if wait <= 0:
                    self._record(endpoint, now)
            if wait <= 0:
                self._persist(endpoint)  # before the request is sent: a killed run still hands it on
                return
            if wait > self._max_wait:
                raise RateLimited(
                    f"{endpoint}: client-side limit reached; next slot in {wait:.1f}s",
                    retry_after=wait,
                    endpoint=endpoint,
                )
            log.debug("rate limiter: waiting %.3fs for %s", wait, endpoint)
            self._sleep(wait)

    def _window_wait(self, endpoint: str, now: datetime) -> float:
        wait = 0.0
        for index, window in enumerate(self._limits.get(endpoint, ())):
            stamps = self._log.setdefault(_window_key(endpoint, index, window), deque())
            horizon = now - timedelta(seconds=window.period)
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
            if len(stamps) >= window.limit:
                free_at = stamps[len(stamps) - window.limit] + timedelta(seconds=window.period)
                wait = max(wait, (free_at - now).total_seconds())
        return wait

    def _record(self, endpoint: str, now: datetime) -> None:
        for index, window in enumerate(self._limits.get(endpoint, ())):
            self._log[_window_key(endpoint, index, window)].append(now)

    def block(self, endpoint: str, seconds: float) -> datetime:
        """Block `endpoint` for `seconds` after a 429 and persist the block; return its end."""
        until = self._now() + timedelta(seconds=max(0.0, seconds))
        with self._lock:
            self._load_once()
            current = self._blocks.get(endpoint)
            if current is None or until > current:
                self._blocks[endpoint] = until
        if self._store is not None:
            try:
                self._store.save_block(endpoint, until)
            except Exception:  # the in-memory block still protects this process
                log.warning("rate-limit block for %s could not be persisted", endpoint)
        log.warning("%s blocked for %.1fs after HTTP 429", endpoint, seconds)
        return until
