"""Fills refresh (R-ACC-1): fetch the account's fills by cursor and record each exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import FillReport, LocalOrder
from btcbot.domain.money import dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, OrderStatus
from btcbot.ports import Exchange

__all__ = ["FillsReport", "fills_since", "refresh_fills"]

CLOCK_MARGIN = timedelta(minutes=1)
# Fills can become visible well after they happened (btcturk-api.md §5.7): keep looking this long.
LATE_FILL_WINDOW = timedelta(days=2)


@dataclass(slots=True)
class FillsReport:
    new: list[FillReport] = field(default_factory=list)
    fetched: int = 0
    skipped: bool = False
    discrepancies: list[LocalOrder] = field(default_factory=list)


def fills_since(store: Store, now: datetime) -> datetime | None:
    """Where to read fills from, or None when no order of ours can have unseen fills.

    Orders that are live, in flight, or whose venue-reported fill exceeds our recorded fills (late fills)
    may still produce fills, and every fill of an order is newer than the order: the window starts at the
    oldest such order, minus a margin for clock differences.
    """
    waiting = store.orders(IN_FLIGHT | LIVE)
    waiting += [o for o in store.orders([OrderStatus.FILLED, OrderStatus.CANCELED])
                if o.exchange_filled > o.filled_quantity and now - o.updated_at < LATE_FILL_WINDOW]
    if not waiting:
        return None
    return min(o.created_at for o in waiting) - CLOCK_MARGIN


def refresh_fills(exchange: Exchange, store: Store, symbols: Sequence[str], now: datetime,
                  cycle_id: int | None, *, force_since: datetime | None = None) -> FillsReport:
    """Read and record new fills; flag terminal orders whose fills disagree with the venue's figure."""
    since = force_since or fills_since(store, now)
    report = FillsReport()
    if since is None:
        report.skipped = True
        return report
    fetched = exchange.fills(symbols, since=since)
    report.fetched = len(fetched)
    report.new = store.record_fills(fetched, now, cycle_id)
    events = []
    for order in store.orders([OrderStatus.FILLED]):
        if order.external or order.filled_quantity == order.exchange_filled:
            continue
        if order.updated_at < now - timedelta(minutes=30):
            report.discrepancies.append(order)
            events.append(Event(EventKind.FILL_DISCREPANCY, "FILLS_DISAGREE_WITH_VENUE", order.symbol,
                                order.client_order_id, {"fills_sum": dec_str(order.filled_quantity),
                                                        "venue_filled": dec_str(order.exchange_filled)}))
    if events:
        store.record(events, cycle_id, now)
    return report
