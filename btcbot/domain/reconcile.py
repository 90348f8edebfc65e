"""Reconciliation decisions (R-REC), pure: the venue's report of an order → the FSM event to apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from btcbot.domain.models import ExchangeOrderStatus, LocalOrder, OrderReport
from btcbot.domain.order_fsm import TERMINAL, TRANSITIONS, OrderEvent, OrderStatus

__all__ = ["SearchBudget", "event_for_report", "search_exhausted"]

_BY_STATUS = {
    ExchangeOrderStatus.UNTOUCHED: OrderEvent.SEEN_OPEN,
    ExchangeOrderStatus.PARTIAL: OrderEvent.PARTIALLY_FILLED,
    ExchangeOrderStatus.CLOSED: OrderEvent.FILLED,  # BTCTurk's "Closed" is fully filled (LESSONS 26)
    ExchangeOrderStatus.CANCELED: OrderEvent.CANCELED,
}


def event_for_report(order: LocalOrder, report: OrderReport) -> OrderEvent | None:
    """The event that brings `order` in line with `report`, or None when nothing changes.

    Untouched with some fill already counted (a partial fill that reverted is impossible) maps to
    SEEN_OPEN; a self-loop is reported only when it changes status or reported filled quantity.
    """
    if order.status in TERMINAL:
        return None
    event = _BY_STATUS[report.status]
    if event is OrderEvent.SEEN_OPEN and report.filled_quantity > 0:
        event = OrderEvent.PARTIALLY_FILLED
    target = TRANSITIONS.get((order.status, event))
    if target is None:
        return None
    if target is order.status and report.filled_quantity == order.exchange_filled and (
        order.exchange_order_id == report.exchange_order_id
    ):
        return None
    return event


@dataclass(frozen=True, slots=True)
class SearchBudget:
    max_probes: int
    max_age_seconds: int


def search_exhausted(order: LocalOrder, now: datetime, budget: SearchBudget) -> bool:
    """An in-flight order not found anywhere may be declared NOT_PLACED only after both the probe count
    and the age budget are spent (a slow venue may show it late)."""
    if order.status not in (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN):
        return False
    return order.probe_count >= budget.max_probes and now - order.created_at >= timedelta(
        seconds=budget.max_age_seconds
    )
