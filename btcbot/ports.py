"""Ports: what the services depend on. Implementations must not subclass these Protocols
(LESSONS 32); conformance is checked by behaviour tests, not by inheritance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from btcbot.domain.models import Balance, FillReport, OrderBook, OrderReport, OrderRequest, SubmitAck
from btcbot.domain.symbols import SymbolRules

__all__ = ["Clock", "Exchange"]


class Exchange(Protocol):
    """One venue: the BTCTurk HTTP adapter or the simulator. Every stage uses this port.

    Errors are the ExchangeError tree in `btcbot.domain.errors`. Only reads may be retried by an
    implementation; `submit_order` and `cancel_order` are sent at most once per call.
    """

    name: str

    def server_time(self) -> datetime:
        """The venue's clock (UTC)."""
        ...

    def exchange_info(self) -> list[SymbolRules]:
        """Rules of every listed pair."""
        ...

    def balances(self) -> list[Balance]:
        """Free and locked amount per asset (private)."""
        ...

    def order_book(self, symbol: str, limit: int = 25) -> OrderBook:
        """Top of the book for one pair."""
        ...

    def open_orders(self, symbols: Sequence[str]) -> list[OrderReport]:
        """Non-final orders (Untouched/Partial) of the account on the given pairs.

        An implementation may answer with one request for all pairs when the venue allows it.
        """
        ...

    def all_orders(self, symbol: str, start: datetime | None = None, limit: int = 100) -> list[OrderReport]:
        """Recent orders of any status on one pair, newest first."""
        ...

    def get_order(self, exchange_order_id: int) -> OrderReport:
        """One order by the venue's id; raises OrderNotFound."""
        ...

    def fills(self, symbols: Sequence[str], since: datetime | None = None) -> list[FillReport]:
        """The account's executions on the given pairs since `since` (inclusive), oldest first."""
        ...

    def submit_order(self, request: OrderRequest) -> SubmitAck:
        """Send one order; Rejected, OutcomeUnknown, Unavailable, RateLimited or AuthFailed on failure."""
        ...

    def cancel_order(self, exchange_order_id: int) -> None:
        """Request a cancel. Success means "request accepted": confirm the terminal status by reading."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Current UTC time (aware)."""
        ...
