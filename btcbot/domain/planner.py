"""Lifecycle planner (R-LIFE, R-EXEC-2, R-EXEC-7): desired intents vs our orders → cancels, replaces, submits,
keeps, and the moves of open replace chains (see replace_fsm.py).

Per (symbol, side):
- an in-flight (SUBMITTING/UNKNOWN) order blocks any submit until reconciliation settles it;
- a CANCEL_REQUESTED order blocks the replacement until its terminal status is seen, and its cancel is sent
  again when the venue has not confirmed it within CANCEL_RETRY;
- a live order is kept while it matches the intent (price within `stale_price_bps`, same remaining size for
  sells, and for buys too with `replace_buy_on_quantity`) and is younger than `stale_order_seconds`;
  otherwise it is cancelled as a *replace*: the cancel carries the planned replacement, and a persisted chain
  step follows it; the replacement is submitted only once the venue reports the old order terminal and its
  fills are in the ledger, sized by that cycle's intent (from the position as it is then), never both live;
- a live order with no intent is cancelled once it is older than `stale_order_seconds` (a plain cancel).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.models import Denial, Intent, LocalOrder, Side
from btcbot.domain.money import dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, TERMINAL, OrderStatus
from btcbot.domain.replace_fsm import ChainStep, ReplaceChain, ReplaceEvent, ReplaceState, replace_transition
from btcbot.domain.strategies.exits import LADDER_KINDS

__all__ = ["CHAIN_META", "Cancel", "ChainMove", "Plan", "PlanParams", "plan"]

BPS = Decimal(10_000)
_QTY_TOLERANCE = Decimal("0.01")
# A cancel the venue has not confirmed this long after the request (reply lost, or failed before it was
# processed) is sent again; cancelling is idempotent and the terminal status still comes from the venue.
CANCEL_RETRY = timedelta(seconds=15)
CHAIN_META = "replace_chain"  # Intent.meta key: the id of the chain step a submit completes
S, R, E = OrderStatus, ReplaceState, ReplaceEvent
Key = tuple[str, Side]


@dataclass(frozen=True, slots=True)
class PlanParams:
    stale_order_seconds: int
    stale_price_bps: Decimal
    replace_buy_on_quantity: bool = False  # a buy whose wanted size moved (a partial fill) is replaced too
    fills_wait_seconds: int = 300  # how long a replacement waits for the old order's fills to become visible


@dataclass(frozen=True, slots=True)
class Cancel:
    order: LocalOrder
    code: str
    detail: dict[str, str]
    replacement: Intent | None = None  # a replace: the chain step starts when the cancel is requested


@dataclass(frozen=True, slots=True)
class ChainMove:
    before: ReplaceChain
    event: ReplaceEvent
    after: ReplaceChain
    detail: dict[str, str]


@dataclass(slots=True)
class Plan:
    cancels: list[Cancel] = field(default_factory=list)
    submits: list[Intent] = field(default_factory=list)
    keeps: list[LocalOrder] = field(default_factory=list)
    blocked: list[Denial] = field(default_factory=list)
    chain_moves: list[ChainMove] = field(default_factory=list)

    @property
    def replaces(self) -> list[Cancel]:
        """Cancels that start a replace (old order → planned replacement)."""
        return [c for c in self.cancels if c.replacement is not None]


def _mismatch(order: LocalOrder, intent: Intent, params: PlanParams) -> tuple[str, dict[str, str]] | None:
    distance_bps = abs(order.price - intent.price) / intent.price * BPS
    ladder_step = intent.exit_kind in LADDER_KINDS and order.price != intent.price
    if distance_bps > params.stale_price_bps or ladder_step:
        return "REPLACE_PRICE_MOVED", {"order_price": dec_str(order.price), "intent_price": dec_str(intent.price),
                                       "distance_bps": dec_str(distance_bps.quantize(Decimal("0.01")))}
    sized = order.side is Side.SELL or params.replace_buy_on_quantity
    if sized and intent.quantity > 0 and abs(order.remaining - intent.quantity) / intent.quantity > _QTY_TOLERANCE:
        return "REPLACE_QUANTITY_CHANGED", {"order_remaining": dec_str(order.remaining),
                                            "intent_quantity": dec_str(intent.quantity)}
    return None


def plan(intents: Sequence[Intent], orders: Sequence[LocalOrder], now: datetime, params: PlanParams,
         chains: Sequence[ChainStep] = (), fresh: Collection[str] | None = None,
         unsettled: Sequence[LocalOrder] = ()) -> Plan:
    """Compare what the strategy wants with our non-terminal orders (external orders excluded) and the open
    replace-chain steps. `fresh`: symbols whose market data was usable this cycle (None = all); a chain
    waiting on a symbol without fresh data is held, never abandoned for want of an intent. `unsettled`: recently
    terminal orders of ours whose venue-reported fill exceeds the fills recorded: the position the intents were
    sized from misses those fills, so nothing is submitted on their side until they are listed (R-EXEC-2)."""
    result = Plan()
    by_key: dict[Key, list[LocalOrder]] = {}
    for order in orders:
        by_key.setdefault((order.symbol, order.side), []).append(order)
    wanted = {(i.symbol, i.side): i for i in intents}
    steps = {(s.chain.symbol, s.chain.side): s for s in chains if s.chain.is_open}
    gaps = {(o.symbol, o.side): o for o in unsettled if o.exchange_filled > o.filled_quantity}
    to_submit: dict[Key, Intent] = {}
    for key in sorted(set(by_key) | set(wanted) | set(steps)):
        chain = _advance(steps[key], now, params, result) if key in steps else None
        held = fresh is not None and key[0] not in fresh
        submit = _plan_key(by_key.get(key, []), wanted.get(key), chain, held, now, params, result)
        if submit is not None and key in gaps:
            gap = gaps[key]
            result.blocked.append(Denial(submit, "DEDUPE_FILLS_PENDING", {
                "client_order_id": gap.client_order_id, "venue_filled": dec_str(gap.exchange_filled),
                "fills_recorded": dec_str(gap.filled_quantity)}))
        elif submit is not None:
            to_submit[key] = submit
    result.submits = [to_submit[k] for k in wanted if k in to_submit]
    return result


def _plan_key(group: list[LocalOrder], intent: Intent | None, chain: ReplaceChain | None, held: bool,
              now: datetime, params: PlanParams, result: Plan) -> Intent | None:
    """One (symbol, side): the cancels and keeps go to `result`; returns the intent to submit, if any."""
    if any(o.status in IN_FLIGHT for o in group):
        if intent is not None:
            cid = next(o.client_order_id for o in group if o.status in IN_FLIGHT)
            result.blocked.append(Denial(intent, "DEDUPE_IN_FLIGHT", {"client_order_id": cid}))
        return None
    live = [o for o in group if o.status in (S.OPEN, S.PARTIALLY_FILLED)]
    pending = [o for o in group if o.status is S.CANCEL_REQUESTED]
    for order in pending:
        if now - order.updated_at >= CANCEL_RETRY:
            result.cancels.append(Cancel(order, "CANCEL_RETRY", {
                "requested_seconds_ago": str(int((now - order.updated_at).total_seconds()))}))
    may_replace = intent is not None and not pending and (chain is None or not chain.is_open)
    keep = _keep_or_cancel(live, intent, may_replace, now, params, result)
    if chain is not None and chain.state is R.READY and (live or (intent is None and not held)):
        # a live order of ours already covers the side, or nothing is wanted there now (a cancel still pending
        # on the side only delays the replacement)
        chain = _move(result, chain, E.NOT_WANTED, now, chain.old_filled_seen,
                      {"covered_by": live[0].client_order_id} if live else {"intent": "none accepted this cycle"})
    if intent is None:
        return None
    if keep is not None:
        result.blocked.append(Denial(intent, "DEDUPE_ORDER_OPEN", {"client_order_id": keep.client_order_id}))
        return None
    if pending or live:
        waiting = (pending + live)[0].client_order_id
        result.blocked.append(Denial(intent, "REPLACE_AWAITING_CANCEL", {"client_order_id": waiting}))
        return None
    if chain is not None and chain.state in (R.CANCEL_REQUESTED, R.AWAITING_FILLS):
        code = "REPLACE_AWAITING_CANCEL" if chain.state is R.CANCEL_REQUESTED else "REPLACE_AWAITING_FILLS"
        result.blocked.append(Denial(intent, code, {"client_order_id": chain.old_client_order_id}))
        return None
    if chain is not None and chain.state is R.READY:
        return replace(intent, meta={**intent.meta, CHAIN_META: str(chain.id)})
    return intent


def _keep_or_cancel(live: list[LocalOrder], intent: Intent | None, may_replace: bool, now: datetime,
                    params: PlanParams, result: Plan) -> LocalOrder | None:
    """Keep the newest live order that still matches; cancel the rest (the first mismatch as a replace)."""
    keep: LocalOrder | None = None
    max_age = timedelta(seconds=params.stale_order_seconds)
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
            continue
        replacement = intent if may_replace and keep is None else None
        may_replace = may_replace and replacement is None
        result.cancels.append(Cancel(order, reason[0], reason[1], replacement))
    return keep


def _advance(step: ChainStep, now: datetime, params: PlanParams, result: Plan) -> ReplaceChain:
    """Move an open chain step by what the venue reported about its old order (reconciled this cycle)."""
    chain, old = step.chain, step.old
    filled = max(old.filled_quantity, old.exchange_filled)
    accounted = old.filled_quantity >= old.exchange_filled
    if chain.state is R.CANCEL_REQUESTED:
        if old.status is S.CANCEL_REQUESTED:
            if filled > chain.old_filled_seen:  # the planned size is stale: the replacement will be re-planned
                chain = _move(result, chain, E.OLD_PARTIALLY_FILLED, now, filled,
                              {"filled_before": dec_str(chain.old_filled_seen), "filled_now": dec_str(filled)})
            return chain
        if old.status not in TERMINAL:
            return _move(result, chain, E.CANCEL_REFUSED, now, filled, {"old_status": old.status.value})
        during = filled - chain.old_filled_at_request
        detail = {"old_status": old.status.value, "filled_during_cancel": dec_str(during),
                  "replan": "from position" if during > 0 else "no fill during cancel"}
        if not accounted:
            detail.update(fills_recorded=dec_str(old.filled_quantity), venue_filled=dec_str(old.exchange_filled))
        chain = _move(result, chain, E.OLD_TERMINAL if accounted else E.OLD_TERMINAL_FILLS_PENDING, now, filled,
                      detail)
    if chain.state is R.AWAITING_FILLS:
        if accounted:
            chain = _move(result, chain, E.FILLS_RECORDED, now, filled, {"fills_recorded": dec_str(filled)})
        elif now - chain.updated_at >= timedelta(seconds=params.fills_wait_seconds):
            chain = _move(result, chain, E.FILLS_WAIT_EXPIRED, now, filled, {
                "fills_recorded": dec_str(old.filled_quantity), "venue_filled": dec_str(old.exchange_filled)})
    return chain


def _move(result: Plan, chain: ReplaceChain, event: ReplaceEvent, now: datetime, filled: Decimal,
          detail: dict[str, str]) -> ReplaceChain:
    after = replace(chain, state=replace_transition(chain.state, event), updated_at=now, old_filled_seen=filled)
    result.chain_moves.append(ChainMove(chain, event, after, detail))
    return after
