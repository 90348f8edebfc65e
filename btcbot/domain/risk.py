"""Risk filter (R-RISK): every intent is accepted or dropped with a `CATEGORY_CONDITION` code.

Caps limit new exposure, so they apply to buys; sells that reduce a position pass the caps (they are still
subject to trading state and preflight). All amounts are compared in the pair's quote currency; TRY caps
are converted with `MarketSnapshot.quote_to_try`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.fees import fee_schedule
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Denial, Intent, LocalOrder, Side, TradingState
from btcbot.domain.money import ZERO, dec_str

__all__ = ["RiskDecision", "RiskParams", "filter_intents"]


@dataclass(frozen=True, slots=True)
class RiskParams:
    cash_target_try: Decimal
    max_order_notional_try: Decimal
    max_cycle_notional_try: Decimal
    max_position_notional_try: Decimal
    max_open_orders: int
    max_open_orders_per_symbol: int
    cooldown_seconds: int


@dataclass(slots=True)
class RiskDecision:
    accepted: list[Intent] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)


def _deny(decision: RiskDecision, intent: Intent, code: str, **detail: object) -> None:
    decision.denials.append(Denial(intent, code, {k: _fmt(v) for k, v in detail.items()}))


def _fmt(value: object) -> str:
    return dec_str(value) if isinstance(value, Decimal) else str(value)


def filter_intents(
    intents: Sequence[Intent],
    snapshot: MarketSnapshot,
    positions: Mapping[str, Position],
    open_orders: Sequence[LocalOrder],
    last_fill_at: Mapping[str, datetime],
    state: TradingState,
    params: RiskParams,
) -> RiskDecision:
    """Apply trading state, balance availability and the caps, in that order, to each intent."""
    decision = RiskDecision()
    open_total = len(open_orders)
    open_by_symbol: dict[str, int] = {}
    for order in open_orders:
        open_by_symbol[order.symbol] = open_by_symbol.get(order.symbol, 0) + 1
    # An intent on a (symbol, side) that already has a live order replaces it: the old order's slot and
    # its locked funds are counted as available to the replacement.
    existing: dict[tuple[str, Side], list[LocalOrder]] = {}
    for order in open_orders:
        existing.setdefault((order.symbol, order.side), []).append(order)
    spent_try = ZERO
    spent_quote: dict[str, Decimal] = {}
    for intent in intents:
        rules = snapshot.rules[intent.symbol]
        replaced = existing.get((intent.symbol, intent.side), [])
        freed_slots = len(replaced)
        freed_quote = sum((o.remaining * o.price for o in replaced), ZERO)
        if intent.meta.get("refused") == "gap":
            _deny(decision, intent, "EXIT_GAP_BEYOND_SLIPPAGE", kind=intent.exit_kind or "", bid_below=intent.price,
                  reference=intent.reference_price or intent.price)
            continue
        if state is TradingState.HALTED:
            _deny(decision, intent, "STATE_HALTED", trading_state=state.value)
            continue
        if state is TradingState.REDUCE_ONLY and intent.side is Side.BUY:
            _deny(decision, intent, "STATE_REDUCE_ONLY", side=intent.side.value)
            continue
        if open_total - freed_slots >= params.max_open_orders:
            _deny(decision, intent, "ORDERS_MAX_OPEN", open=open_total, max=params.max_open_orders)
            continue
        symbol_open = open_by_symbol.get(intent.symbol, 0) - freed_slots
        if symbol_open >= params.max_open_orders_per_symbol:
            _deny(decision, intent, "ORDERS_MAX_OPEN_SYMBOL", symbol=intent.symbol, open=symbol_open,
                  max=params.max_open_orders_per_symbol)
            continue
        if intent.side is Side.BUY:
            if snapshot.balances is None:
                _deny(decision, intent, "BALANCE_UNAVAILABLE", reason="private balances could not be read")
                continue
            rate = snapshot.quote_to_try(rules.quote)
            if rate is None or rate <= 0:
                _deny(decision, intent, "PRICE_NO_CONVERSION", quote=rules.quote)
                continue
            notional_try = intent.notional * rate
            last = last_fill_at.get(intent.symbol)
            if last is not None and snapshot.now - last < timedelta(seconds=params.cooldown_seconds):
                _deny(decision, intent, "COOLDOWN_ACTIVE", symbol=intent.symbol,
                      last_fill_at=last.isoformat(), cooldown_seconds=params.cooldown_seconds)
                continue
            if notional_try > params.max_order_notional_try:
                _deny(decision, intent, "NOTIONAL_ORDER_CAP", notional_try=notional_try,
                      max=params.max_order_notional_try)
                continue
            if spent_try + notional_try > params.max_cycle_notional_try:
                _deny(decision, intent, "NOTIONAL_CYCLE_CAP", spent_try=spent_try, notional_try=notional_try,
                      max=params.max_cycle_notional_try)
                continue
            position = positions.get(intent.symbol)
            held = position.quantity * intent.price * rate if position is not None else ZERO
            if held + notional_try > params.max_position_notional_try:
                _deny(decision, intent, "POSITION_NOTIONAL_CAP", position_try=held, notional_try=notional_try,
                      max=params.max_position_notional_try)
                continue
            cash_target = params.cash_target_try / rate
            free = snapshot.free(rules.quote) + freed_quote
            investable = max(ZERO, free - cash_target - spent_quote.get(rules.quote, ZERO))
            needed = intent.notional * (1 + fee_schedule(rules.quote).headroom)
            if needed > investable:
                _deny(decision, intent, "CASH_INSUFFICIENT", needed=needed, investable=investable,
                      asset=rules.quote)
                continue
            spent_try += notional_try
            spent_quote[rules.quote] = spent_quote.get(rules.quote, ZERO) + needed
        if not replaced:
            open_total += 1
            open_by_symbol[intent.symbol] = symbol_open + 1
        decision.accepted.append(intent)
    return decision
