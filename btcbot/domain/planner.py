"""Lifecycle planner (R-LIFE, R-EXEC-2, R-EXEC-7): desired intents vs our orders → cancels, submits, keeps.

Per (symbol, side):
- an in-flight (SUBMITTING/UNKNOWN) order blocks any submit until reconciliation settles it;
- a CANCEL_REQUESTED order blocks the replacement until its terminal status is seen, and its cancel is sent
  again when the venue has not confirmed it within CANCEL_RETRY;
- a live order is kept while it matches the intent (price within `stale_price_bps`, same remaining size)
  and is younger than `stale_order_seconds`; otherwise it is cancelled and the replacement waits for the
  cancel to be confirmed (never both live at once);
- a live order with no intent is cancelled once it is older than `stale_order_seconds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.models import Denial, Intent, LocalOrder, Side
from btcbot.domain.money import dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, OrderStatus
from btcbot.domain.strategies.exits import LADDER_KINDS

__all__ = ["Cancel", "Plan", "PlanParams", "plan"]

BPS = Decimal(10_000)
_QTY_TOLERANCE = Decimal("0.01")
# A cancel the venue has not confirmed this long after the request (reply lost, or failed before it was
# processed) is sent again; cancelling is idempotent and the terminal status still comes from the venue.
CANCEL_RETRY = timedelta(seconds=15)


@dataclass(frozen=True, slots=True)
class PlanParams:
    stale_order_seconds: int
    stale_price_bps: Decimal


@dataclass(frozen=True, slots=True)
class Cancel:
    order: LocalOrder
    code: str
    detail: dict[str, str]


@dataclass(slots=True)
class Plan:
    cancels: list[Cancel] = field(default_factory=list)
    submits: list[Intent] = field(default_factory=list)
    keeps: list[LocalOrder] = field(default_factory=list)
    blocked: list[Denial] = field(default_factory=list)


def _mismatch(order: LocalOrder, intent: Intent, params: PlanParams) -> tuple[str, dict[str, str]] | None:
    distance_bps = abs(order.price - intent.price) / intent.price * BPS
    ladder_step = intent.exit_kind in LADDER_KINDS and order.price != intent.price
    if distance_bps > params.stale_price_bps or ladder_step:
        return "REPLACE_PRICE_MOVED", {"order_price": dec_str(order.price), "intent_price": dec_str(intent.price),
                                       "distance_bps": dec_str(distance_bps.quantize(Decimal("0.01")))}
    if intent.quantity > 0 and abs(order.remaining - intent.quantity) / intent.quantity > _QTY_TOLERANCE and (
        order.side is Side.SELL
    ):
        return "REPLACE_QUANTITY_CHANGED", {"order_remaining": dec_str(order.remaining),
                                            "intent_quantity": dec_str(intent.quantity)}
    return None


def plan(intents: Sequence[Intent], orders: Sequence[LocalOrder], now: datetime, params: PlanParams) -> Plan:
    """Compare what the strategy wants with our non-terminal orders (external orders excluded)."""
    result = Plan()
    by_key: dict[tuple[str, Side], list[LocalOrder]] = {}
    for order in orders:
        by_key.setdefault((order.symbol, order.side), []).append(order)
    wanted = {(i.symbol, i.side): i for i in intents}
    max_age = timedelta(seconds=params.stale_order_seconds)

    for key, group in sorted(by_key.items()):
        intent = wanted.get(key)
        if any(o.status in IN_FLIGHT for o in group):
            if intent is not None:
                cid = next(o.client_order_id for o in group if o.status in IN_FLIGHT)
                result.blocked.append(Denial(intent, "DEDUPE_IN_FLIGHT", {"client_order_id": cid}))
            continue
        live = [o for o in group if o.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)]
        pending = [o for o in group if o.status is OrderStatus.CANCEL_REQUESTED]
        for order in pending:
            if now - order.updated_at >= CANCEL_RETRY:
                result.cancels.append(Cancel(order, "CANCEL_RETRY", {
                    "requested_seconds_ago": str(int((now - order.updated_at).total_seconds()))}))
        keep: LocalOrder | None = None
        for order in sorted(live, key=lambda o: o.created_at, reverse=True):
            age = now - order.created_at
            reason: tuple[str, dict[str, str]] | None = None
            if keep is not None:
                reason = ("CANCEL_DUPLICATE_SIDE", {"kept": keep.client_order_id})
            elif age > max_age:
                reason = ("CANCEL_STALE_AGE", {"age_seconds": str(int(age.total_seconds()))})
            elif intent is not None:
                reason = _mismatch(order, intent, params)
            if reason is None:
                keep = order
                result.keeps.append(order)
            else:
                result.cancels.append(Cancel(order, reason[0], reason[1]))
        if intent is None:
            continue
        if keep is not None:
            result.blocked.append(Denial(intent, "DEDUPE_ORDER_OPEN", {"client_order_id": keep.client_order_id}))
        elif pending or live:
            waiting = (pending + live)[0].client_order_id
            result.blocked.append(Denial(intent, "REPLACE_AWAITING_CANCEL", {"client_order_id": waiting}))
    for key, intent in wanted.items():
        if key not in by_key:
            result.submits.append(intent)
    return result
