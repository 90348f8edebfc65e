"""Reconciliation against the venue (R-REC, R-EXEC-4): collect venue facts → plan fixes (pure) → apply.

The cycle runs it at the start of every cycle with a minimal search; `btcbot reconcile` runs it with a
thorough search and shows the fixes before applying them. Either way:
1. in-flight orders (SUBMITTING/UNKNOWN) are searched by client id in open orders, then all orders; found →
   adopted with the venue's id and status; not found → a probe is counted, and NOT_PLACED only once the probe
   and age budget is spent;
2. live orders are refreshed from open orders; one that vanished is probed with the single-order endpoint
   before any conclusion (Closed → FILLED, Canceled → CANCELED);
3. open orders on the venue that are not ours are recorded once as external and never cancelled; not while
   an unmatched in-flight order of ours on that symbol and side could be it (the venue may list our order
   without its client id while the search failed). Adopting an order merges an external row of the same
   venue order into ours (its fills with it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.errors import ExchangeError, OrderNotFound
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import ExchangeOrderStatus, FillReport, LocalOrder, OrderReport
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, OrderStatus
from btcbot.domain.reconcile import Fix, FixKind, SearchBudget, VenueFacts, plan_fixes
from btcbot.ports import Exchange

__all__ = ["ReconcileReport", "apply_fixes", "collect_facts", "reconcile_orders", "tag_external"]

log = logging.getLogger("btcbot.reconcile")
SEARCH_MARGIN = timedelta(minutes=5)


@dataclass(slots=True)
class ReconcileReport:
    fixes: list[Fix] = field(default_factory=list)
    settled: list[LocalOrder] = field(default_factory=list)
    not_placed: list[LocalOrder] = field(default_factory=list)
    still_unknown: list[LocalOrder] = field(default_factory=list)
    vanished: list[LocalOrder] = field(default_factory=list)
    external: list[OrderReport] = field(default_factory=list)


def collect_facts(exchange: Exchange, orders: Sequence[LocalOrder], open_reports: Sequence[OrderReport],
                  search_symbols: Iterable[str], since: datetime | None,
                  fills: Sequence[FillReport] = ()) -> VenueFacts:
    """Search recent orders of `search_symbols`, probe every live order missing from open orders, and
    probe the exchange id of any fill that carries the client id of an in-flight order."""
    history: dict[str, tuple[OrderReport, ...]] = {}
    searched: set[str] = set()
    for symbol in sorted(set(search_symbols)):
        try:
            history[symbol] = tuple(exchange.all_orders(symbol, start=since, limit=1000))
            searched.add(symbol)
        except ExchangeError as exc:
            log.warning("order search on %s failed: %s", symbol, exc)
    open_ids = {r.exchange_order_id for r in open_reports}
    in_history = {r.exchange_order_id: r for rows in history.values() for r in rows}
    in_flight = {o.client_order_id for o in orders if o.status in IN_FLIGHT}
    fill_orders = {f.client_order_id: f.exchange_order_id for f in fills if f.client_order_id in in_flight}
    to_probe = [o.exchange_order_id for o in orders if o.status in LIVE and o.exchange_order_id is not None]
    to_probe += [exid for cid, exid in fill_orders.items()]
    probes: dict[int, OrderReport] = _filled_by_fills(orders, fills, open_ids)
    not_found: set[int] = set()
    for exid in dict.fromkeys(to_probe):
        if exid in open_ids or exid in in_history or exid in probes:
            if exid in in_history:
                probes[exid] = in_history[exid]
            continue
        try:  # vanished from open orders: ask for this one order before concluding anything
            probes[exid] = exchange.get_order(exid)
        except OrderNotFound:
            not_found.add(exid)
        except ExchangeError as exc:
            log.warning("probe of order %s failed: %s", exid, exc)
    return VenueFacts(tuple(open_reports), history, probes, frozenset(not_found), frozenset(searched),
                      {cid: exid for cid, exid in fill_orders.items() if cid is not None})


def _filled_by_fills(orders: Sequence[LocalOrder], fills: Sequence[FillReport],
                     open_ids: set[int]) -> dict[int, OrderReport]:
    """Live orders gone from open orders whose fills add up to the whole quantity are Closed: that is
    conclusive, so no single-order probe is spent on them (requests per cycle, R-PERF)."""
    by_order: dict[int, list[FillReport]] = {}
    for fill in fills:
        by_order.setdefault(fill.exchange_order_id, []).append(fill)
    reports = {}
    for order in orders:
        exid = order.exchange_order_id
        if order.status not in LIVE or exid is None or exid in open_ids or exid not in by_order:
            continue
        mine = {f.trade_id: f for f in by_order[exid]}.values()
        if sum((f.quantity for f in mine), ZERO) < order.quantity:
            continue
        last = max(f.timestamp for f in mine)
        reports[exid] = OrderReport(exid, order.client_order_id, order.symbol, order.side, order.method, order.price,
                                    order.quantity, ZERO, ExchangeOrderStatus.CLOSED, order.created_at, last)
    return reports


def reconcile_orders(exchange: Exchange, store: Store, open_reports: Sequence[OrderReport], now: datetime,
                     cycle_id: int | None, budget: SearchBudget, fills: Sequence[FillReport] = ()) -> ReconcileReport:
    """The per-cycle pass: search only where an in-flight order needs it, then apply every fix."""
    orders = store.orders(IN_FLIGHT | LIVE)
    in_flight = [o for o in orders if o.status in IN_FLIGHT]
    open_cids = {r.client_order_id for r in open_reports}
    to_search = {o.symbol for o in in_flight if o.client_order_id not in open_cids}
    since = min((o.created_at for o in in_flight), default=now) - SEARCH_MARGIN
    facts = collect_facts(exchange, orders, open_reports, to_search, since, fills)
    return apply_fixes(store, plan_fixes(orders, facts, now, budget), facts, now, cycle_id)


def apply_fixes(store: Store, fixes: Sequence[Fix], facts: VenueFacts, now: datetime,
                cycle_id: int | None) -> ReconcileReport:
    """Apply fixes through the FSM; each one writes its event in the same transaction as its change."""
    report = ReconcileReport(fixes=list(fixes))
    for fix in fixes:
        if fix.kind == FixKind.SETTLE and fix.client_order_id and fix.event and fix.report:
            found = fix.report
            report.settled.append(store.apply_order_event(
                fix.client_order_id, fix.event, now=now, cycle_id=cycle_id, code="RECONCILED",
                exchange_order_id=found.exchange_order_id, exchange_filled=found.filled_quantity,
                detail={"venue_status": found.status.value, "venue_left": dec_str(found.left_quantity)}))
        elif fix.kind == FixKind.NOT_PLACED and fix.client_order_id and fix.event:
            report.not_placed.append(store.apply_order_event(
                fix.client_order_id, fix.event, now=now, cycle_id=cycle_id, code="SEARCH_EXHAUSTED",
                detail={"venue": fix.venue}))
        elif fix.kind == FixKind.PROBE and fix.client_order_id:
            if fix.symbol in facts.searched:  # only a search that ran counts against the budget
                report.still_unknown.append(store.note_probe(
                    fix.client_order_id, now=now, cycle_id=cycle_id, code="NOT_FOUND_YET",
                    detail={"symbol": fix.symbol}))
            else:
                store.record([Event(EventKind.EXCHANGE_ERROR, "SEARCH_FAILED", fix.symbol, fix.client_order_id)],
                             cycle_id, now)
        elif fix.kind == FixKind.VANISHED and fix.client_order_id:
            report.vanished.append(store.note_probe(fix.client_order_id, now=now, cycle_id=cycle_id,
                                                    code="ORDER_VANISHED", detail={"symbol": fix.symbol}))
        elif fix.kind == FixKind.EXTERNAL and fix.report is not None:
            tag_external(store, fix.report, now, cycle_id)
            report.external.append(fix.report)
        elif fix.kind == FixKind.MAYBE_OURS and fix.report is not None:
            store.record([Event(EventKind.EXTERNAL_ORDER_DETECTED, "EXTERNAL_HELD_MAYBE_OURS", fix.symbol, None,
                                {"exchange_order_id": str(fix.report.exchange_order_id), "side": fix.report.side.value,
                                 "in_flight": fix.local})], cycle_id, now)
    return report


def tag_external(store: Store, found: OrderReport, now: datetime, cycle_id: int | None) -> None:
    local_cid = f"ext-{found.exchange_order_id}"
    if store.order(local_cid) is not None or store.order_by_exchange_id(found.exchange_order_id) is not None:
        return
    venue_cid = found.client_order_id or ""
    order = LocalOrder(
        client_order_id=local_cid, exchange_order_id=found.exchange_order_id, venue=store.venue, stage="external",
        symbol=found.symbol, side=found.side, method=found.method, price=found.price, quantity=found.quantity,
        filled_quantity=ZERO, exchange_filled=found.filled_quantity,
        status=OrderStatus.PARTIALLY_FILLED if found.filled_quantity > 0 else OrderStatus.OPEN, intent_hash="",
        dry_run=False, external=True, probe_count=0, created_at=found.created_at, updated_at=now,
        reason=f"external order (venue client id {venue_cid!r})",
    )
    event = Event(EventKind.EXTERNAL_ORDER_DETECTED, "EXTERNAL_TAGGED", found.symbol, local_cid,
                  {"exchange_order_id": str(found.exchange_order_id), "venue_client_id": venue_cid,
                   "side": found.side.value, "price": dec_str(found.price), "quantity": dec_str(found.quantity)})
    store.insert_order(order, cycle_id, event, now)
