"""Reconciliation decisions (R-REC), pure: the venue's report of an order → the FSM event to apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from btcbot.domain.models import ExchangeOrderStatus, LocalOrder, OrderReport, Side
from btcbot.domain.order_fsm import IN_FLIGHT, TERMINAL, TRANSITIONS, OrderEvent, OrderStatus

__all__ = ["Fix", "FixKind", "SearchBudget", "VenueFacts", "event_for_report", "plan_fixes", "search_exhausted"]

_BY_STATUS = {
    ExchangeOrderStatus.UNTOUCHED: OrderEvent.SEEN_OPEN,
    ExchangeOrderStatus.PARTIAL: OrderEvent.PARTIALLY_FILLED,
    ExchangeOrderStatus.CLOSED: OrderEvent.FILLED,  # BTCTurk's "Closed" is fully filled (LESSONS 26)
    ExchangeOrderStatus.CANCELED: OrderEvent.CANCELED,
}


def event_for_report(order: LocalOrder, report: OrderReport) -> OrderEvent | None:
    """The event that brings `order` in line with `report`, or None when nothing changes.

    Untouched with a fill maps to PARTIALLY_FILLED; a self-loop is reported only when it changes the
    status, the exchange id or the reported filled quantity (the store never lowers the latter).
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


# ---------------------------------------------------------------------------------------------------------
# Fix planning: local journal vs venue facts → the list of fixes (pure; the cycle and `btcbot reconcile`
# both use it, the cycle applies every fix at once, the command shows them first).
# ---------------------------------------------------------------------------------------------------------


class FixKind:
    SETTLE = "SETTLE"  # apply the venue's status to our order (adopt an in-flight order, fill, cancel)
    NOT_PLACED = "NOT_PLACED"  # an in-flight order the venue never saw, budget spent
    PROBE = "PROBE"  # not found yet: count a probe, keep waiting
    VANISHED = "VANISHED"  # a live order the venue no longer knows: count a probe, keep it
    EXTERNAL = "EXTERNAL"  # an open order on the venue that is not ours: record and tag it
    MAYBE_OURS = "MAYBE_OURS"  # not matched, but an unmatched in-flight order of ours could be it: wait
    MISMATCH = "MISMATCH"  # a terminal order of ours that the venue reports differently: report only
    FILL = "FILL"  # a venue fill we have not recorded


@dataclass(frozen=True, slots=True)
class Fix:
    kind: str
    symbol: str
    client_order_id: str | None
    event: OrderEvent | None = None
    report: OrderReport | None = None
    local: str = ""  # what our journal says
    venue: str = ""  # what the venue says

    @property
    def applicable(self) -> bool:
        return self.kind not in (FixKind.MISMATCH, FixKind.MAYBE_OURS)


@dataclass(frozen=True, slots=True)
class VenueFacts:
    """What the venue said: open orders, recent orders per symbol (searched), single-order probes, and the
    exchange ids the venue said do not exist."""

    open_orders: tuple[OrderReport, ...]
    history: dict[str, tuple[OrderReport, ...]]
    probes: dict[int, OrderReport]
    not_found: frozenset[int]
    searched: frozenset[str]  # symbols whose history was fetched
    fill_orders: dict[str, int] = field(default_factory=dict)  # client id -> exchange id seen on a fill


def _describe(order: LocalOrder) -> str:
    return f"{order.status.value} filled={order.exchange_filled}"


def _describe_report(report: OrderReport) -> str:
    return f"{report.status.value} left={report.left_quantity} id={report.exchange_order_id}"


def plan_fixes(orders: Sequence[LocalOrder], facts: VenueFacts, now: datetime, budget: SearchBudget,
               exhaustive: bool = False) -> list[Fix]:
    """Compare every local order with the venue facts. `exhaustive` (manual reconcile after a full
    search) lets an in-flight order older than the age budget be declared not placed at once.

    An open venue order we cannot match is tagged external only when no in-flight order of ours on its
    symbol and side is still unmatched: the venue may list our own order without its client id while the
    search for it failed, and that order must be adopted later, not recorded as someone else's."""
    fixes: list[Fix] = []
    open_by_exid = {r.exchange_order_id: r for r in facts.open_orders}
    open_by_cid = {r.client_order_id: r for r in facts.open_orders if r.client_order_id}
    found_of = {o.client_order_id: _find(o, open_by_exid, open_by_cid, facts) for o in orders}
    adopted = {f.exchange_order_id for o in orders if not o.external and (f := found_of[o.client_order_id])}
    unmatched: dict[tuple[str, Side], list[str]] = {}
    for order in orders:
        found = found_of[order.client_order_id]
        if order.external and order.exchange_order_id in adopted:
            continue  # it is ours after all: adopting our order merges this row into it
        if order.status in TERMINAL:
            if found is not None and _BY_STATUS[found.status] is not _TERMINAL_EVENT.get(order.status):
                fixes.append(Fix(FixKind.MISMATCH, order.symbol, order.client_order_id, None, found,
                                 _describe(order), _describe_report(found)))
            continue
        if found is not None:
            event = event_for_report(order, found)
            if event is not None:
                fixes.append(Fix(FixKind.SETTLE, order.symbol, order.client_order_id, event, found,
                                 _describe(order), _describe_report(found)))
            continue
        if order.status in IN_FLIGHT:
            fix = _in_flight_not_found(order, facts, now, budget, exhaustive)
            fixes.append(fix)
            if fix.kind == FixKind.PROBE:
                unmatched.setdefault((order.symbol, order.side), []).append(order.client_order_id)
        elif order.exchange_order_id is not None and order.exchange_order_id in facts.not_found:
            fixes.append(Fix(FixKind.VANISHED, order.symbol, order.client_order_id, None, None, _describe(order),
                             "unknown to the venue"))
    known_exids = {o.exchange_order_id for o in orders if o.exchange_order_id is not None} | adopted
    known_cids = {o.client_order_id for o in orders}
    unknown = [r for r in facts.open_orders
               if r.exchange_order_id not in known_exids and (r.client_order_id or "") not in known_cids]
    return fixes + [_unknown_open_order(report, unmatched) for report in unknown]


def _unknown_open_order(report: OrderReport, unmatched: dict[tuple[str, Side], list[str]]) -> Fix:
    candidates = unmatched.get((report.symbol, report.side))
    if candidates:
        return Fix(FixKind.MAYBE_OURS, report.symbol, None, None, report, "in flight: " + ", ".join(candidates),
                   _describe_report(report))
    return Fix(FixKind.EXTERNAL, report.symbol, None, None, report, "not ours", _describe_report(report))


def _in_flight_not_found(order: LocalOrder, facts: VenueFacts, now: datetime, budget: SearchBudget,
                         exhaustive: bool) -> Fix:
    old_enough = now - order.created_at >= timedelta(seconds=budget.max_age_seconds)
    if search_exhausted(order, now, budget) or (exhaustive and old_enough and order.symbol in facts.searched):
        return Fix(FixKind.NOT_PLACED, order.symbol, order.client_order_id, OrderEvent.NOT_FOUND, None,
                   _describe(order), "not found by client id")
    return Fix(FixKind.PROBE, order.symbol, order.client_order_id, None, None, _describe(order), "not found yet")


_TERMINAL_EVENT = {OrderStatus.FILLED: OrderEvent.FILLED, OrderStatus.CANCELED: OrderEvent.CANCELED}


def _find(order: LocalOrder, open_by_exid: dict[int, OrderReport], open_by_cid: dict[str, OrderReport],
          facts: VenueFacts) -> OrderReport | None:
    if order.exchange_order_id is not None:
        if order.exchange_order_id in open_by_exid:
            return open_by_exid[order.exchange_order_id]
        probed = facts.probes.get(order.exchange_order_id)
        if probed is not None:
            return probed
        for report in facts.history.get(order.symbol, ()):
            if report.exchange_order_id == order.exchange_order_id:
                return report
        return None
    if order.client_order_id in open_by_cid:
        return open_by_cid[order.client_order_id]
    found = next((r for r in facts.history.get(order.symbol, ()) if r.client_order_id == order.client_order_id),
                 None)
    if found is None and order.client_order_id in facts.fill_orders:  # filled, but missing from allOrders
        found = facts.probes.get(facts.fill_orders[order.client_order_id])
    return found
