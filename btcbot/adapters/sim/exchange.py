"""`SimExchange`: the Exchange port over the matching engine, persisted in SQLite.

It satisfies `btcbot.ports.Exchange` structurally (it does not subclass the Protocol, LESSONS 32).
Every mutation (submit, cancel, advance) is committed in one SQLite transaction; if writing fails the
in-memory engine is reloaded from the database, so memory and file never disagree. All calls are
serialised by one lock, so reads may come from several threads. With `SimConfig.auto_advance` each
call first advances the market to `clock.now()` (whole ticks of wall time); without it the market only
moves on `advance()` (cron step mode), but delayed cancels still complete when the clock passes them.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.engine import MatchingEngine
from btcbot.adapters.sim.klines import HistoryFeed, TickSample
from btcbot.adapters.sim.market import MarketFeed, RandomWalkFeed
from btcbot.adapters.sim.state import Changes, EngineState, SimFill, SimOrder
from btcbot.adapters.sim.store import SimStore
from btcbot.adapters.sim.validation import REJECT_CODES, normalize_symbol
from btcbot.domain.errors import ExchangeError, OrderNotFound, StateError
from btcbot.domain.models import Balance, FillReport, OrderBook, OrderReport, OrderRequest, SubmitAck
from btcbot.domain.symbols import SymbolRules
from btcbot.ports import Clock, Exchange

__all__ = ["SimExchange", "random_walk_feed"]

T = TypeVar("T")
_PRECISION = 50  # decimal contexts are per thread; every engine call runs with this precision


def random_walk_feed(config: SimConfig, seed: int) -> RandomWalkFeed:
    """The default feed: a seeded random walk shaped by `config`."""
    return RandomWalkFeed(seed, config.volatility_bps, config.book_shape)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("the simulator's clock must return timezone-aware datetimes")
    return now.astimezone(UTC)


class _Persistence(Protocol):
    def load(self) -> EngineState | None: ...
    def save(self, state: EngineState, changes: Changes) -> None: ...
    def close(self) -> None: ...


class _NotPersisted:
    """Persistence of an ephemeral simulator: nothing is written, so there is nothing to reload."""

    def load(self) -> EngineState | None:
        return None

    def save(self, state: EngineState, changes: Changes) -> None:
        return None

    def close(self) -> None:
        return None


class SimExchange:
    """A deterministic BTCTurk-like venue. Create it with `SimExchange.open(path, config, clock)`, or
    `SimExchange.ephemeral(config, clock, feed)` for one that lives in memory only (backtests)."""

    name = "sim"
    serial_reads = True  # calls are serialised by one lock: the cycle reads without a thread pool

    def __init__(self, store: _Persistence, engine: MatchingEngine, clock: Clock) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._lock = threading.RLock()
        self._closed = False

    @classmethod
    def open(cls, path: Path | None, config: SimConfig, clock: Clock, feed: MarketFeed | None = None) -> SimExchange:
        """Open (or create at `clock.now()`, tick 0) the simulator stored at `path`; None = in memory.

        A re-opened database keeps its seed, market, balances, orders and fills; `config` supplies the
        rules (fees, delays, pairs: new pairs/assets are added at their start values).
        """
        store = SimStore.connect(path)
        try:
            now = _utc(clock.now())
            with localcontext() as ctx:
                ctx.prec = _PRECISION
                state = store.load()
                if state is None:
                    engine = MatchingEngine.create(config, feed or random_walk_feed(config, config.seed), now)
                else:
                    engine = MatchingEngine(config, feed or random_walk_feed(config, state.seed), state)
                    engine.add_missing(now)
                store.save(engine.state, engine.drain())
        except BaseException:
            store.close()
            raise
        return cls(store, engine, clock)

    @classmethod
    def ephemeral(cls, config: SimConfig, clock: Clock, feed: MarketFeed | None = None) -> SimExchange:
        """A new market at `clock.now()` kept in memory only: no database, no writes (backtests). An
        unexpected error inside a mutation leaves the exchange unusable (StateError) instead of reloading."""
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            engine = MatchingEngine.create(config, feed or random_walk_feed(config, config.seed), _utc(clock.now()))
            engine.drain()
        return cls(_NotPersisted(), engine, clock)

    # --------------------------------------------------------------------------------- lifecycle

    @property
    def config(self) -> SimConfig:
        return self._engine.config

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._store.close()

    def __enter__(self) -> SimExchange:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock, localcontext() as ctx:
            if self._closed:
                raise StateError("the simulated exchange is closed")
            ctx.prec = _PRECISION
            yield

    def _mutate(self, op: Callable[[], T]) -> T:
        """Run an engine mutation and commit its changes in one transaction; on any failure other
        than a business rejection the engine is reloaded from the database."""
        try:
            result = op()
        except ExchangeError:
            self._commit()
            raise
        except BaseException:
            self._reload()
            raise
        self._commit()
        return result

    def _commit(self) -> None:
        try:
            self._store.save(self._engine.state, self._engine.drain())
        except BaseException:
            self._reload()
            raise

    def _reload(self) -> None:
        state = self._store.load()
        if state is None and isinstance(self._store, _NotPersisted):
            self._closed = True  # nothing to reload from: the original error propagates
            return
        if state is None:
            raise StateError("the simulator database lost its state")
        self._engine = MatchingEngine(self._engine.config, self._engine.feed, state)

    def _sync(self) -> datetime:
        now = _utc(self._clock.now())
        if self._engine.config.auto_advance:
            self._mutate(lambda: self._engine.advance(now))
        elif self._engine.cancels_pending() or not isinstance(self._store, _NotPersisted):
            self._mutate(lambda: self._engine.settle_cancels(now))
        return now  # (an ephemeral simulator with no delayed cancel has nothing to settle or save)

    # ------------------------------------------------------------------------------ sim controls

    def advance(self, now: datetime, ticks: int | None = None) -> int:
        """Advance the market to `now`: by elapsed wall time (`ticks=None`) or exactly `ticks` ticks."""
        with self._guard():
            at = _utc(now)
            return self._mutate(lambda: self._engine.advance(at, ticks))

    def set_mid(self, symbol: str, mid: Decimal) -> Decimal:
        """Steer the price (tests): move `symbol`'s mid to `mid` now; returns the new best bid (or the mid)."""
        with self._guard():
            now = self._sync()
            self._mutate(lambda: self._engine.set_mid(symbol, mid, now))
            book = self._engine.book(symbol)
            return book.bids[0].price if book.bids else mid

    def advance_at(self, times: Sequence[datetime]) -> int:
        """One tick at each of `times` (increasing), in one transaction: a replay with uneven tick times."""
        with self._guard():
            stamps = [_utc(t) for t in times]
            self._engine.check_tick_times(stamps)  # a bad call changes nothing (and is not a corruption)
            return self._mutate(lambda: self._engine.advance_at(stamps))

    @property
    def tick(self) -> int:
        """Number of ticks since the market was created (after advancing to the clock)."""
        with self._guard():
            self._sync()
            return self._engine.state.tick

    def mid(self, symbol: str) -> Decimal:
        with self._guard():
            self._sync()
            return self._engine.state.mids[self._engine.spec(symbol).symbol]

    def record_history(self, keep: int = 100_000) -> None:
        """From now on remember the market of every tick, `keep` ticks per pair (the server's klines)."""
        with self._guard():
            if not isinstance(self._engine.feed, HistoryFeed):
                self._engine.feed = HistoryFeed(self._engine.feed, keep)

    def history(self, symbol: str) -> list[TickSample]:
        """The remembered ticks of one pair, oldest first (empty unless `record_history` was called)."""
        with self._guard():
            self._sync()
            feed = self._engine.feed
            return feed.history(self._engine.spec(symbol).symbol) if isinstance(feed, HistoryFeed) else []

    def rules(self, symbol: str) -> SymbolRules:
        """Current rules of one pair (band from the current mid); unknown pair → Rejected."""
        with self._guard():
            self._sync()
            return self._engine.rules(symbol)

    def submit_raw(
        self,
        symbol: str,
        side: str,
        method: str,
        price: Decimal,
        quantity: Decimal,
        client_order_id: str | None = None,
    ) -> SimOrder:
        """Submit with BTCTurk's raw fields (for the HTTP server); returns the order's full record."""
        with self._guard():
            now = self._sync()
            order = self._mutate(
                lambda: self._engine.submit(
                    symbol=symbol,
                    side=side,
                    method=method,
                    price=price,
                    quantity=quantity,
                    client_order_id=client_order_id,
                    now=now,
                )
            )
            return replace(order)

    def order_record(self, exchange_order_id: int) -> SimOrder:
        """Full record of one order (lock, requested amount, pending cancel); OrderNotFound if unknown."""
        with self._guard():
            self._sync()
            return replace(self._find(exchange_order_id))

    def fill_records(
        self, symbols: Sequence[str] | None = None, since: datetime | None = None, *, visible_only: bool = True
    ) -> list[SimFill]:
        """Fills with maker/taker flag, oldest first; `visible_only` hides fills still within
        `fill_delay_seconds`."""
        with self._guard():
            now = self._sync()
            wanted = None if symbols is None else {normalize_symbol(s) for s in symbols}
            delay = timedelta(seconds=self._engine.config.fill_delay_seconds)
            fills = self._engine.state.fills  # in time order: fill stamps never go backwards
            first = 0 if since is None else bisect.bisect_left(fills, since, key=lambda f: f.report.timestamp)
            return [
                fill
                for fill in itertools.islice(fills, first, None)
                if (wanted is None or fill.report.symbol in wanted)
                and (not visible_only or fill.report.timestamp + delay <= now)
            ]

    def _find(self, exchange_order_id: int) -> SimOrder:
        order = self._engine.state.orders.get(exchange_order_id)
        if order is None:
            code = "ORDER_NOT_FOUND"
            raise OrderNotFound(code, "Order not found", REJECT_CODES[code])
        return order

    # ------------------------------------------------------------------------------ Exchange port

    def server_time(self) -> datetime:
        return _utc(self._clock.now())

    def exchange_info(self) -> list[SymbolRules]:
        with self._guard():
            self._sync()
            return [self._engine.rules(symbol) for symbol in self._engine.symbols()]

    def balances(self) -> list[Balance]:
        with self._guard():
            self._sync()
            return self._engine.balances()

    def order_book(self, symbol: str, limit: int = 25) -> OrderBook:
        """The current book (as left by our own trades this tick), stamped with the time of the read."""
        with self._guard():
            now = self._sync()
            spec = self._engine.spec(symbol)
            return self._engine.book(spec.symbol).snapshot(spec.symbol, now, max(limit, 0))

    def open_orders(self, symbols: Sequence[str]) -> list[OrderReport]:
        with self._guard():
            self._sync()
            wanted = {normalize_symbol(s) for s in symbols}
            orders = (self._engine.state.orders[oid] for oid in self._engine.open_order_ids())
            return [o.report() for o in orders if o.symbol in wanted]

    def all_orders(self, symbol: str, start: datetime | None = None, limit: int = 100) -> list[OrderReport]:
        with self._guard():
            self._sync()
            pair = self._engine.spec(symbol).symbol
            orders = [
                o
                for o in self._engine.state.orders.values()
                if o.symbol == pair and (start is None or o.created_at >= start)
            ]
            orders.sort(key=lambda o: o.order_id, reverse=True)
            return [o.report() for o in orders[: max(limit, 0)]]

    def get_order(self, exchange_order_id: int) -> OrderReport:
        with self._guard():
            self._sync()
            return self._find(exchange_order_id).report()

    def fills(self, symbols: Sequence[str], since: datetime | None = None) -> list[FillReport]:
        return [fill.report for fill in self.fill_records(symbols, since)]

    def submit_order(self, request: OrderRequest) -> SubmitAck:
        order = self.submit_raw(
            request.symbol,
            request.side.value,
            request.method.value,
            request.price,
            request.quantity,
            request.client_order_id,
        )
        return SubmitAck(order.order_id, order.client_order_id, order.created_at)

    def cancel_order(self, exchange_order_id: int) -> None:
        with self._guard():
            now = self._sync()
            self._mutate(lambda: self._engine.cancel(exchange_order_id, now))


def _conforms(exchange: SimExchange) -> Exchange:
    """Static check (mypy) that SimExchange satisfies the Exchange port structurally."""
    return exchange
