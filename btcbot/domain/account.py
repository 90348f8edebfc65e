"""The account snapshot a cycle trades on (R-SAFE-3, R-REL-3, R-ACC-2). Pure.

Holdings (free, locked, total) with each asset's mark in TRY and value; free and locked cash (TRY); equity at
mark (best bid) in TRY; and the flags the cycle trades under:
- `sell_only`: private data (balances) could not be read: no buy this cycle; sells are bounded by what the
  bot's ledger holds, less what its own live sells already lock (`free_for_execution`);
- `untradable`: a symbol whose book is stale, missing or invalid is not traded this cycle (`book_problem`).
Each flag is recorded as an event by the refresh step (BALANCES_UNAVAILABLE, MARKET_DATA_STALE/INVALID).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Balance, LocalOrder, OrderBook, Side
from btcbot.domain.money import ZERO
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE
from btcbot.domain.symbols import SymbolRules, split_symbol

__all__ = ["AccountSnapshot", "Holding", "account_snapshot", "book_problem", "free_for_execution", "in_try"]

CASH = "TRY"


@dataclass(frozen=True, slots=True)
class Holding(Balance):
    mark_try: Decimal | None = None  # TRY per unit (1 for TRY); None when no mark is known

    @property
    def value_try(self) -> Decimal | None:
        return None if self.mark_try is None else self.total * self.mark_try


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    holdings: dict[str, Holding]  # assets with a non-zero total; empty when balances are unavailable
    equity_try: Decimal | None  # Σ value of the priced holdings; None when balances are unavailable
    unpriced: tuple[str, ...]  # held assets without a TRY mark (equity is then incomplete)
    sell_only: str | None  # why no buy may be placed this cycle
    untradable: dict[str, str]  # symbol -> why it is not traded this cycle

    @property
    def cash(self) -> Holding:
        return self.holdings.get(CASH, Holding(CASH, ZERO, ZERO, Decimal(1)))

    @property
    def equity_complete(self) -> bool:
        return self.equity_try is not None and not self.unpriced


def book_problem(book: OrderBook, now: datetime, max_age: timedelta) -> tuple[str, str] | None:
    """(code, reason) when `book` must not be traded on, or None. Codes: MARKET_DATA_STALE (empty side,
    too old) and MARKET_DATA_INVALID (non-positive or crossed prices)."""
    problem = book.problem  # an empty side (stale), a non-positive price or negative size (invalid)
    if problem is not None:
        return ("MARKET_DATA_STALE" if not book.bids or not book.asks else "MARKET_DATA_INVALID"), problem
    bid, ask = book.bids[0].price, book.asks[0].price
    if bid >= ask:
        return "MARKET_DATA_INVALID", f"order book is crossed (bid {bid} >= ask {ask})"
    if now - book.timestamp > max_age:
        return "MARKET_DATA_STALE", f"order book is {int((now - book.timestamp).total_seconds())} s old"
    return None


def account_snapshot(snapshot: MarketSnapshot, marks: Mapping[str, Decimal]) -> AccountSnapshot:
    """Value the balances at `marks` (symbol -> best bid; the cycle's books merged over the last known)."""
    untradable = dict(snapshot.stale)
    if snapshot.balances is None:
        return AccountSnapshot({}, None, (), "BALANCES_UNAVAILABLE: private balances could not be read",
                               untradable)
    holdings: dict[str, Holding] = {}
    equity, unpriced = ZERO, []
    for asset, balance in sorted(snapshot.balances.items()):
        if balance.total == 0:
            continue
        mark = Decimal(1) if asset == CASH else marks.get(f"{asset}{CASH}")
        holdings[asset] = Holding(asset, balance.free, balance.locked, mark)
        if mark is None:
            unpriced.append(asset)
        else:
            equity += balance.total * mark
    return AccountSnapshot(holdings, equity, tuple(unpriced), None, untradable)


def free_for_execution(balances: Mapping[str, Balance] | None, positions: Mapping[str, Position],
                       orders: Sequence[LocalOrder], rules: Mapping[str, SymbolRules]) -> dict[str, Decimal]:
    """Free amounts execution may commit. Without balances (sell-only): no quote at all, and per base asset
    what the bot's positions hold less what its live or in-flight sells already lock; the venue still has
    the last word (an oversized sell is rejected, never assumed)."""
    if balances is not None:
        return {asset: b.free for asset, b in balances.items()}
    free: dict[str, Decimal] = {}
    for symbol, position in positions.items():
        base = rules[symbol].base if symbol in rules else split_symbol(symbol)[0]
        free[base] = free.get(base, ZERO) + position.quantity
    for order in orders:
        if order.side is Side.SELL and order.status in LIVE | IN_FLIGHT:
            base = rules[order.symbol].base if order.symbol in rules else split_symbol(order.symbol)[0]
            free[base] = free.get(base, ZERO) - order.remaining
    return {asset: max(ZERO, amount) for asset, amount in free.items()}


def in_try(per_symbol: Mapping[str, Decimal], marks: Mapping[str, Decimal]) -> Decimal:
    """Sum per-symbol quote amounts in TRY (USDT-quoted amounts at the last USDTTRY mark; unpriced skipped)."""
    total = ZERO
    for symbol, amount in per_symbol.items():
        quote = split_symbol(symbol)[1]
        rate = Decimal(1) if quote == CASH else marks.get(f"{quote}{CASH}")
        if rate is not None:
            total += amount * rate
    return total
