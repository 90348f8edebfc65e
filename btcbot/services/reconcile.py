"""Reconciliation against the venue (R-REC, R-EXEC-4), run at the start of every cycle.

1. In-flight orders (SUBMITTING/UNKNOWN) are searched by client id in open orders, then in all orders;
   found → adopted with the venue's id and status; not found → one probe counted, and NOT_PLACED only once
   the probe and age budget is spent.
2. Live orders are refreshed from open orders; one that vanished is probed with the single-order endpoint
   before any conclusion (Closed → FILLED, Canceled → CANCELED).
3. Open orders on the venue that are not ours are recorded once as external and never cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.errors import ExchangeError, OrderNotFound
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import LocalOrder, OrderReport
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, OrderEvent, OrderStatus
from btcbot.domain.reconcile import SearchBudget, event_for_report, search_exhausted
from btcbot.ports import Exchange

__all__ = ["ReconcileReport", "reconcile_orders"]

log = logging.getLogger("btcbot.reconcile")
_SEARCH_MARGIN = timedelta(minutes=5)


@dataclass(slots=True)
class ReconcileReport:
    settled: list[LocalOrder] = field(default_factory=list)
    not_placed: list[LocalOrder] = field(default_factory=list)
    still_unknown: list[LocalOrder] = field(default_factory=list)
    external: list[OrderReport] = field(default_factory=list)
    vanished: list[LocalOrder] = field(default_factory=list)


def reconcile_orders(
    exchange: Exchange,
    store: Store,
    open_reports: Sequence[OrderReport],
    now: datetime,
    cycle_id: int | None,
    budget: SearchBudget,
) -> ReconcileReport:
    """Bring every non-terminal local order in line with the venue; returns what changed."""
    report = ReconcileReport()
    by_exid = {r.exchange_order_id: r for r in open_reports}
    by_cid = {r.client_order_id: r for r in open_reports if r.client_order_id}
    history: dict[str, list[OrderReport]] = {}
    for order in store.orders(IN_FLIGHT | LIVE):
        if order.status in IN_FLIGHT:
            _settle_in_flight(order, exchange, store, by_cid, history, now, cycle_id, budget, report)
        elif order.exchange_order_id is not None:
            _refresh_live(order, exchange, store, by_exid.get(order.exchange_order_id), now, cycle_id, report)
    _detect_external(store, open_reports, now, cycle_id, report)
    return report


def _apply(store: Store, order: LocalOrder, found: OrderReport, code: str, now: datetime,
           cycle_id: int | None) -> LocalOrder | None:
    event = event_for_report(order, found)
    if event is None:
        return None
    return store.apply_order_event(
        order.client_order_id, event, now=now, cycle_id=cycle_id, code=code,
        exchange_order_id=found.exchange_order_id, exchange_filled=found.filled_quantity,
        detail={"venue_status": found.status.value, "venue_left": dec_str(found.left_quantity)},
    )


def _settle_in_flight(order: LocalOrder, exchange: Exchange, store: Store, by_cid: dict[str | None, OrderReport],
                      history: dict[str, list[OrderReport]], now: datetime, cycle_id: int | None,
                      budget: SearchBudget, report: ReconcileReport) -> None:
    found = by_cid.get(order.client_order_id)
    if found is None:
        try:
            if order.symbol not in history:
                start = min(o.created_at for o in store.orders(IN_FLIGHT, symbol=order.symbol)) - _SEARCH_MARGIN
                history[order.symbol] = exchange.all_orders(order.symbol, start=start, limit=1000)
        except ExchangeError as exc:
            report.still_unknown.append(store.note_probe(
                order.client_order_id, now=now, cycle_id=cycle_id, code="SEARCH_FAILED",
                detail={"error": f"{type(exc).__name__}: {exc}"[:300]}))
            return
        found = next((r for r in history[order.symbol] if r.client_order_id == order.client_order_id), None)
    if found is not None:
        settled = _apply(store, order, found, "SETTLED_BY_SEARCH", now, cycle_id)
        if settled is not None:
            report.settled.append(settled)
        return
    if search_exhausted(order, now, budget):
        report.not_placed.append(store.apply_order_event(
            order.client_order_id, OrderEvent.NOT_FOUND, now=now, cycle_id=cycle_id, code="SEARCH_EXHAUSTED",
            detail={"probes": str(order.probe_count)}))
        return
    report.still_unknown.append(store.note_probe(order.client_order_id, now=now, cycle_id=cycle_id,
                                                 code="NOT_FOUND_YET", detail={"symbol": order.symbol}))


def _refresh_live(order: LocalOrder, exchange: Exchange, store: Store, seen: OrderReport | None,
                  now: datetime, cycle_id: int | None, report: ReconcileReport) -> None:
    assert order.exchange_order_id is not None
    if seen is not None:
        updated = _apply(store, order, seen, "REFRESHED_OPEN", now, cycle_id)
        if updated is not None:
            report.settled.append(updated)
        return
    try:  # vanished from open orders: ask for this one order before concluding anything
        status = exchange.get_order(order.exchange_order_id)
    except OrderNotFound:
        report.vanished.append(store.note_probe(order.client_order_id, now=now, cycle_id=cycle_id,
                                                code="ORDER_VANISHED", detail={"symbol": order.symbol}))
        return
    except ExchangeError as exc:
        store.note_probe(order.client_order_id, now=now, cycle_id=cycle_id, code="PROBE_FAILED",
                         detail={"error": f"{type(exc).__name__}: {exc}"[:300]})
        return
    updated = _apply(store, order, status, "SETTLED_BY_STATUS", now, cycle_id)
    if updated is not None:
        report.settled.append(updated)


def _detect_external(store: Store, open_reports: Sequence[OrderReport], now: datetime, cycle_id: int | None,
                     report: ReconcileReport) -> None:
    for found in open_reports:
        if store.order_by_exchange_id(found.exchange_order_id) is not None:
            continue
        if found.client_order_id and store.order(found.client_order_id) is not None:
            continue  # ours, settled above
        cid = found.client_order_id or ""
        local_cid = f"ext-{found.exchange_order_id}"
        if store.order(local_cid) is not None:
            continue
        order = LocalOrder(
            client_order_id=local_cid, exchange_order_id=found.exchange_order_id, venue=store.venue,
            stage="external", symbol=found.symbol, side=found.side, method=found.method, price=found.price,
            quantity=found.quantity, filled_quantity=ZERO, exchange_filled=found.filled_quantity,
            status=OrderStatus.PARTIALLY_FILLED if found.filled_quantity > 0 else OrderStatus.OPEN,
            intent_hash="", dry_run=False, external=True, probe_count=0, created_at=found.created_at or now,
            updated_at=now, reason=f"external order (venue client id {cid!r})",
        )
        event = Event(EventKind.EXTERNAL_ORDER_DETECTED, "EXTERNAL_TAGGED", found.symbol, local_cid,
                      {"exchange_order_id": str(found.exchange_order_id), "venue_client_id": cid,
                       "side": found.side.value, "price": dec_str(found.price),
                       "quantity": dec_str(found.quantity)})
        store.insert_order(order, cycle_id, event, now)
        report.external.append(found)
