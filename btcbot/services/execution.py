"""The one execution core for every stage (R-EXEC): cancels first, then submits with a write-ahead journal.

Submit: preflight at the last moment → deterministic client id → dedupe action + order row SUBMITTING +
event committed together → POST → OPEN (ack) / REJECTED (definitive no) / UNKNOWN (ambiguous) /
NOT_PLACED (provably not sent). Cancel: request → CANCEL_REQUESTED; the terminal status is only ever
taken from what the venue reports later (BTCTurk cancels are asynchronous).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.errors import (
    AuthFailed,
    ExchangeError,
    OrderNotFound,
    OutcomeUnknown,
    Rejected,
    Unavailable,
    describe,
)
from btcbot.domain.events import Event, EventKind
from btcbot.domain.fees import fee_schedule
from btcbot.domain.ids import bucket_of, client_order_id
from btcbot.domain.models import Denial, Intent, LocalOrder, OrderRequest, Side
from btcbot.domain.money import ZERO, to_decimal
from btcbot.domain.order_fsm import OrderEvent, OrderStatus
from btcbot.domain.planner import Cancel, Plan
from btcbot.domain.preflight import Preflighted, preflight
from btcbot.domain.reconcile import event_for_report
from btcbot.domain.symbols import SymbolRules
from btcbot.ports import Exchange
from btcbot.services.write_ahead import record_not_taken, write_ahead

__all__ = ["ExecutionContext", "ExecutionReport", "execute"]

log = logging.getLogger("btcbot.execution")


@dataclass(slots=True)
class ExecutionContext:
    exchange: Exchange
    store: Store
    stage: str
    cycle_id: int
    now: datetime
    dry_run: bool  # recorded on every order row
    rules: dict[str, SymbolRules]
    free: dict[str, Decimal]  # free balances, decremented as this cycle commits funds
    bucket_seconds: int
    max_order_notional: Callable[[SymbolRules], Decimal]  # per-order cap in the pair's quote
    write_gate: Callable[[Side], str | None]  # reason a submit is blocked right now, or None
    idempotency: bool = False  # hard idempotency keys on submits (R-EXEC-5): one order per symbol/side/bucket


@dataclass(slots=True)
class ExecutionReport:
    submitted: list[LocalOrder] = field(default_factory=list)
    rejected: list[LocalOrder] = field(default_factory=list)
    unknown: list[LocalOrder] = field(default_factory=list)
    not_placed: list[LocalOrder] = field(default_factory=list)
    cancel_requested: list[LocalOrder] = field(default_factory=list)
    settled: list[LocalOrder] = field(default_factory=list)
    denied: list[Denial] = field(default_factory=list)
    deduped: list[Intent] = field(default_factory=list)
    auth_failed: bool = False
    codes: dict[str, str] = field(default_factory=dict)  # client order id -> the code its result was recorded with


def execute(plan: Plan, ctx: ExecutionContext) -> ExecutionReport:
    """Run the plan's cancels, then its submits. Never raises for exchange errors on single orders."""
    report = ExecutionReport()
    for cancel in plan.cancels:
        _cancel(cancel, ctx, report)
    for intent in plan.submits:
        if report.auth_failed:
            break
        _submit(intent, ctx, report)
    return report


# -- submit --------------------------------------------------------------------------------------------
def _submit(intent: Intent, ctx: ExecutionContext, report: ExecutionReport) -> None:
    blocked = ctx.write_gate(intent.side)
    if blocked is not None:
        _drop(ctx, report, Denial(intent, blocked, {"side": intent.side.value}))
        return
    rules = ctx.rules[intent.symbol]
    cap = ctx.max_order_notional(rules)
    if "max_notional" in intent.meta:  # risk's headroom: bumps stay within every cap
        cap = min(cap, to_decimal(intent.meta["max_notional"]))
    checked = preflight(intent, rules, ctx.free.get(rules.quote, ZERO), ctx.free.get(rules.base, ZERO), cap)
    if isinstance(checked, Denial):
        _drop(ctx, report, checked)
        return
    request, order = _journal_entry(checked, ctx)
    refused = write_ahead(order, checked, ctx)
    if refused is not None:
        record_not_taken(refused, intent, order, ctx, report)
        return
    _send(request, checked, ctx, report)


def _journal_entry(checked: Preflighted, ctx: ExecutionContext) -> tuple[OrderRequest, LocalOrder]:
    intent = checked.intent
    sized = Intent(intent.symbol, intent.side, checked.price, checked.quantity, intent.reason, intent.method)
    intent_hash = sized.payload_hash()
    cid = client_order_id(ctx.stage, intent.symbol, intent.side, intent_hash,
                          bucket_of(ctx.now, ctx.bucket_seconds))
    request = OrderRequest(cid, intent.symbol, intent.side, intent.method, checked.price, checked.quantity)
    order = LocalOrder(
        client_order_id=cid, exchange_order_id=None, venue=ctx.store.venue, stage=ctx.stage,
        symbol=intent.symbol, side=intent.side, method=intent.method, price=checked.price,
        quantity=checked.quantity, filled_quantity=ZERO, exchange_filled=ZERO, status=OrderStatus.SUBMITTING,
        intent_hash=intent_hash, dry_run=ctx.dry_run, external=False, probe_count=0, created_at=ctx.now,
        updated_at=ctx.now, exit_kind=intent.exit_kind, reason=intent.reason,
    )
    return request, order


def _send(request: OrderRequest, checked: Preflighted, ctx: ExecutionContext, report: ExecutionReport) -> None:
    cid = request.client_order_id

    def move(event: OrderEvent, code: str, error: Exception | None = None, exid: int | None = None) -> LocalOrder:
        detail = {"error": describe(error)} if error is not None else None
        report.codes[cid] = code
        return ctx.store.apply_order_event(cid, event, now=ctx.now, cycle_id=ctx.cycle_id, code=code, detail=detail,
                                           exchange_order_id=exid)

    try:
        ack = ctx.exchange.submit_order(request)
    except Rejected as exc:
        report.rejected.append(move(OrderEvent.REJECTED, exc.code, exc))
        return
    except AuthFailed as exc:
        report.auth_failed = True
        report.not_placed.append(move(OrderEvent.NOT_FOUND, "SUBMIT_AUTH_FAILED", exc))
        return
    except Unavailable as exc:  # provably not sent (connect error, 429 before acceptance)
        report.not_placed.append(move(OrderEvent.NOT_FOUND, "SUBMIT_NOT_SENT", exc))
        return
    except (OutcomeUnknown, ExchangeError) as exc:  # may have landed: reconciliation settles it, never a resend
        report.unknown.append(move(OrderEvent.AMBIGUOUS, "SUBMIT_OUTCOME_UNKNOWN", exc))
        _reserve(checked, ctx)
        return
    report.submitted.append(move(OrderEvent.ACKED, "SUBMIT_ACKED", exid=ack.exchange_order_id))
    _reserve(checked, ctx)


def _reserve(checked: Preflighted, ctx: ExecutionContext) -> None:
    """Keep this cycle's later submits from spending funds the venue has now locked."""
    rules = ctx.rules[checked.intent.symbol]
    if checked.intent.side is Side.BUY:
        headroom = fee_schedule(rules.quote).headroom
        ctx.free[rules.quote] = ctx.free.get(rules.quote, ZERO) - checked.notional * (1 + headroom)
    else:
        ctx.free[rules.base] = ctx.free.get(rules.base, ZERO) - checked.quantity


def _drop(ctx: ExecutionContext, report: ExecutionReport, denial: Denial) -> None:
    ctx.store.record([Event(EventKind.INTENT_DROPPED, denial.code, denial.intent.symbol, None,
                            dict(denial.detail, side=denial.intent.side.value, stage="execution"))],
                     ctx.cycle_id, ctx.now)
    report.denied.append(denial)


# -- cancel --------------------------------------------------------------------------------------------
def _cancel(cancel: Cancel, ctx: ExecutionContext, report: ExecutionReport) -> None:
    order, store, now = cancel.order, ctx.store, ctx.now
    if order.exchange_order_id is None:
        return
    try:
        ctx.exchange.cancel_order(order.exchange_order_id)
    except (OrderNotFound, Rejected) as exc:
        # Already closed, cancelled or unknown to the venue: ask for the status instead of assuming.
        store.record([Event(EventKind.ORDER_CANCEL_SENT, "CANCEL_REFUSED", order.symbol, order.client_order_id,
                            {"error": describe(exc)})], ctx.cycle_id, now)
        _settle_from_status(order, ctx, report)
        return
    except OutcomeUnknown as exc:
        detail = dict(cancel.detail, error=describe(exc))
        report.cancel_requested.append(_request_cancel(cancel, "CANCEL_OUTCOME_UNKNOWN", detail, ctx))
        report.codes[order.client_order_id] = "CANCEL_OUTCOME_UNKNOWN"
        return
    except ExchangeError as exc:
        store.record([Event(EventKind.EXCHANGE_ERROR, "CANCEL_NOT_SENT", order.symbol, order.client_order_id,
                            {"error": describe(exc)})], ctx.cycle_id, now)
        return
    report.cancel_requested.append(_request_cancel(cancel, cancel.code, cancel.detail, ctx))
    report.codes[order.client_order_id] = cancel.code


def _request_cancel(cancel: Cancel, code: str, detail: dict[str, str], ctx: ExecutionContext) -> LocalOrder:
    """CANCEL_REQUESTED with its event; a replace also starts its chain step in the same transaction."""
    return ctx.store.request_cancel(cancel.order.client_order_id, code=code, detail=detail, now=ctx.now,
                                    cycle_id=ctx.cycle_id, replacement=cancel.replacement, trigger=cancel.code,
                                    stage=ctx.stage)


def _settle_from_status(order: LocalOrder, ctx: ExecutionContext, report: ExecutionReport) -> None:
    assert order.exchange_order_id is not None
    try:
        status = ctx.exchange.get_order(order.exchange_order_id)
    except ExchangeError as exc:
        ctx.store.note_probe(order.client_order_id, now=ctx.now, cycle_id=ctx.cycle_id, code="PROBE_FAILED",
                             detail={"error": describe(exc)})
        return
    event = event_for_report(order, status)
    if event is not None:
        report.settled.append(ctx.store.apply_order_event(
            order.client_order_id, event, code="SETTLED_BY_STATUS", now=ctx.now, cycle_id=ctx.cycle_id,
            exchange_filled=status.filled_quantity, detail={"venue_status": status.status.value}))
