"""Refresh step of the cycle: rules (TTL cache), then books, balances, open orders and fills concurrently."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.account import book_problem
from btcbot.domain.errors import ConfigError, ExchangeError, describe
from btcbot.domain.events import Event, EventKind
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Balance, FillReport, OrderBook, OrderReport
from btcbot.domain.symbols import SymbolRules, split_symbol
from btcbot.ports import Exchange

__all__ = ["RULES_TTL", "Refresh", "load_rules", "refresh"]

log = logging.getLogger("btcbot.market")
RULES_TTL = timedelta(hours=1)
MAX_WORKERS = 8


@dataclass(slots=True)
class Refresh:
    snapshot: MarketSnapshot
    open_orders: list[OrderReport]
    fills: list[FillReport] | None  # None when skipped (nothing of ours can have fills)
    events: list[Event] = field(default_factory=list)


def load_rules(exchange: Exchange, store: Store, symbols: Sequence[str], now: datetime) -> dict[str, SymbolRules]:
    """Symbol rules from the SQLite cache (1 h TTL) or the venue; an unlisted pair is a config error."""
    rules = store.cached_rules(now, RULES_TTL)
    if rules is None or any(s not in rules for s in symbols):
        rules = {r.symbol: r for r in exchange.exchange_info()}
        store.save_rules(rules.values(), now)
    missing = [s for s in symbols if s not in rules]
    if missing:
        raise ConfigError(f"BTCBOT_SYMBOLS: {', '.join(missing)} not listed by the exchange ({exchange.name})")
    return rules


def book_symbols(symbols: Sequence[str]) -> list[str]:
    """Traded pairs plus USDTTRY when a USDT pair needs converting TRY caps."""
    needed = list(symbols)
    if any(split_symbol(s)[1] == "USDT" for s in symbols) and "USDTTRY" not in needed:
        needed.append("USDTTRY")
    return needed


def refresh(exchange: Exchange, symbols: Sequence[str], rules: dict[str, SymbolRules], now: datetime,
            max_age: timedelta, fills_since: datetime | None) -> Refresh:
    """One concurrent round of independent reads (R-EX-6). Open orders must succeed; a failed book makes
    that symbol stale; failed balances degrade the cycle to sell-only (R-SAFE-3)."""
    wanted = [s for s in book_symbols(symbols) if s in rules]
    serial = getattr(exchange, "serial_reads", False)  # an in-process venue: threads would only add cost
    with _Inline() if serial else ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(wanted) + 3)) as pool:
        books_f = {s: pool.submit(exchange.order_book, s) for s in wanted}
        balances_f = pool.submit(exchange.balances)
        open_f = pool.submit(exchange.open_orders, list(symbols))
        fills_f = pool.submit(exchange.fills, list(symbols), fills_since) if fills_since is not None else None
        open_orders = open_f.result()  # raises: without the venue's open orders nothing is safe
        fills = fills_f.result() if fills_f is not None else None
        events: list[Event] = []
        books: dict[str, OrderBook] = {}
        stale: dict[str, str] = {}
        for symbol, fut in books_f.items():
            book, error = _outcome(fut)
            problem = ("MARKET_DATA_STALE", f"order book unavailable: {error}") if book is None else (
                book_problem(book, now, max_age))
            if problem is None:
                books[symbol] = book
                continue
            stale[symbol] = problem[1]
            events.append(Event(EventKind(problem[0]), problem[0], symbol, detail={"reason": problem[1]}))
        balance_list, error = _outcome(balances_f)
        balances: dict[str, Balance] | None = None
        if balance_list is None:
            events.append(Event(EventKind.BALANCES_UNAVAILABLE, "BALANCES_UNAVAILABLE",
                                detail={"error": error, "effect": "buying stops this cycle"}))
        else:
            balances = {b.asset: b for b in balance_list}
    snapshot = MarketSnapshot(now=now, books=books, rules=rules, balances=balances, stale=stale)
    return Refresh(snapshot, open_orders, fills, events)


class _Inline(Executor):
    """Runs each submitted call at once in the caller's thread (same Future semantics, no threads)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def _outcome(fut: Future[Any]) -> tuple[Any, str]:
    try:
        return fut.result(), ""
    except ExchangeError as exc:
        return None, describe(exc, 200)

