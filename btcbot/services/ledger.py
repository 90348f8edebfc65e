"""Fills bookkeeping of the cycle (R-ACC-1): where to read fills from, and the cross-check of each order's
recorded fills against the venue's own filled figure (amount − leftAmount)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import FillReport, LocalOrder
from btcbot.domain.money import dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, OrderStatus

__all__ = ["FillsReport", "check_fill_totals", "fills_since"]

CLOCK_MARGIN = timedelta(minutes=1)
# Fills can become visible well after they happened (btcturk-api.md §5.7): keep looking this long.
LATE_FILL_WINDOW = timedelta(days=2)
# A filled order whose fills still disagree with the venue this long after it settled is reported.
DISCREPANCY_GRACE = timedelta(minutes=30)


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
    waiting += [o for o in store.orders_with_fill_gap(now - LATE_FILL_WINDOW) if o.exchange_filled > o.filled_quantity]
    if not waiting:
        return None
    return min(o.created_at for o in waiting) - CLOCK_MARGIN


def check_fill_totals(store: Store, now: datetime, cycle_id: int | None) -> list[LocalOrder]:
    """FILL_DISCREPANCY (once per order and figures) for our filled orders whose fills still disagree with
    the venue's filled quantity after the grace period."""
    found = [o for o in store.orders_with_fill_gap(now - LATE_FILL_WINDOW)
             if o.status is OrderStatus.FILLED and not o.external and o.updated_at <= now - DISCREPANCY_GRACE]
    events = [Event(EventKind.FILL_DISCREPANCY, "FILLS_DISAGREE_WITH_VENUE", o.symbol, o.client_order_id,
                    {"fills_sum": dec_str(o.filled_quantity), "venue_filled": dec_str(o.exchange_filled)})
              for o in found]
    store.record(events, cycle_id, now, key=lambda e: "|".join(
        ("fill_discrepancy", store.venue, e.client_order_id or "", e.detail["fills_sum"], e.detail["venue_filled"])))
    return found
